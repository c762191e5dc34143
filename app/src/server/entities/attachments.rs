use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attachments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    /// Null while uploaded but not yet sent with a message.
    pub message_id: Option<String>,
    pub blob_sha256: String,
    /// file | image | generated_image
    pub kind: String,
    pub filename: String,
    pub mime: String,
    pub size: i64,
    /// OCR or document text, when extracted.
    pub extracted_text: Option<String>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
