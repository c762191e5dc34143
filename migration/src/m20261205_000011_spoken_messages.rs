//! Messages said in a voice call: `messages.spoken` is true for a question
//! that was transcribed speech. Null (every row written before, and every
//! typed message) means typed. The answer to a spoken question is asked for
//! as speech (short, plain sentences): see `services::chat`.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    Spoken,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .add_column(ColumnDef::new(Messages::Spoken).boolean().null().to_owned())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .drop_column(Messages::Spoken)
                .to_owned(),
        )
        .await
    }
}
