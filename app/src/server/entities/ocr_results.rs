use sea_orm::entity::prelude::*;

/// The pages OCR read from one blob with one model (read once: OCR is billed
/// per page).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ocr_results")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub blob_sha256: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub model: String,
    /// JSON array of each page's markdown, in page order.
    pub pages: String,
    pub page_count: i32,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
