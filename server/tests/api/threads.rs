//! `/api/thread`: the thread contract on every backend — happy paths with
//! exact shapes, ownership (IDOR) on every id-bearing action, share links,
//! sync idempotency, input limits, keyset pages with equal timestamps, and
//! the query plans behind those pages.
use crate::support::*;
use app::server::db::now_ms;
use app::server::entities::{attachments, blobs, messages, shares, threads};
use app::server::services::threads::{message_page_select, thread_page_select, Cursor, SearchText};
use app::vocab::UserId;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QueryTrait,
    Statement,
};
use serde_json::{json, Value};
use std::collections::HashSet;

const THREAD_KEYS: [&str; 7] = [
    "context",
    "createdAt",
    "id",
    "model",
    "name",
    "shared",
    "updatedAt",
];
const MESSAGE_KEYS: [&str; 14] = [
    "completionTokens",
    "createdAt",
    "error",
    "finishReason",
    "id",
    "idThread",
    "model",
    "parentId",
    "promptTokens",
    "role",
    "status",
    "text",
    "thinking",
    "updatedAt",
];

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

fn names(k: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = k.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn create(app: &TestApp, t: &str, data: Value) -> Value {
    let r = app
        .post(
            "/api/thread",
            json!({"action": "create", "data": data}),
            Auth::Bearer(t),
        )
        .await;
    assert_eq!(r.status, 201, "create: {:?}", r.body);
    r.body["thread"].clone()
}

async fn create_named(app: &TestApp, t: &str, name: &str) -> String {
    create(app, t, json!({"name": name})).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn user_id(app: &TestApp, t: &str) -> String {
    app.get("/api/user", Auth::Bearer(t)).await.body["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn msg(id: &str, thread: &str, parent: Option<&str>, role: &str, text: &str, date: i64) -> Value {
    let mut m =
        json!({"idMessage": id, "idThread": thread, "role": role, "text": text, "date": date});
    if let Some(p) = parent {
        m["parentId"] = json!(p);
    }
    m
}

async fn sync(app: &TestApp, t: &str, msgs: Vec<Value>) -> Resp {
    app.post(
        "/api/thread",
        json!({"action": "sync", "messages": msgs}),
        Auth::Bearer(t),
    )
    .await
}

async fn thread_row(app: &TestApp, id: &str) -> threads::Model {
    threads::Entity::find_by_id(id.to_string())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

/// Every row a thread action could touch, in a stable order.
async fn snapshot(
    app: &TestApp,
) -> (
    Vec<threads::Model>,
    Vec<messages::Model>,
    Vec<shares::Model>,
) {
    (
        threads::Entity::find()
            .order_by_asc(threads::Column::Id)
            .all(&app.db)
            .await
            .unwrap(),
        messages::Entity::find()
            .order_by_asc(messages::Column::Id)
            .all(&app.db)
            .await
            .unwrap(),
        shares::Entity::find()
            .order_by_asc(shares::Column::Id)
            .all(&app.db)
            .await
            .unwrap(),
    )
}

db_test!(create_list_get_update_round_trip, |app| {
    let t = app.register("owner@example.com").await;
    let started = now_ms();
    let r = app
        .post(
            "/api/thread",
            json!({"action": "create", "data": {}}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(keys(&r.body), names(&["thread"]));
    let first = r.body["thread"].clone();
    assert_eq!(keys(&first), names(&THREAD_KEYS));
    let first_id = first["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&first_id).is_ok());
    assert_eq!(first["name"], "New chat");
    assert_eq!(first["context"], "");
    assert_eq!(first["model"], Value::Null);
    assert_eq!(first["shared"], false);
    let created = first["createdAt"]
        .as_i64()
        .expect("createdAt is an integer");
    assert!(created >= started && created <= now_ms());
    assert_eq!(first["updatedAt"], first["createdAt"]);

    // A client-chosen id (any UUID spelling) is stored canonically.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let id = uuid();
    let second = create(
        &app,
        &t,
        json!({"idThread": id.to_uppercase(), "name": "  Rust questions ", "context": "Be brief.", "model": "mistral-large-latest"}),
    )
    .await;
    assert_eq!(
        second,
        json!({"id": id, "name": "Rust questions", "context": "Be brief.", "model": "mistral-large-latest",
               "createdAt": second["createdAt"], "updatedAt": second["createdAt"], "shared": false})
    );
    let row = thread_row(&app, &id).await;
    assert_eq!(row.user_id, user_id(&app, &t).await);
    assert_eq!(row.context, "Be brief.");

    // The list: newest first, same objects as create returned, no messages.
    let list = app.get("/api/thread", Auth::Bearer(&t)).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert_eq!(keys(&list.body), names(&["nextCursor", "threads"]));
    assert_eq!(list.body["threads"], json!([second.clone(), first.clone()]));
    assert_eq!(list.body["nextCursor"], Value::Null);
    assert_eq!(list.headers["cache-control"], "no-store");

    // One thread with its (no) messages.
    let got = app
        .get(&format!("/api/thread?idThread={id}"), Auth::Bearer(&t))
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.body,
        json!({"thread": second.clone(), "messages": [], "nextCursor": null})
    );

    // Update: only the given fields change; a blank model removes it; updatedAt moves.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let r = app
        .post(
            "/api/thread",
            json!({"action": "update", "idThread": first_id, "data": {"name": " Renamed ", "model": ""}}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(keys(&r.body), names(&["thread"]));
    let updated = r.body["thread"].clone();
    assert_eq!(keys(&updated), names(&THREAD_KEYS));
    assert_eq!(updated["name"], "Renamed");
    assert_eq!(updated["context"], "");
    assert_eq!(updated["model"], Value::Null);
    assert_eq!(updated["createdAt"], first["createdAt"]);
    assert!(updated["updatedAt"].as_i64().unwrap() > second["updatedAt"].as_i64().unwrap());
    let r = app
        .post(
            "/api/thread",
            json!({"action": "update", "idThread": first_id, "data": {"context": "You are terse.", "model": "codestral"}}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["thread"]["name"], "Renamed");
    assert_eq!(r.body["thread"]["model"], "codestral");
    let row = thread_row(&app, &first_id).await;
    assert_eq!(
        (
            row.name.as_str(),
            row.context.as_str(),
            row.model.as_deref()
        ),
        ("Renamed", "You are terse.", Some("codestral"))
    );

    // The most recently updated thread now comes first.
    let list = app.get("/api/thread", Auth::Bearer(&t)).await;
    assert_eq!(list.body["threads"][0]["id"], first_id.as_str());
    assert_eq!(list.body["threads"][1]["id"], id.as_str());

    // A second user sees none of it.
    let other = app.register("other@example.com").await;
    let list = app.get("/api/thread", Auth::Bearer(&other)).await;
    assert_eq!(list.body, json!({"threads": [], "nextCursor": null}));
});

db_test!(share_unshare_and_the_public_page, |app| {
    let t = app.register("sharer@example.com").await;
    let uid = user_id(&app, &t).await;
    let shared = create(
        &app,
        &t,
        json!({"name": "Shared one", "context": "TOP SECRET system prompt", "model": "m1"}),
    )
    .await;
    let sid = shared["id"].as_str().unwrap().to_string();
    let private_id = create_named(&app, &t, "Private other thread").await;
    let (m1, m2) = (uuid(), uuid());
    let r = sync(
        &app,
        &t,
        vec![
            msg(&m1, &sid, None, "user", "hi", 1_000),
            msg(&m2, &sid, Some(&m1), "assistant", "hello", 2_000),
        ],
    )
    .await;
    assert_eq!(r.body["inserted"], 2, "{:?}", r.body);

    let r = app
        .post(
            "/api/thread",
            json!({"action": "share", "idThread": sid}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        keys(&r.body),
        names(&[
            "expiresAt",
            "messageCount",
            "shareCode",
            "uptoAt",
            "uptoMessageId"
        ])
    );
    assert_eq!(
        (
            r.body["messageCount"].clone(),
            r.body["uptoMessageId"].clone()
        ),
        (json!(2), json!(m2))
    );
    assert_eq!(r.body["expiresAt"], Value::Null);
    let code = r.body["shareCode"].as_str().unwrap().to_string();
    assert!(code.len() >= 22, "at least 128 random bits: {code}");
    assert!(code
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    // Sharing again returns the active code.
    let again = app
        .post(
            "/api/thread",
            json!({"action": "share", "idThread": sid}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(again.body, r.body);
    assert_eq!(app.count("shares").await, 1);

    let list = app.get("/api/thread", Auth::Bearer(&t)).await;
    let flags: Vec<(String, bool)> = list.body["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap().to_string(),
                t["shared"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        flags.contains(&(sid.clone(), true)) && flags.contains(&(private_id.clone(), false)),
        "{flags:?}"
    );

    // The public page: no session needed, no owner, no system prompt, no other thread.
    let page = app
        .get(&format!("/api/thread?shareCode={code}"), Auth::None)
        .await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    assert_eq!(keys(&page.body), names(&["messages", "thread"]));
    assert_eq!(
        page.body["thread"],
        json!({"id": sid, "name": "Shared one", "model": "m1", "createdAt": shared["createdAt"],
               "updatedAt": thread_row(&app, &sid).await.updated_at})
    );
    let msgs = page.body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(keys(&msgs[0]), names(&MESSAGE_KEYS));
    assert_eq!(
        (msgs[0]["id"].as_str(), msgs[1]["id"].as_str()),
        (Some(m1.as_str()), Some(m2.as_str()))
    );
    let text = page.body.to_string();
    for secret in [
        "sharer@example.com",
        uid.as_str(),
        "TOP SECRET",
        private_id.as_str(),
        "Private other",
    ] {
        assert!(!text.contains(secret), "shared page leaks {secret}: {text}");
    }
    // A session does not change what the page shows.
    assert_eq!(
        app.get(&format!("/api/thread?shareCode={code}"), Auth::Bearer(&t))
            .await
            .body,
        page.body
    );

    // An expiry can be set on the active code; one in the past is refused.
    let later = now_ms() + 3_600_000;
    let r = app
        .post(
            "/api/thread",
            json!({"action": "share", "idThread": sid, "expiresAt": later}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(
        (r.body["shareCode"].clone(), r.body["expiresAt"].clone()),
        (json!(code), json!(later))
    );
    let row = shares::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(row.expires_at, Some(later));
    let r = app
        .post(
            "/api/thread",
            json!({"action": "share", "idThread": sid, "expiresAt": now_ms() - 1000}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error().starts_with("expiresAt"), "{:?}", r.body);

    // Unshare revokes: the page is gone, the flag drops.
    let r = app
        .post(
            "/api/thread",
            json!({"action": "unshare", "idThread": sid}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"ok": true})));
    let gone = app
        .get(&format!("/api/thread?shareCode={code}"), Auth::None)
        .await;
    assert_eq!(
        (gone.status, gone.body.clone()),
        (404, json!({"error": "Shared thread not found"}))
    );
    assert!(shares::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    let got = app
        .get(&format!("/api/thread?idThread={sid}"), Auth::Bearer(&t))
        .await;
    assert_eq!(got.body["thread"]["shared"], false);

    // Sharing again makes a new code; the old one stays dead.
    let r = app
        .post(
            "/api/thread",
            json!({"action": "share", "idThread": sid}),
            Auth::Bearer(&t),
        )
        .await;
    let code2 = r.body["shareCode"].as_str().unwrap().to_string();
    assert_ne!(code2, code);
    assert_eq!(
        app.get(&format!("/api/thread?shareCode={code2}"), Auth::None)
            .await
            .status,
        200
    );
    assert_eq!(
        app.get(&format!("/api/thread?shareCode={code}"), Auth::None)
            .await
            .status,
        404
    );

    // Expired (set in the database) answers like unknown.
    shares::Entity::update_many()
        .col_expr(shares::Column::ExpiresAt, Expr::value(Some(now_ms() - 1)))
        .filter(shares::Column::Code.eq(code2.as_str()))
        .exec(&app.db)
        .await
        .unwrap();
    let expired = app
        .get(&format!("/api/thread?shareCode={code2}"), Auth::None)
        .await;
    assert_eq!(
        (expired.status, expired.body.clone()),
        (404, json!({"error": "Shared thread not found"}))
    );
    let got = app
        .get(&format!("/api/thread?idThread={sid}"), Auth::Bearer(&t))
        .await;
    assert_eq!(got.body["thread"]["shared"], false);
    for unknown in [
        "A".repeat(32),
        "short".into(),
        "has%20spaces%20in%20it%20really".into(),
    ] {
        let r = app
            .get(&format!("/api/thread?shareCode={unknown}"), Auth::None)
            .await;
        assert_eq!(
            (r.status, r.body.clone()),
            (404, json!({"error": "Shared thread not found"})),
            "{unknown}"
        );
    }
});

async fn share(app: &TestApp, t: &str, thread: &str) -> Value {
    let r = app
        .post(
            "/api/thread",
            json!({"action": "share", "idThread": thread}),
            Auth::Bearer(t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

fn ids_of(page: &Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages: {page}"))
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

db_test!(a_share_is_a_snapshot_of_the_owners_branch, |app| {
    let t = app.register("snap@example.com").await;
    let sid = create_named(&app, &t, "Snap").await;
    let [q1, old, new, q2, a2, q3] = [uuid(), uuid(), uuid(), uuid(), uuid(), uuid()];
    let mut thought = msg(&new, &sid, Some(&q1), "assistant", "new answer", 3_000);
    thought["thinking"] = json!("SECRET THOUGHTS");
    let r = sync(
        &app,
        &t,
        vec![
            msg(&q1, &sid, None, "user", "first question", 1_000),
            msg(&old, &sid, Some(&q1), "assistant", "OLD VERSION", 2_000),
            thought,
            msg(&q2, &sid, Some(&new), "user", "second question", 4_000),
            msg(&a2, &sid, Some(&q2), "assistant", "partial answer", 5_000),
        ],
    )
    .await;
    assert_eq!(r.body["inserted"], 5, "{:?}", r.body);
    // The last answer failed half-way: its error text is the owner's business.
    messages::Entity::update_many()
        .col_expr(messages::Column::Status, Expr::value("interrupted"))
        .col_expr(
            messages::Column::Error,
            Expr::value(Some("SECRET ERROR TEXT")),
        )
        .filter(messages::Column::Id.eq(a2.as_str()))
        .exec(&app.db)
        .await
        .unwrap();

    let s = share(&app, &t, &sid).await;
    assert_eq!(
        (s["messageCount"].clone(), s["uptoMessageId"].clone()),
        (json!(4), json!(a2)),
        "{s}"
    );
    let code = s["shareCode"].as_str().unwrap().to_string();
    let page = app
        .get(&format!("/api/thread?shareCode={code}"), Auth::None)
        .await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    // The active branch only: the newest version at the fork, not the old one.
    assert_eq!(
        ids_of(&page.body),
        vec![q1.clone(), new.clone(), q2.clone(), a2.clone()]
    );
    let text = page.body.to_string();
    for hidden in ["OLD VERSION", "SECRET THOUGHTS", "SECRET ERROR TEXT"] {
        assert!(!text.contains(hidden), "share shows {hidden}: {text}");
    }
    for m in page.body["messages"].as_array().unwrap() {
        assert_eq!((&m["thinking"], &m["error"]), (&Value::Null, &Value::Null));
    }

    // A message added after the share stays private…
    let r = sync(
        &app,
        &t,
        vec![msg(&q3, &sid, Some(&a2), "user", "LATER QUESTION", 6_000)],
    )
    .await;
    assert_eq!(r.body["inserted"], 1, "{:?}", r.body);
    let page = app
        .get(&format!("/api/thread?shareCode={code}"), Auth::None)
        .await;
    assert_eq!(ids_of(&page.body).len(), 4);
    assert!(!page.body.to_string().contains("LATER QUESTION"));
    // …until the owner shares again (same code, moved snapshot).
    let s = share(&app, &t, &sid).await;
    assert_eq!(s["shareCode"], json!(code));
    assert_eq!(s["messageCount"], json!(5));
    let all = app
        .get(&format!("/api/thread?shareCode={code}"), Auth::None)
        .await;
    assert_eq!(
        ids_of(&all.body),
        vec![q1.clone(), new.clone(), q2.clone(), a2.clone(), q3.clone()]
    );
    assert_eq!(all.body.get("nextCursor"), None, "whole branch: no cursor");

    // Paged like the thread API: newest `limit` first, then older pages.
    let p1 = app
        .get(&format!("/api/thread?shareCode={code}&limit=2"), Auth::None)
        .await;
    assert_eq!(ids_of(&p1.body), vec![a2.clone(), q3.clone()]);
    let c1 = p1.body["nextCursor"].as_str().unwrap().to_string();
    let p2 = app
        .get(
            &format!("/api/thread?shareCode={code}&limit=2&before={}", enc(&c1)),
            Auth::None,
        )
        .await;
    assert_eq!(ids_of(&p2.body), vec![new.clone(), q2.clone()]);
    let c2 = p2.body["nextCursor"].as_str().unwrap().to_string();
    let p3 = app
        .get(
            &format!("/api/thread?shareCode={code}&limit=2&before={}", enc(&c2)),
            Auth::None,
        )
        .await;
    assert_eq!(ids_of(&p3.body), vec![q1.clone()]);
    assert_eq!(p3.body.get("nextCursor"), None);
    // A cursor from another thread (or made up) is a 400, not a leak.
    let foreign = "MTAwMDpub3QtaW4tdGhpcy10aHJlYWQ";
    let bad = app
        .get(
            &format!("/api/thread?shareCode={code}&limit=2&before={foreign}"),
            Auth::None,
        )
        .await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    assert!(bad.error().starts_with("before"), "{:?}", bad.body);

    // A link made before snapshots existed shows the branch as it is now.
    shares::Entity::update_many()
        .col_expr(
            shares::Column::UptoMessageId,
            Expr::value(Option::<String>::None),
        )
        .exec(&app.db)
        .await
        .unwrap();
    let legacy = app
        .get(&format!("/api/thread?shareCode={code}"), Auth::None)
        .await;
    assert_eq!(ids_of(&legacy.body).len(), 5);
});

db_test!(a_shared_page_is_bounded_by_text_size, |app| {
    let t = app.register("big@example.com").await;
    let sid = create_named(&app, &t, "Big").await;
    let ids = [uuid(), uuid(), uuid()];
    let big = "word ".repeat(30_000); // 150 KB each
    let r = sync(
        &app,
        &t,
        vec![
            msg(&ids[0], &sid, None, "user", &big, 1_000),
            msg(&ids[1], &sid, Some(&ids[0]), "assistant", &big, 2_000),
            msg(&ids[2], &sid, Some(&ids[1]), "user", &big, 3_000),
        ],
    )
    .await;
    assert_eq!(r.body["inserted"], 3, "{:?}", r.body);
    let code = share(&app, &t, &sid).await["shareCode"]
        .as_str()
        .unwrap()
        .to_string();
    // 450 KB of text: the first page stops at the budget, the rest follows.
    let p1 = app
        .get(
            &format!("/api/thread?shareCode={code}&limit=50"),
            Auth::None,
        )
        .await;
    assert_eq!(ids_of(&p1.body), vec![ids[1].clone(), ids[2].clone()]);
    let c = p1.body["nextCursor"].as_str().unwrap().to_string();
    let p2 = app
        .get(
            &format!("/api/thread?shareCode={code}&limit=50&before={}", enc(&c)),
            Auth::None,
        )
        .await;
    assert_eq!(ids_of(&p2.body), vec![ids[0].clone()]);
    assert_eq!(p2.body.get("nextCursor"), None);
});

db_test!(sync_is_idempotent_and_checks_every_message, |app| {
    let a = app.register("sync-a@example.com").await;
    let b = app.register("sync-b@example.com").await;
    let ta = create(&app, &a, json!({"name": "A"})).await;
    let ta_id = ta["id"].as_str().unwrap().to_string();
    let ta2 = create_named(&app, &a, "A2").await;
    let tb = create_named(&app, &b, "B").await;
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;

    let (m1, m2, m3) = (uuid(), uuid(), uuid());
    let mut m2v = msg(
        &m2,
        &ta_id,
        Some(&m1),
        "assistant",
        "Hello! How can I help?",
        2_000,
    );
    m2v["thinking"] = json!("The user greets me.");
    let batch = vec![
        msg(&m1, &ta_id, None, "user", "hello", 1_000),
        m2v,
        msg(&m3, &ta_id, Some(&m2), "user", "Tell me about Rust.", 3_000),
    ];
    let r = sync(&app, &a, batch.clone()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"inserted": 3, "skipped": 0, "rejected": []}));
    let bumped = thread_row(&app, &ta_id).await.updated_at;
    assert!(
        bumped > ta["updatedAt"].as_i64().unwrap(),
        "sync bumps updatedAt"
    );

    let got = app
        .get(&format!("/api/thread?idThread={ta_id}"), Auth::Bearer(&a))
        .await;
    assert_eq!(
        got.body["messages"][0],
        json!({
            "id": m1, "idThread": ta_id, "parentId": null, "role": "user", "text": "hello", "thinking": null,
            "status": "done", "model": null, "createdAt": 1000, "updatedAt": 1000, "finishReason": null,
            "promptTokens": null, "completionTokens": null, "error": null
        })
    );
    assert_eq!(got.body["messages"][1]["parentId"], m1.as_str());
    assert_eq!(got.body["messages"][1]["thinking"], "The user greets me.");
    assert_eq!(got.body["messages"][1]["role"], "assistant");
    assert_eq!(got.body["messages"][2]["id"], m3.as_str());
    assert_eq!(got.body["thread"]["updatedAt"], bumped);

    // The same batch again: all skipped, nothing written, nothing bumped.
    let r = sync(&app, &a, batch).await;
    assert_eq!(r.body, json!({"inserted": 0, "skipped": 3, "rejected": []}));
    assert_eq!(app.count("messages").await, 3);
    assert_eq!(thread_row(&app, &ta_id).await.updated_at, bumped);

    // Everything that cannot be stored is rejected with a reason naming it.
    let ok0 = uuid();
    let ok1 = uuid();
    let x: Vec<String> = (0..8).map(|_| uuid()).collect();
    let r = sync(
        &app,
        &a,
        vec![
            msg(&x[0], &tb, None, "user", "into b's thread", 1),
            msg(&x[1], &uuid(), None, "user", "into no thread", 1),
            msg("not-a-uuid", &ta2, None, "user", "bad id", 1),
            msg(
                &m1,
                &ta2,
                None,
                "user",
                "id of a message in another thread",
                1,
            ),
            msg(&x[2], &ta2, Some(&uuid()), "user", "unknown parent", 1),
            msg(
                &x[3],
                &ta2,
                Some(&m2),
                "user",
                "parent in another thread",
                1,
            ),
            msg(&x[4], &ta2, None, "system", "bad role", 1),
            msg(&x[5], &ta2, None, "user", &"x".repeat(200_001), 1),
            msg(&ok0, &ta2, None, "user", "fine", 10),
            msg(
                &ok1,
                &ta2,
                Some(&ok0),
                "assistant",
                "parent earlier in the batch",
                11,
            ),
            msg(
                &ok1,
                &ta2,
                Some(&ok0),
                "assistant",
                "duplicate inside the batch",
                11,
            ),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["inserted"].as_i64(), r.body["skipped"].as_i64()),
        (Some(2), Some(1)),
        "{:?}",
        r.body
    );
    let rejected: Vec<(String, String)> = r.body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            assert_eq!(keys(v), names(&["idMessage", "reason"]));
            (
                v["idMessage"].as_str().unwrap().to_string(),
                v["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let reason = |id: &str| {
        rejected
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    };
    assert_eq!(rejected.len(), 8, "{rejected:?}");
    assert_eq!(reason(&x[0]), "thread not found");
    assert_eq!(reason(&x[1]), "thread not found");
    assert!(
        reason("not-a-uuid").starts_with("idMessage"),
        "{rejected:?}"
    );
    assert!(reason(&m1).starts_with("idMessage"), "{rejected:?}");
    assert!(reason(&x[2]).starts_with("parentId"), "{rejected:?}");
    assert!(reason(&x[3]).starts_with("parentId"), "{rejected:?}");
    assert!(reason(&x[4]).starts_with("role"), "{rejected:?}");
    assert!(reason(&x[5]).starts_with("text"), "{rejected:?}");
    assert_eq!(app.count("messages").await, 5);
    let in_b = messages::Entity::find()
        .filter(messages::Column::ThreadId.eq(tb.as_str()))
        .all(&app.db)
        .await
        .unwrap();
    assert!(in_b.is_empty());
    let m1_row = messages::Entity::find_by_id(m1.clone())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m1_row.thread_id.as_str(), m1_row.text.as_str()),
        (ta_id.as_str(), "hello")
    );

    // Batch-level limits.
    let big: Vec<Value> = (0..1001)
        .map(|i| msg(&uuid(), &ta_id, None, "user", "x", i))
        .collect();
    let r = sync(&app, &a, big).await;
    assert_eq!(r.status, 400);
    assert!(r.error().starts_with("messages"), "{:?}", r.body);
    let r = app
        .post("/api/thread", json!({"action": "sync"}), Auth::Bearer(&a))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error().starts_with("messages"), "{:?}", r.body);
    let r = app
        .post(
            "/api/thread",
            json!({"action": "sync", "messages": [{"idMessage": uuid()}]}),
            Auth::Bearer(&a),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error().starts_with("messages"), "{:?}", r.body);
    assert_eq!(app.count("messages").await, 5);
    let r = sync(
        &app,
        "not-a-token",
        vec![msg(&uuid(), &ta_id, None, "user", "x", 1)],
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(app.count("messages").await, 5);
});

db_test!(
    another_users_thread_ids_answer_404_and_change_nothing,
    |app| {
        let owner = app.register("victim@example.com").await;
        let attacker = app.register("attacker@example.com").await;
        let victim = create(
            &app,
            &owner,
            json!({"name": "Diary", "context": "private prompt"}),
        )
        .await;
        let vid = victim["id"].as_str().unwrap().to_string();
        let (m1, m2) = (uuid(), uuid());
        sync(
            &app,
            &owner,
            vec![
                msg(&m1, &vid, None, "user", "secret", 1),
                msg(&m2, &vid, Some(&m1), "assistant", "ok", 2),
            ],
        )
        .await;
        let code = app
            .post(
                "/api/thread",
                json!({"action": "share", "idThread": vid}),
                Auth::Bearer(&owner),
            )
            .await
            .body["shareCode"]
            .as_str()
            .unwrap()
            .to_string();
        let own = create_named(&app, &attacker, "Mine").await;

        let before = snapshot(&app).await;
        let not_found = json!({"error": "Thread not found"});
        let missing = uuid();
        for target in [vid.as_str(), missing.as_str()] {
            let gets = [
                format!("/api/thread?idThread={target}"),
                format!("/api/thread?idThread={target}&limit=10"),
                format!("/api/thread?idThread={}", target.to_uppercase()),
            ];
            for path in gets {
                let r = app.get(&path, Auth::Bearer(&attacker)).await;
                assert_eq!(
                    (r.status, r.body.clone()),
                    (404, not_found.clone()),
                    "{path}"
                );
            }
            let actions = [
                json!({"action": "update", "idThread": target, "data": {"name": "pwned", "context": "x"}}),
                json!({"action": "share", "idThread": target}),
                json!({"action": "share", "idThread": target, "expiresAt": now_ms() + 60_000}),
                json!({"action": "unshare", "idThread": target}),
                json!({"action": "delete", "idThread": target}),
            ];
            for body in actions {
                let r = app
                    .post("/api/thread", body.clone(), Auth::Bearer(&attacker))
                    .await;
                assert_eq!(
                    (r.status, r.body.clone()),
                    (404, not_found.clone()),
                    "{body}"
                );
            }
            let x = uuid();
            let r = sync(
                &app,
                &attacker,
                vec![msg(&x, target, None, "user", "injected", 5)],
            )
            .await;
            assert_eq!(
                r.body,
                json!({"inserted": 0, "skipped": 0, "rejected": [{"idMessage": x, "reason": "thread not found"}]})
            );
        }
        // Neither can the victim's messages be re-used as ids or parents in the attacker's thread.
        let y = uuid();
        let r = sync(
            &app,
            &attacker,
            vec![
                msg(&m1, &own, None, "user", "steal id", 5),
                msg(&y, &own, Some(&m2), "user", "graft", 6),
            ],
        )
        .await;
        assert_eq!(
            (r.body["inserted"].as_i64(), r.body["skipped"].as_i64()),
            (Some(0), Some(0)),
            "{:?}",
            r.body
        );
        assert_eq!(r.body["rejected"].as_array().unwrap().len(), 2);

        assert_eq!(snapshot(&app).await, before, "a foreign id changed rows");
        // The owner still has everything, and the share still works.
        let got = app
            .get(&format!("/api/thread?idThread={vid}"), Auth::Bearer(&owner))
            .await;
        let mut expected = victim.clone();
        expected["shared"] = json!(true);
        expected["updatedAt"] = json!(thread_row(&app, &vid).await.updated_at);
        assert_eq!(got.body["thread"], expected);
        assert_eq!(got.body["messages"].as_array().unwrap().len(), 2);
        assert_eq!(
            app.get(&format!("/api/thread?shareCode={code}"), Auth::None)
                .await
                .status,
            200
        );
        let list = app.get("/api/thread", Auth::Bearer(&attacker)).await;
        let ids: Vec<&str> = list.body["threads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![own.as_str()]);
    }
);

db_test!(bad_input_is_400_naming_the_field, |app| {
    let t = app.register("input@example.com").await;
    let tid = create_named(&app, &t, "Target").await;
    let before = snapshot(&app).await;
    let cases = [
        (
            json!({"action": "create", "data": {"name": "x", "userId": "someone"}}),
            400,
            "data",
        ),
        (json!({"action": "create", "data": "x"}), 400, "data"),
        (
            json!({"action": "create", "data": {"idThread": "not-a-uuid"}}),
            400,
            "idThread",
        ),
        (
            json!({"action": "create", "data": {"idThread": tid}}),
            409,
            "idThread",
        ),
        (
            json!({"action": "create", "data": {"name": "n".repeat(201)}}),
            400,
            "name",
        ),
        (
            json!({"action": "create", "data": {"context": "c".repeat(32_001)}}),
            400,
            "context",
        ),
        (
            json!({"action": "create", "data": {"model": "m".repeat(101)}}),
            400,
            "model",
        ),
        (
            json!({"action": "update", "data": {"name": "x"}}),
            400,
            "idThread",
        ),
        (
            json!({"action": "update", "idThread": tid, "data": {"name": "  "}}),
            400,
            "name",
        ),
        (
            json!({"action": "update", "idThread": tid, "data": {"name": "é".repeat(201)}}),
            400,
            "name",
        ),
        (
            json!({"action": "update", "idThread": tid, "data": {"shared": true}}),
            400,
            "data",
        ),
        (
            json!({"action": "share", "idThread": tid, "expiresAt": "tomorrow"}),
            400,
            "expiresAt",
        ),
        (
            json!({"action": "share", "idThread": tid, "expiresAt": 1}),
            400,
            "expiresAt",
        ),
        (json!({"action": "delete"}), 400, "idThread"),
        (json!({"data": {}}), 400, "action"),
        (json!({"action": "explode", "idThread": tid}), 400, "action"),
        (json!({"action": 5}), 400, "action"),
        (json!(["create"]), 400, "action"),
    ];
    for (body, status, field) in cases {
        let r = app
            .post("/api/thread", body.clone(), Auth::Bearer(&t))
            .await;
        assert_eq!(r.status, status, "{body}: {:?}", r.body);
        assert!(
            r.error().starts_with(field),
            "{body}: {:?} should start with {field}",
            r.body
        );
    }
    let r = app
        .request(
            reqwest::Method::POST,
            "/api/thread",
            None,
            Auth::Bearer(&t),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused request wrote something"
    );

    let gets = [
        ("/api/thread?limit=0".to_string(), "limit"),
        ("/api/thread?limit=101".to_string(), "limit"),
        ("/api/thread?limit=abc".to_string(), "limit"),
        ("/api/thread?before=garbage!".to_string(), "before"),
        ("/api/thread?before=bm90LWEtY3Vyc29y".to_string(), "before"),
        (format!("/api/thread?q={}", "q".repeat(201)), "q"),
        (format!("/api/thread?idThread={tid}&limit=201"), "limit"),
        (format!("/api/thread?idThread={tid}&limit=0"), "limit"),
        (format!("/api/thread?idThread={tid}&before=xyz"), "before"),
    ];
    for (path, field) in gets {
        let r = app.get(&path, Auth::Bearer(&t)).await;
        assert_eq!(r.status, 400, "{path}: {:?}", r.body);
        assert!(r.error().starts_with(field), "{path}: {:?}", r.body);
    }
    // The bounds themselves are fine.
    assert_eq!(create(&app, &t, json!({"name": "n".repeat(200), "context": "c".repeat(32_000), "model": "m".repeat(100)})).await["name"], "n".repeat(200));
    assert_eq!(
        app.get("/api/thread?limit=100", Auth::Bearer(&t))
            .await
            .status,
        200
    );
    assert_eq!(
        app.get(
            &format!("/api/thread?idThread={tid}&limit=200"),
            Auth::Bearer(&t)
        )
        .await
        .status,
        200
    );
    assert_eq!(
        app.get(
            &format!("/api/thread?q={}", "q".repeat(200)),
            Auth::Bearer(&t)
        )
        .await
        .status,
        200
    );
});

db_test!(thread_pages_are_exact_with_equal_timestamps, |app| {
    let t = app.register("pages@example.com").await;
    let other = app.register("pages-other@example.com").await;
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(create_named(&app, &t, &format!("Thread {i:02}")).await);
    }
    for _ in 0..3 {
        create_named(&app, &other, "Not yours").await;
    }
    // Force ties: ten threads at one instant, five at another.
    for (i, id) in ids.iter().enumerate() {
        let at: i64 = match i {
            0..=9 => 5_000,
            10..=14 => 7_000,
            _ => 9_000 + i as i64,
        };
        threads::Entity::update_many()
            .col_expr(threads::Column::UpdatedAt, Expr::value(at))
            .filter(threads::Column::Id.eq(id.as_str()))
            .exec(&app.db)
            .await
            .unwrap();
    }
    let mut expected: Vec<(i64, String)> = Vec::new();
    for id in &ids {
        expected.push((thread_row(&app, id).await.updated_at, id.clone()));
    }
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();

    for (limit, sizes) in [
        (7, vec![7, 7, 7, 4]),
        (5, vec![5, 5, 5, 5, 5]),
        (100, vec![25]),
    ] {
        let mut seen = Vec::new();
        let mut got_sizes = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/thread?limit={limit}&before={c}"),
                None => format!("/api/thread?limit={limit}"),
            };
            let r = app.get(&path, Auth::Bearer(&t)).await;
            assert_eq!(r.status, 200, "{path}: {:?}", r.body);
            let page = r.body["threads"].as_array().unwrap();
            got_sizes.push(page.len());
            for th in page {
                assert_eq!(keys(th), names(&THREAD_KEYS));
                seen.push(th["id"].as_str().unwrap().to_string());
            }
            match r.body["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
            assert!(got_sizes.len() < 30, "pagination does not end");
        }
        assert_eq!(got_sizes, sizes, "limit {limit}");
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(
            unique.len(),
            25,
            "every thread exactly once (limit {limit})"
        );
        assert_eq!(seen, expected, "order (limit {limit})");
    }
});

db_test!(message_pages_are_exact_with_equal_timestamps, |app| {
    let t = app.register("msgpages@example.com").await;
    let tid = create_named(&app, &t, "Long").await;
    let mut batch = Vec::new();
    let mut rows: Vec<(i64, String)> = Vec::new();
    let mut parent: Option<String> = None;
    for i in 0..30 {
        let date: i64 = match i {
            0..=11 => 1_000,
            12..=19 => 2_000,
            _ => 3_000 + i,
        };
        let id = uuid();
        batch.push(msg(
            &id,
            &tid,
            parent.as_deref(),
            if i % 2 == 0 { "user" } else { "assistant" },
            &format!("m{i}"),
            date,
        ));
        rows.push((date, id.clone()));
        parent = Some(id);
    }
    let r = sync(&app, &t, batch).await;
    assert_eq!(r.body["inserted"], 30, "{:?}", r.body);
    rows.sort();
    let chronological: Vec<String> = rows.into_iter().map(|(_, id)| id).collect();

    // Without a limit: everything, oldest first.
    let all = app
        .get(&format!("/api/thread?idThread={tid}"), Auth::Bearer(&t))
        .await;
    let ids: Vec<String> = all.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, chronological);
    assert_eq!(all.body["nextCursor"], Value::Null);

    for (limit, sizes) in [
        (7, vec![7, 7, 7, 7, 2]),
        (10, vec![10, 10, 10]),
        (29, vec![29, 1]),
        (200, vec![30]),
    ] {
        let mut pages: Vec<Vec<String>> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/thread?idThread={tid}&limit={limit}&before={c}"),
                None => format!("/api/thread?idThread={tid}&limit={limit}"),
            };
            let r = app.get(&path, Auth::Bearer(&t)).await;
            assert_eq!(r.status, 200, "{path}: {:?}", r.body);
            assert_eq!(keys(&r.body), names(&["messages", "nextCursor", "thread"]));
            assert_eq!(r.body["thread"]["id"], tid.as_str());
            let page: Vec<String> = r.body["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_string())
                .collect();
            pages.push(page);
            match r.body["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
            assert!(pages.len() < 40, "pagination does not end");
        }
        let sizes_got: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(sizes_got, sizes, "limit {limit}");
        // The first page holds the newest messages; each page is chronological.
        let mut joined: Vec<String> = Vec::new();
        for page in pages.iter().rev() {
            joined.extend(page.iter().cloned());
        }
        assert_eq!(joined, chronological, "limit {limit}");
    }
    // A cursor is only a position: it cannot reach another thread's messages.
    let other = create_named(&app, &t, "Empty").await;
    let c = Cursor {
        at: i64::MAX,
        id: "z".into(),
    }
    .encode();
    let r = app
        .get(
            &format!("/api/thread?idThread={other}&limit=5&before={c}"),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(
        (r.body["messages"].clone(), r.body["nextCursor"].clone()),
        (json!([]), Value::Null)
    );
});

db_test!(search_filters_names_case_insensitively, |app| {
    let t = app.register("search@example.com").await;
    let other = app.register("search-other@example.com").await;
    for name in [
        "Rust Borrow Checker",
        "rusty nails",
        "100% done",
        "100 percent",
        "snake_case tips",
        "snakeXcase",
        "Other",
    ] {
        create_named(&app, &t, name).await;
    }
    create_named(&app, &other, "Rust secrets").await;
    let find = |q: &str| {
        let app = &app;
        let t = t.clone();
        let path = format!("/api/thread?q={}", enc(q));
        async move {
            let r = app.get(&path, Auth::Bearer(&t)).await;
            assert_eq!(r.status, 200, "{path}: {:?}", r.body);
            let mut names: Vec<String> = r.body["threads"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_string())
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(
        find("rust").await,
        vec!["Rust Borrow Checker", "rusty nails"]
    );
    assert_eq!(
        find("RUST").await,
        vec!["Rust Borrow Checker", "rusty nails"]
    );
    assert_eq!(find("100%").await, vec!["100% done"]);
    assert_eq!(find("e_c").await, vec!["snake_case tips"]);
    assert_eq!(find("%").await, vec!["100% done"]);
    assert_eq!(find("!").await, Vec::<String>::new());
    assert_eq!(find("  ").await.len(), 7);
    // Pages of a filtered list.
    let r = app
        .get("/api/thread?q=RUST&limit=1", Auth::Bearer(&t))
        .await;
    assert_eq!(r.body["threads"].as_array().unwrap().len(), 1);
    let c = r.body["nextCursor"].as_str().unwrap().to_string();
    let r2 = app
        .get(
            &format!("/api/thread?q=rust&limit=1&before={c}"),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r2.body["threads"].as_array().unwrap().len(), 1);
    assert_eq!(r2.body["nextCursor"], Value::Null);
    assert_ne!(r.body["threads"][0]["id"], r2.body["threads"][0]["id"]);
});

/// Rows in threads, messages, shares, attachments, blobs.
async fn table_counts(app: &TestApp) -> Vec<i64> {
    let mut v = Vec::new();
    for table in ["threads", "messages", "shares", "attachments", "blobs"] {
        v.push(app.count(table).await);
    }
    v
}

db_test!(deleting_a_thread_leaves_no_orphans, |app| {
    let t = app.register("deleter@example.com").await;
    let uid = user_id(&app, &t).await;
    let doomed = create_named(&app, &t, "Doomed").await;
    let kept = create_named(&app, &t, "Kept").await;
    let (d1, d2, d3, k1) = (uuid(), uuid(), uuid(), uuid());
    let r = sync(
        &app,
        &t,
        vec![
            msg(&d1, &doomed, None, "user", "a", 1),
            msg(&d2, &doomed, Some(&d1), "assistant", "b", 2),
            msg(&d3, &doomed, Some(&d2), "user", "c", 3),
            msg(&k1, &kept, None, "user", "k", 1),
        ],
    )
    .await;
    assert_eq!(r.body["inserted"], 4);
    for action in ["share", "unshare", "share"] {
        app.post(
            "/api/thread",
            json!({"action": action, "idThread": doomed}),
            Auth::Bearer(&t),
        )
        .await;
    }
    app.post(
        "/api/thread",
        json!({"action": "share", "idThread": kept}),
        Auth::Bearer(&t),
    )
    .await;
    let (shared_blob, own_blob, draft_blob) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
    add_attachment(&app, &uid, Some(&d1), &shared_blob).await;
    add_attachment(&app, &uid, Some(&k1), &shared_blob).await;
    add_attachment(&app, &uid, Some(&d2), &own_blob).await;
    add_attachment(&app, &uid, None, &draft_blob).await;
    assert_eq!(table_counts(&app).await, vec![2, 4, 3, 4, 3]);

    let r = app
        .post(
            "/api/thread",
            json!({"action": "delete", "idThread": doomed}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"ok": true})));
    assert_eq!(table_counts(&app).await, vec![1, 1, 1, 2, 2]);
    assert!(blobs::Entity::find_by_id(shared_blob)
        .one(&app.db)
        .await
        .unwrap()
        .is_some());
    assert!(blobs::Entity::find_by_id(own_blob)
        .one(&app.db)
        .await
        .unwrap()
        .is_none());
    assert!(blobs::Entity::find_by_id(draft_blob)
        .one(&app.db)
        .await
        .unwrap()
        .is_some());
    // No row points at something that is gone.
    let message_ids: HashSet<String> = messages::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    for a in attachments::Entity::find().all(&app.db).await.unwrap() {
        assert!(
            a.message_id
                .as_ref()
                .is_none_or(|m| message_ids.contains(m)),
            "orphan attachment {a:?}"
        );
    }
    assert!(shares::Entity::find()
        .filter(shares::Column::ThreadId.eq(doomed.as_str()))
        .all(&app.db)
        .await
        .unwrap()
        .is_empty());
    assert!(messages::Entity::find()
        .filter(messages::Column::ThreadId.eq(doomed.as_str()))
        .all(&app.db)
        .await
        .unwrap()
        .is_empty());

    assert_eq!(
        app.get(&format!("/api/thread?idThread={doomed}"), Auth::Bearer(&t))
            .await
            .status,
        404
    );
    let again = app
        .post(
            "/api/thread",
            json!({"action": "delete", "idThread": doomed}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(
        (again.status, again.body.clone()),
        (404, json!({"error": "Thread not found"}))
    );
    let got = app
        .get(&format!("/api/thread?idThread={kept}"), Auth::Bearer(&t))
        .await;
    assert_eq!(got.body["messages"].as_array().unwrap().len(), 1);
    assert_eq!(got.body["thread"]["shared"], true);
});

db_test!(thread_routes_require_a_session_except_share_links, |app| {
    let t = app.register("guarded@example.com").await;
    let tid = create_named(&app, &t, "Mine").await;
    let before = snapshot(&app).await;
    for auth in [
        Auth::None,
        Auth::Bearer("garbage-token"),
        Auth::Cookie("garbage-token"),
    ] {
        for path in [
            "/api/thread".to_string(),
            format!("/api/thread?idThread={tid}"),
            format!("/api/thread?idThread={tid}&limit=5"),
            "/api/thread?limit=0".to_string(),
        ] {
            let r = app.get(&path, auth).await;
            assert_eq!(r.status, 401, "{path}: {:?}", r.body);
            assert!(!r.error().is_empty());
        }
        for body in [
            json!({"action": "create", "data": {"name": "x"}}),
            json!({"action": "update", "idThread": tid, "data": {"name": "x"}}),
            json!({"action": "share", "idThread": tid}),
            json!({"action": "unshare", "idThread": tid}),
            json!({"action": "sync", "messages": [msg(&uuid(), &tid, None, "user", "x", 1)]}),
            json!({"action": "delete", "idThread": tid}),
            json!({"action": "nonsense"}),
        ] {
            let r = app.post("/api/thread", body.clone(), auth).await;
            assert_eq!(r.status, 401, "{body}: {:?}", r.body);
        }
    }
    assert_eq!(snapshot(&app).await, before);
    // Share links are the exception: no session, and an unknown code is a 404, not a 401.
    let r = app
        .get(
            &format!("/api/thread?shareCode={}", "x".repeat(32)),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 404);
});

/// `EXPLAIN QUERY PLAN` rows' `detail` column.
async fn sqlite_plan(app: &TestApp, sql: &str) -> Vec<String> {
    app.db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("EXPLAIN QUERY PLAN {sql}"),
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "detail").unwrap())
        .collect()
}

#[tokio::test]
async fn page_queries_use_the_indexes_on_sqlite() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let t = app.register("plans@example.com").await;
    let uid = user_id(&app, &t).await;
    let tid = create_named(&app, &t, "Plans").await;
    let msgs: Vec<Value> = (0..20)
        .map(|i| msg(&uuid(), &tid, None, "user", "x", i))
        .collect();
    sync(&app, &t, msgs).await;
    let cursor = Cursor {
        at: now_ms(),
        id: uuid(),
    };
    let search = SearchText::parse("pla").unwrap();
    let cases = [
        (
            thread_page_select(&UserId::new(&uid), None, None, 20),
            "threads",
            "ix_threads_user_updated",
        ),
        (
            thread_page_select(&UserId::new(&uid), None, Some(&cursor), 20),
            "threads",
            "ix_threads_user_updated",
        ),
        (
            thread_page_select(&UserId::new(&uid), search.as_ref(), Some(&cursor), 20),
            "threads",
            "ix_threads_user_updated",
        ),
    ];
    let message_cases = [
        (
            message_page_select(&tid, None, 50),
            "messages",
            "ix_messages_thread_created",
        ),
        (
            message_page_select(&tid, Some(&cursor), 50),
            "messages",
            "ix_messages_thread_created",
        ),
    ];
    let mut plans = Vec::new();
    for (q, table, index) in cases {
        plans.push((q.build(DbBackend::Sqlite).to_string(), table, index));
    }
    for (q, table, index) in message_cases {
        plans.push((q.build(DbBackend::Sqlite).to_string(), table, index));
    }
    for (sql, table, index) in plans {
        let plan = sqlite_plan(&app, &sql).await;
        let uses_index = plan.iter().any(|d| {
            d.starts_with(&format!("SEARCH {table} USING INDEX {index}"))
                || d.starts_with(&format!("SEARCH {table} USING COVERING INDEX {index}"))
        });
        assert!(uses_index, "{sql}\nplan: {plan:?}");
        assert!(
            !plan.iter().any(|d| d.starts_with(&format!("SCAN {table}"))),
            "full scan: {sql}\n{plan:?}"
        );
        assert!(
            !plan.iter().any(|d| d.contains("TEMP B-TREE")),
            "sort without the index: {sql}\n{plan:?}"
        );
    }
}
