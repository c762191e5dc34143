//! The login page's HTML form routes (`POST /auth/login`, `/auth/register`),
//! used when the form is submitted before the WASM has loaded: 303 with the
//! session cookie to a same-site target, failures back to `/login` with an
//! error code (never what was typed), the same limiter as the JSON routes,
//! and no sign-in from another site's page (login CSRF).
use crate::support::*;
use app::api::auth::AuthFormError;

const PW: &str = "correct horse battery";

/// Posts `fields` form-encoded, as a browser without JavaScript does.
async fn post_form(
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> Resp {
    let mut req = app.http.post(app.url(path)).form(fields);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("form post");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    Resp {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    }
}

fn location(r: &Resp) -> &str {
    r.headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The redirect of a failed post: back to the form with a known code only.
fn assert_back_to_form(r: &Resp, expected: &str) {
    assert_eq!(r.status, 303, "{:?}", r.body);
    assert_eq!(location(r), expected);
    assert!(r.cookie_token().is_none(), "no session on failure");
    let code = expected
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("error="))
        .unwrap();
    assert!(AuthFormError::from_code(code).is_some());
}

db_test!(form_register_and_login_set_the_cookie_and_redirect, |app| {
    let r = post_form(
        &app,
        "/auth/register",
        &[
            ("name", "Form User"),
            ("email", "form@example.com"),
            ("password", PW),
            ("redirect", "/settings/account"),
        ],
        &[("origin", app.addr.as_str())],
    )
    .await;
    assert_eq!(r.status, 303, "{:?}", r.body);
    assert_eq!(location(&r), "/settings/account");
    assert_eq!(r.headers["cache-control"], "no-store");
    let t = r.cookie_token().expect("session cookie");
    let me = app.get("/api/user", Auth::Cookie(&t)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["name"], "Form User");
    assert_eq!(me.body["email"], "form@example.com");

    // Sign in (no redirect field: home).
    let r = post_form(
        &app,
        "/auth/login",
        &[("email", "FORM@example.com"), ("password", PW)],
        &[("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(r.status, 303, "{:?}", r.body);
    assert_eq!(location(&r), "/");
    let t = r.cookie_token().expect("session cookie");
    assert_eq!(
        app.get("/api/auth/validate", Auth::Cookie(&t)).await.status,
        200
    );

    // Another site as the target: home instead.
    let r = post_form(
        &app,
        "/auth/login",
        &[
            ("email", "form@example.com"),
            ("password", PW),
            ("redirect", "//evil.example/x"),
        ],
        &[],
    )
    .await;
    assert_eq!(location(&r), "/");
});

db_test!(
    form_failures_go_back_with_a_code_and_never_the_input,
    |app| {
        app.register("taken@example.com").await;
        let r = post_form(
            &app,
            "/auth/login",
            &[
                ("email", "taken@example.com"),
                ("password", "wrong password"),
                ("redirect", "/t/1"),
            ],
            &[],
        )
        .await;
        assert_back_to_form(&r, "/login?error=invalid&redirect=%2Ft%2F1");
        assert!(!location(&r).contains("wrong") && !location(&r).contains("taken"));

        let r = post_form(
            &app,
            "/auth/register",
            &[("email", "taken@example.com"), ("password", PW)],
            &[],
        )
        .await;
        assert_back_to_form(&r, "/login?error=exists&mode=register");
        let r = post_form(
            &app,
            "/auth/register",
            &[("email", "new@example.com"), ("password", "short")],
            &[],
        )
        .await;
        assert_back_to_form(&r, "/login?error=length&mode=register");
        let r = post_form(&app, "/auth/register", &[("password", PW)], &[]).await;
        assert_back_to_form(&r, "/login?error=email&mode=register");
        assert_eq!(app.count("users").await, 1);
    }
);

db_test!(form_posts_from_another_site_sign_nobody_in, |app| {
    app.register("victim@example.com").await;
    let login = [("email", "victim@example.com"), ("password", PW)];
    for headers in [
        [("origin", "https://evil.example")],
        [("sec-fetch-site", "cross-site")],
        [("sec-fetch-site", "same-site")],
    ] {
        for (path, fields) in [
            ("/auth/login", &login[..]),
            (
                "/auth/register",
                &[("email", "planted@example.com"), ("password", PW)][..],
            ),
        ] {
            let r = post_form(&app, path, fields, &headers).await;
            assert_eq!(r.status, 403, "{path} {headers:?}: {:?}", r.body);
            assert!(r.set_cookie().is_none());
            assert!(r.error().contains("Cross-site request refused"));
        }
    }
    assert_eq!(app.count("users").await, 1);
    assert_eq!(
        app.count("access_tokens").await,
        1,
        "only the test's own session"
    );
});

#[tokio::test]
async fn form_sign_ins_share_the_limiter_with_the_json_route() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.register("limited@example.com").await;
    for _ in 0..10 {
        let r = post_form(
            &app,
            "/auth/login",
            &[
                ("email", "limited@example.com"),
                ("password", "wrong password"),
            ],
            &[],
        )
        .await;
        assert_back_to_form(&r, "/login?error=invalid");
    }
    let r = post_form(
        &app,
        "/auth/login",
        &[("email", "limited@example.com"), ("password", PW)],
        &[],
    )
    .await;
    assert_back_to_form(&r, "/login?error=too-many");
    let r = app
        .post(
            "/api/auth/email/login",
            serde_json::json!({"email": "limited@example.com", "password": PW}),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 429, "{:?}", r.body);
}

#[tokio::test]
async fn a_json_body_on_the_form_route_is_a_400() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let r = app
        .post(
            "/auth/login",
            serde_json::json!({"email": "a@example.com", "password": PW}),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.error().contains("x-www-form-urlencoded"));
}
