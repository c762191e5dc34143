//! `/api/auth/*` and `/api/user`: success and failure paths on every backend.
use crate::support::*;
use app::server::crypto::sha256_hex;
use app::server::entities::{access_tokens, blobs, messages, shares, threads, user_settings};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;

const PW: &str = "correct horse battery";

db_test!(register_sets_a_hashed_expiring_session, |app| {
    let r = app
        .post(
            "/api/auth/email/register",
            json!({"email": "  Ada@Example.COM ", "password": PW, "name": "Ada"}),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body, json!({"ok": true}));
    let cookie = r.set_cookie().unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=2592000"] {
        assert!(cookie.contains(attr), "{attr} missing in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http on localhost");
    let token = r.cookie_token().unwrap();
    assert!(token.len() >= 43, "256-bit token");

    let rows = access_tokens::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].token_hash, sha256_hex(token.as_bytes()));
    assert_ne!(rows[0].token_hash, token, "the raw token is never stored");
    let ttl = rows[0].expires_at - rows[0].created_at;
    assert_eq!(ttl, 30 * 24 * 3600 * 1000);

    let me = app.get("/api/user", Auth::Bearer(&token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["email"], "ada@example.com");
    assert_eq!(me.body["name"], "Ada");
    assert_eq!(me.body["provider"], "email");
    assert!(me.body.get("password_hash").is_none());
    assert!(me.body["id"].as_str().is_some());
    assert!(me.body.as_object().unwrap().contains_key("picture"));
});

db_test!(register_rejects_bad_input_and_duplicates, |app| {
    let cases = [
        (
            json!({"email": "not-an-email", "password": PW}),
            400,
            "email",
        ),
        (
            json!({"email": "a@example.com", "password": "short"}),
            400,
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "x".repeat(1025)}),
            400,
            "password",
        ),
        (json!({"email": "a@example.com"}), 400, "password"),
    ];
    for (body, status, field) in cases {
        let r = app
            .post("/api/auth/email/register", body.clone(), Auth::None)
            .await;
        assert_eq!(r.status, status, "{body}: {:?}", r.body);
        assert!(
            r.error().contains(field),
            "{:?} should name {field}",
            r.body
        );
    }
    app.register("dup@example.com").await;
    let r = app
        .post(
            "/api/auth/email/register",
            json!({"email": "DUP@example.com", "password": PW}),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 409);
    assert!(r.error().contains("already exists"));
});

db_test!(login_accepts_the_right_password_only, |app| {
    app.register("bob@example.com").await;
    let ok = app
        .post(
            "/api/auth/email/login",
            json!({"email": "Bob@example.com ", "password": PW}),
            Auth::None,
        )
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, json!({"ok": true}));
    let t = ok.cookie_token().unwrap();
    assert_eq!(
        app.get("/api/auth/validate", Auth::Cookie(&t)).await.status,
        200
    );

    let wrong = app
        .post(
            "/api/auth/email/login",
            json!({"email": "bob@example.com", "password": "nope-nope"}),
            Auth::None,
        )
        .await;
    let unknown = app
        .post(
            "/api/auth/email/login",
            json!({"email": "nobody@example.com", "password": PW}),
            Auth::None,
        )
        .await;
    for r in [&wrong, &unknown] {
        assert_eq!(r.status, 401);
        assert_eq!(r.error(), "Invalid email or password");
        assert!(r.cookie_token().is_none());
    }
});

db_test!(validate_and_user_require_a_live_token, |app| {
    let t = app.register("val@example.com").await;
    assert_eq!(
        app.get("/api/auth/validate", Auth::Bearer(&t)).await.body,
        json!({"ok": true})
    );
    assert_eq!(
        app.get("/api/auth/validate", Auth::Cookie(&t)).await.status,
        200
    );
    for auth in [Auth::None, Auth::Bearer("garbage"), Auth::Cookie("garbage")] {
        let r = app.get("/api/auth/validate", auth).await;
        assert_eq!(r.status, 401);
        assert!(!r.error().is_empty());
        assert_eq!(app.get("/api/user", auth).await.status, 401);
    }
});

db_test!(expired_tokens_are_refused, |app| {
    let t = app.register("exp@example.com").await;
    let row = access_tokens::Entity::find()
        .filter(access_tokens::Column::TokenHash.eq(sha256_hex(t.as_bytes())))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut am: access_tokens::ActiveModel = row.into();
    am.expires_at = Set(app::server::db::now_ms() - 1);
    am.update(&app.db).await.unwrap();
    assert_eq!(
        app.get("/api/auth/validate", Auth::Bearer(&t)).await.status,
        401
    );
    assert_eq!(app.get("/api/user", Auth::Cookie(&t)).await.status, 401);
});

db_test!(logout_invalidates_only_the_presented_token, |app| {
    let a = app.register("out@example.com").await;
    let b = app.login("out@example.com").await;
    let r = app
        .post("/api/auth/logout", json!({}), Auth::Cookie(&a))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"ok": true}));
    assert!(r.set_cookie().unwrap().contains("Max-Age=0"));
    assert_eq!(
        app.get("/api/auth/validate", Auth::Cookie(&a)).await.status,
        401
    );
    assert_eq!(
        app.get("/api/auth/validate", Auth::Cookie(&b)).await.status,
        200
    );
});

db_test!(deleting_the_account_leaves_no_rows_behind, |app| {
    let keep = app.register("keep@example.com").await;
    let gone = app.register("gone@example.com").await;
    let uid = |t: String| {
        let app = &app;
        async move {
            app.get("/api/user", Auth::Bearer(&t)).await.body["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let keep_id = uid(keep.clone()).await;
    let gone_id = uid(gone.clone()).await;
    let baseline: Vec<i64> = {
        let mut v = vec![];
        for t in crate::persistence::TABLES {
            v.push(app.count(t).await);
        }
        v
    };

    // Give the doomed account one row in every table, with a blob shared with
    // the other account and one of its own.
    user_settings::ActiveModel {
        user_id: Set(gone_id.clone()),
        mistral_key_enc: Set(Some(app.state.secrets.seal("sk-test"))),
        mistral_key_last4: Set(Some("test".into())),
        default_model: Set(None),
        default_context: Set(None),
        fast_models: Set(None),
        theme: Set(None),
        updated_at: Set(1),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    threads::ActiveModel {
        id: Set("t-gone".into()),
        user_id: Set(gone_id.clone()),
        name: Set("T".into()),
        context: Set(String::new()),
        model: Set(None),
        created_at: Set(1),
        updated_at: Set(1),
    }
    .insert(&app.db)
    .await
    .unwrap();
    messages::ActiveModel {
        id: Set("m-gone".into()),
        thread_id: Set("t-gone".into()),
        parent_id: Set(None),
        role: Set(app::vocab::Role::User),
        text: Set("hello".into()),
        thinking: Set(None),
        status: Set(app::vocab::MessageStatus::Done),
        model: Set(None),
        finish_reason: Set(None),
        prompt_tokens: Set(None),
        completion_tokens: Set(None),
        error: Set(None),
        sources: Set(None),
        thinking_ms: Set(None),
        spoken: Set(None),
        created_at: Set(1),
        updated_at: Set(1),
    }
    .insert(&app.db)
    .await
    .unwrap();
    shares::ActiveModel {
        id: Set("s-gone".into()),
        thread_id: Set("t-gone".into()),
        code: Set("code-gone".into()),
        created_at: Set(1),
        expires_at: Set(None),
        revoked_at: Set(None),
        upto_message_id: Set(None),
    }
    .insert(&app.db)
    .await
    .unwrap();
    for (sha, owners) in [
        ("a".repeat(64), vec![&gone_id, &keep_id]),
        ("b".repeat(64), vec![&gone_id]),
    ] {
        for owner in owners {
            let message = (owner == &gone_id).then_some("m-gone");
            add_attachment(&app, owner, message, &sha).await;
        }
    }

    // Without the typed confirmation, or with a wrong one, nothing goes:
    // the same rule as the settings page's server function.
    let users_before = app.count("users").await;
    let r = app.delete("/api/auth/delete", Auth::Bearer(&gone)).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.error().contains("gone@example.com"), "{:?}", r.body);
    for wrong in [
        json!({"confirm": "keep@example.com"}),
        json!({"confirm": ""}),
    ] {
        let r = app
            .request(
                reqwest::Method::DELETE,
                "/api/auth/delete",
                Some(wrong),
                Auth::Bearer(&gone),
                &[],
            )
            .await;
        assert_eq!(r.status, 400, "{:?}", r.body);
    }
    let r = app
        .rpc_form(
            "/rpc/delete_account",
            "confirmation=DELETE",
            Auth::Cookie(&gone),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["kind"], "bad_input", "{:?}", r.body);
    assert_eq!(app.count("users").await, users_before);

    // Case and surrounding space do not matter.
    let r = app
        .request(
            reqwest::Method::DELETE,
            "/api/auth/delete",
            Some(json!({"confirm": " Gone@Example.com "})),
            Auth::Bearer(&gone),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.set_cookie().unwrap().contains("Max-Age=0"));

    // Every table is back to the other account's rows, plus what it still
    // references: its own attachment and the shared blob.
    let mut expected = baseline.clone();
    expected[5] += 1; // blobs: the shared one stays
    expected[6] += 1; // attachments: keep's attachment
    expected[1] -= 1; // access_tokens: gone's session is deleted
    expected[0] -= 1; // users
    for (i, t) in crate::persistence::TABLES.iter().enumerate() {
        assert_eq!(app.count(t).await, expected[i], "table {t}");
    }
    assert!(blobs::Entity::find_by_id("a".repeat(64))
        .one(&app.db)
        .await
        .unwrap()
        .is_some());
    assert!(blobs::Entity::find_by_id("b".repeat(64))
        .one(&app.db)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        app.get("/api/auth/validate", Auth::Bearer(&gone))
            .await
            .status,
        401
    );
    assert_eq!(
        app.get("/api/auth/validate", Auth::Bearer(&keep))
            .await
            .status,
        200
    );
    assert_eq!(app.delete("/api/auth/delete", Auth::None).await.status, 401);
});

db_test!(brute_force_is_rate_limited, |app| {
    app.register("victim@example.com").await;
    for i in 0..10 {
        let r = app
            .post(
                "/api/auth/email/login",
                json!({"email": "victim@example.com", "password": format!("wrong-{i}")}),
                Auth::None,
            )
            .await;
        assert_eq!(r.status, 401, "attempt {i}");
    }
    let r = app
        .post(
            "/api/auth/email/login",
            json!({"email": "victim@example.com", "password": PW}),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 429, "{:?}", r.body);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 900, "{retry}");
    assert!(r.error().contains("Too many"));
});

/// People behind one NAT share an address: other accounts' failures from it
/// must not refuse a correct password (they did on main, after ten).
#[tokio::test]
async fn other_accounts_failures_never_lock_out_a_correct_password() {
    let app = crate::sessions::direct_clients().await;
    app.register("colleague@example.com").await;
    for i in 0..20 {
        let r = app
            .post(
                "/api/auth/email/login",
                json!({"email": format!("spray{i}@example.com"), "password": PW}),
                Auth::None,
            )
            .await;
        assert_eq!(r.status, 401, "attempt {i}");
    }
    let r = app
        .post(
            "/api/auth/email/login",
            json!({"email": "colleague@example.com", "password": PW}),
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

db_test!(cross_site_cookie_writes_are_refused, |app| {
    let t = app.register("csrf@example.com").await;
    let evil = [("origin", "https://evil.example")];
    let cross = [("sec-fetch-site", "cross-site")];
    for extra in [&evil[..], &cross[..]] {
        for path in ["/api/auth/logout", "/rpc/sign_out"] {
            let r = app
                .request(
                    reqwest::Method::POST,
                    path,
                    Some(json!({})),
                    Auth::Cookie(&t),
                    extra,
                )
                .await;
            assert_eq!(r.status, 403, "{path} {extra:?}");
            assert!(r.error().contains("Cross-site"));
        }
        let r = app
            .request(
                reqwest::Method::DELETE,
                "/api/auth/delete",
                None,
                Auth::Cookie(&t),
                extra,
            )
            .await;
        assert_eq!(r.status, 403);
    }
    // The session survived every attempt; same-origin requests still work.
    assert_eq!(
        app.get("/api/auth/validate", Auth::Cookie(&t)).await.status,
        200
    );
    let own_origin = app.addr.clone();
    let r = app
        .request(
            reqwest::Method::POST,
            "/api/auth/logout",
            Some(json!({})),
            Auth::Cookie(&t),
            &[("origin", &own_origin)],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.get("/api/auth/validate", Auth::Cookie(&t)).await.status,
        401
    );
});

#[tokio::test]
async fn cookies_are_secure_behind_https() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.public_url = "https://chat.example.com".into()
    })
    .await
    .unwrap();
    let r = app
        .post(
            "/api/auth/email/register",
            json!({"email": "s@example.com", "password": PW}),
            Auth::None,
        )
        .await;
    assert!(r.set_cookie().unwrap().contains("; Secure"));
}

#[tokio::test]
async fn server_functions_share_the_session() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let t = app.register("rpc@example.com").await;
    let r = app.rpc("/rpc/current_user", Auth::Cookie(&t)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["email"], "rpc@example.com");
    let r = app.rpc("/rpc/current_user", Auth::None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, serde_json::Value::Null);
}
