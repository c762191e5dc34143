//! Chat over the JSON API: send, regenerate, edit, stop, and the per-generation
//! SSE stream (`GET /api/generations/{id}/events`), plus settings and models.
//!
//! The stream replays what was produced so far (after `Last-Event-ID`) and
//! continues live. A generation that is not running in this process is served
//! from its stored row: finished ones as one snapshot, ones still streaming on
//! another replica by polling the row — until the row has gone untouched past
//! the generation deadlines, when it is marked `interrupted` and the stream
//! ends. Each open stream holds a place (`MAX_STREAMS_PER_USER`,
//! `MAX_STREAMS_TOTAL`) that is given back when the response is dropped,
//! whether it ended or the client went away.
use super::{ApiJson, Caller};
use app::model::{ModelInfoDto, SendResultDto, SettingsDto};
use app::server::services::generation::{self, Deadlines, GenEvent};
use app::server::services::{chat, settings};
use app::server::{AppError, AppResult, AppState};
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
use tokio::sync::mpsc;

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
    let input = chat::SendInput {
        thread_id: b.thread_id,
        parent_id: b.parent_id,
        text: b.text,
        model: b.model,
        think: b.think,
    };
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
    let r = chat::regenerate(&state, me.id(), &b.message_id, b.model, b.think).await?;
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
    let r = chat::edit(&state, me.id(), &b.message_id, &b.text, b.model, b.think).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

async fn stop(
    State(state): State<AppState>,
    Caller(me): Caller,
    Path(id): Path<String>,
) -> AppResult<Json<app::model::MessageDto>> {
    Ok(Json(chat::stop(&state, me.id(), &id).await?))
}

fn sse_event(id: u64, ev: &GenEvent) -> Event {
    Event::default()
        .id(id.to_string())
        .event(ev.name())
        .json_data(ev)
        .unwrap_or_else(|_| Event::default().event(ev.name()))
}

/// The stored state of an answer, as one `snapshot` event.
fn snapshot_event(m: &app::server::entities::messages::Model) -> Event {
    snapshot_of(
        &m.text,
        m.thinking.as_deref().unwrap_or_default(),
        &m.status,
    )
}

fn snapshot_of(text: &str, thinking: &str, status: &str) -> Event {
    Event::default()
        .event("snapshot")
        .json_data(serde_json::json!({
            "text": text,
            "thinking": thinking,
            "status": status,
        }))
        .unwrap_or_else(|_| Event::default().event("snapshot"))
}

/// The log so far as the events a first-time reader needs: one `snapshot`
/// of the text and thinking (its id is the last event it covers, so a
/// reconnect resumes right after it), then `done` if the answer has ended.
/// Usage figures are folded in: no reader shows them mid-answer.
fn collapse_backlog(backlog: Vec<(u64, GenEvent)>) -> Vec<Event> {
    let (mut text, mut thinking) = (String::new(), String::new());
    let (mut covered, mut done) = (None, None);
    for (eid, ev) in backlog {
        match ev {
            GenEvent::Delta {
                text: t,
                thinking: th,
            } => {
                text.push_str(&t);
                thinking.push_str(&th);
                covered = Some(eid);
            }
            GenEvent::Usage { .. } => covered = Some(eid),
            GenEvent::Done { .. } => done = Some((eid, ev)),
        }
    }
    let mut out = vec![];
    if let Some(eid) = covered {
        out.push(snapshot_of(&text, &thinking, "streaming").id(eid.to_string()));
    }
    if let Some((eid, ev)) = done {
        out.push(sse_event(eid, &ev));
    }
    out
}

fn done_from_row(m: &app::server::entities::messages::Model) -> GenEvent {
    GenEvent::Done {
        status: m.status.clone(),
        finish_reason: m.finish_reason.clone(),
        error: m.error.clone(),
    }
}

async fn events(
    State(state): State<AppState>,
    Caller(me): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> AppResult<impl IntoResponse> {
    // Ownership first: a foreign or unknown id is a 404 either way.
    let (msg, _) = chat::find_owned_message(&state, me.id(), &id).await?;
    let slot = state.hub.open_stream(
        me.id(),
        state.config.max_streams_per_user,
        state.config.max_streams_total,
    )?;
    let after: u64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let (tx, mut rx) = mpsc::channel::<Event>(256);
    let mut shutdown = state.shutdown.subscribe();
    let live = state.hub.get(&msg.id);
    // The reader keeps the request's span (and so its request id).
    tokio::spawn(tracing::Instrument::in_current_span(async move {
        match live {
            Some(g) => {
                let (backlog, rx_live) = g.subscribe(after);
                // A first connection (no Last-Event-ID) gets what was written
                // so far as one `snapshot` that replaces whatever the reader
                // shows (a server-rendered partial answer), then live deltas:
                // appending a replay of every delta to that partial answer
                // would show it twice.
                let backlog = if after == 0 {
                    collapse_backlog(backlog)
                } else {
                    backlog
                        .iter()
                        .map(|(eid, ev)| sse_event(*eid, ev))
                        .collect()
                };
                for event in backlog {
                    if tx.send(event).await.is_err() {
                        return;
                    }
                }
                let Some(mut rx_live) = rx_live else { return };
                loop {
                    tokio::select! {
                        r = rx_live.recv() => match r {
                            Ok((eid, ev)) => {
                                let done = ev.is_done();
                                if tx.send(sse_event(eid, &ev)).await.is_err() || done {
                                    return;
                                }
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                                // Too slow a reader: send the stored state instead.
                                if let Ok(Some(row)) = reload(&state, &msg.id).await {
                                    let _ = tx.send(snapshot_event(&row)).await;
                                }
                            }
                            Err(_) => return,
                        },
                        // The reader went away: stop listening at once.
                        _ = tx.closed() => return,
                        _ = shutdown.changed() => return,
                    }
                }
            }
            None => {
                // Not running here: serve the row (and poll it while another
                // replica is still streaming it).
                let deadlines = Deadlines::from_config(&state.config);
                let mut row = msg;
                loop {
                    if generation::is_abandoned(&row, deadlines, app::server::db::now_ms()) {
                        // No task has written it for longer than any may:
                        // end it for every reader.
                        match generation::interrupt_abandoned(&state.db, &row).await {
                            Ok(Some(r)) => row = r,
                            _ => return,
                        }
                    }
                    if tx.send(snapshot_event(&row)).await.is_err() {
                        return;
                    }
                    if row.status != "streaming" {
                        let _ = tx.send(sse_event(u64::MAX / 2, &done_from_row(&row))).await;
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(1000)) => {}
                        _ = tx.closed() => return,
                        _ = shutdown.changed() => return,
                    }
                    match reload(&state, &row.id).await {
                        Ok(Some(r)) => row = r,
                        _ => return,
                    }
                }
            }
        }
    }));
    // The slot lives as long as the response body: hyper drops the body when
    // the stream ends or the client disconnects.
    let stream = futures::stream::poll_fn(move |cx| {
        let _held = &slot;
        rx.poll_recv(cx)
    })
    .map(Ok::<_, Infallible>);
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

async fn reload(
    state: &AppState,
    id: &str,
) -> Result<Option<app::server::entities::messages::Model>, AppError> {
    use sea_orm::EntityTrait;
    Ok(
        app::server::entities::messages::Entity::find_by_id(id.to_string())
            .one(&state.db)
            .await?,
    )
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
    let prefs = settings::Preferences {
        default_model: b.default_model,
        default_context: b.default_context,
        fast_models: b.fast_models,
        theme: b.theme,
    };
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
