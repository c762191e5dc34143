//! Settings against the fake Mistral: a key is checked before it is stored
//! (refused → not saved unless forced; Mistral unreachable → saved
//! unchecked), and a refused key already in use is the user's mistake (4xx
//! with what to do), never a server error.
use crate::support::*;
use app::server::services::settings::{KEY_IN_USE_REFUSED, KEY_REFUSED};
use serde_json::json;
use testkit::mistral::FakeFailure;

const GOOD: &str = "sk-accepted-key-0001";
const BAD: &str = "sk-refused-key-0002";

async fn put_key(app: &TestApp, t: &str, body: serde_json::Value) -> Resp {
    app.request(
        reqwest::Method::PUT,
        "/api/settings/key",
        Some(body),
        Auth::Bearer(t),
        &[],
    )
    .await
}

db_test!(a_key_mistral_refuses_is_not_saved_unless_forced, |app| {
    app.mistral.set_valid_keys([GOOD]);
    let t = app.register("keys@example.com").await;

    let r = put_key(&app, &t, json!({"apiKey": BAD})).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.error(), KEY_REFUSED);
    let s = app.get("/api/settings", Auth::Bearer(&t)).await;
    assert_eq!(s.body["hasKey"], false, "{:?}", s.body);

    // 403 (a key without API access) is a refusal too.
    app.mistral.fail_times(
        FakeFailure::Custom {
            status: 403,
            content_type: "application/json".into(),
            body: r#"{"detail":"Forbidden"}"#.into(),
        },
        1,
    );
    let r = put_key(&app, &t, json!({"apiKey": GOOD})).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.error(), KEY_REFUSED);

    // The user insists: saved without asking Mistral.
    let before = app.mistral.requests().len();
    let r = put_key(&app, &t, json!({"apiKey": BAD, "force": true})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["keyCheck"], "skipped");
    assert_eq!(r.body["hasKey"], true);
    assert_eq!(r.body["keyLast4"], "0002");
    assert_eq!(app.mistral.requests().len(), before);

    // A good key is checked, accepted, and its catalogue is cached.
    let r = put_key(&app, &t, json!({"apiKey": GOOD})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["keyCheck"], "accepted");
    assert_eq!(r.body["keyLast4"], "0001");
    let before = app.mistral.requests().len();
    let m = app.get("/api/models", Auth::Bearer(&t)).await;
    assert_eq!(m.status, 200);
    assert_eq!(
        app.mistral.requests().len(),
        before,
        "served from the cache"
    );

    // Removing a key asks nobody.
    let r = put_key(&app, &t, json!({"apiKey": null})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["keyCheck"], "skipped");
    assert_eq!(r.body["hasKey"], false);
});

#[tokio::test]
async fn a_key_is_saved_unchecked_when_mistral_is_unreachable() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.mistral_api_base = format!("http://{closed}");
    })
    .await
    .unwrap();
    let t = app.register("offline@example.com").await;
    let r = put_key(&app, &t, json!({"apiKey": GOOD})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["keyCheck"], "unchecked");
    assert_eq!(r.body["hasKey"], true);
}

db_test!(a_refused_key_in_use_is_a_4xx_with_what_to_do, |app| {
    let t = app.register("stale@example.com").await;
    let r = put_key(&app, &t, json!({"apiKey": BAD, "force": true})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.mistral.set_valid_keys([GOOD]);

    let r = app.get("/api/models?fresh=1", Auth::Bearer(&t)).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.error(), KEY_IN_USE_REFUSED);
    // Not a 401: that would mean "your session is gone".
    assert_eq!(
        app.get("/api/auth/validate", Auth::Bearer(&t)).await.status,
        200
    );

    // The server function carries the same status and sentence.
    let r = app
        .rpc_form("/rpc/list_models", "fresh=true", Auth::Cookie(&t))
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.error(), KEY_IN_USE_REFUSED, "{:?}", r.body);
    assert_eq!(r.body["kind"], "bad_input", "{:?}", r.body);
});
