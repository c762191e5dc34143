//! Voice preferences, kept with the rest of a user's settings
//! (`user_settings`): the voice answers are read in, the language spoken,
//! the playback speed, how long a silence ends a turn, and whether speaking
//! over an answer interrupts it.
//!
//! Every column is nullable and null means "the default" (no voice chosen,
//! language detected, speed 1.0, 800 ms, barge-in on), so rows written
//! before this migration, and rows the key or theme paths create, need no
//! backfill. The service checks the ranges; the schema only stores them.
//!
//! One `ALTER TABLE` per column: SQLite adds a single column per statement.
use crate::types::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UserSettings {
    Table,
    VoiceId,
    VoiceLanguage,
    VoiceSpeed,
    VoiceSilenceMs,
    VoiceBargeIn,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            string_null(UserSettings::VoiceId, 100),
            string_null(UserSettings::VoiceLanguage, 8),
            ColumnDef::new(UserSettings::VoiceSpeed)
                .double()
                .null()
                .to_owned(),
            int_null(UserSettings::VoiceSilenceMs),
            ColumnDef::new(UserSettings::VoiceBargeIn)
                .boolean()
                .null()
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(UserSettings::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            UserSettings::VoiceBargeIn,
            UserSettings::VoiceSilenceMs,
            UserSettings::VoiceSpeed,
            UserSettings::VoiceLanguage,
            UserSettings::VoiceId,
        ] {
            m.alter_table(
                Table::alter()
                    .table(UserSettings::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
