//! Voice server functions: the voice list and the voice preferences. The
//! browser records, plays and streams through the JSON routes
//! (`POST /api/transcribe`, `POST /api/tts`: binary bodies), so only these
//! two are server functions; both call the same services as `/api`.
use super::ApiError;
use crate::model::{SettingsDto, VoiceListDto};
use leptos::prelude::*;

/// The voices the caller's key offers (empty with the operator's TTS
/// provider).
#[server(prefix = "/rpc", endpoint = "voices")]
pub async fn voices() -> Result<VoiceListDto, ApiError> {
    let (state, me) = match super::caller_or_visitor().await? {
        (state, super::Reader::User(me)) => (state, me),
        // The voices come with a key; a visitor has saved none yet.
        (_, super::Reader::Visitor { .. }) => return Ok(VoiceListDto { voices: vec![] }),
    };
    let voices = crate::server::services::voice::voices(&state, me.id()).await?;
    Ok(VoiceListDto { voices })
}

/// Saves every voice preference at once (the settings form): a blank
/// `voice_id` or `voice_language` clears it. Ranges as for
/// `PUT /api/settings` (400 naming the field).
#[server(prefix = "/rpc", endpoint = "save_voice_settings")]
pub async fn save_voice_settings(
    voice_id: Option<String>,
    voice_language: Option<String>,
    voice_speed: f64,
    voice_silence_ms: i64,
    #[server(default)] voice_barge_in: bool,
) -> Result<SettingsDto, ApiError> {
    use crate::server::services::settings::{self, Preferences, VoicePreferences};
    let mut prefs = Preferences::from_client(None, None, None, None)?;
    prefs.voice = VoicePreferences::from_client(
        Some(voice_id.as_deref()),
        Some(voice_language.as_deref()),
        Some(voice_speed),
        Some(voice_silence_ms),
        Some(voice_barge_in),
    )?;
    let (state, me) = super::require_caller_or_guest().await?;
    settings::update_preferences(&state, me.id(), prefs)
        .await
        .map_err(ApiError::from)
}
