//! `server_key_uses`: one row per answer started with the operator's Mistral
//! key, so the per-user daily budget (`SERVER_KEY_DAILY_REQUESTS`) is counted
//! from the database — the same on every replica and across restarts.
//!
//! Rows hang off the user (`ON DELETE CASCADE`), not off a thread or message:
//! deleting a conversation must not give the budget back.
use crate::m20261121_000001_init::Users;
use crate::types::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum ServerKeyUses {
    Table,
    Id,
    UserId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ServerKeyUses::Table)
                .col(id_pk(ServerKeyUses::Id))
                .col(id(ServerKeyUses::UserId))
                .col(millis(ServerKeyUses::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_server_key_uses_user")
                        .from(ServerKeyUses::Table, ServerKeyUses::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade)
                        .on_update(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // The budget check counts one user's rows since midnight.
        m.create_index(
            Index::create()
                .name("ix_server_key_uses_user_time")
                .table(ServerKeyUses::Table)
                .col(ServerKeyUses::UserId)
                .col(ServerKeyUses::CreatedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(ServerKeyUses::Table)
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
