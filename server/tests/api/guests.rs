//! Guest access (issue 17): lazy creation (page views write nothing), guest
//! chat with its own key or the server's within quotas per guest and per
//! address, no public links for guests, the move into an account on
//! registration / email sign-in / Google sign-in and through a claim link
//! (every table counted before and after), the retention job, guests off,
//! and ownership with guests on both sides.
use crate::persistence::TABLES;
use crate::support::*;
use app::server::config::{IpNet, Secret};
use app::server::db::now_ms;
use app::server::entities::{attachments, blobs, guest_claims, user_settings, users};
use app::server::services::guests;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn rows(app: &TestApp) -> Vec<i64> {
    let mut v = vec![];
    for t in TABLES {
        v.push(app.count(t).await);
    }
    v.push(app.count("server_key_uses").await);
    v
}

/// A new guest through `POST /api/auth/guest`; its session token.
async fn guest(app: &TestApp) -> String {
    guest_from(app, None).await
}

async fn guest_from(app: &TestApp, ip: Option<&str>) -> String {
    let extra: Vec<(&str, &str)> = ip.map(|ip| ("x-forwarded-for", ip)).into_iter().collect();
    let r = app
        .request(
            reqwest::Method::POST,
            "/api/auth/guest",
            None,
            Auth::None,
            &extra,
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body, json!({"ok": true}));
    let cookie = r.set_cookie().unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    r.cookie_token().expect("session cookie")
}

/// The `Set-Cookie` that tells the next page what a merge moved.
fn merge_notice(r: &Resp) -> Option<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("merged="))
        .map(str::to_string)
}

async fn me(app: &TestApp, token: &str) -> Value {
    let r = app.get("/api/user", Auth::Bearer(token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

async fn put_key(app: &TestApp, token: &str, key: &str) {
    let r = app
        .request(
            reqwest::Method::PUT,
            "/api/settings/key",
            Some(json!({"apiKey": key})),
            Auth::Bearer(token),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn put_settings(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app
        .request(
            reqwest::Method::PUT,
            "/api/settings",
            Some(body),
            Auth::Bearer(token),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

async fn settings(app: &TestApp, token: &str) -> Value {
    let r = app.get("/api/settings", Auth::Bearer(token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

fn msg(id: &str, thread: &str, parent: Option<&str>, role: &str, text: &str, date: i64) -> Value {
    let mut m =
        json!({"idMessage": id, "idThread": thread, "role": role, "text": text, "date": date});
    if let Some(p) = parent {
        m["parentId"] = json!(p);
    }
    m
}

/// A thread with a branch (one question, two answers), through the
/// reference client's `sync`; its id.
async fn thread_with_branch(app: &TestApp, token: &str, name: &str) -> String {
    let r = app
        .post(
            "/api/thread",
            json!({"action": "create", "data": {"name": name}}),
            Auth::Bearer(token),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let tid = r.body["thread"]["id"].as_str().unwrap().to_string();
    let (q, a1, a2) = (uuid(), uuid(), uuid());
    let r = app
        .post(
            "/api/thread",
            json!({"action": "sync", "messages": [
                msg(&q, &tid, None, "user", "question", 1),
                msg(&a1, &tid, Some(&q), "assistant", "first answer", 2),
                msg(&a2, &tid, Some(&q), "assistant", "second answer", 3),
            ]}),
            Auth::Bearer(token),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["inserted"], 3, "{:?}", r.body);
    tid
}

async fn thread_ids(app: &TestApp, token: &str) -> Vec<String> {
    let r = app.get("/api/thread?limit=100", Auth::Bearer(token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut ids: Vec<String> = r.body["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn behind_proxy(c: &mut app::server::config::Config) {
    c.trusted_proxies = vec![IpNet::parse("127.0.0.1").unwrap()];
}

db_test!(page_views_show_the_chat_and_create_no_rows, |app| {
    let before = rows(&app).await;
    for path in ["/", "/settings/account", "/login"] {
        let r = app.get(path, Auth::None).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.headers.get("location"));
        assert!(r.set_cookie().is_none(), "{path} set a cookie");
    }
    // A thread page renders (the thread itself is not the visitor's: its
    // loader answers "signed out"), never a redirect to the sign-in page.
    let r = app.get("/t/abc", Auth::None).await;
    assert!(matches!(r.status, 200 | 401 | 404), "{}", r.status);
    assert!(r.headers.get("location").is_none());
    assert!(r.set_cookie().is_none());
    for path in ["/rpc/current_user", "/rpc/login_config"] {
        let r = app.rpc(path, Auth::None).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    }
    let r = app.rpc("/rpc/login_config", Auth::None).await;
    assert_eq!(r.body["allow_guests"], true);
    assert_eq!(r.body["guest_ttl_days"], 30);
    // The chat page's reads answer "nothing yet" to a visitor (no login
    // wall) and stay reads: nothing created, no cookie.
    let r = app.rpc("/rpc/list_threads", Auth::None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"threads": [], "nextCursor": null}));
    assert!(r.set_cookie().is_none());
    let r = app.rpc("/rpc/get_settings", Auth::None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["hasKey"], false);
    assert_eq!(r.body["serverKeyAvailable"], false);
    assert!(r.body.get("guestQuota").is_none(), "{:?}", r.body);
    let r = app.rpc("/rpc/file_usage", Auth::None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["usedBytes"], 0);
    let r = app.rpc("/rpc/voices", Auth::None).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"voices": []})));
    // No key to list models with: the sentence that says what to do.
    let r = app
        .rpc_form("/rpc/list_models", "fresh=false", Auth::None)
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.error().contains("Mistral API key"), "{}", r.error());
    // A thread is never a visitor's.
    let r = app
        .rpc_form("/rpc/load_thread_page", "id=abc", Auth::None)
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    // A client that presents a bad token is still told it is signed out.
    let r = app.rpc("/rpc/list_threads", Auth::Bearer("garbage")).await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    assert_eq!(app.get("/api/user", Auth::None).await.status, 401);
    assert_eq!(rows(&app).await, before, "a page view wrote rows");
    assert_eq!(app.count("users").await, 0);

    // A guest sees the sign-in page (not sent away from it).
    let g = guest(&app).await;
    let r = app.get("/login", Auth::Cookie(&g)).await;
    assert_eq!(r.status, 200);
    let r = app.get("/", Auth::Cookie(&g)).await;
    assert_eq!(r.status, 200);
});

db_test!(the_first_write_of_a_visitor_creates_one_guest, |app| {
    // Refused input creates nothing.
    let r = app
        .rpc_form("/rpc/save_theme", "theme=blue", Auth::None)
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(app.count("users").await, 0);

    let r = app
        .rpc_form("/rpc/create_thread", "name=First", Auth::None)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = r.cookie_token().expect("the guest's session cookie");
    assert!(r.set_cookie().unwrap().contains("HttpOnly"));
    assert_eq!(app.count("users").await, 1);
    let who = me(&app, &token).await;
    assert_eq!(who["provider"], "guest");
    assert_eq!(who["name"], "Guest");
    assert_eq!(who["email"], Value::Null);
    // The next writes use that guest.
    let r = app
        .rpc_form("/rpc/save_theme", "theme=dark", Auth::Cookie(&token))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.cookie_token().is_none());
    let r = app
        .rpc_form("/rpc/create_thread", "name=Second", Auth::Cookie(&token))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(app.count("users").await, 1);
    assert_eq!(thread_ids(&app, &token).await.len(), 2);
    assert_eq!(settings(&app, &token).await["theme"], "dark");
    // A bad Bearer token is refused, not turned into a guest.
    let r = app
        .rpc_form("/rpc/create_thread", "name=x", Auth::Bearer("garbage"))
        .await;
    assert_eq!(r.status, 401);
    // Another visitor gets another guest; the JSON API never creates one
    // implicitly.
    let r = app
        .rpc_form("/rpc/save_theme", "theme=light", Auth::None)
        .await;
    assert_eq!(r.status, 200);
    assert_ne!(r.cookie_token().unwrap(), token);
    let r = app
        .post(
            "/api/thread",
            json!({"action": "create", "data": {"name": "x"}}),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(app.count("users").await, 2);
    // Asking again with a session creates nothing.
    let r = app
        .post("/api/auth/guest", json!({}), Auth::Bearer(&token))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.cookie_token().is_none());
    assert_eq!(app.count("users").await, 2);
});

db_test_with!(
    guest_creation_is_limited_per_address,
    |c| {
        behind_proxy(c);
        c.guest_creations_per_ip_hour = 2;
    },
    |app| {
        guest_from(&app, Some("203.0.113.5")).await;
        guest_from(&app, Some("203.0.113.5")).await;
        let r = app
            .request(
                reqwest::Method::POST,
                "/api/auth/guest",
                None,
                Auth::None,
                &[("x-forwarded-for", "203.0.113.5")],
            )
            .await;
        assert_eq!(r.status, 429, "{:?}", r.body);
        assert!(r.error().contains("guest"), "{}", r.error());
        assert!(r.headers.contains_key("retry-after"));
        // The server function path is limited the same way.
        let r = app
            .http
            .post(app.url("/rpc/save_theme"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-for", "203.0.113.5")
            .body("theme=dark")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 429);
        // Another address is not affected.
        guest_from(&app, Some("203.0.113.6")).await;
        assert_eq!(app.count("users").await, 3);
    }
);

db_test!(a_guest_chats_with_its_own_key, |app| {
    let g = guest(&app).await;
    // Without a key (and no server key for guests) the send says what to do.
    let r = app.send(&g, "Hi").await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.error().contains("Mistral API key"), "{}", r.error());
    put_key(&app, &g, "sk-guest-key-5678").await;
    let s = settings(&app, &g).await;
    assert_eq!(s["hasKey"], true);
    assert_eq!(s["keyLast4"], "5678");
    assert_eq!(s["serverKeyAvailable"], false);
    assert!(s.get("guestQuota").is_none(), "{s:?}");
    let sent = app.send(&g, "Hello there").await;
    let answer = app.answer(&g, &sent.answer_id()).await;
    assert!(!answer.text.is_empty());
    let upstream = app.mistral.requests();
    assert!(upstream
        .iter()
        .any(|r| r.api_key.as_deref() == Some("sk-guest-key-5678")));
    let r = app
        .get(
            &format!("/api/thread?idThread={}", sent.thread_id()),
            Auth::Bearer(&g),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["messages"].as_array().unwrap().len(), 2);
    app.settled(&g, &sent.answer_id(), &sent.thread_id()).await;
});

db_test_with!(
    the_server_key_quota_counts_per_guest_and_per_address,
    |c| {
        behind_proxy(c);
        c.mistral_api_key = Some(Secret::new("sk-operator-0000"));
        c.guest_server_key = true;
        c.guest_daily_messages = 2;
        c.guest_ip_daily_messages = 3;
    },
    |app| {
        // What a visitor from an address sees before writing anything.
        let visitor_settings = || async {
            let r = app
                .http
                .post(app.url("/rpc/get_settings"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-forwarded-for", "198.51.100.7")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            r.json::<Value>().await.unwrap()
        };
        let v = visitor_settings().await;
        assert_eq!(v["serverKeyAvailable"], true);
        assert_eq!(
            v["guestQuota"],
            json!({"remaining": 2, "used": 0, "limit": 2, "addressUsed": 0, "addressLimit": 3})
        );
        let r = app
            .rpc_form("/rpc/list_models", "fresh=false", Auth::None)
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(!r.body.as_array().unwrap().is_empty(), "{:?}", r.body);
        let users_before = app.count("users").await;

        let a = guest_from(&app, Some("198.51.100.7")).await;
        let s = settings(&app, &a).await;
        assert_eq!(s["serverKeyAvailable"], true);
        assert_eq!(
            s["guestQuota"],
            json!({"remaining": 2, "used": 0, "limit": 2, "addressUsed": 0, "addressLimit": 3})
        );
        for text in ["one", "two"] {
            let sent = app.send(&a, text).await;
            app.answer(&a, &sent.answer_id()).await;
            app.settled(&a, &sent.answer_id(), &sent.thread_id()).await;
        }
        assert!(app
            .mistral
            .requests()
            .iter()
            .any(|r| r.api_key.as_deref() == Some("sk-operator-0000")));
        let r = app.send(&a, "three").await;
        assert_eq!(r.status, 429, "{:?}", r.body);
        assert!(r.error().contains("guest answers"), "{}", r.error());
        assert!(r.headers.contains_key("retry-after"));
        assert_eq!(
            settings(&app, &a).await["guestQuota"],
            json!({"remaining": 0, "used": 2, "limit": 2, "addressUsed": 2, "addressLimit": 3})
        );
        // Clearing cookies (a new guest from the same address) gets one
        // more: the address has 3 a day.
        // A visitor from that address (cookies cleared) is shown the same.
        assert_eq!(visitor_settings().await["guestQuota"]["remaining"], 1);
        assert_eq!(visitor_settings().await["guestQuota"]["addressUsed"], 2);
        assert_eq!(app.count("users").await, users_before + 1);
        let b = guest_from(&app, Some("198.51.100.7")).await;
        assert_eq!(settings(&app, &b).await["guestQuota"]["remaining"], 1);
        let sent = app.send(&b, "four").await;
        app.answer(&b, &sent.answer_id()).await;
        app.settled(&b, &sent.answer_id(), &sent.thread_id()).await;
        let r = app.send(&b, "five").await;
        assert_eq!(r.status, 429, "{:?}", r.body);
        assert!(r.error().contains("this network"), "{}", r.error());
        // The server function refuses the same way.
        let r = app
            .rpc_form(
                "/rpc/send_message",
                "text=six&think=false",
                Auth::Cookie(&b),
            )
            .await;
        assert_eq!(r.status, 429, "{:?}", r.body);
        assert_eq!(app.count("server_key_uses").await, 3);
        // Another address has its own quota.
        let c = guest_from(&app, Some("198.51.100.8")).await;
        let sent = app.send(&c, "seven").await;
        app.answer(&c, &sent.answer_id()).await;
        app.settled(&c, &sent.answer_id(), &sent.thread_id()).await;
        // Accounts do not get the server's key from GUEST_SERVER_KEY.
        let acct = app.register("no-key@example.com").await;
        let r = app.send(&acct, "hi").await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert!(settings(&app, &acct).await.get("guestQuota").is_none());
    }
);

db_test!(guests_cannot_make_public_links, |app| {
    let g = guest(&app).await;
    let tid = thread_with_branch(&app, &g, "Mine").await;
    let r = app
        .post(
            "/api/thread",
            json!({"action": "share", "idThread": tid}),
            Auth::Bearer(&g),
        )
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert!(r.error().contains("sign up"), "{}", r.error());
    let r = app
        .rpc_form("/rpc/share_thread", &format!("id={tid}"), Auth::Cookie(&g))
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert_eq!(r.body["kind"], "forbidden");
    assert!(r.error().contains("sign up"), "{}", r.error());
    assert_eq!(app.count("shares").await, 0);
});

/// Everything a guest can own: two threads with branches, an answer from a
/// chat, files (one blob shared with someone else), settings with a key.
async fn busy_guest(app: &TestApp, other_user: &str) -> (String, Vec<String>) {
    let g = guest(app).await;
    put_key(app, &g, "sk-guest-key-5678").await;
    put_settings(
        app,
        &g,
        json!({"theme": "dark", "defaultModel": "mistral-small-latest"}),
    )
    .await;
    let t1 = thread_with_branch(app, &g, "One").await;
    let t2 = thread_with_branch(app, &g, "Two").await;
    let sent = app.send_in(&g, &t2, "and one more").await;
    app.answer(&g, &sent.answer_id()).await;
    app.settled(&g, &sent.answer_id(), &t2).await;
    let gid = me(app, &g).await["id"].as_str().unwrap().to_string();
    add_attachment(app, &gid, None, &"a".repeat(64)).await;
    add_attachment(app, &gid, None, &"b".repeat(64)).await;
    add_attachment(app, other_user, None, &"a".repeat(64)).await;
    let mut ids = vec![t1, t2];
    ids.sort();
    (g, ids)
}

async fn user_id(app: &TestApp, token: &str) -> String {
    me(app, token).await["id"].as_str().unwrap().to_string()
}

/// After a merge: same rows everywhere but one user fewer (the guest) and
/// the guest's session gone (the account's new one added).
fn assert_moved(before: &[i64], after: &[i64], sessions_added: i64) {
    let mut expected = before.to_vec();
    expected[0] -= 1; // users: the guest
    expected[1] += sessions_added - 1; // access_tokens: the guest's went
    assert_eq!(
        after, expected,
        "rows per table {TABLES:?} + server_key_uses"
    );
}

db_test!(registering_from_a_guest_session_moves_everything, |app| {
    let other = app.register("other@example.com").await;
    let other_id = user_id(&app, &other).await;
    let (g, threads) = busy_guest(&app, &other_id).await;
    let gid = user_id(&app, &g).await;
    let before = rows(&app).await;
    let r = app
        .post(
            "/api/auth/email/register",
            json!({"email": "new@example.com", "password": "correct horse battery"}),
            Auth::Cookie(&g),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"ok": true, "merged": {"threads": 2, "messages": 8, "files": 2}, "guestKeyDiscarded": false})
    );
    let t = r.cookie_token().unwrap();
    assert_ne!(t, g, "a new session, never the guest's");
    // The next page is told what moved (a short-lived cookie the page reads).
    assert_eq!(
        merge_notice(&r).as_deref(),
        Some("merged=2.8.2.0; SameSite=Lax; Path=/; Max-Age=120")
    );
    // A new account: one user in, the guest out.
    let mut expected = before.clone();
    expected[0] += 1;
    assert_moved(&expected, &rows(&app).await, 1);
    // The guest and its session are gone.
    assert_eq!(app.get("/api/user", Auth::Bearer(&g)).await.status, 401);
    assert!(users::Entity::find_by_id(gid.clone())
        .one(&app.db)
        .await
        .unwrap()
        .is_none());
    let acct = me(&app, &t).await;
    assert_eq!(acct["provider"], "email");
    assert_eq!(thread_ids(&app, &t).await, threads);
    let mut sizes = vec![];
    for id in &threads {
        let page = app
            .get(&format!("/api/thread?idThread={id}"), Auth::Bearer(&t))
            .await;
        sizes.push(page.body["messages"].as_array().unwrap().len());
    }
    sizes.sort();
    assert_eq!(sizes, vec![3, 5], "every message and branch came along");
    let s = settings(&app, &t).await;
    assert_eq!(
        (
            &s["hasKey"],
            &s["keyLast4"],
            &s["theme"],
            &s["defaultModel"]
        ),
        (
            &json!(true),
            &json!("5678"),
            &json!("dark"),
            &json!("mistral-small-latest")
        )
    );
    let files = attachments::Entity::find()
        .filter(attachments::Column::UserId.eq(acct["id"].as_str().unwrap()))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(files.len(), 2);
    // Without a guest session, registration answers exactly as before.
    let r = app
        .post(
            "/api/auth/email/register",
            json!({"email": "plain@example.com", "password": "correct horse battery"}),
            Auth::None,
        )
        .await;
    assert_eq!(r.body, json!({"ok": true}));
});

db_test!(
    email_sign_in_from_a_guest_session_merges_with_the_accounts_settings_winning,
    |app| {
        let t0 = app.register("acct@example.com").await;
        let acct_id = user_id(&app, &t0).await;
        put_key(&app, &t0, "sk-account-key-1111").await;
        put_settings(&app, &t0, json!({"theme": "light"})).await;
        let own = thread_with_branch(&app, &t0, "Account's").await;
        let (g, threads) = busy_guest(&app, &acct_id).await;
        let before = rows(&app).await;
        let r = app
            .post(
                "/api/auth/email/login",
                json!({"email": "acct@example.com", "password": "correct horse battery"}),
                Auth::Cookie(&g),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            r.body,
            json!({"ok": true, "merged": {"threads": 2, "messages": 8, "files": 2}, "guestKeyDiscarded": true})
        );
        assert!(
            merge_notice(&r).is_some_and(|c| c.starts_with("merged=2.8.2.1;")),
            "{:?}",
            r.headers
        );
        let t = r.cookie_token().unwrap();
        // Both had settings: the account's row stays, the guest's goes.
        let mut expected = before.clone();
        expected[2] -= 1;
        assert_moved(&expected, &rows(&app).await, 1);
        assert_eq!(app.get("/api/user", Auth::Bearer(&g)).await.status, 401);
        // The account's old session still works; both see every thread.
        let mut all = threads.clone();
        all.push(own);
        all.sort();
        assert_eq!(thread_ids(&app, &t).await, all);
        assert_eq!(thread_ids(&app, &t0).await, all);
        let s = settings(&app, &t).await;
        assert_eq!(s["keyLast4"], "1111", "the account's key stays");
        assert_eq!(s["theme"], "light", "a setting the account set wins");
        assert_eq!(
            s["defaultModel"], "mistral-small-latest",
            "one it never set is copied"
        );
        assert_eq!(
            user_settings::Entity::find()
                .all(&app.db)
                .await
                .unwrap()
                .len(),
            1
        );
        // Chatting goes on with the account's key.
        let sent = app.send_in(&t, &threads[0], "still here?").await;
        app.answer(&t, &sent.answer_id()).await;
        app.settled(&t, &sent.answer_id(), &threads[0]).await;
        let last = app.mistral.requests();
        assert!(last
            .iter()
            .rev()
            .any(|r| r.api_key.as_deref() == Some("sk-account-key-1111")));
    }
);

db_test!(google_sign_in_from_a_guest_session_merges, |app| {
    let other = app.register("someone@example.com").await;
    let other_id = user_id(&app, &other).await;
    let (g, threads) = busy_guest(&app, &other_id).await;
    app.google.add_access_token(
        "good",
        FakeGoogle::tokeninfo_body("sub-g", "gia@gmail.com", GOOGLE_CLIENT_ID, "true", 3600),
    );
    let before = rows(&app).await;
    let r = app
        .post(
            "/api/auth/google/token",
            json!({"access_token": "good"}),
            Auth::Cookie(&g),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"ok": true, "merged": {"threads": 2, "messages": 8, "files": 2}, "guestKeyDiscarded": false})
    );
    let t = r.cookie_token().unwrap();
    // A new Google account: one user in, the guest out.
    let mut expected = before.clone();
    expected[0] += 1;
    assert_moved(&expected, &rows(&app).await, 1);
    assert_eq!(me(&app, &t).await["provider"], "google");
    assert_eq!(thread_ids(&app, &t).await, threads);
    assert_eq!(app.get("/api/user", Auth::Bearer(&g)).await.status, 401);
    // The shared blob is still there for the other user, once.
    assert_eq!(app.count("blobs").await, 2);
});

db_test!(the_sign_in_form_merges_a_guest_too, |app| {
    let t0 = app.register("form@example.com").await;
    let g = guest(&app).await;
    let tid = thread_with_branch(&app, &g, "Guest's").await;
    let r = app
        .http
        .post(app.url("/auth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("access_token={g}"))
        .body("email=form%40example.com&password=correct+horse+battery")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(app.get("/api/user", Auth::Bearer(&g)).await.status, 401);
    assert_eq!(thread_ids(&app, &t0).await, vec![tid]);
});

db_test!(a_claim_link_hands_a_guest_to_an_account_once, |app| {
    let acct = app.register("claimer@example.com").await;
    let g = guest(&app).await;
    let tid = thread_with_branch(&app, &g, "Claim me").await;
    // Accounts have nothing to hand over.
    let r = app
        .post("/api/auth/guest/claim", json!({}), Auth::Bearer(&acct))
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    let r = app
        .post("/api/auth/guest/claim", json!({}), Auth::Bearer(&g))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let code = r.body["code"].as_str().unwrap().to_string();
    let url = r.body["url"].as_str().unwrap();
    assert!(url.ends_with(&format!("/auth/claim?code={code}")), "{url}");
    let expires = r.body["expiresAt"].as_i64().unwrap();
    assert!(
        (expires - now_ms() - 15 * 60_000).abs() < 60_000,
        "{expires}"
    );
    // Only the hash is stored.
    let stored = guest_claims::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].code_hash, code);
    // A guest cannot redeem (another guest, or itself).
    let g2 = guest(&app).await;
    for who in [&g, &g2] {
        let r = app
            .post("/api/auth/claim", json!({"code": code}), Auth::Bearer(who))
            .await;
        assert_eq!(r.status, 403, "{:?}", r.body);
        assert!(r.error().contains("Sign in"), "{}", r.error());
    }
    let r = app
        .post(
            "/api/auth/claim",
            json!({"code": "nope"}),
            Auth::Bearer(&acct),
        )
        .await;
    assert_eq!(r.status, 404);
    let before = rows(&app).await;
    let r = app
        .post(
            "/api/auth/claim",
            json!({"code": code}),
            Auth::Bearer(&acct),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"ok": true, "merged": {"threads": 1, "messages": 3, "files": 0}, "guestKeyDiscarded": false})
    );
    assert!(merge_notice(&r).is_some_and(|c| c.starts_with("merged=1.3.0.0;")));
    let mut expected = before.clone();
    expected[0] -= 1;
    expected[1] -= 1;
    expected[8] -= 1; // guest_claims
    assert_eq!(rows(&app).await, expected);
    assert_eq!(thread_ids(&app, &acct).await, vec![tid]);
    assert_eq!(app.get("/api/user", Auth::Bearer(&g)).await.status, 401);
    // Single use.
    let r = app
        .post(
            "/api/auth/claim",
            json!({"code": code}),
            Auth::Bearer(&acct),
        )
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert!(r.error().contains("not valid"), "{}", r.error());

    // Expired.
    let r = app
        .post("/api/auth/guest/claim", json!({}), Auth::Bearer(&g2))
        .await;
    let old = r.body["code"].as_str().unwrap().to_string();
    guest_claims::Entity::update_many()
        .col_expr(guest_claims::Column::ExpiresAt, Expr::value(now_ms() - 1))
        .exec(&app.db)
        .await
        .unwrap();
    let r = app
        .post("/api/auth/claim", json!({"code": old}), Auth::Bearer(&acct))
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert!(r.error().contains("expired"), "{}", r.error());
    assert_eq!(me(&app, &g2).await["provider"], "guest", "nothing moved");

    // The link itself: signed out → sign in first and come back.
    let r = app
        .post("/api/auth/guest/claim", json!({}), Auth::Bearer(&g2))
        .await;
    let fresh = r.body["code"].as_str().unwrap().to_string();
    let path = format!("/auth/claim?code={fresh}");
    let r = app.get(&path, Auth::None).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.headers["location"],
        format!("/login?redirect=%2Fauth%2Fclaim%3Fcode%3D{fresh}")
    );
    // Opened from another site: nothing happens.
    let r = app
        .request(
            reqwest::Method::GET,
            &path,
            None,
            Auth::Cookie(&acct),
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(r.headers["location"], "/?claim=refused");
    assert_eq!(me(&app, &g2).await["provider"], "guest");
    let r = app.get(&path, Auth::Cookie(&acct)).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.headers["location"], "/?claimed=0");
    assert_eq!(app.get("/api/user", Auth::Bearer(&g2)).await.status, 401);
    let r = app.get(&path, Auth::Cookie(&acct)).await;
    assert_eq!(r.headers["location"], "/?claim=invalid");
    // The server functions.
    let g3 = guest(&app).await;
    thread_with_branch(&app, &g3, "Via rpc").await;
    let r = app.rpc("/rpc/guest_claim_link", Auth::Cookie(&g3)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let url = r.body["url"].as_str().unwrap().to_string();
    let code3 = url.rsplit_once("code=").unwrap().1.to_string();
    let r = app
        .rpc_form(
            "/rpc/claim_guest_chats",
            &format!("code={code3}"),
            Auth::Cookie(&acct),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["merged"]["threads"], 1);
    assert_eq!(thread_ids(&app, &acct).await.len(), 2);
});

async fn set_last_seen(app: &TestApp, user_id: &str, at: i64) {
    users::Entity::update_many()
        .col_expr(users::Column::LastSeenAt, Expr::value(at))
        .filter(users::Column::Id.eq(user_id))
        .exec(&app.db)
        .await
        .unwrap();
}

db_test!(inactive_guests_are_deleted_with_what_they_own, |app| {
    let acct = app.register("keeper@example.com").await;
    let acct_id = user_id(&app, &acct).await;
    thread_with_branch(&app, &acct, "Account's").await;
    add_attachment(&app, &acct_id, None, &"c".repeat(64)).await;
    let old = guest(&app).await;
    let old_id = user_id(&app, &old).await;
    put_key(&app, &old, "sk-guest-key-5678").await;
    thread_with_branch(&app, &old, "Old").await;
    add_attachment(&app, &old_id, None, &"c".repeat(64)).await; // shared with the account
    add_attachment(&app, &old_id, None, &"d".repeat(64)).await; // its own
    app.post("/api/auth/guest/claim", json!({}), Auth::Bearer(&old))
        .await;
    let recent = guest(&app).await;
    let recent_id = user_id(&app, &recent).await;
    thread_with_branch(&app, &recent, "Recent").await;
    let woken = guest(&app).await;
    let woken_id = user_id(&app, &woken).await;

    let long_ago = now_ms() - 31 * DAY_MS;
    set_last_seen(&app, &old_id, long_ago).await;
    set_last_seen(&app, &recent_id, now_ms() - 29 * DAY_MS).await;
    set_last_seen(&app, &woken_id, long_ago).await;
    // Using a session is activity: this guest is kept.
    me(&app, &woken).await;
    let seen = users::Entity::find_by_id(woken_id.clone())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .last_seen_at
        .unwrap();
    assert!(seen > now_ms() - 60_000, "activity was recorded");

    let before = rows(&app).await;
    // Two replicas at once: one deletion, no error.
    let (a, b) = tokio::join!(
        guests::delete_inactive(&app.state),
        guests::delete_inactive(&app.state)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(guests::delete_inactive(&app.state).await.unwrap(), 0);
    let after = rows(&app).await;
    let mut expected = before.clone();
    expected[0] -= 1; // users
    expected[1] -= 1; // its session
    expected[2] -= 1; // its settings
    expected[3] -= 1; // threads
    expected[4] -= 3; // messages
    expected[5] -= 1; // its own blob; the shared one stays
    expected[6] -= 2; // attachments
    expected[8] -= 1; // guest_claims
    assert_eq!(after, expected, "{TABLES:?}");
    assert!(blobs::Entity::find_by_id("c".repeat(64))
        .one(&app.db)
        .await
        .unwrap()
        .is_some());
    assert!(blobs::Entity::find_by_id("d".repeat(64))
        .one(&app.db)
        .await
        .unwrap()
        .is_none());
    assert_eq!(app.get("/api/user", Auth::Bearer(&old)).await.status, 401);
    for t in [&recent, &woken, &acct] {
        assert_eq!(app.get("/api/user", Auth::Bearer(t)).await.status, 200);
    }
    assert_eq!(thread_ids(&app, &acct).await.len(), 1);
    assert_eq!(thread_ids(&app, &recent).await.len(), 1);
});

db_test_with!(
    with_guests_off_pages_redirect_and_nothing_is_created,
    |c| {
        c.allow_guests = false;
    },
    |app| {
        let r = app.post("/api/auth/guest", json!({}), Auth::None).await;
        assert_eq!(r.status, 403, "{:?}", r.body);
        assert!(r.error().contains("Guest access is off"), "{}", r.error());
        for path in ["/", "/settings/account", "/t/abc"] {
            let r = app.get(path, Auth::None).await;
            assert_eq!(r.status, 303, "{path}");
            assert_eq!(r.headers["location"], format!("/login?redirect={path}"));
        }
        let r = app
            .rpc_form("/rpc/create_thread", "name=x", Auth::None)
            .await;
        assert_eq!(r.status, 401, "{:?}", r.body);
        assert_eq!(r.body["kind"], "signed_out");
        let r = app.rpc("/rpc/login_config", Auth::None).await;
        assert_eq!(r.body["allow_guests"], false);
        // Reads are for accounts only again.
        for path in ["/rpc/list_threads", "/rpc/get_settings", "/rpc/file_usage"] {
            let r = app.rpc(path, Auth::None).await;
            assert_eq!(r.status, 401, "{path}: {:?}", r.body);
        }
        assert_eq!(app.count("users").await, 0);
    }
);

db_test!(ownership_holds_between_guests_and_accounts, |app| {
    let acct = app.register("victim@example.com").await;
    let g = guest(&app).await;
    let acct_thread = thread_with_branch(&app, &acct, "Account's").await;
    let guest_thread = thread_with_branch(&app, &g, "Guest's").await;
    let g2 = guest(&app).await;
    let before = rows(&app).await;
    let not_found = json!({"error": "Thread not found"});
    // Guest → account, account → guest, guest → guest.
    for (attacker, target) in [
        (&g, &acct_thread),
        (&acct, &guest_thread),
        (&g2, &guest_thread),
    ] {
        let r = app
            .get(
                &format!("/api/thread?idThread={target}"),
                Auth::Bearer(attacker),
            )
            .await;
        assert_eq!((r.status, r.body.clone()), (404, not_found.clone()));
        for body in [
            json!({"action": "update", "idThread": target, "data": {"name": "pwned"}}),
            json!({"action": "unshare", "idThread": target}),
            json!({"action": "delete", "idThread": target}),
        ] {
            let r = app
                .post("/api/thread", body.clone(), Auth::Bearer(attacker))
                .await;
            assert_eq!(
                (r.status, r.body.clone()),
                (404, not_found.clone()),
                "{body}"
            );
        }
        let x = uuid();
        let r = app
            .post(
                "/api/thread",
                json!({"action": "sync", "messages": [msg(&x, target, None, "user", "injected", 5)]}),
                Auth::Bearer(attacker),
            )
            .await;
        assert_eq!(r.body["inserted"], 0, "{:?}", r.body);
        let r = app
            .rpc_form(
                "/rpc/load_thread_page",
                &format!("id={target}"),
                Auth::Cookie(attacker),
            )
            .await;
        assert_eq!(r.status, 404, "{:?}", r.body);
        let r = app
            .post(
                "/api/chat",
                json!({"threadId": target, "text": "hi"}),
                Auth::Bearer(attacker),
            )
            .await;
        assert!(matches!(r.status, 400 | 404), "{:?}", r.body);
    }
    assert_eq!(rows(&app).await, before, "a foreign id changed rows");
    // A guest's claim code is not a session, and a session is not a claim code.
    let r = app.get("/api/user", Auth::Bearer("not-a-token")).await;
    assert_eq!(r.status, 401);
    let r = app
        .post("/api/auth/claim", json!({"code": g}), Auth::Bearer(&acct))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(me(&app, &g).await["provider"], "guest");
});
