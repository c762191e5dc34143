//! Chat over the JSON API: send, regenerate, edit, stop, and the per-generation
//! SSE stream (`GET /api/generations/{id}/events`), plus settings and models.
//!
//! Handlers parse and map; the rules live in the services (`chat`,
//! `settings`, and `generation::watch` for what a stream reader gets).
use super::{ApiJson, Caller};
use app::model::{ModelInfoDto, SendResultDto, SettingsDto};
use app::server::services::generation;
use app::server::services::{chat, settings};
use app::server::{AppError, AppResult, AppState, FieldResult};
use app::vocab::{MessageId, MessageText};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Json;
use futures::StreamExt;
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send))
        .routes(routes!(regenerate))
        .routes(routes!(edit))
        .routes(routes!(stop))
        .routes(routes!(events))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(put_key))
        .routes(routes!(models))
}

/// A new message: in a new thread (no `threadId`), or in a thread after
/// `parentId` (default: the end of its current branch).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SendBody {
    #[schema(format = "uuid")]
    thread_id: Option<String>,
    #[schema(format = "uuid")]
    parent_id: Option<String>,
    #[schema(min_length = 1)]
    text: String,
    /// A model id (default: the thread's, then the user's default).
    #[schema(max_length = 100, pattern = r"^\S*$")]
    model: Option<String>,
    #[serde(default)]
    think: bool,
    /// Built-in tools the model may use: `web_search`, `image_generation`
    /// (absent: none).
    #[schema(value_type = Option<Vec<app::vocab::Tool>>)]
    tools: Option<Vec<String>>,
    /// Files uploaded with `POST /api/files`, sent with the message (at most
    /// `MAX_ATTACHMENTS`; someone else's id answers 404).
    #[schema(max_items = 100)]
    attachments: Option<Vec<String>>,
    /// Send images as their OCR text when the model cannot see images
    /// (otherwise such a send is a 400 saying so).
    #[serde(default)]
    images_as_text: bool,
}

/// Send a message and start the answer.
#[utoipa::path(
    post,
    path = "/api/chat",
    tag = "chat",
    request_body = SendBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "The question is stored and the answer is being written (follow it at `/api/generations/{id}/events`)", body = SendResultDto),
        (status = 404, description = "No such thread, parent message or file (or not yours)", body = super::openapi::ErrorBody),
        (status = 413, description = "More files, or more bytes of files, than one message may carry", body = super::openapi::ErrorBody),
        (status = 422, description = "An attached document could not be read", body = super::openapi::ErrorBody),
        (status = 429, description = "Too many answers being written for this user, the daily budget of the operator's key is spent, or Mistral is rate-limiting the key", body = super::openapi::ErrorBody),
        (status = 502, description = "Mistral refused or failed the request", body = super::openapi::ErrorBody),
        (status = 503, description = "The server is writing as many answers as it can", body = super::openapi::ErrorBody)
    )
)]
async fn send(
    State(state): State<AppState>,
    Caller(me): Caller,
    ApiJson(b): ApiJson<SendBody>,
) -> AppResult<(StatusCode, Json<SendResultDto>)> {
    let input = chat::SendInput::from_client(
        b.thread_id.as_deref(),
        b.parent_id.as_deref(),
        &b.text,
        b.model.as_deref(),
        b.think,
        b.tools.as_deref(),
    )?
    .with_files(chat::asked_files(
        b.attachments.as_deref(),
        b.images_as_text,
    ));
    Ok((
        StatusCode::CREATED,
        Json(chat::send(&state, me.id(), input).await?),
    ))
}

/// Write another answer to the question of `messageId` (an assistant message).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RegenerateBody {
    #[schema(format = "uuid")]
    message_id: String,
    /// A model id (default: the thread's, then the user's default).
    #[schema(max_length = 100, pattern = r"^\S*$")]
    model: Option<String>,
    #[serde(default)]
    think: bool,
    /// Built-in tools the model may use: `web_search`, `image_generation`
    /// (absent: none).
    #[schema(value_type = Option<Vec<app::vocab::Tool>>)]
    tools: Option<Vec<String>>,
}

/// Write another answer beside an existing one.
#[utoipa::path(
    post,
    path = "/api/chat/regenerate",
    tag = "chat",
    request_body = RegenerateBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "The new answer is being written", body = SendResultDto),
        (status = 404, description = "No such message (or not yours)", body = super::openapi::ErrorBody),
        (status = 429, description = "Too many answers being written, budget spent, or rate-limited upstream", body = super::openapi::ErrorBody),
        (status = 502, description = "Mistral refused or failed the request", body = super::openapi::ErrorBody),
        (status = 503, description = "The server is writing as many answers as it can", body = super::openapi::ErrorBody)
    )
)]
async fn regenerate(
    State(state): State<AppState>,
    Caller(me): Caller,
    ApiJson(b): ApiJson<RegenerateBody>,
) -> AppResult<(StatusCode, Json<SendResultDto>)> {
    let model = chat::asked_model(b.model.as_deref())?;
    let tools = chat::asked_tools(b.tools.as_deref())?;
    let r = chat::regenerate(
        &state,
        me.id(),
        &MessageId::new(&b.message_id),
        model,
        b.think,
        tools,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// A new version of the user message `messageId`, answered afresh.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EditBody {
    #[schema(format = "uuid")]
    message_id: String,
    #[schema(min_length = 1)]
    text: String,
    /// A model id (default: the thread's, then the user's default).
    #[schema(max_length = 100, pattern = r"^\S*$")]
    model: Option<String>,
    #[serde(default)]
    think: bool,
    /// Built-in tools the model may use: `web_search`, `image_generation`
    /// (absent: none).
    #[schema(value_type = Option<Vec<app::vocab::Tool>>)]
    tools: Option<Vec<String>>,
    /// Files uploaded with `POST /api/files`, sent with the edited message (absent: keep the files of the message edited; at most
    /// `MAX_ATTACHMENTS`; someone else's id answers 404).
    #[schema(max_items = 100)]
    attachments: Option<Vec<String>>,
    /// Send images as their OCR text when the model cannot see images
    /// (otherwise such a send is a 400 saying so).
    #[serde(default)]
    images_as_text: bool,
}

/// Edit a question: a new branch with the new text and its answer.
#[utoipa::path(
    post,
    path = "/api/chat/edit",
    tag = "chat",
    request_body = EditBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "The edited question is stored and its answer is being written", body = SendResultDto),
        (status = 404, description = "No such message or file (or not yours)", body = super::openapi::ErrorBody),
        (status = 413, description = "More files, or more bytes of files, than one message may carry", body = super::openapi::ErrorBody),
        (status = 422, description = "An attached document could not be read", body = super::openapi::ErrorBody),
        (status = 429, description = "Too many answers being written, budget spent, or rate-limited upstream", body = super::openapi::ErrorBody),
        (status = 502, description = "Mistral refused or failed the request", body = super::openapi::ErrorBody),
        (status = 503, description = "The server is writing as many answers as it can", body = super::openapi::ErrorBody)
    )
)]
async fn edit(
    State(state): State<AppState>,
    Caller(me): Caller,
    ApiJson(b): ApiJson<EditBody>,
) -> AppResult<(StatusCode, Json<SendResultDto>)> {
    let text = MessageText::parse(&b.text).field("text")?;
    let model = chat::asked_model(b.model.as_deref())?;
    let tools = chat::asked_tools(b.tools.as_deref())?;
    let r = chat::edit(
        &state,
        me.id(),
        &MessageId::new(&b.message_id),
        text,
        model,
        b.think,
        tools,
        chat::asked_files(b.attachments.as_deref(), b.images_as_text),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// Stop an answer being written; what was written so far is kept.
#[utoipa::path(
    post,
    path = "/api/generations/{id}/stop",
    tag = "chat",
    params(("id" = String, Path, description = "The assistant message id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The answer as stored (stopped, or already finished)", body = app::model::MessageDto),
        (status = 404, description = "No such message (or not yours)", body = super::openapi::ErrorBody)
    )
)]
async fn stop(
    State(state): State<AppState>,
    Caller(me): Caller,
    Path(id): Path<String>,
) -> AppResult<Json<app::model::MessageDto>> {
    Ok(Json(
        chat::stop(&state, me.id(), &MessageId::new(&id)).await?,
    ))
}

/// Follow an answer as it is written (Server-Sent Events).
///
/// Events: `snapshot` (`{text, thinking, status}`: replaces what the reader
/// shows), `delta` (`{text, thinking}` to append), `usage`, and `done`
/// (`{status, finishReason, error}`, the last event). Reconnect with
/// `Last-Event-ID` to resume after the last event seen. With `?render=html`,
/// `html` events (`{reset, append, tail}`) carry the answer as safe HTML.
#[utoipa::path(
    get,
    path = "/api/generations/{id}/events",
    tag = "chat",
    params(
        ("id" = String, Path, description = "The assistant message id"),
        ("Last-Event-ID" = Option<String>, Header, description = "The id of the last event received: the stream resumes after it (ignored with `render=html`, which always starts with a snapshot)"),
        ("render" = Option<String>, Query, description = "`html`: also send `html` events, the answer rendered by the server's markdown renderer (what the web UI uses)")
    ),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "An event stream that ends after `done`", content_type = "text/event-stream", body = super::openapi::GenerationEvent),
        (status = 400, description = "`render` is not `html`", body = super::openapi::ErrorBody),
        (status = 404, description = "No such message (or not yours)", body = super::openapi::ErrorBody),
        (status = 429, description = "Too many open streams for this user", body = super::openapi::ErrorBody),
        (status = 503, description = "Too many open streams on this server", body = super::openapi::ErrorBody)
    )
)]
// Parses `Last-Event-ID` and writes events; what a reader gets is
// `generation::watch`, the wire form `app::vocab::events`.
async fn events(
    State(state): State<AppState>,
    Caller(me): Caller,
    Path(id): Path<String>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> AppResult<impl IntoResponse> {
    let html = match query.render.as_deref() {
        None | Some("") => false,
        Some("html") => true,
        Some(_) => {
            return Err(AppError::BadRequest(
                "render must be html (or absent)".into(),
            ))
        }
    };
    // A reader of HTML always starts from a snapshot: its renderer needs
    // the whole text (the page replaces what it shows).
    let last_event_id: Option<u64> = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .filter(|_| !html);
    let events = generation::watch(&state, me.id(), &MessageId::new(&id), last_event_id).await?;
    let events: std::pin::Pin<Box<dyn futures::Stream<Item = generation::Numbered> + Send>> =
        if html {
            Box::pin(app::server::services::rendered::with_html(events, &id))
        } else {
            Box::pin(events)
        };
    let stream = events.map(|item| {
        let mut event = Event::default()
            .event(item.event.name())
            .data(item.event.data_json());
        if let Some(id) = item.id {
            event = event.id(id.to_string());
        }
        Ok::<_, Infallible>(event)
    });
    let mut resp = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    // Proxies (nginx) must not buffer the stream.
    resp.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    Ok(resp)
}

/// The caller's settings (never the key itself).
#[utoipa::path(
    get,
    path = "/api/settings",
    tag = "settings",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The settings", body = SettingsDto))
)]
async fn get_settings(
    State(state): State<AppState>,
    Caller(me): Caller,
) -> AppResult<Json<SettingsDto>> {
    Ok(Json(settings::get(&state, me.id()).await?))
}

/// Preferences to change; absent members stay as they are.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PrefsBody {
    /// `null` (or blank) clears the default model.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    default_model: Option<Option<String>>,
    default_context: Option<String>,
    fast_models: Option<Vec<String>>,
    theme: Option<String>,
    /// The voice answers are read in (an id of `GET /api/voices`); `null`
    /// (or blank) clears it: the provider's default voice.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 100)]
    voice_id: Option<Option<String>>,
    /// The two-letter language the user speaks; `null` (or blank): detected.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z]{2}$")]
    voice_language: Option<Option<String>>,
    /// Playback speed of spoken answers.
    #[schema(minimum = 0.5, maximum = 2.0)]
    voice_speed: Option<f64>,
    /// Silence that ends a spoken turn, in milliseconds.
    #[schema(minimum = 200, maximum = 3000)]
    voice_silence_ms: Option<i64>,
    /// Speaking while an answer is read interrupts it.
    voice_barge_in: Option<bool>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::<String>::deserialize(d)?))
    }
}

/// Change preferences: default model and system prompt, fast models,
/// theme, voice (voice, language, speed, end-of-turn silence, barge-in).
/// Nothing is saved when any member is refused.
#[utoipa::path(
    put,
    path = "/api/settings",
    tag = "settings",
    request_body = PrefsBody,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The settings after the change", body = SettingsDto))
)]
async fn put_settings(
    State(state): State<AppState>,
    Caller(me): Caller,
    ApiJson(b): ApiJson<PrefsBody>,
) -> AppResult<Json<SettingsDto>> {
    let mut prefs = settings::Preferences::from_client(
        b.default_model.as_ref().map(Option::as_deref),
        b.default_context.as_deref(),
        b.fast_models.as_deref(),
        b.theme.as_deref(),
    )?;
    prefs.voice = settings::VoicePreferences::from_client(
        b.voice_id.as_ref().map(Option::as_deref),
        b.voice_language.as_ref().map(Option::as_deref),
        b.voice_speed,
        b.voice_silence_ms,
        b.voice_barge_in,
    )?;
    Ok(Json(
        settings::update_preferences(&state, me.id(), prefs).await?,
    ))
}

/// The user's own Mistral key (`null` or blank removes it).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyBody {
    api_key: Option<String>,
    /// Save without asking Mistral (default: a key Mistral refuses is a 400
    /// and is not saved).
    #[serde(default)]
    force: bool,
}

/// The settings, plus `keyCheck`: `accepted`, `unchecked` (Mistral could not
/// be reached; saved anyway) or `skipped` (removed, or `force`).
#[utoipa::path(
    put,
    path = "/api/settings/key",
    tag = "settings",
    request_body = KeyBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Saved (or removed)", body = super::openapi::KeySaved),
        (status = 400, description = "Malformed input, or Mistral refused the key (not saved)", body = super::openapi::ErrorBody),
        (status = 429, description = "Mistral is rate-limiting the key check", body = super::openapi::ErrorBody)
    )
)]
async fn put_key(
    State(state): State<AppState>,
    Caller(me): Caller,
    ApiJson(b): ApiJson<KeyBody>,
) -> AppResult<Json<serde_json::Value>> {
    let (dto, check) =
        settings::set_api_key(&state, me.id(), b.api_key.as_deref(), b.force).await?;
    let mut body = serde_json::to_value(dto).map_err(AppError::internal)?;
    if let Some(fields) = body.as_object_mut() {
        fields.insert("keyCheck".into(), check.as_str().into());
    }
    Ok(Json(body))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ModelsQuery {
    /// `1` or `true`: ask Mistral again instead of the cached catalogue.
    fresh: Option<String>,
}

/// The model catalogue for the caller's key (or the operator's).
#[utoipa::path(
    get,
    path = "/api/models",
    tag = "settings",
    params(ModelsQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The models and what they can do", body = super::openapi::ModelList),
        (status = 429, description = "Mistral is rate-limiting the key", body = super::openapi::ErrorBody),
        (status = 502, description = "Mistral refused or failed the request", body = super::openapi::ErrorBody)
    )
)]
async fn models(
    State(state): State<AppState>,
    Caller(me): Caller,
    Query(q): Query<ModelsQuery>,
) -> AppResult<Json<serde_json::Value>> {
    let fresh = q.fresh.as_deref().is_some_and(|v| v == "1" || v == "true");
    let list: Vec<ModelInfoDto> = settings::models(&state, me.id(), fresh).await?;
    Ok(Json(serde_json::json!({ "models": list })))
}

/// The query of `GET /api/generations/{id}/events`.
#[derive(Debug, Default, Deserialize)]
struct EventsQuery {
    /// `html`: add the server-rendered `html` events.
    render: Option<String>,
}
