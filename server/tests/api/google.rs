//! `/api/auth/google/token` against a local fake of Google's tokeninfo and JWKS.
use crate::support::*;
use serde_json::json;

const CID: &str = GOOGLE_CLIENT_ID;

db_test!(access_token_for_this_app_signs_in_by_subject, |app| {
    app.google.add_access_token(
        "good",
        FakeGoogle::tokeninfo_body("sub-1", "gina@gmail.com", CID, "true", 3600),
    );
    let r = app
        .post(
            "/api/auth/google/token",
            json!({"access_token": "good"}),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = r.cookie_token().unwrap();
    let me = app.get("/api/user", Auth::Bearer(&t)).await.body;
    assert_eq!(me["provider"], "google");
    assert_eq!(me["email"], "gina@gmail.com");

    // Same subject again (new email at Google): same account, no duplicate.
    app.google.add_access_token(
        "again",
        FakeGoogle::tokeninfo_body("sub-1", "gina.new@gmail.com", CID, "true", 3600),
    );
    let r = app
        .post(
            "/api/auth/google/token",
            json!({"access_token": "again"}),
            Auth::None,
        )
        .await;
    let t2 = r.cookie_token().unwrap();
    let me2 = app.get("/api/user", Auth::Bearer(&t2)).await.body;
    assert_eq!(me2["id"], me["id"]);
    assert_eq!(app.count("users").await, 1);
});

db_test!(
    access_tokens_for_other_apps_or_unverified_emails_are_refused,
    |app| {
        let cases = [
            (
                "other-app",
                FakeGoogle::tokeninfo_body(
                    "s",
                    "x@gmail.com",
                    "999-other.apps.googleusercontent.com",
                    "true",
                    3600,
                ),
            ),
            (
                "unverified",
                FakeGoogle::tokeninfo_body("s", "x@gmail.com", CID, "false", 3600),
            ),
            (
                "expired",
                FakeGoogle::tokeninfo_body("s", "x@gmail.com", CID, "true", -10),
            ),
        ];
        for (tok, body) in cases {
            app.google.add_access_token(tok, body);
            let r = app
                .post(
                    "/api/auth/google/token",
                    json!({"access_token": tok}),
                    Auth::None,
                )
                .await;
            assert_eq!(r.status, 401, "{tok}: {:?}", r.body);
            assert!(r.cookie_token().is_none());
        }
        let mut azp_mismatch = FakeGoogle::tokeninfo_body("s", "x@gmail.com", CID, "true", 3600);
        azp_mismatch["azp"] = json!("999-other.apps.googleusercontent.com");
        app.google.add_access_token("azp", azp_mismatch);
        assert_eq!(
            app.post(
                "/api/auth/google/token",
                json!({"access_token": "azp"}),
                Auth::None
            )
            .await
            .status,
            401
        );
        assert_eq!(
            app.post(
                "/api/auth/google/token",
                json!({"access_token": "unknown"}),
                Auth::None
            )
            .await
            .status,
            401
        );
        assert_eq!(
            app.post("/api/auth/google/token", json!({}), Auth::None)
                .await
                .status,
            400
        );
        assert_eq!(app.count("users").await, 0);
    }
);

db_test!(id_tokens_are_verified_locally, |app| {
    let good = FakeGoogle::id_token(
        &FakeGoogle::id_claims("sub-9", "ivy@gmail.com", CID, 3600),
        GOOGLE_KEY_PEM,
        TEST_KID,
    );
    let r = app
        .post(
            "/api/auth/google/token",
            json!({"id_token": good}),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let me = app
        .get("/api/user", Auth::Cookie(&r.cookie_token().unwrap()))
        .await
        .body;
    assert_eq!(me["name"], "Gina Google");
    assert_eq!(me["picture"], "https://lh3.googleusercontent.com/a/pic");

    let forged = FakeGoogle::id_token(
        &FakeGoogle::id_claims("sub-9", "ivy@gmail.com", CID, 3600),
        ATTACKER_KEY_PEM,
        TEST_KID,
    );
    let expired = FakeGoogle::id_token(
        &FakeGoogle::id_claims("sub-9", "ivy@gmail.com", CID, -3600),
        GOOGLE_KEY_PEM,
        TEST_KID,
    );
    let wrong_aud = FakeGoogle::id_token(
        &FakeGoogle::id_claims(
            "sub-9",
            "ivy@gmail.com",
            "other.apps.googleusercontent.com",
            3600,
        ),
        GOOGLE_KEY_PEM,
        TEST_KID,
    );
    let mut bad_iss_claims = FakeGoogle::id_claims("sub-9", "ivy@gmail.com", CID, 3600);
    bad_iss_claims["iss"] = json!("https://evil.example");
    let wrong_iss = FakeGoogle::id_token(&bad_iss_claims, GOOGLE_KEY_PEM, TEST_KID);
    let mut unverified_claims = FakeGoogle::id_claims("sub-9", "ivy@gmail.com", CID, 3600);
    unverified_claims["email_verified"] = json!(false);
    let unverified = FakeGoogle::id_token(&unverified_claims, GOOGLE_KEY_PEM, TEST_KID);
    // alg "none": header and claims with an empty signature.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none_alg = format!(
        "{}.{}.",
        b64.encode(json!({"alg": "none", "typ": "JWT", "kid": TEST_KID}).to_string()),
        b64.encode(FakeGoogle::id_claims("sub-9", "ivy@gmail.com", CID, 3600).to_string())
    );
    for (what, tok) in [
        ("forged", forged),
        ("expired", expired),
        ("wrong aud", wrong_aud),
        ("wrong iss", wrong_iss),
        ("unverified email", unverified),
        ("alg none", none_alg),
        ("garbage", "not.a.jwt".to_string()),
    ] {
        let r = app
            .post(
                "/api/auth/google/token",
                json!({"id_token": tok}),
                Auth::None,
            )
            .await;
        assert_eq!(r.status, 401, "{what}: {:?}", r.body);
    }
});

#[tokio::test]
async fn unknown_kid_refetches_the_jwks_once() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let good = FakeGoogle::id_token(
        &FakeGoogle::id_claims("s", "k@gmail.com", CID, 3600),
        GOOGLE_KEY_PEM,
        TEST_KID,
    );
    assert_eq!(
        app.post(
            "/api/auth/google/token",
            json!({"id_token": good.clone()}),
            Auth::None
        )
        .await
        .status,
        200
    );
    assert_eq!(
        app.post(
            "/api/auth/google/token",
            json!({"id_token": good}),
            Auth::None
        )
        .await
        .status,
        200
    );
    assert_eq!(
        *app.google.jwks_hits.lock().unwrap(),
        1,
        "cached after the first fetch"
    );
    let other = FakeGoogle::id_token(
        &FakeGoogle::id_claims("s", "k@gmail.com", CID, 3600),
        GOOGLE_KEY_PEM,
        "rotated-kid",
    );
    assert_eq!(
        app.post(
            "/api/auth/google/token",
            json!({"id_token": other}),
            Auth::None
        )
        .await
        .status,
        401
    );
    assert_eq!(
        *app.google.jwks_hits.lock().unwrap(),
        2,
        "one refetch for the unknown kid"
    );
}

#[tokio::test]
async fn google_email_never_takes_over_a_password_account() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let pw = app.register("same@gmail.com").await;
    let pw_id = app.get("/api/user", Auth::Bearer(&pw)).await.body["id"].clone();
    app.google.add_access_token(
        "t",
        FakeGoogle::tokeninfo_body("sub-x", "same@gmail.com", CID, "true", 3600),
    );
    let r = app
        .post(
            "/api/auth/google/token",
            json!({"access_token": "t"}),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 200);
    let g = app
        .get("/api/user", Auth::Bearer(&r.cookie_token().unwrap()))
        .await
        .body;
    assert_ne!(g["id"], pw_id);
}

#[tokio::test]
async fn without_a_client_id_google_sign_in_is_501() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.google_client_id = None)
        .await
        .unwrap();
    let r = app
        .post(
            "/api/auth/google/token",
            json!({"access_token": "x"}),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 501);
    assert!(r.error().contains("GOOGLE_CLIENT_ID"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_sign_in_is_limited_per_address() {
    let app = crate::sessions::direct_clients().await;
    for i in 0..60 {
        let r = app
            .post(
                "/api/auth/google/token",
                json!({"id_token": format!("not-a-jwt-{i}")}),
                Auth::None,
            )
            .await;
        assert_eq!(r.status, 401, "attempt {i}: {:?}", r.body);
    }
    let r = app
        .post(
            "/api/auth/google/token",
            json!({"id_token": "not-a-jwt"}),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    assert!(
        r.error().contains("Too many Google sign-ins"),
        "{:?}",
        r.body
    );
}

/// Collects everything a `tracing` subscriber writes.
#[derive(Clone, Default)]
struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// reqwest's errors print their URL, which for tokeninfo carries
/// `?access_token=…`: the logged error must not.
#[tokio::test(flavor = "current_thread")]
async fn google_tokens_never_reach_the_log() {
    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Port 1 is closed: the request fails inside reqwest.
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.google_tokeninfo_url = "http://127.0.0.1:1/tokeninfo".into();
        c.google_jwks_url = "http://127.0.0.1:1/oauth2/v3/certs".into();
    })
    .await
    .unwrap();
    let secret = "ya29.SECRET-ACCESS-TOKEN";
    let err = app
        .state
        .google
        .verify_access_token(secret)
        .await
        .unwrap_err();
    assert_eq!(err.status().as_u16(), 502);
    assert!(!format!("{err:?}").contains("SECRET"));
    let written = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(written.contains("tokeninfo unreachable"), "{written}");
    assert!(!written.contains("SECRET"), "token in the log: {written}");
    assert!(!written.contains("access_token="), "{written}");
}
