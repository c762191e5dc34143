//! The initial schema for the whole product: accounts, sessions, settings,
//! threads, the message tree, content-addressed blobs, attachments and shares.
//!
//! Every child row references its parent with `ON DELETE CASCADE`, so deleting a
//! user or a thread can never leave orphans. Blobs are shared by content hash
//! and are deliberately *not* cascaded: the service deletes a blob only when no
//! attachment references it any more.
use crate::types::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    Email,
    Name,
    Picture,
    Provider,
    GoogleSub,
    PasswordHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum AccessTokens {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
pub enum UserSettings {
    Table,
    UserId,
    MistralKeyEnc,
    MistralKeyLast4,
    DefaultModel,
    DefaultContext,
    FastModels,
    Theme,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum Threads {
    Table,
    Id,
    UserId,
    Name,
    Context,
    Model,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum Messages {
    Table,
    Id,
    ThreadId,
    ParentId,
    Role,
    Text,
    Thinking,
    Status,
    Model,
    FinishReason,
    PromptTokens,
    CompletionTokens,
    Error,
    Sources,
    ThinkingMs,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum Blobs {
    Table,
    Sha256,
    Size,
    Mime,
    Data,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Attachments {
    Table,
    Id,
    UserId,
    MessageId,
    BlobSha256,
    Kind,
    Filename,
    Mime,
    Size,
    ExtractedText,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Shares {
    Table,
    Id,
    ThreadId,
    Code,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let b = m.get_database_backend();

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(id_pk(Users::Id))
                .col(string_null(Users::Email, 255))
                .col(string(Users::Name, 200))
                .col(string_null(Users::Picture, 1024))
                .col(string(Users::Provider, 16))
                .col(string_null(Users::GoogleSub, 255))
                .col(string_null(Users::PasswordHash, 255))
                .col(millis(Users::CreatedAt))
                .col(millis(Users::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_users_email")
                .table(Users::Table)
                .col(Users::Email)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_users_google_sub")
                .table(Users::Table)
                .col(Users::GoogleSub)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AccessTokens::Table)
                .col(id_pk(AccessTokens::Id))
                .col(id(AccessTokens::UserId))
                .col(
                    ColumnDef::new(AccessTokens::TokenHash)
                        .string_len(64)
                        .not_null(),
                )
                .col(millis(AccessTokens::CreatedAt))
                .col(millis(AccessTokens::ExpiresAt))
                .col(millis(AccessTokens::LastUsedAt))
                .foreign_key(&mut fk(
                    "fk_access_tokens_user",
                    (AccessTokens::Table, AccessTokens::UserId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_access_tokens_hash")
                .table(AccessTokens::Table)
                .col(AccessTokens::TokenHash)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_access_tokens_user")
                .table(AccessTokens::Table)
                .col(AccessTokens::UserId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(UserSettings::Table)
                .col(id_pk(UserSettings::UserId))
                .col(long_text(b, UserSettings::MistralKeyEnc, true))
                .col(string_null(UserSettings::MistralKeyLast4, 8))
                .col(string_null(UserSettings::DefaultModel, 100))
                .col(long_text(b, UserSettings::DefaultContext, true))
                .col(long_text(b, UserSettings::FastModels, true))
                .col(string_null(UserSettings::Theme, 16))
                .col(millis(UserSettings::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_user_settings_user",
                    (UserSettings::Table, UserSettings::UserId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Threads::Table)
                .col(id_pk(Threads::Id))
                .col(id(Threads::UserId))
                .col(string(Threads::Name, 200))
                .col(long_text(b, Threads::Context, false))
                .col(string_null(Threads::Model, 100))
                .col(millis(Threads::CreatedAt))
                .col(millis(Threads::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_threads_user",
                    (Threads::Table, Threads::UserId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;
        // The sidebar pages by (user, updated_at desc, id desc).
        m.create_index(
            Index::create()
                .name("ix_threads_user_updated")
                .table(Threads::Table)
                .col(Threads::UserId)
                .col(Threads::UpdatedAt)
                .col(Threads::Id)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Messages::Table)
                .col(id_pk(Messages::Id))
                .col(id(Messages::ThreadId))
                .col(id_null(Messages::ParentId))
                .col(string(Messages::Role, 16))
                .col(long_text(b, Messages::Text, false))
                .col(long_text(b, Messages::Thinking, true))
                .col(string(Messages::Status, 16))
                .col(string_null(Messages::Model, 100))
                .col(string_null(Messages::FinishReason, 32))
                .col(int_null(Messages::PromptTokens))
                .col(int_null(Messages::CompletionTokens))
                .col(long_text(b, Messages::Error, true))
                .col(long_text(b, Messages::Sources, true))
                .col(int_null(Messages::ThinkingMs))
                .col(millis(Messages::CreatedAt))
                .col(millis(Messages::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_messages_thread",
                    (Messages::Table, Messages::ThreadId),
                    (Threads::Table, Threads::Id),
                ))
                .to_owned(),
        )
        .await?;
        // Message pages are read by (thread, created_at, id).
        m.create_index(
            Index::create()
                .name("ix_messages_thread_created")
                .table(Messages::Table)
                .col(Messages::ThreadId)
                .col(Messages::CreatedAt)
                .col(Messages::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_messages_parent")
                .table(Messages::Table)
                .col(Messages::ParentId)
                .to_owned(),
        )
        .await?;
        // Finding unfinished generations at startup (to mark them interrupted).
        m.create_index(
            Index::create()
                .name("ix_messages_status")
                .table(Messages::Table)
                .col(Messages::Status)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Blobs::Table)
                .col(
                    ColumnDef::new(Blobs::Sha256)
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Blobs::Size).big_integer().not_null())
                .col(string(Blobs::Mime, 255))
                .col(long_blob(b, Blobs::Data))
                .col(millis(Blobs::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Attachments::Table)
                .col(id_pk(Attachments::Id))
                .col(id(Attachments::UserId))
                .col(id_null(Attachments::MessageId))
                .col(
                    ColumnDef::new(Attachments::BlobSha256)
                        .string_len(64)
                        .not_null(),
                )
                .col(string(Attachments::Kind, 32))
                .col(string(Attachments::Filename, 255))
                .col(string(Attachments::Mime, 255))
                .col(ColumnDef::new(Attachments::Size).big_integer().not_null())
                .col(long_text(b, Attachments::ExtractedText, true))
                .col(millis(Attachments::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_attachments_user",
                    (Attachments::Table, Attachments::UserId),
                    (Users::Table, Users::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_attachments_message",
                    (Attachments::Table, Attachments::MessageId),
                    (Messages::Table, Messages::Id),
                ))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_attachments_blob")
                        .from(Attachments::Table, Attachments::BlobSha256)
                        .to(Blobs::Table, Blobs::Sha256)
                        .on_delete(ForeignKeyAction::Restrict)
                        .on_update(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_attachments_message")
                .table(Attachments::Table)
                .col(Attachments::MessageId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_attachments_user")
                .table(Attachments::Table)
                .col(Attachments::UserId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_attachments_blob")
                .table(Attachments::Table)
                .col(Attachments::BlobSha256)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Shares::Table)
                .col(id_pk(Shares::Id))
                .col(id(Shares::ThreadId))
                .col(ColumnDef::new(Shares::Code).string_len(64).not_null())
                .col(millis(Shares::CreatedAt))
                .col(millis_null(Shares::ExpiresAt))
                .col(millis_null(Shares::RevokedAt))
                .foreign_key(&mut fk(
                    "fk_shares_thread",
                    (Shares::Table, Shares::ThreadId),
                    (Threads::Table, Threads::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_shares_code")
                .table(Shares::Table)
                .col(Shares::Code)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_shares_thread")
                .table(Shares::Table)
                .col(Shares::ThreadId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Shares::Table.into_iden(),
            Attachments::Table.into_iden(),
            Blobs::Table.into_iden(),
            Messages::Table.into_iden(),
            Threads::Table.into_iden(),
            UserSettings::Table.into_iden(),
            AccessTokens::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
