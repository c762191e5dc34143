//! Voice over the JSON API: `POST /api/transcribe` (a recording → its
//! text), `POST /api/tts` (text → audio, streamed as it is made; the
//! reference project's contract, `{"validate": true}` included) and
//! `GET /api/voices`.
//!
//! Handlers read the request and shape the response; the rules (types from
//! the bytes, limits, which key and which provider) live in
//! `app::server::services::voice`. These routes sit in the API router,
//! which never compresses, so audio leaves as it arrives; the recording's
//! size is enforced while it streams in (`MAX_AUDIO_MB`), not by the
//! router's 10 MB JSON limit.
use super::{ApiJson, Caller};
use app::model::{TranscriptionDto, TtsValidationDto, VoiceListDto};
use app::server::services::voice::{self, RecordingIn, SpeechAsk};
use app::server::{AppError, AppResult, AppState};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(transcribe))
        .layer(DefaultBodyLimit::disable())
        .routes(routes!(tts))
        .routes(routes!(voices))
}

/// `multipart/form-data`: the recording, and optionally its language.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct TranscribeForm {
    /// The recording: WebM/Opus, Ogg, WAV, MP3 or M4A (the type is read
    /// from the bytes; the part's content type is ignored).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Two letters (`en`, `fr`). Absent: the saved voice language, else
    /// detected.
    #[schema(pattern = "^[A-Za-z]{2}$")]
    language: Option<String>,
}

/// The longest `language` part read.
const MAX_LANGUAGE_PART: usize = 64;

/// What was said in a recording, transcribed by Mistral with the caller's
/// key (`TRANSCRIBE_MODEL`).
#[utoipa::path(
    post,
    path = "/api/transcribe",
    tag = "voice",
    request_body(content = TranscribeForm, content_type = "multipart/form-data"),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The text", body = TranscriptionDto),
        (status = 400, description = "No `file` part, an empty recording, a malformed form or language, or no Mistral key (the sentence says what to do)", body = super::openapi::ErrorBody),
        (status = 413, description = "Larger than `MAX_AUDIO_MB` (the sentence names the limit)", body = super::openapi::ErrorBody),
        (status = 415, description = "Not a recording type Mistral takes (the sentence lists them)", body = super::openapi::ErrorBody),
        (status = 429, description = "Mistral is rate-limiting the key", body = super::openapi::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 502, description = "Mistral refused the key, rejected the request or is unavailable", body = super::openapi::ErrorBody)
    )
)]
async fn transcribe(
    State(state): State<AppState>,
    Caller(me): Caller,
    mut form: Multipart,
) -> AppResult<Json<TranscriptionDto>> {
    let bad_form = |e: axum::extract::multipart::MultipartError| {
        AppError::bad_request(format!(
            "file: the recording could not be read ({})",
            e.body_text()
        ))
    };
    let mut recording: Option<Vec<u8>> = None;
    let mut language: Option<String> = None;
    while let Some(mut field) = form.next_field().await.map_err(bad_form)? {
        match field.name() {
            Some("file") if recording.is_none() => {
                let mut incoming = RecordingIn::new(state.config.max_audio_bytes);
                while let Some(piece) = field.chunk().await.map_err(bad_form)? {
                    incoming.push(&piece)?;
                }
                recording = Some(incoming.into_bytes());
            }
            Some("language") => {
                let mut raw = Vec::new();
                while let Some(piece) = field.chunk().await.map_err(bad_form)? {
                    raw.extend_from_slice(&piece);
                    if raw.len() > MAX_LANGUAGE_PART {
                        return Err(AppError::bad_request(
                            "language: use a two-letter language code such as en or fr",
                        ));
                    }
                }
                language = Some(String::from_utf8_lossy(&raw).into_owned());
            }
            _ => {}
        }
    }
    let Some(audio) = recording else {
        return Err(AppError::bad_request(
            "file: send the recording as a multipart part named \"file\"",
        ));
    };
    Ok(Json(
        voice::transcribe(&state, me.id(), audio, language.as_deref()).await?,
    ))
}

/// `POST /api/tts`: text to read aloud, or `{"validate": true}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TtsBody {
    /// The text (at most `MAX_TTS_CHARS` characters).
    text: Option<String>,
    /// Two letters; for the operator's TTS provider (default: the saved
    /// voice language, else `fr`). Mistral's voices speak their own language.
    #[schema(pattern = "^[A-Za-z]{2}$")]
    lang: Option<String>,
    /// A voice id of `GET /api/voices` (Mistral only; default: the saved
    /// voice, else Mistral's default).
    #[schema(max_length = 100)]
    voice: Option<String>,
    /// `mp3` (default), `wav`, `opus` (Ogg) or `pcm` (float32 little-endian,
    /// mono, `x-sample-rate` Hz). The operator's provider makes mp3 only.
    #[schema(value_type = Option<AudioFormatName>)]
    format: Option<String>,
    /// `true`: only say whether the provider accepts the key.
    #[serde(default)]
    validate: bool,
    /// Ignored: the reference project's clients may send it, but the key is
    /// never taken from the request.
    #[serde(default, rename = "api_key")]
    #[schema(value_type = Option<String>)]
    _api_key: Option<serde::de::IgnoredAny>,
}

/// The audio formats of `POST /api/tts`.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum AudioFormatName {
    Mp3,
    Wav,
    Opus,
    Pcm,
}

/// Read text aloud: through the operator's TTS provider when `TTS_API_BASE`
/// is set (MP3, the operator's key), else through Mistral with the
/// caller's key (`TTS_MODEL`). The audio is streamed as it is made. With
/// `{"validate": true}`: JSON saying whether the provider accepts the key.
#[utoipa::path(
    post,
    path = "/api/tts",
    tag = "voice",
    request_body = TtsBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The audio, streamed as it is made (`audio/mpeg`, `audio/wav`, `audio/ogg` or `audio/pcm`); with `validate`, the verdict as JSON",
            content((TtsValidationDto = "application/json"), ("audio/mpeg"), ("audio/wav"), ("audio/ogg"), ("audio/pcm")),
            headers(
                ("x-sample-rate" = u32, description = "`pcm` only: samples per second (24000)"),
                ("Cache-Control" = String, description = "`no-store`")
            )),
        (status = 400, description = "No text, a wrong format, language or voice, or no Mistral key (the sentence says what to do)", body = super::openapi::ErrorBody),
        (status = 413, description = "Longer than `MAX_TTS_CHARS` (the sentence names the limit)", body = super::openapi::ErrorBody),
        (status = 422, description = "Mistral's moderation declined to read the text", body = super::openapi::ErrorBody),
        (status = 429, description = "The provider is rate-limiting the key", body = super::openapi::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 502, description = "The provider refused the key or is unavailable", body = super::openapi::ErrorBody)
    )
)]
async fn tts(
    State(state): State<AppState>,
    Caller(me): Caller,
    ApiJson(b): ApiJson<TtsBody>,
) -> AppResult<Response> {
    if b.validate {
        let verdict: TtsValidationDto = voice::validate(&state, me.id()).await?;
        return Ok(Json(verdict).into_response());
    }
    let speech = voice::speak(
        &state,
        me.id(),
        SpeechAsk {
            text: b.text.as_deref().unwrap_or_default(),
            lang: b.lang.as_deref(),
            voice: b.voice.as_deref(),
            format: b.format.as_deref(),
        },
    )
    .await?;
    let mut resp = Response::new(Body::from_stream(speech.audio));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(speech.mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // A proxy (nginx) must pass the audio on as it comes.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if let Some(rate) = speech.sample_rate {
        h.insert("x-sample-rate", HeaderValue::from(rate));
    }
    Ok(resp)
}

/// The voices answers can be read in: Mistral's presets and the caller's
/// own voices, with the caller's key (none with the operator's TTS
/// provider, which takes a language instead).
#[utoipa::path(
    get,
    path = "/api/voices",
    tag = "voice",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The voices", body = VoiceListDto),
        (status = 400, description = "No Mistral key (the sentence says what to do)", body = super::openapi::ErrorBody),
        (status = 429, description = "Mistral is rate-limiting the key", body = super::openapi::ErrorBody),
        (status = 502, description = "Mistral refused the key or is unavailable", body = super::openapi::ErrorBody)
    )
)]
async fn voices(
    State(state): State<AppState>,
    Caller(me): Caller,
) -> AppResult<Json<VoiceListDto>> {
    Ok(Json(VoiceListDto {
        voices: voice::voices(&state, me.id()).await?,
    }))
}
