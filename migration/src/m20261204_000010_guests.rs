//! Guest accounts (issue 17): a guest is a `users` row with provider
//! `guest`, so every table that hangs off a user needs nothing new. This
//! migration adds what guests need on top:
//!
//! - `users.last_seen_at`: when the account was last active (updated at most
//!   hourly), which the retention job compares with `GUEST_TTL_DAYS`;
//!   `users.guest_ip`: the address a guest was created from, which the
//!   per-address daily quota on the server's key is counted by.
//! - `server_key_uses.client_ip`: the address a guest's answer on the
//!   server's key is counted against (null for accounts).
//! - `guest_claims`: one-time codes a guest hands to an account in another
//!   browser (stored as SHA-256, 15 minutes, single use); they cascade with
//!   the guest.
//!
//! One `ALTER TABLE` per column: SQLite adds a single column per statement.
use crate::types::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    LastSeenAt,
    GuestIp,
    Provider,
}

#[derive(DeriveIden)]
enum ServerKeyUses {
    Table,
    ClientIp,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum GuestClaims {
    Table,
    Id,
    GuestId,
    CodeHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            millis_null(Users::LastSeenAt),
            string_null(Users::GuestIp, 64),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        // The retention job looks for guests by provider and activity.
        m.create_index(
            Index::create()
                .name("ix_users_provider_seen")
                .table(Users::Table)
                .col(Users::Provider)
                .col(Users::LastSeenAt)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(ServerKeyUses::Table)
                .add_column(string_null(ServerKeyUses::ClientIp, 64))
                .to_owned(),
        )
        .await?;
        // The per-address quota counts one address's uses since midnight.
        m.create_index(
            Index::create()
                .name("ix_server_key_uses_ip_time")
                .table(ServerKeyUses::Table)
                .col(ServerKeyUses::ClientIp)
                .col(ServerKeyUses::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(GuestClaims::Table)
                .col(id_pk(GuestClaims::Id))
                .col(id(GuestClaims::GuestId))
                .col(string(GuestClaims::CodeHash, 64))
                .col(millis(GuestClaims::CreatedAt))
                .col(millis(GuestClaims::ExpiresAt))
                .col(millis_null(GuestClaims::UsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_guest_claims_guest")
                        .from(GuestClaims::Table, GuestClaims::GuestId)
                        .to(Users::Table, Alias::new("id"))
                        .on_delete(ForeignKeyAction::Cascade)
                        .on_update(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_guest_claims_code")
                .table(GuestClaims::Table)
                .col(GuestClaims::CodeHash)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_guest_claims_guest")
                .table(GuestClaims::Table)
                .col(GuestClaims::GuestId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(GuestClaims::Table)
                .if_exists()
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("ix_server_key_uses_ip_time")
                .table(ServerKeyUses::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(ServerKeyUses::Table)
                .drop_column(ServerKeyUses::ClientIp)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("ix_users_provider_seen")
                .table(Users::Table)
                .to_owned(),
        )
        .await?;
        for col in [Users::GuestIp, Users::LastSeenAt] {
            m.alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
