//! The schema on every backend: tables, indexes, cascades, uniqueness, down/up.
use crate::support::*;
use app::server::entities::{messages, shares, threads, users};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, Set, Statement};

pub const TABLES: [&str; 9] = [
    "users",
    "access_tokens",
    "user_settings",
    "threads",
    "messages",
    "blobs",
    "attachments",
    "shares",
    "guest_claims",
];

async fn index_names(app: &TestApp) -> Vec<String> {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Sqlite => "SELECT name AS n FROM sqlite_master WHERE type = 'index'",
        DbBackend::MySql => {
            "SELECT DISTINCT index_name AS n FROM information_schema.statistics WHERE table_schema = DATABASE()"
        }
        _ => "SELECT indexname AS n FROM pg_indexes WHERE schemaname = current_schema()",
    };
    app.db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "n").unwrap())
        .collect()
}

pub async fn insert_user(app: &TestApp, id: &str, email: &str) {
    users::ActiveModel {
        id: Set(id.into()),
        email: Set(Some(email.into())),
        name: Set("U".into()),
        picture: Set(None),
        provider: Set(app::vocab::Provider::Email),
        google_sub: Set(None),
        password_hash: Set(None),
        created_at: Set(1),
        updated_at: Set(1),
        last_seen_at: Set(None),
        guest_ip: Set(None),
    }
    .insert(&app.db)
    .await
    .unwrap();
}

db_test!(migrations_create_every_table_and_index, |app| {
    for t in TABLES {
        assert_eq!(app.count(t).await, 0, "{t}");
    }
    let idx = index_names(&app).await;
    for name in [
        "ux_users_email",
        "ux_users_google_sub",
        "ux_access_tokens_hash",
        "ix_threads_user_updated",
        "ix_messages_thread_created",
        "ux_shares_code",
    ] {
        assert!(idx.iter().any(|i| i == name), "{name} missing in {idx:?}");
    }
    // Down then up again gives the same schema (and up is idempotent).
    Migrator::down(&app.db, None).await.unwrap();
    Migrator::up(&app.db, None).await.unwrap();
    Migrator::up(&app.db, None).await.unwrap();
    assert_eq!(app.count("users").await, 0);
});

db_test!(unique_email_is_enforced_by_the_database, |app| {
    insert_user(&app, "u1", "same@example.com").await;
    let dup = users::ActiveModel {
        id: Set("u2".into()),
        email: Set(Some("same@example.com".into())),
        name: Set("U".into()),
        picture: Set(None),
        provider: Set(app::vocab::Provider::Email),
        google_sub: Set(None),
        password_hash: Set(None),
        created_at: Set(1),
        updated_at: Set(1),
        last_seen_at: Set(None),
        guest_ip: Set(None),
    }
    .insert(&app.db)
    .await;
    assert!(dup.is_err());
});

db_test!(deleting_a_user_cascades_to_everything_it_owns, |app| {
    insert_user(&app, "u1", "a@example.com").await;
    threads::ActiveModel {
        id: Set("t1".into()),
        user_id: Set("u1".into()),
        name: Set("T".into()),
        context: Set(String::new()),
        model: Set(None),
        created_at: Set(1),
        updated_at: Set(1),
    }
    .insert(&app.db)
    .await
    .unwrap();
    let long_text = "é".repeat(150_000); // > 64 KiB: needs a long text column on MySQL
    messages::ActiveModel {
        id: Set("m1".into()),
        thread_id: Set("t1".into()),
        parent_id: Set(None),
        role: Set(app::vocab::Role::User),
        text: Set(long_text.clone()),
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
    let back = messages::Entity::find_by_id("m1".to_string())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.text, long_text);
    shares::ActiveModel {
        id: Set("s1".into()),
        thread_id: Set("t1".into()),
        code: Set("code1".into()),
        created_at: Set(1),
        expires_at: Set(None),
        revoked_at: Set(None),
        upto_message_id: Set(None),
    }
    .insert(&app.db)
    .await
    .unwrap();
    users::Entity::delete_by_id("u1".to_string())
        .exec(&app.db)
        .await
        .unwrap();
    for t in ["threads", "messages", "shares"] {
        assert_eq!(app.count(t).await, 0, "{t} left orphans");
    }
});

/// The SQLite pragmas are set by the pool on every connection it opens, not on
/// whichever connection happened to run a `PRAGMA` statement.
#[tokio::test]
async fn sqlite_pragmas_hold_on_every_pooled_connection() {
    use sea_orm::TransactionTrait;
    let dir = temp_dir();
    let url = format!("sqlite://{}/p.db?mode=rwc", dir.0.display());
    let db = app::server::db::connect(&url).await.unwrap();
    // Eight open transactions hold eight distinct connections (the pool's size).
    let mut txs = vec![];
    for _ in 0..8 {
        txs.push(db.begin().await.unwrap());
    }
    for tx in &txs {
        let pragma =
            |name: &str| Statement::from_string(DbBackend::Sqlite, format!("PRAGMA {name}"));
        let row = |r: Option<sea_orm::QueryResult>| r.unwrap();
        let sync: i32 = row(tx.query_one_raw(pragma("synchronous")).await.unwrap())
            .try_get_by_index(0)
            .unwrap();
        let fk: i32 = row(tx.query_one_raw(pragma("foreign_keys")).await.unwrap())
            .try_get_by_index(0)
            .unwrap();
        let timeout: i32 = row(tx.query_one_raw(pragma("busy_timeout")).await.unwrap())
            .try_get_by_index(0)
            .unwrap();
        let mode: String = row(tx.query_one_raw(pragma("journal_mode")).await.unwrap())
            .try_get_by_index(0)
            .unwrap();
        assert_eq!(sync, 1, "synchronous = NORMAL on every connection");
        assert_eq!(fk, 1, "foreign keys on every connection");
        assert_eq!(timeout, 5000, "busy timeout on every connection");
        assert_eq!(mode.to_lowercase(), "wal");
    }
}
