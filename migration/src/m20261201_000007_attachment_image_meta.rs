//! Attachments learn what the file store knows about images: `width` and
//! `height` in pixels (read from the bytes, so the page can reserve the space
//! before the image loads) and the `prompt` a generated image was made from.
//! All three are nullable: uploads that are not images, and rows from before
//! this migration, have none.
//!
//! One `ALTER TABLE` per column: SQLite adds a single column per statement.
use crate::types::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Attachments {
    Table,
    Width,
    Height,
    Prompt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let b = m.get_database_backend();
        for col in [
            int_null(Attachments::Width),
            int_null(Attachments::Height),
            long_text(b, Attachments::Prompt, true),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Attachments::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [Attachments::Prompt, Attachments::Height, Attachments::Width] {
            m.alter_table(
                Table::alter()
                    .table(Attachments::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
