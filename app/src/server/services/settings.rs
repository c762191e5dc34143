//! Per-user settings: the Mistral API key (sealed, write-only), default model
//! and context for new threads, the fast model list and the theme; plus the
//! model catalogue, cached per key for a few minutes.
use crate::model::{ModelInfoDto, SettingsDto};
use crate::server::config::Secret;
use crate::server::crypto::sha256_hex;
use crate::server::db::now_ms;
use crate::server::entities::user_settings;
use crate::server::mistral::ModelCard;
use crate::server::{AppError, AppResult, AppState};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const CATALOGUE_TTL: Duration = Duration::from_secs(300);
const MAX_FAST_MODELS: usize = 20;

/// A catalogue and when it was fetched.
type CachedCatalogue = (Instant, Vec<ModelInfoDto>);

/// Model catalogues by key hash.
#[derive(Clone, Default)]
pub struct CatalogueCache {
    inner: Arc<Mutex<HashMap<String, CachedCatalogue>>>,
}

fn row_to_dto(state: &AppState, row: Option<user_settings::Model>) -> SettingsDto {
    let row = row.unwrap_or(user_settings::Model {
        user_id: String::new(),
        mistral_key_enc: None,
        mistral_key_last4: None,
        default_model: None,
        default_context: None,
        fast_models: None,
        theme: None,
        updated_at: 0,
    });
    SettingsDto {
        has_key: row.mistral_key_enc.is_some(),
        key_last4: row.mistral_key_last4,
        server_key_available: state.config.allow_server_key
            && state.config.mistral_api_key.is_some(),
        default_model: row.default_model,
        default_context: row.default_context.unwrap_or_default(),
        fast_models: row
            .fast_models
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default(),
        theme: row.theme.unwrap_or_else(|| "system".into()),
    }
}

/// The user's settings row (`None` before they saved anything).
pub async fn row(state: &AppState, user_id: &str) -> AppResult<Option<user_settings::Model>> {
    Ok(user_settings::Entity::find_by_id(user_id.to_string())
        .one(&state.db)
        .await?)
}

async fn upsert(
    state: &AppState,
    user_id: &str,
    change: impl FnOnce(&mut user_settings::ActiveModel),
) -> AppResult<()> {
    match row(state, user_id).await? {
        Some(existing) => {
            let mut am = existing.into_active_model();
            change(&mut am);
            am.updated_at = Set(now_ms());
            am.update(&state.db).await?;
        }
        None => {
            let mut am = user_settings::ActiveModel {
                user_id: Set(user_id.to_string()),
                mistral_key_enc: Set(None),
                mistral_key_last4: Set(None),
                default_model: Set(None),
                default_context: Set(None),
                fast_models: Set(None),
                theme: Set(None),
                updated_at: Set(now_ms()),
            };
            change(&mut am);
            am.insert(&state.db).await?;
        }
    }
    Ok(())
}

pub async fn get(state: &AppState, user_id: &str) -> AppResult<SettingsDto> {
    Ok(row_to_dto(state, row(state, user_id).await?))
}

/// Stores (sealed) or removes the user's Mistral key.
pub async fn set_api_key(
    state: &AppState,
    user_id: &str,
    key: Option<&str>,
) -> AppResult<SettingsDto> {
    let key = key.map(str::trim).filter(|k| !k.is_empty());
    if let Some(k) = key {
        if k.len() < 8 || k.len() > 200 || k.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AppError::bad_request(
                "apiKey: this does not look like a Mistral API key",
            ));
        }
    }
    let sealed = key.map(|k| state.secrets.seal(k));
    let last4 = key.map(|k| {
        k.chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<String>()
    });
    upsert(state, user_id, |am| {
        am.mistral_key_enc = Set(sealed);
        am.mistral_key_last4 = Set(last4);
    })
    .await?;
    get(state, user_id).await
}

/// Preferences; each `None` leaves the value unchanged.
pub struct Preferences {
    pub default_model: Option<Option<String>>,
    pub default_context: Option<String>,
    pub fast_models: Option<Vec<String>>,
    pub theme: Option<String>,
}

pub async fn update_preferences(
    state: &AppState,
    user_id: &str,
    p: Preferences,
) -> AppResult<SettingsDto> {
    if let Some(Some(m)) = &p.default_model {
        if m.chars().count() > 100 || m.trim().is_empty() {
            return Err(AppError::bad_request(
                "defaultModel: use a model id of at most 100 characters",
            ));
        }
    }
    if let Some(c) = &p.default_context {
        if c.chars().count() > 32_000 {
            return Err(AppError::bad_request(
                "defaultContext: use at most 32000 characters",
            ));
        }
    }
    let fast = match p.fast_models {
        Some(list) => {
            let mut seen = vec![];
            for m in list {
                let m = m.trim().to_string();
                if m.is_empty() || m.chars().count() > 100 {
                    return Err(AppError::bad_request(
                        "fastModels: each entry must be a model id of at most 100 characters",
                    ));
                }
                if !seen.contains(&m) {
                    seen.push(m);
                }
            }
            if seen.len() > MAX_FAST_MODELS {
                return Err(AppError::bad_request(format!(
                    "fastModels: at most {MAX_FAST_MODELS} models"
                )));
            }
            Some(serde_json::to_string(&seen).map_err(AppError::internal)?)
        }
        None => None,
    };
    if let Some(t) = &p.theme {
        if !matches!(t.as_str(), "system" | "light" | "dark") {
            return Err(AppError::bad_request("theme: use system, light or dark"));
        }
    }
    upsert(state, user_id, |am| {
        if let Some(m) = p.default_model {
            am.default_model = Set(m.map(|m| m.trim().to_string()));
        }
        if let Some(c) = p.default_context {
            am.default_context = Set(Some(c));
        }
        if let Some(f) = fast {
            am.fast_models = Set(Some(f));
        }
        if let Some(t) = p.theme {
            am.theme = Set(Some(t));
        }
    })
    .await?;
    get(state, user_id).await
}

/// The key to call Mistral with for this user: theirs, else the server's when
/// the operator allows it.
pub async fn resolve_key(state: &AppState, user_id: &str) -> AppResult<Secret> {
    key_from_row(state, row(state, user_id).await?.as_ref())
}

/// [`resolve_key`] for a row already read.
pub fn key_from_row(state: &AppState, row: Option<&user_settings::Model>) -> AppResult<Secret> {
    if let Some(sealed) = row.and_then(|r| r.mistral_key_enc.as_deref()) {
        return state.secrets.open(sealed).map(Secret::new).map_err(|_| {
            AppError::bad_request(
                "Your stored Mistral API key can no longer be read (the server secret changed) — enter it again in Settings → Models",
            )
        });
    }
    if state.config.allow_server_key {
        if let Some(k) = &state.config.mistral_api_key {
            return Ok(k.clone());
        }
    }
    Err(AppError::bad_request(
        "Add your Mistral API key in Settings → Models to start chatting",
    ))
}

pub fn card_to_dto(c: &ModelCard) -> ModelInfoDto {
    ModelInfoDto {
        id: c.id.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        max_context_length: c.max_context_length,
        chat: c.capabilities.completion_chat,
        vision: c.capabilities.vision,
        reasoning: c.capabilities.reasoning,
        function_calling: c.capabilities.function_calling,
        ocr: c.capabilities.ocr,
        audio: c.capabilities.audio || c.capabilities.audio_transcription,
        deprecation: c.deprecation.clone(),
        aliases: c.aliases.clone(),
    }
}

/// The context length of `model` from the cached catalogue of `key`, without
/// waiting for the network: on a miss the catalogue is fetched in the
/// background for next time (a send must not wait for `/v1/models`).
pub fn cached_context_length(state: &AppState, key: &Secret, model: &str) -> Option<u64> {
    let cache_key = sha256_hex(key.expose().as_bytes());
    let hit = {
        let cache = state
            .catalogue
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        cache
            .get(&cache_key)
            .filter(|(at, _)| at.elapsed() < CATALOGUE_TTL)
            .map(|(_, list)| {
                list.iter()
                    .find(|m| m.id == model || m.aliases.iter().any(|a| a == model))
                    .map(|m| m.max_context_length)
            })
    };
    match hit {
        Some(found) => found,
        None => {
            let state = state.clone();
            let key = key.clone();
            tokio::spawn(async move {
                if let Ok(cards) = state.mistral.list_models(&key).await {
                    let mut list: Vec<ModelInfoDto> = cards.iter().map(card_to_dto).collect();
                    list.sort_by(|a, b| a.id.cmp(&b.id));
                    state
                        .catalogue
                        .inner
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(cache_key, (Instant::now(), list));
                }
            });
            None
        }
    }
}

/// The catalogue for the user's key (cached per key).
pub async fn models(state: &AppState, user_id: &str, fresh: bool) -> AppResult<Vec<ModelInfoDto>> {
    let key = resolve_key(state, user_id).await?;
    let cache_key = sha256_hex(key.expose().as_bytes());
    if !fresh {
        let cache = state
            .catalogue
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((at, list)) = cache.get(&cache_key) {
            if at.elapsed() < CATALOGUE_TTL {
                return Ok(list.clone());
            }
        }
    }
    let cards = state
        .mistral
        .list_models(&key)
        .await
        .map_err(AppError::from)?;
    let mut list: Vec<ModelInfoDto> = cards.iter().map(card_to_dto).collect();
    list.sort_by(|a, b| a.id.cmp(&b.id));
    state
        .catalogue
        .inner
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(cache_key, (Instant::now(), list.clone()));
    Ok(list)
}
