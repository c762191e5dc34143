//! Abuse limits and session lifetime: the login limiter under concurrency,
//! per-address limits behind trusted proxies, the bounded hashing queue,
//! closed registration, idle timeout, sign-out everywhere, the periodic
//! purge, the `__Host-` cookie and the CSRF exemption's exact scope.
use crate::support::*;
use app::server::config::IpNet;
use app::server::crypto::sha256_hex;
use app::server::db::now_ms;
use app::server::entities::access_tokens;
use app::server::services::auth;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;

const PW: &str = "correct horse battery";
const DAY_MS: i64 = 24 * 3600 * 1000;

async fn login(app: &TestApp, email: &str, password: &str, extra: &[(&str, &str)]) -> Resp {
    app.request(
        reqwest::Method::POST,
        "/api/auth/email/login",
        Some(json!({"email": email, "password": password})),
        Auth::None,
        extra,
    )
    .await
}

/// Ten wrong passwords for `spelled` are refused one by one (401); then
/// even the right password for `email` is refused (429).
async fn ten_failures_lock(app: &TestApp, spelled: &str, email: &str) {
    for _ in 0..10 {
        assert_eq!(login(app, spelled, "wrong-pass", &[]).await.status, 401);
    }
    assert_eq!(login(app, email, PW, &[]).await.status, 429);
}

/// A server that believes `X-Forwarded-For` from 127.0.0.1 (the test client).
async fn behind_proxy() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |c| {
        c.trusted_proxies = vec![IpNet::parse("127.0.0.1").unwrap()];
    })
    .await
    .unwrap()
}

/// A server whose proxies are elsewhere: the test client (127.0.0.1) is an
/// ordinary direct client with its own per-address budget.
pub async fn direct_clients() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |c| {
        c.trusted_proxies = vec![IpNet::parse("10.0.0.0/8").unwrap()];
    })
    .await
    .unwrap()
}

async fn token_row(app: &TestApp, token: &str) -> access_tokens::Model {
    access_tokens::Entity::find()
        .filter(access_tokens::Column::TokenHash.eq(sha256_hex(token.as_bytes())))
        .one(&app.db)
        .await
        .unwrap()
        .expect("token row")
}

async fn set_last_used(app: &TestApp, token: &str, at: i64) {
    let mut row: access_tokens::ActiveModel = token_row(app, token).await.into();
    row.last_used_at = Set(at);
    row.update(&app.db).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_guesses_for_one_account_get_at_most_ten_tries() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.register("target@example.com").await;
    let guesses = (0..50).map(|i| {
        let app = &app;
        async move { login(app, "target@example.com", &format!("guess-{i}"), &[]).await }
    });
    let results = futures::future::join_all(guesses).await;
    let count = |s: u16| results.iter().filter(|r| r.status == s).count();
    assert_eq!(
        count(401) + count(429),
        50,
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(
        count(401),
        10,
        "only ten guesses may reach the password check"
    );
    assert!(results
        .iter()
        .filter(|r| r.status == 429)
        .all(|r| r.headers.contains_key("retry-after")));
    // Still locked for the right password too.
    assert_eq!(login(&app, "target@example.com", PW, &[]).await.status, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_is_per_normalised_email_and_a_success_resets_it() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.register("norm@example.com").await;
    for i in 0..9 {
        let spelled = if i % 2 == 0 {
            "  NORM@Example.com"
        } else {
            "norm@EXAMPLE.COM "
        };
        assert_eq!(login(&app, spelled, "wrong-pass", &[]).await.status, 401);
    }
    // Nine failures, then the owner signs in: the count starts over.
    assert_eq!(login(&app, "norm@example.com", PW, &[]).await.status, 200);
    ten_failures_lock(&app, "Norm@example.com", "norm@example.com").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlong_emails_are_refused_before_anything_else() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.register("long@example.com").await;
    let long = format!("{}@example.com", "a".repeat(243));
    for _ in 0..15 {
        let r = login(&app, &long, PW, &[]).await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert!(r.error().contains("254"), "{:?}", r.body);
    }
    let r = app
        .post(
            "/api/auth/email/register",
            json!({"email": long, "password": PW}),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error().contains("email"));
    // Refused input never counted against the address.
    assert_eq!(login(&app, "long@example.com", PW, &[]).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_limit_is_far_above_the_account_limit() {
    let app = direct_clients().await;
    // Malformed addresses fail without hashing: a quick way to spend slots.
    for i in 0..100 {
        let r = login(&app, &format!("spray-{i}"), PW, &[]).await;
        assert_eq!(r.status, 401, "attempt {i}");
    }
    let r = login(&app, "fresh@example.com", PW, &[]).await;
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert!(r.error().contains("Too many"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    // Trusted: each forwarded address has its own budget.
    let app = behind_proxy().await;
    app.register("proxied@example.com").await;
    let a = [("x-forwarded-for", "203.0.113.7, 127.0.0.1")];
    for i in 0..100 {
        assert_eq!(login(&app, &format!("x{i}"), PW, &a).await.status, 401);
    }
    assert_eq!(login(&app, "proxied@example.com", PW, &a).await.status, 429);
    let b = [("x-forwarded-for", "198.51.100.9")];
    assert_eq!(login(&app, "proxied@example.com", PW, &b).await.status, 200);

    // Not trusted: a forged header changes nothing.
    let app = direct_clients().await;
    app.register("direct@example.com").await;
    for i in 0..100 {
        let forged = format!("10.0.{}.{}", i / 200, i % 200);
        let r = login(&app, &format!("x{i}"), PW, &[("x-forwarded-for", &forged)]).await;
        assert_eq!(r.status, 401);
    }
    let r = login(
        &app,
        "direct@example.com",
        PW,
        &[("x-forwarded-for", "192.0.2.55")],
    )
    .await;
    assert_eq!(r.status, 429);
}

/// Without TRUSTED_PROXIES a loopback peer is an undeclared local proxy
/// (everyone would share its address): no per-address limit, the
/// per-account one still holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_local_proxy_does_not_lock_everyone_out() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.register("local@example.com").await;
    for i in 0..120 {
        assert_eq!(login(&app, &format!("x{i}"), PW, &[]).await.status, 401);
    }
    assert_eq!(login(&app, "local@example.com", PW, &[]).await.status, 200);
    ten_failures_lock(&app, "local@example.com", "local@example.com").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_limited_per_address() {
    let app = behind_proxy().await;
    const FROM: &[(&str, &str)] = &[("x-forwarded-for", "203.0.113.20")];
    const OTHER: &[(&str, &str)] = &[("x-forwarded-for", "203.0.113.21")];
    let register = |email: String, extra: &'static [(&'static str, &'static str)]| {
        let app = &app;
        async move {
            app.request(
                reqwest::Method::POST,
                "/api/auth/email/register",
                Some(json!({"email": email, "password": PW})),
                Auth::None,
                extra,
            )
            .await
        }
    };
    for i in 0..20 {
        let r = register(format!("r{i}@example.com"), FROM).await;
        assert_eq!(r.status, 201, "{i}: {:?}", r.body);
    }
    let r = register("r20@example.com".into(), FROM).await;
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    assert!(r.error().contains("Too many sign-ups"), "{:?}", r.body);
    assert_eq!(register("r21@example.com".into(), OTHER).await.status, 201);
    assert_eq!(app.count("users").await, 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_password_hashes_is_refused_not_queued() {
    let app = behind_proxy().await;
    app.register("flood@example.com").await;
    // Distinct addresses and accounts: no rate limit applies, only the queue.
    let attempts = (0..400).map(|i| {
        let app = &app;
        async move {
            let ip = format!("10.{}.{}.1", i / 250, i % 250);
            login(
                app,
                &format!("nobody{i}@example.com"),
                PW,
                &[("x-forwarded-for", &ip)],
            )
            .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "{statuses:?}"
    );
    let busy: Vec<&Resp> = results.iter().filter(|r| r.status == 503).collect();
    eprintln!("{} of 400 concurrent sign-ins got 503", busy.len());
    assert!(!busy.is_empty(), "a full queue answers 503 at once");
    assert!(busy[0].headers.contains_key("retry-after"));
    assert!(busy[0].error().contains("busy"), "{:?}", busy[0].body);
    // The queue drains; the service is fine afterwards.
    assert_eq!(login(&app, "flood@example.com", PW, &[]).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_registration_answers_403_and_the_page_hides_the_switch() {
    let open = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let html = open.get("/login", Auth::None).await;
    assert!(
        html.body
            .as_str()
            .unwrap()
            .contains("data-testid=\"auth-switch\""),
        "the switch is rendered when sign-up is open"
    );

    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.allow_registration = false)
        .await
        .unwrap();
    let r = app
        .post(
            "/api/auth/email/register",
            json!({"email": "new@example.com", "password": PW}),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert!(r.error().contains("Registration is closed"), "{:?}", r.body);
    assert_eq!(app.count("users").await, 0);
    let html = app.get("/login", Auth::None).await;
    assert_eq!(html.status, 200);
    let html = html.body.as_str().unwrap().to_string();
    assert!(html.contains("auth-submit"), "the sign-in form is there");
    assert!(!html.contains("auth-switch"), "no way to sign up: {html}");
    assert!(!html.contains("Create an account"));
    let r = app.rpc("/rpc/login_config", Auth::None).await;
    assert_eq!(r.body["allow_registration"], false, "{:?}", r.body);
}

db_test!(sessions_unused_for_the_idle_period_end, |app| {
    let idle = app.register("idle@example.com").await;
    let recent = app.login("idle@example.com").await;
    set_last_used(&app, &idle, now_ms() - 8 * DAY_MS).await;
    set_last_used(&app, &recent, now_ms() - 6 * DAY_MS).await;
    assert_eq!(
        app.get("/api/auth/validate", Auth::Cookie(&idle))
            .await
            .status,
        401
    );
    assert_eq!(app.get("/api/user", Auth::Bearer(&idle)).await.status, 401);
    assert_eq!(
        app.get("/api/auth/validate", Auth::Cookie(&recent))
            .await
            .status,
        200
    );
    // Using it moved its idle clock forward.
    assert!(token_row(&app, &recent).await.last_used_at > now_ms() - 60_000);
});

db_test!(purge_deletes_expired_and_idle_tokens_only, |app| {
    let live = app.register("purge@example.com").await;
    let expired = login(&app, "purge@example.com", PW, &[])
        .await
        .cookie_token()
        .unwrap();
    let idle = login(&app, "purge@example.com", PW, &[])
        .await
        .cookie_token()
        .unwrap();
    let mut row: access_tokens::ActiveModel = token_row(&app, &expired).await.into();
    row.expires_at = Set(now_ms() - 1);
    row.update(&app.db).await.unwrap();
    set_last_used(&app, &idle, now_ms() - 8 * DAY_MS).await;

    assert_eq!(auth::purge_expired(&app.state).await.unwrap(), 2);
    assert_eq!(app.count("access_tokens").await, 1);
    assert!(!token_row(&app, &live).await.user_id.is_empty());
    assert_eq!(auth::purge_expired(&app.state).await.unwrap(), 0);
    assert_eq!(
        app.get("/api/auth/validate", Auth::Cookie(&live))
            .await
            .status,
        200
    );
});

db_test!(
    sign_out_everywhere_ends_every_session_of_the_account,
    |app| {
        let a = app.register("all@example.com").await;
        let b = app.login("all@example.com").await;
        let other = app.register("bystander@example.com").await;
        let r = app
            .post("/api/auth/logout?all=true", json!({}), Auth::Cookie(&a))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(r.set_cookie().unwrap().contains("Max-Age=0"));
        for t in [&a, &b] {
            assert_eq!(
                app.get("/api/auth/validate", Auth::Bearer(t)).await.status,
                401
            );
        }
        assert_eq!(
            app.get("/api/auth/validate", Auth::Bearer(&other))
                .await
                .status,
            200
        );
        // Without a session there is nothing to end everywhere.
        let r = app
            .post("/api/auth/logout?all=true", json!({}), Auth::None)
            .await;
        assert_eq!(r.status, 401);
        let r = app
            .post(
                "/api/auth/logout?all=maybe",
                json!({}),
                Auth::Bearer(&other),
            )
            .await;
        assert_eq!(r.status, 400);
        assert!(r.error().contains("all"));

        // The Settings button's server function does the same.
        let c = app.login("bystander@example.com").await;
        let r = app.rpc("/rpc/sign_out_everywhere", Auth::Cookie(&c)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        for t in [&c, &other] {
            assert_eq!(
                app.get("/api/auth/validate", Auth::Bearer(t)).await.status,
                401
            );
        }
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_https_the_cookie_is_host_prefixed_and_the_old_name_still_works() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.public_url = "https://chat.example.com".into()
    })
    .await
    .unwrap();
    let r = app
        .post(
            "/api/auth/email/register",
            json!({"email": "host@example.com", "password": PW}),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 201);
    let cookie = r.set_cookie().unwrap();
    assert!(cookie.starts_with("__Host-access_token="), "{cookie}");
    for attr in ["; Secure", "; Path=/", "; HttpOnly"] {
        assert!(cookie.contains(attr), "{attr} missing in {cookie}");
    }
    assert!(!cookie.to_ascii_lowercase().contains("domain"), "{cookie}");
    let token = cookie
        .strip_prefix("__Host-access_token=")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let with_cookie = |c: String| {
        let app = &app;
        async move {
            app.request(
                reqwest::Method::GET,
                "/api/user",
                None,
                Auth::None,
                &[("cookie", &c)],
            )
            .await
            .status
        }
    };
    assert_eq!(
        with_cookie(format!("__Host-access_token={token}")).await,
        200
    );
    // The reference project's clients send `access_token`.
    assert_eq!(with_cookie(format!("access_token={token}")).await, 200);
    assert_eq!(
        with_cookie(format!("access_token=stale; __Host-access_token={token}")).await,
        200,
        "the __Host- cookie is preferred"
    );
    // Signing out clears both names.
    let r = app
        .request(
            reqwest::Method::POST,
            "/api/auth/logout",
            Some(json!({})),
            Auth::None,
            &[("cookie", &format!("__Host-access_token={token}"))],
        )
        .await;
    assert_eq!(r.status, 200);
    let cleared: Vec<&str> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("__Host-access_token=;") && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("access_token=;") && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert_eq!(
        with_cookie(format!("__Host-access_token={token}")).await,
        401
    );
}

db_test!(
    only_a_bearer_token_is_exempt_from_the_cross_site_check,
    |app| {
        let t = app.register("scope@example.com").await;
        let cookie = format!("access_token={t}");
        for authorization in ["Basic eDp5", "Bearer ", "Token abc"] {
            let r = app
                .request(
                    reqwest::Method::POST,
                    "/api/auth/logout",
                    Some(json!({})),
                    Auth::None,
                    &[
                        ("cookie", &cookie),
                        ("authorization", authorization),
                        ("origin", "https://evil.example"),
                    ],
                )
                .await;
            assert_eq!(r.status, 403, "{authorization:?}: {:?}", r.body);
        }
        // A header that is not a usable Bearer token never falls back to the cookie.
        for authorization in ["Bearer ", "Basic eDp5"] {
            let r = app
                .request(
                    reqwest::Method::GET,
                    "/api/auth/validate",
                    None,
                    Auth::None,
                    &[("cookie", &cookie), ("authorization", authorization)],
                )
                .await;
            assert_eq!(r.status, 401, "{authorization:?}");
        }
        assert_eq!(
            app.get("/api/auth/validate", Auth::Cookie(&t)).await.status,
            200,
            "the session survived"
        );
    }
);
