//! Schema history for MistralChat.
//!
//! Owns every table definition and nothing else: no queries, no domain rules.
//! Migrations must produce the same logical schema on SQLite, MariaDB/MySQL and
//! PostgreSQL, so column types are chosen through the small helpers in
//! [`types`] instead of backend-specific SQL sprinkled through the files.
pub use sea_orm_migration::prelude::*;

mod m20261121_000001_init;
mod m20261130_000002_share_snapshot;
mod m20261130_000005_server_key_uses;
mod m20261201_000007_attachment_image_meta;
mod m20261202_000008_files_ocr;
mod m20261203_000009_voice_settings;
mod m20261204_000010_guests;
mod m20261205_000011_spoken_messages;
pub mod types;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_init::Migration),
            Box::new(m20261130_000002_share_snapshot::Migration),
            Box::new(m20261130_000005_server_key_uses::Migration),
            Box::new(m20261201_000007_attachment_image_meta::Migration),
            Box::new(m20261202_000008_files_ocr::Migration),
            Box::new(m20261203_000009_voice_settings::Migration),
            Box::new(m20261204_000010_guests::Migration),
            Box::new(m20261205_000011_spoken_messages::Migration),
        ]
    }
}
