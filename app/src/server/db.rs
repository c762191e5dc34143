//! Opening the database and bringing its schema up to date.
//!
//! Owns connection options per backend (SQLite file creation, WAL, foreign
//! keys, busy timeout) and running migrations. Queries live in the services.
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DbInitError {
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("cannot create the directory for the SQLite file {0}: {1}")]
    Directory(String, String),
    #[error("migrations failed: {0}")]
    Migrate(String),
}

/// The directory a `sqlite://path/file.db` URL points into, if any.
fn sqlite_parent_dir(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    if path.is_empty() || path.starts_with(":memory:") {
        return None;
    }
    std::path::Path::new(path).parent().map(|p| p.to_path_buf())
}

pub async fn connect(url: &str) -> Result<DatabaseConnection, DbInitError> {
    if let Some(dir) = sqlite_parent_dir(url) {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(&dir)
                .map_err(|e| DbInitError::Directory(dir.display().to_string(), e.to_string()))?;
        }
    }
    let mut opts = ConnectOptions::new(url.to_string());
    opts.connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .max_connections(if url.starts_with("sqlite") { 8 } else { 20 })
        .sqlx_logging(false)
        // Applied by sqlx to every connection the pool opens (a PRAGMA run once
        // through the pool would reach one connection only). WAL lets readers
        // proceed while a generation flushes; `synchronous = NORMAL` is safe in
        // WAL mode (a power cut may lose the last commits, never corrupts) and
        // spares an fsync per commit; foreign keys make ON DELETE CASCADE work.
        .map_sqlx_sqlite_opts(|o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
        });
    let db = Database::connect(opts)
        .await
        .map_err(|e| DbInitError::Connect(e.to_string()))?;
    Ok(db)
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbInitError> {
    Migrator::up(db, None)
        .await
        .map_err(|e| DbInitError::Migrate(e.to_string()))
}

/// Connects and migrates: what the server does at startup.
pub async fn open(url: &str) -> Result<DatabaseConnection, DbInitError> {
    let db = connect(url).await?;
    migrate(&db).await?;
    Ok(db)
}

/// Room left in one MySQL packet beside a blob's bytes (the statement, the
/// other columns, the protocol).
const PACKET_ROOM: u64 = 1024 * 1024;

/// The largest blob one insert can carry: MySQL/MariaDB refuse a statement
/// larger than `max_allowed_packet` (16 MiB by default on MariaDB 10.11);
/// SQLite and PostgreSQL have no such limit here (`None`).
pub async fn largest_blob(db: &DatabaseConnection) -> Option<u64> {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    if db.get_database_backend() != DatabaseBackend::MySql {
        return None;
    }
    let row = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::MySql,
            "SELECT @@max_allowed_packet AS packet",
        ))
        .await
        .ok()??;
    let packet = row
        .try_get::<i64>("", "packet")
        .ok()
        .or_else(|| row.try_get::<u64>("", "packet").ok().map(|p| p as i64))?;
    Some((packet.max(0) as u64).saturating_sub(PACKET_ROOM))
}

/// Lowers `MAX_UPLOAD_MB` to what the database can store in one insert, with
/// one warning telling the operator how to raise it: an upload the database
/// would refuse is a 413 naming the real limit, never a 500.
pub async fn fit_upload_limit(db: &DatabaseConnection, config: &mut crate::server::config::Config) {
    if let Some(most) = largest_blob(db).await {
        if config.max_upload_bytes > most {
            tracing::warn!(
                configured = config.max_upload_bytes,
                effective = most,
                "MAX_UPLOAD_MB is larger than the database's max_allowed_packet allows; \
                 uploads are limited to what it can store (raise max_allowed_packet to lift this)"
            );
            config.max_upload_bytes = most;
        }
    }
}

pub async fn ping(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::sqlite_parent_dir;

    #[test]
    fn finds_the_sqlite_directory() {
        assert_eq!(
            sqlite_parent_dir("sqlite://data/mistralchat.db?mode=rwc").unwrap(),
            std::path::PathBuf::from("data")
        );
        assert!(sqlite_parent_dir("sqlite::memory:").is_none());
        assert!(sqlite_parent_dir("postgres://x/y").is_none());
    }
}
