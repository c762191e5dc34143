//! Per-user settings: the Mistral API key (sealed, write-only, checked with
//! Mistral before it is stored: a refused key is not saved unless the user
//! insists, an unreachable Mistral does not block saving), default model
//! and context for new threads, the fast model list, the theme and the voice
//! preferences (voice, language, speed, end-of-turn silence, barge-in;
//! checked by [`VoicePreferences::from_client`]); plus the
//! model catalogue, cached per key for a few minutes; plus the daily budget of
//! answers a user may start with the operator's key
//! (`SERVER_KEY_DAILY_REQUESTS`), counted from `server_key_uses` rows so every
//! replica and every restart agree.
use crate::model::{
    ModelInfoDto, ServerKeyBudgetDto, SettingsDto, DEFAULT_VOICE_SILENCE_MS, DEFAULT_VOICE_SPEED,
    MAX_VOICE_SILENCE_MS, MAX_VOICE_SPEED, MIN_VOICE_SILENCE_MS, MIN_VOICE_SPEED,
};
use crate::server::config::Secret;
use crate::server::crypto::sha256_hex;
use crate::server::db::now_ms;
use crate::server::entities::{server_key_uses, user_settings};
use crate::server::mistral::{MistralError, ModelCard};
use crate::server::services::voice::{LanguageCode, VoiceId};
use crate::server::{AppError, AppResult, AppState, FieldResult};
use crate::vocab::{ModelId, Theme, ThreadContext, UserId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const CATALOGUE_TTL: Duration = Duration::from_secs(300);
use crate::vocab::limits::MAX_FAST_MODELS;

/// A catalogue and when it was fetched.
type CachedCatalogue = (Instant, Vec<ModelInfoDto>);

/// Model catalogues by key hash.
#[derive(Clone, Default)]
pub struct CatalogueCache {
    inner: Arc<Mutex<HashMap<String, CachedCatalogue>>>,
}

fn row_to_dto(
    state: &AppState,
    row: Option<user_settings::Model>,
    server_key_budget: Option<ServerKeyBudgetDto>,
) -> SettingsDto {
    let row = row.unwrap_or(user_settings::Model {
        user_id: String::new(),
        mistral_key_enc: None,
        mistral_key_last4: None,
        default_model: None,
        default_context: None,
        fast_models: None,
        theme: None,
        voice_id: None,
        voice_language: None,
        voice_speed: None,
        voice_silence_ms: None,
        voice_barge_in: None,
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
        theme: row.theme.unwrap_or_default(),
        server_key_budget,
        voice_id: row.voice_id,
        voice_language: row.voice_language,
        voice_speed: row.voice_speed.unwrap_or(DEFAULT_VOICE_SPEED),
        voice_silence_ms: row
            .voice_silence_ms
            .and_then(|ms| u32::try_from(ms).ok())
            .unwrap_or(DEFAULT_VOICE_SILENCE_MS),
        voice_barge_in: row.voice_barge_in.unwrap_or(true),
        guest_quota: None,
    }
}

/// The user's settings row (`None` before they saved anything).
pub async fn row(state: &AppState, user_id: &UserId) -> AppResult<Option<user_settings::Model>> {
    Ok(user_settings::Entity::find_by_id(user_id.to_string())
        .one(&state.db)
        .await?)
}

async fn upsert(
    state: &AppState,
    user_id: &UserId,
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
                voice_id: Set(None),
                voice_language: Set(None),
                voice_speed: Set(None),
                voice_silence_ms: Set(None),
                voice_barge_in: Set(None),
                updated_at: Set(now_ms()),
            };
            change(&mut am);
            am.insert(&state.db).await?;
        }
    }
    Ok(())
}

pub async fn get(state: &AppState, user_id: &UserId) -> AppResult<SettingsDto> {
    let row = row(state, user_id).await?;
    let limit = state.config.server_key_daily_requests;
    let picked = pick_key(state, user_id, row.as_ref()).await.ok();
    let on_server_key = picked.as_ref().is_some_and(|k| k.server_key);
    let guest = picked.and_then(|k| k.guest);
    let budget = match (on_server_key, limit, &guest) {
        (true, 1.., None) => Some(ServerKeyBudgetDto {
            used: u32::try_from(server_key_used_today(state, user_id).await?).unwrap_or(u32::MAX),
            limit,
        }),
        _ => None,
    };
    let guest_quota = match &guest {
        Some(g) => Some(super::guests::quota(state, user_id, g).await?),
        None => None,
    };
    let mut dto = row_to_dto(state, row, budget);
    dto.guest_quota = guest_quota;
    if super::guests::is_guest(state, user_id).await? {
        dto.server_key_available =
            state.config.guest_server_key && state.config.mistral_api_key.is_some();
    }
    Ok(dto)
}

/// What a visitor without a session sees (guests allowed, nothing saved
/// yet): the defaults, the server's key when guests may use it, and what the
/// guest quotas leave (the address part already counts).
pub async fn for_visitor(state: &AppState, ip: Option<std::net::IpAddr>) -> AppResult<SettingsDto> {
    let mut dto = row_to_dto(state, None, None);
    dto.server_key_available =
        state.config.guest_server_key && state.config.mistral_api_key.is_some();
    if dto.server_key_available {
        dto.guest_quota = Some(super::guests::visitor_quota(state, ip).await?);
    }
    Ok(dto)
}

pub use crate::api::settings::KEY_REFUSED;
/// Said when Mistral refuses the key already in use: the user's mistake (a
/// 4xx), not our failure — and not a 401, which would mean "signed out".
pub const KEY_IN_USE_REFUSED: &str = "Mistral refused your API key — check it in Settings → Models";

/// What Mistral said about a key being saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    /// Mistral listed its models with the key.
    Accepted,
    /// Mistral could not be reached (or answered something else than yes or
    /// no): saved without a verdict.
    Unchecked,
    /// Not asked: the key was removed, or the caller said to save it anyway.
    Skipped,
}

impl KeyCheck {
    /// The JSON API's `keyCheck` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Unchecked => "unchecked",
            Self::Skipped => "skipped",
        }
    }
}

/// Mistral's "no" to a key: 401, or 403 (a key without access to the API).
fn is_refusal(e: &MistralError) -> bool {
    matches!(
        e,
        MistralError::Unauthorized | MistralError::Rejected { status: 403, .. }
    )
}

/// Stores (sealed) or removes the user's Mistral key. A new key is first
/// checked by listing the models with it (the catalogue is then cached, so
/// the page's next fetch is free): if Mistral refuses it, nothing is stored
/// and the answer is a 400 with [`KEY_REFUSED`], unless `force` (then
/// Mistral is not asked at all). When Mistral cannot be reached the key is
/// stored anyway, with [`KeyCheck::Unchecked`].
pub async fn set_api_key(
    state: &AppState,
    user_id: &UserId,
    key: Option<&str>,
    force: bool,
) -> AppResult<(SettingsDto, KeyCheck)> {
    let key = key.map(str::trim).filter(|k| !k.is_empty());
    if let Some(k) = key {
        if k.len() < 8 || k.len() > 200 || k.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AppError::bad_request(
                "apiKey: this does not look like a Mistral API key",
            ));
        }
    }
    let check = match key {
        Some(k) if !force => check_key(state, &Secret::new(k.to_string())).await?,
        _ => KeyCheck::Skipped,
    };
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
    Ok((get(state, user_id).await?, check))
}

/// Asks Mistral whether it accepts `key`; a refusal is the 400 [`KEY_REFUSED`].
async fn check_key(state: &AppState, key: &Secret) -> AppResult<KeyCheck> {
    match state.mistral.list_models(key).await {
        Ok(cards) => {
            cache_catalogue(state, key, &cards);
            Ok(KeyCheck::Accepted)
        }
        Err(e) if is_refusal(&e) => Err(AppError::bad_request(KEY_REFUSED)),
        Err(e) => {
            tracing::warn!(error = %e, "could not check a Mistral key; saved unchecked");
            Ok(KeyCheck::Unchecked)
        }
    }
}

/// Preferences, checked; each `None` leaves the value unchanged, and
/// `default_model: Some(None)` clears it (a blank model is "no model").
pub struct Preferences {
    pub default_model: Option<Option<ModelId>>,
    pub default_context: Option<ThreadContext>,
    pub fast_models: Option<Vec<ModelId>>,
    pub theme: Option<Theme>,
    /// Nothing changes unless set (`VoicePreferences::from_client`).
    pub voice: VoicePreferences,
}

/// Voice preferences, checked; each `None` leaves the value unchanged, and
/// `Some(None)` clears the voice or the language (back to the default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VoicePreferences {
    pub voice_id: Option<Option<VoiceId>>,
    pub language: Option<Option<LanguageCode>>,
    /// Within [`MIN_VOICE_SPEED`]–[`MAX_VOICE_SPEED`].
    pub speed: Option<f64>,
    /// Within [`MIN_VOICE_SILENCE_MS`]–[`MAX_VOICE_SILENCE_MS`].
    pub silence_ms: Option<u32>,
    pub barge_in: Option<bool>,
}

impl VoicePreferences {
    /// From the fields a client sends, with the JSON API's field names in
    /// the errors. A blank voice or language clears it, like `null`.
    pub fn from_client(
        voice_id: Option<Option<&str>>,
        language: Option<Option<&str>>,
        speed: Option<f64>,
        silence_ms: Option<i64>,
        barge_in: Option<bool>,
    ) -> AppResult<Self> {
        let voice_id = voice_id
            .map(|v| {
                v.map(VoiceId::parse)
                    .transpose()
                    .map(Option::flatten)
                    .map_err(|e| AppError::bad_request(format!("voiceId: {e}")))
            })
            .transpose()?;
        let language = language
            .map(|l| {
                l.map(LanguageCode::parse)
                    .transpose()
                    .map(Option::flatten)
                    .map_err(|e| AppError::bad_request(format!("voiceLanguage: {e}")))
            })
            .transpose()?;
        if let Some(s) = speed {
            if !(s.is_finite() && (MIN_VOICE_SPEED..=MAX_VOICE_SPEED).contains(&s)) {
                return Err(AppError::bad_request(format!(
                    "voiceSpeed: choose a speed between {MIN_VOICE_SPEED:.1} and {MAX_VOICE_SPEED:.1}"
                )));
            }
        }
        let silence_ms = silence_ms
            .map(|ms| {
                u32::try_from(ms)
                    .ok()
                    .filter(|ms| (MIN_VOICE_SILENCE_MS..=MAX_VOICE_SILENCE_MS).contains(ms))
                    .ok_or_else(|| {
                        AppError::bad_request(format!(
                            "voiceSilenceMs: choose between {MIN_VOICE_SILENCE_MS} and {MAX_VOICE_SILENCE_MS} milliseconds"
                        ))
                    })
            })
            .transpose()?;
        Ok(Self {
            voice_id,
            language,
            speed,
            silence_ms,
            barge_in,
        })
    }
}

impl Preferences {
    /// From the fields a client sends (JSON body or server function), with
    /// the field names of the JSON API in the errors. `default_model:
    /// Some(None)` (JSON `null`) and a blank model both clear the default.
    pub fn from_client(
        default_model: Option<Option<&str>>,
        default_context: Option<&str>,
        fast_models: Option<&[String]>,
        theme: Option<&str>,
    ) -> AppResult<Self> {
        let bad_fast = || {
            AppError::bad_request(format!(
                "fastModels: each entry must be a model id of at most {} characters",
                crate::vocab::limits::MAX_MODEL_CHARS
            ))
        };
        Ok(Self {
            default_model: default_model
                .map(|m| m.map(ModelId::parse).transpose().field("defaultModel"))
                .transpose()?
                .map(Option::flatten),
            default_context: default_context
                .map(|c| ThreadContext::parse(c).field("defaultContext"))
                .transpose()?,
            fast_models: fast_models
                .map(|list| {
                    list.iter()
                        .map(|m| ModelId::parse_required(m).map_err(|_| bad_fast()))
                        .collect::<AppResult<Vec<_>>>()
                })
                .transpose()?,
            theme: theme
                .map(|t| t.parse::<Theme>().map_err(AppError::bad_request))
                .transpose()?,
            voice: VoicePreferences::default(),
        })
    }
}

pub async fn update_preferences(
    state: &AppState,
    user_id: &UserId,
    p: Preferences,
) -> AppResult<SettingsDto> {
    let fast = match p.fast_models {
        Some(list) => {
            let mut seen: Vec<String> = vec![];
            for m in list {
                let m = m.into_string();
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
    upsert(state, user_id, |am| {
        if let Some(m) = p.default_model {
            am.default_model = Set(m.map(ModelId::into_string));
        }
        if let Some(c) = p.default_context {
            am.default_context = Set(Some(c.into_string()));
        }
        if let Some(f) = fast {
            am.fast_models = Set(Some(f));
        }
        if let Some(t) = p.theme {
            am.theme = Set(Some(t));
        }
        let v = p.voice;
        if let Some(id) = v.voice_id {
            am.voice_id = Set(id.map(VoiceId::into_string));
        }
        if let Some(lang) = v.language {
            am.voice_language = Set(lang.map(LanguageCode::into_string));
        }
        if let Some(speed) = v.speed {
            am.voice_speed = Set(Some(speed));
        }
        if let Some(ms) = v.silence_ms {
            // At most MAX_VOICE_SILENCE_MS: fits an i32.
            am.voice_silence_ms = Set(i32::try_from(ms).ok());
        }
        if let Some(on) = v.barge_in {
            am.voice_barge_in = Set(Some(on));
        }
    })
    .await?;
    get(state, user_id).await
}

/// The key to call Mistral with for this user: theirs, else the server's when
/// the operator allows it (for guests: `GUEST_SERVER_KEY`).
pub async fn resolve_key(state: &AppState, user_id: &UserId) -> AppResult<Secret> {
    let row = row(state, user_id).await?;
    Ok(pick_key(state, user_id, row.as_ref()).await?.key)
}

/// The key a user's requests go out with, and whose it is.
pub struct PickedKey {
    pub key: Secret,
    /// The operator's key: a daily budget applies (`SERVER_KEY_DAILY_REQUESTS`
    /// for accounts, the guest quotas for guests).
    pub server_key: bool,
    /// Set when a guest uses the operator's key: the guest quotas apply.
    pub guest: Option<super::guests::GuestUse>,
}

fn no_key() -> AppError {
    AppError::bad_request("Add your Mistral API key in Settings → Models to start chatting")
}

/// The user's own key from their settings row, else the operator's: for an
/// account when `ALLOW_SERVER_KEY=true`, for a guest when
/// `GUEST_SERVER_KEY=true` (the user row is read only then).
pub async fn pick_key(
    state: &AppState,
    user_id: &UserId,
    row: Option<&user_settings::Model>,
) -> AppResult<PickedKey> {
    if let Some(sealed) = row.and_then(|r| r.mistral_key_enc.as_deref()) {
        return state
            .secrets
            .open(sealed)
            .map(|k| PickedKey {
                key: Secret::new(k),
                server_key: false,
                guest: None,
            })
            .map_err(|_| {
            AppError::bad_request(
                "Your stored Mistral API key can no longer be read (the server secret changed) — enter it again in Settings → Models",
            )
        });
    }
    let Some(server) = &state.config.mistral_api_key else {
        return Err(no_key());
    };
    if !(state.config.allow_server_key || state.config.guest_server_key) {
        return Err(no_key());
    }
    let guest = super::guests::guest_use(state, user_id).await?;
    let allowed = match &guest {
        Some(_) => state.config.guest_server_key,
        None => state.config.allow_server_key,
    };
    if !allowed {
        return Err(no_key());
    }
    Ok(PickedKey {
        key: server.clone(),
        server_key: true,
        guest,
    })
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
    cached_card(state, key, model, |m| m.max_context_length)
}

/// Whether `model` can call tools, from the cached catalogue of `key` (like
/// [`cached_context_length`]: `None` when not known yet).
pub fn cached_function_calling(state: &AppState, key: &Secret, model: &str) -> Option<bool> {
    cached_card(state, key, model, |m| m.function_calling)
}

/// Whether `model` can see images, from the cached catalogue of `key`
/// (`None` when not known yet).
pub fn cached_vision(state: &AppState, key: &Secret, model: &str) -> Option<bool> {
    cached_card(state, key, model, |m| m.vision)
}

fn cached_card<T>(
    state: &AppState,
    key: &Secret,
    model: &str,
    read: impl Fn(&ModelInfoDto) -> T,
) -> Option<T> {
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
                    .map(&read)
            })
    };
    match hit {
        Some(found) => found,
        None => {
            let state = state.clone();
            let key = key.clone();
            tokio::spawn(tracing::Instrument::in_current_span(async move {
                if let Ok(cards) = state.mistral.list_models(&key).await {
                    cache_catalogue(&state, &key, &cards);
                }
            }));
            None
        }
    }
}

/// The catalogue for the user's key (cached per key).
pub async fn models(
    state: &AppState,
    user_id: &UserId,
    fresh: bool,
) -> AppResult<Vec<ModelInfoDto>> {
    let key = resolve_key(state, user_id).await?;
    catalogue(state, &key, fresh).await
}

/// The catalogue a visitor's first answer would use: the operator's key when
/// guests may use it (`GUEST_SERVER_KEY`), else the "add your key" sentence.
pub async fn models_for_visitor(state: &AppState, fresh: bool) -> AppResult<Vec<ModelInfoDto>> {
    match &state.config.mistral_api_key {
        Some(key) if state.config.guest_server_key => catalogue(state, key, fresh).await,
        _ => Err(no_key()),
    }
}

/// The catalogue `key` sees, from the cache unless `fresh`.
async fn catalogue(state: &AppState, key: &Secret, fresh: bool) -> AppResult<Vec<ModelInfoDto>> {
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
    let cards = state.mistral.list_models(key).await.map_err(|e| {
        if is_refusal(&e) {
            AppError::bad_request(KEY_IN_USE_REFUSED)
        } else {
            AppError::from(e)
        }
    })?;
    Ok(cache_catalogue(state, key, &cards))
}

/// Stores the catalogue of `key` in the cache; the sorted list.
fn cache_catalogue(state: &AppState, key: &Secret, cards: &[ModelCard]) -> Vec<ModelInfoDto> {
    let mut list: Vec<ModelInfoDto> = cards.iter().map(card_to_dto).collect();
    list.sort_by(|a, b| a.id.cmp(&b.id));
    state
        .catalogue
        .inner
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            sha256_hex(key.expose().as_bytes()),
            (Instant::now(), list.clone()),
        );
    list
}

pub(crate) const DAY_MS: i64 = 86_400_000;

/// The start of today (UTC) in Unix milliseconds.
pub(crate) fn utc_midnight(now: i64) -> i64 {
    now - now.rem_euclid(DAY_MS)
}

/// Answers `user_id` started with the operator's key since UTC midnight.
pub async fn server_key_used_today(state: &AppState, user_id: &UserId) -> AppResult<u64> {
    Ok(server_key_uses::Entity::find()
        .filter(server_key_uses::Column::UserId.eq(user_id))
        .filter(server_key_uses::Column::CreatedAt.gte(utc_midnight(now_ms())))
        .count(&state.db)
        .await?)
}

fn budget_spent(state: &AppState) -> AppError {
    let limit = state.config.server_key_daily_requests;
    let now = now_ms();
    let until_midnight = (utc_midnight(now) + DAY_MS - now).max(1000) / 1000;
    AppError::TooManyRequests {
        message: format!(
            "You have used today's {limit} {} on the server's key — add your own Mistral API key in Settings → Models, or try again after midnight UTC",
            if limit == 1 { "answer" } else { "answers" }
        ),
        retry_after_secs: u64::try_from(until_midnight).unwrap_or(3600),
    }
}

/// 429 when the caller has spent today's budget on the operator's key: a
/// guest's quotas ([`super::guests::check_quota`]), else
/// `SERVER_KEY_DAILY_REQUESTS`. Nothing to check on the caller's own key.
pub async fn check_budget(state: &AppState, user_id: &UserId, picked: &PickedKey) -> AppResult<()> {
    match (&picked.guest, picked.server_key) {
        (Some(g), _) => super::guests::check_quota(state, user_id, g).await,
        (None, true) => check_server_key_budget(state, user_id).await,
        (None, false) => Ok(()),
    }
}

/// 429 when `user_id` has spent today's budget on the operator's key (a
/// limit of 0 means unlimited). A cheap early check; [`charge_server_key`]
/// is the one that holds under concurrency.
pub async fn check_server_key_budget(state: &AppState, user_id: &UserId) -> AppResult<()> {
    let limit = u64::from(state.config.server_key_daily_requests);
    if limit > 0 && server_key_used_today(state, user_id).await? >= limit {
        return Err(budget_spent(state));
    }
    Ok(())
}

/// Counts one answer on the operator's key against today's budget: the use
/// is written first and counted after, so two replicas racing for the last
/// unit can both refuse but never both pass. The id of the use, for
/// [`refund_server_key`].
pub async fn charge_server_key(
    state: &AppState,
    user_id: &UserId,
    guest: Option<&super::guests::GuestUse>,
) -> AppResult<String> {
    let id = uuid::Uuid::new_v4().to_string();
    server_key_uses::ActiveModel {
        id: Set(id.clone()),
        user_id: Set(user_id.to_string()),
        created_at: Set(now_ms()),
        client_ip: Set(guest.and_then(|g| g.ip.clone())),
    }
    .insert(&state.db)
    .await?;
    if let Some(g) = guest {
        if let Err(e) = super::guests::check_quota_after_charge(state, user_id, g).await {
            refund_server_key(state, &id).await;
            return Err(e);
        }
        return Ok(id);
    }
    let limit = u64::from(state.config.server_key_daily_requests);
    if limit > 0 && server_key_used_today(state, user_id).await? > limit {
        refund_server_key(state, &id).await;
        return Err(budget_spent(state));
    }
    Ok(id)
}

/// Takes back a use whose answer was never stored.
pub async fn refund_server_key(state: &AppState, id: &str) {
    if let Err(e) = server_key_uses::Entity::delete_by_id(id.to_string())
        .exec(&state.db)
        .await
    {
        tracing::warn!(error = %e, "could not take back a server-key use");
    }
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    #[test]
    fn midnight_is_the_start_of_the_utc_day() {
        // 2026-11-30T06:28:22.5Z
        let now = 1_796_020_102_500;
        assert_eq!(utc_midnight(now), 1_795_996_800_000);
        assert_eq!(utc_midnight(1_795_996_800_000), 1_795_996_800_000);
    }
}
