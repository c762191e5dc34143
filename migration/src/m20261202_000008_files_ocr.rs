//! Files in chat: what the model saw of each attachment, and OCR read once.
//!
//! - `attachments.seen`: JSON written when the message is sent — which pages
//!   or how many characters of the file went to the model (null for files
//!   never sent and for generated images).
//! - `ocr_results`: the markdown of each page of a document or image, read
//!   once per content hash and OCR model (OCR is billed per page). Rows go
//!   with their blob.
use crate::types::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Attachments {
    Table,
    Seen,
}

#[derive(DeriveIden)]
enum OcrResults {
    Table,
    BlobSha256,
    Model,
    Pages,
    PageCount,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Blobs {
    Table,
    Sha256,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let b = m.get_database_backend();
        m.alter_table(
            Table::alter()
                .table(Attachments::Table)
                .add_column(long_text(b, Attachments::Seen, true))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OcrResults::Table)
                .col(
                    ColumnDef::new(OcrResults::BlobSha256)
                        .string_len(64)
                        .not_null(),
                )
                .col(string(OcrResults::Model, 100))
                .col(long_text(b, OcrResults::Pages, false))
                .col(ColumnDef::new(OcrResults::PageCount).integer().not_null())
                .col(millis(OcrResults::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(OcrResults::BlobSha256)
                        .col(OcrResults::Model),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_ocr_results_blob")
                        .from(OcrResults::Table, OcrResults::BlobSha256)
                        .to(Blobs::Table, Blobs::Sha256)
                        .on_delete(ForeignKeyAction::Cascade)
                        .on_update(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(OcrResults::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(Attachments::Table)
                .drop_column(Attachments::Seen)
                .to_owned(),
        )
        .await
    }
}
