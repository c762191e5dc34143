use crate::vocab::Theme;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    /// AES-256-GCM sealed Mistral key (base64 of nonce || ciphertext).
    pub mistral_key_enc: Option<String>,
    pub mistral_key_last4: Option<String>,
    pub default_model: Option<String>,
    pub default_context: Option<String>,
    /// JSON array of model ids, in the user's order.
    pub fast_models: Option<String>,
    pub theme: Option<Theme>,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
