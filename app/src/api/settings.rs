//! Settings server functions: the Mistral key (write-only, checked with
//! Mistral before it is stored), preferences and the model catalogue.
use super::ApiError;
use crate::model::{FileUsageDto, ModelInfoDto, SettingsDto};
use leptos::prelude::*;

/// The answer when Mistral refuses a key being saved (it is not saved); the
/// page then offers "Save anyway".
pub const KEY_REFUSED: &str = "This key was refused by Mistral — it was not saved";

/// A key saved (or removed), and whether Mistral vouched for it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SavedKey {
    pub settings: SettingsDto,
    /// `false` when Mistral could not be reached or was not asked (`force`).
    pub checked: bool,
}

/// What the caller's files take against the storage quota.
#[server(prefix = "/rpc", endpoint = "file_usage")]
pub async fn file_usage() -> Result<FileUsageDto, ApiError> {
    use crate::server::services::{guests, uploads};
    let (state, owner) = match super::caller_or_visitor().await? {
        (state, super::Reader::User(me)) => (state, me.id().clone()),
        // The limits, and no bytes used yet.
        (state, super::Reader::Visitor { .. }) => (state, guests::nobody()),
    };
    uploads::usage(&state, &owner).await.map_err(ApiError::from)
}

#[server(prefix = "/rpc", endpoint = "get_settings")]
pub async fn get_settings() -> Result<SettingsDto, ApiError> {
    use crate::server::services::settings;
    match super::caller_or_visitor().await? {
        (state, super::Reader::User(me)) => settings::get(&state, me.id()).await,
        (state, super::Reader::Visitor { ip }) => settings::for_visitor(&state, ip).await,
    }
    .map_err(ApiError::from)
}

/// Stores a new key (`Some`) or removes it (`None`). A key Mistral refuses
/// is not stored ([`KEY_REFUSED`]) unless `force`. Also the target of the
/// key form posted without JavaScript (field `api_key`).
#[server(prefix = "/rpc", endpoint = "save_api_key")]
pub async fn save_api_key(
    api_key: Option<String>,
    #[server(default)] force: bool,
) -> Result<SavedKey, ApiError> {
    use crate::server::services::settings::{self, KeyCheck};
    let (state, me) = super::require_caller_or_guest().await?;
    let (settings, check) =
        settings::set_api_key(&state, me.id(), api_key.as_deref(), force).await?;
    Ok(SavedKey {
        settings,
        checked: check == KeyCheck::Accepted,
    })
}

#[server(prefix = "/rpc", endpoint = "save_preferences")]
pub async fn save_preferences(
    default_model: Option<String>,
    default_context: String,
    fast_models: Vec<String>,
) -> Result<SettingsDto, ApiError> {
    use crate::server::services::settings;
    let prefs = settings::Preferences::from_client(
        Some(default_model.as_deref()),
        Some(&default_context),
        Some(&fast_models),
        None,
    )?;
    let (state, me) = super::require_caller_or_guest().await?;
    settings::update_preferences(&state, me.id(), prefs)
        .await
        .map_err(ApiError::from)
}

#[server(prefix = "/rpc", endpoint = "save_theme")]
pub async fn save_theme(theme: String) -> Result<SettingsDto, ApiError> {
    use crate::server::services::settings;
    let prefs = settings::Preferences::from_client(None, None, None, Some(&theme))?;
    let (state, me) = super::require_caller_or_guest().await?;
    settings::update_preferences(&state, me.id(), prefs)
        .await
        .map_err(ApiError::from)
}

/// The model catalogue for the user's key; `fresh` bypasses the cache (the
/// "Check key" button).
#[server(prefix = "/rpc", endpoint = "list_models")]
pub async fn list_models(fresh: bool) -> Result<Vec<ModelInfoDto>, ApiError> {
    use crate::server::services::settings;
    match super::caller_or_visitor().await? {
        (state, super::Reader::User(me)) => settings::models(&state, me.id(), fresh).await,
        (state, super::Reader::Visitor { .. }) => settings::models_for_visitor(&state, fresh).await,
    }
    .map_err(ApiError::from)
}
