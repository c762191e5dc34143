//! `cargo run -p migration -- up|down|status|fresh` against `DATABASE_URL`.
//!
//! The server applies pending migrations itself at startup; this binary is for
//! operators who want to inspect or roll back the schema by hand.
use sea_orm_migration::prelude::*;

#[tokio::main]
async fn main() {
    if std::env::var_os("DATABASE_URL").is_none() {
        // Same default as the server, so `up`/`status` work on a fresh checkout.
        std::env::set_var("DATABASE_URL", "sqlite://data/mistralchat.db?mode=rwc");
        let _ = std::fs::create_dir_all("data");
    }
    cli::run_cli(migration::Migrator).await;
}
