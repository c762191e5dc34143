//! Server basics: probes, error shape, limits, headers, panics, page guards.
use crate::support::*;
use serde_json::json;

db_test!(probes_answer_json, |app| {
    let r = app.get("/healthz", Auth::None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok");
    let r = app.get("/readyz", Auth::None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["database"], "ok");
});

#[tokio::test]
async fn readyz_reports_an_unreachable_database() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.db.clone().close().await.unwrap();
    let r = app.get("/readyz", Auth::None).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body["database"], "unreachable");
}

#[tokio::test]
async fn responses_carry_request_id_and_security_headers() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let r = app.get("/healthz", Auth::None).await;
    assert!(r.headers.get("x-request-id").is_some());
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(r.headers["x-frame-options"], "DENY");
}

#[tokio::test]
async fn malformed_and_oversized_bodies_get_json_errors() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let r = app
        .request(
            reqwest::Method::POST,
            "/api/auth/email/login",
            None,
            Auth::None,
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(!r.error().is_empty());

    let big = "x".repeat(11 * 1024 * 1024);
    let r = app
        .post(
            "/api/auth/email/login",
            json!({"email": big, "password": "x"}),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 413, "{:?}", r.body);
    assert!(r.error().contains("too large"));
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_for_that_request_only() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let routes = axum::Router::new().route(
        "/boom",
        axum::routing::get(|| async {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            "unreachable"
        }),
    );
    let router = server::routes::with_middleware(routes, app.state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let r = reqwest::get(format!("http://{addr}/boom")).await.unwrap();
    assert_eq!(r.status().as_u16(), 500);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("went wrong"));
    // The server keeps serving.
    let r = reqwest::get(format!("http://{addr}/boom")).await.unwrap();
    assert_eq!(r.status().as_u16(), 500);
}

#[tokio::test]
async fn private_pages_redirect_to_login_and_back() {
    // With guests off (with them on, a visitor sees the chat: `guests.rs`).
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.allow_guests = false)
        .await
        .unwrap();
    let r = app.get("/settings/account?tab=1", Auth::None).await;
    assert_eq!(r.status, 303, "{:?}", r.body);
    assert_eq!(
        r.headers["location"],
        "/login?redirect=/settings/account%3Ftab%3D1"
    );
    let r = app.get("/", Auth::Cookie("not-a-valid-token")).await;
    assert_eq!(r.status, 303);

    let token = app.register("page@example.com").await;
    let r = app.get("/", Auth::Cookie(&token)).await;
    assert_eq!(r.status, 200);
    let html = r.body.as_str().unwrap();
    assert!(html.contains("Test User"), "the shell shows the user");
    let r = app
        .get("/login?redirect=/settings/account", Auth::Cookie(&token))
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.headers["location"], "/settings/account");
    let r = app
        .get("/login?redirect=//evil.example", Auth::Cookie(&token))
        .await;
    assert_eq!(r.headers["location"], "/");
}

#[tokio::test]
async fn login_page_is_server_rendered() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let r = app.get("/login", Auth::None).await;
    assert_eq!(r.status, 200);
    let html = r.body.as_str().unwrap();
    assert!(html.contains("<form"));
    assert!(html.contains("Sign in"));
    assert!(
        html.contains("/pkg/mistralchat"),
        "hydration scripts are linked"
    );
    let r = app.get("/no/such/page", Auth::None).await;
    assert_eq!(r.status, 404);
}
