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
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures::StreamExt;
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/chat", post(send))
        .route("/api/chat/regenerate", post(regenerate))
        .route("/api/chat/edit", post(edit))
        .route("/api/generations/{id}/stop", post(stop))
        .route("/api/generations/{id}/events", get(events))
        .route("/api/settings", get(get_settings).put(put_settings))
        .route("/api/settings/key", put(put_key))
        .route("/api/models", get(models))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SendBody {
    thread_id: Option<String>,
    parent_id: Option<String>,
    text: String,
    model: Option<String>,
    #[serde(default)]
    think: bool,
}

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
    )?;
    Ok((
        StatusCode::CREATED,
        Json(chat::send(&state, me.id(), input).await?),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RegenerateBody {
    message_id: String,
    model: Option<String>,
    #[serde(default)]
    think: bool,
}

async fn regenerate(
    State(state): State<AppState>,
    Caller(me): Caller,
    ApiJson(b): ApiJson<RegenerateBody>,
) -> AppResult<(StatusCode, Json<SendResultDto>)> {
    let model = chat::asked_model(b.model.as_deref())?;
    let r = chat::regenerate(
        &state,
        me.id(),
        &MessageId::new(&b.message_id),
        model,
        b.think,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EditBody {
    message_id: String,
    text: String,
    model: Option<String>,
    #[serde(default)]
    think: bool,
}

async fn edit(
    State(state): State<AppState>,
    Caller(me): Caller,
    ApiJson(b): ApiJson<EditBody>,
) -> AppResult<(StatusCode, Json<SendResultDto>)> {
    let text = MessageText::parse(&b.text).field("text")?;
    let model = chat::asked_model(b.model.as_deref())?;
    let r = chat::edit(
        &state,
        me.id(),
        &MessageId::new(&b.message_id),
        text,
        model,
        b.think,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

async fn stop(
    State(state): State<AppState>,
    Caller(me): Caller,
    Path(id): Path<String>,
) -> AppResult<Json<app::model::MessageDto>> {
    Ok(Json(
        chat::stop(&state, me.id(), &MessageId::new(&id)).await?,
    ))
}

/// `GET /api/generations/{id}/events`: the answer's events as SSE (see
/// [`generation::watch`] for what a reader gets, and `app::vocab::events` for
/// the wire form). Parses `Last-Event-ID` and writes events; nothing else.
async fn events(
    State(state): State<AppState>,
    Caller(me): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> AppResult<impl IntoResponse> {
    let last_event_id: Option<u64> = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let events = generation::watch(&state, me.id(), &MessageId::new(&id), last_event_id).await?;
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

async fn get_settings(
    State(state): State<AppState>,
    Caller(me): Caller,
) -> AppResult<Json<SettingsDto>> {
    Ok(Json(settings::get(&state, me.id()).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PrefsBody {
    #[serde(default, with = "double_option")]
    default_model: Option<Option<String>>,
    default_context: Option<String>,
    fast_models: Option<Vec<String>>,
    theme: Option<String>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::<String>::deserialize(d)?))
    }
}

async fn put_settings(
    State(state): State<AppState>,
    Caller(me): Caller,
    ApiJson(b): ApiJson<PrefsBody>,
) -> AppResult<Json<SettingsDto>> {
    let prefs = settings::Preferences::from_client(
        b.default_model.as_ref().map(Option::as_deref),
        b.default_context.as_deref(),
        b.fast_models.as_deref(),
        b.theme.as_deref(),
    )?;
    Ok(Json(
        settings::update_preferences(&state, me.id(), prefs).await?,
    ))
}

#[derive(Deserialize)]
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

#[derive(Deserialize)]
struct ModelsQuery {
    fresh: Option<String>,
}

async fn models(
    State(state): State<AppState>,
    Caller(me): Caller,
    Query(q): Query<ModelsQuery>,
) -> AppResult<Json<serde_json::Value>> {
    let fresh = q.fresh.as_deref().is_some_and(|v| v == "1" || v == "true");
    let list: Vec<ModelInfoDto> = settings::models(&state, me.id(), fresh).await?;
    Ok(Json(serde_json::json!({ "models": list })))
}
