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
    /// `generated` (made by a tool) or `upload` — the serde names of
    /// [`crate::model::AttachmentKind`].
    pub kind: String,
    pub filename: String,
    pub mime: String,
    pub size: i64,
    /// OCR or document text, when extracted.
    pub extracted_text: Option<String>,
    pub created_at: i64,
    /// Pixels, for images whose header could be read.
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// What a generated image was made from.
    pub prompt: Option<String>,
    /// What the model received of the file when its message was sent (JSON
    /// of [`crate::model::SeenDto`]).
    pub seen: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
