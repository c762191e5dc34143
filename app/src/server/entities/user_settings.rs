use crate::vocab::Theme;
use sea_orm::entity::prelude::*;

// Not `Eq`: `voice_speed` is a float.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
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
    /// The voice answers are read in (a Mistral voice id); null: the
    /// provider's default voice.
    pub voice_id: Option<String>,
    /// The two-letter language the user speaks; null: detected.
    pub voice_language: Option<String>,
    /// Playback speed, 0.5–2.0; null: 1.0.
    pub voice_speed: Option<f64>,
    /// Silence that ends a spoken turn, ms; null: the default.
    pub voice_silence_ms: Option<i32>,
    /// Speaking over an answer interrupts it; null: yes.
    pub voice_barge_in: Option<bool>,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
