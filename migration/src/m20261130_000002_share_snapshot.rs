//! Shares become snapshots: `shares.upto_message_id` names the last message a
//! link shows (the owner's branch up to that message). Messages added later
//! stay private until the owner shares again. Rows from before this migration
//! keep `NULL`, read as "the branch the owner sees now".
use crate::types::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Shares {
    Table,
    UptoMessageId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Shares::Table)
                .add_column(id_null(Shares::UptoMessageId))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Shares::Table)
                .drop_column(Shares::UptoMessageId)
                .to_owned(),
        )
        .await
    }
}
