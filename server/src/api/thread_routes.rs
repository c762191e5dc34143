//! `/api/thread`: the reference project's thread contract.
//!
//! `GET` lists the caller's threads, returns one thread with its messages
//! (`idThread`), or a shared thread to anyone with its code (`shareCode`, the
//! only unauthenticated entry). `POST` takes `{"action": …}`: create, update,
//! share, unshare, sync, delete. Handlers parse the input into the service's
//! types, call `app::server::services::threads` (which scopes every query to
//! the caller) and map the result to JSON.
use super::{ApiJson, Caller};
use app::model::SyncMessageDto;
use app::server::services::auth;
use app::server::services::threads::{
    self, parse_limit, Cursor, MessagePageQuery, NewThread, SearchText, ShareCode, ThreadListQuery,
    ThreadPatch, DEFAULT_MESSAGE_PAGE, DEFAULT_THREAD_PAGE, MAX_MESSAGE_PAGE, MAX_THREAD_PAGE,
};
use app::server::{AppError, AppResult, AppState, FieldResult};
use app::vocab::ThreadId;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_thread, post_thread))
}

/// JSON with `Cache-Control: no-store`: these are private conversations.
fn reply(status: StatusCode, body: impl Serialize) -> Response {
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn ok(body: impl Serialize) -> Response {
    reply(StatusCode::OK, body)
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct GetParams {
    /// One of the caller's threads, with its messages.
    id_thread: Option<String>,
    /// A shared thread (no session needed); not together with `idThread`.
    share_code: Option<String>,
    /// Page size: threads 1–100 (default 20); messages 1–200 (default all,
    /// or 50 with `before`).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// `nextCursor` of the previous page, unchanged.
    before: Option<String>,
    /// Search the names of the caller's threads.
    q: Option<String>,
}

/// The page of messages asked for: `None` (all of them) unless `limit` or
/// `before` is given.
fn message_page(p: &GetParams) -> AppResult<Option<MessagePageQuery>> {
    let before = p.before.as_deref().map(Cursor::parse).transpose()?;
    if p.limit.is_none() && before.is_none() {
        return Ok(None);
    }
    Ok(Some(MessagePageQuery {
        limit: parse_limit(p.limit.as_deref(), DEFAULT_MESSAGE_PAGE, MAX_MESSAGE_PAGE)?,
        before,
    }))
}

/// The caller's threads (newest first, paged), one thread with its messages
/// (`idThread`), or a shared thread to anyone with its code (`shareCode`).
#[utoipa::path(
    get,
    path = "/api/thread",
    tag = "threads",
    params(GetParams),
    security((), ("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of threads, a thread with its messages, or a shared thread", body = super::openapi::ThreadGetResponse),
        (status = 401, description = "No valid session (needed for everything but `shareCode`)", body = super::openapi::ErrorBody),
        (status = 404, description = "No such thread (or not yours), or no such share (revoked, expired)", body = super::openapi::ErrorBody)
    )
)]
async fn get_thread(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<GetParams>, QueryRejection>,
) -> AppResult<Response> {
    let Query(p) = query
        .map_err(|e| AppError::bad_request(format!("Invalid query string: {}", e.body_text())))?;
    if let Some(code) = p.share_code.as_deref() {
        if p.id_thread.is_some() {
            return Err(AppError::bad_request(
                "shareCode: send either shareCode or idThread, not both",
            ));
        }
        let code = ShareCode::parse(code)?;
        let page = message_page(&p)?;
        return Ok(ok(threads::get_shared(&state, &code, page.as_ref()).await?));
    }
    // Everything else is the caller's own data.
    let me = auth::authenticate_headers(&state, &headers).await?;
    let before = p.before.as_deref().map(Cursor::parse).transpose()?;
    match p.id_thread.as_deref() {
        Some(id) => {
            let page = message_page(&p)?;
            Ok(ok(threads::get_thread(
                &state,
                me.id(),
                &ThreadId::new(id),
                page.as_ref(),
            )
            .await?))
        }
        None => {
            let query = ThreadListQuery {
                limit: parse_limit(p.limit.as_deref(), DEFAULT_THREAD_PAGE, MAX_THREAD_PAGE)?,
                before,
                search: p
                    .q
                    .as_deref()
                    .map(SearchText::parse)
                    .transpose()
                    .field("q")?
                    .flatten(),
            };
            Ok(ok(threads::list_threads(&state, me.id(), &query).await?))
        }
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateData {
    #[schema(format = "uuid")]
    id_thread: Option<String>,
    #[schema(max_length = 200)]
    name: Option<String>,
    context: Option<String>,
    model: Option<String>,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateData {
    name: Option<String>,
    context: Option<String>,
    model: Option<String>,
}

/// The body of `POST /api/thread`, one shape per action. Documentation
/// only: the handler reads the members one by one, so that a wrong member
/// gets an error that names it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "lowercase")]
#[allow(dead_code)]
enum ThreadRequest {
    /// A new thread (201); a blank or missing name gets the default.
    Create { data: Option<CreateData> },
    /// Rename, change the system prompt or model (a blank model removes it).
    Update {
        #[serde(rename = "idThread")]
        #[schema(format = "uuid")]
        id_thread: String,
        data: Option<UpdateData>,
    },
    /// Share the thread as it is now (the link shows up to its last message).
    Share {
        #[serde(rename = "idThread")]
        #[schema(format = "uuid")]
        id_thread: String,
        /// Unix milliseconds; absent or null: never expires.
        #[serde(rename = "expiresAt")]
        expires_at: Option<i64>,
    },
    /// Revoke the thread's share.
    Unshare {
        #[serde(rename = "idThread")]
        #[schema(format = "uuid")]
        id_thread: String,
    },
    /// Upload messages written offline (existing ids are skipped).
    Sync { messages: Vec<SyncMessageDto> },
    /// Delete the thread and its messages.
    Delete {
        #[serde(rename = "idThread")]
        #[schema(format = "uuid")]
        id_thread: String,
    },
}

const ACTIONS: &str = "create, update, share, unshare, sync, delete";

/// The body member `name`, if present and not null; a wrong shape is a 400
/// naming the member.
fn member<T: DeserializeOwned>(body: &Map<String, Value>, name: &str) -> AppResult<Option<T>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => T::deserialize(v)
            .map(Some)
            .map_err(|e| AppError::bad_request(format!("{name}: {e}"))),
    }
}

fn required<T: DeserializeOwned>(body: &Map<String, Value>, name: &str) -> AppResult<T> {
    member(body, name)?.ok_or_else(|| AppError::bad_request(format!("{name}: required")))
}

/// Create, update, share, unshare, sync or delete (`{"action": …}`).
#[utoipa::path(
    post,
    path = "/api/thread",
    tag = "threads",
    request_body = ThreadRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "`create`: the new thread", body = super::openapi::ThreadBody),
        (status = 200, description = "`update`: the thread; `share`: the share; `unshare`, `delete`: ok; `sync`: what was stored", body = super::openapi::ThreadActionResponse),
        (status = 404, description = "No such thread (or not yours)", body = super::openapi::ErrorBody),
        (status = 409, description = "`create`/`sync`: the id is taken", body = super::openapi::ErrorBody)
    )
)]
async fn post_thread(
    State(state): State<AppState>,
    Caller(me): Caller,
    ApiJson(body): ApiJson<Value>,
) -> AppResult<Response> {
    let Value::Object(body) = body else {
        return Err(AppError::bad_request(format!(
            "action: send a JSON object with an action ({ACTIONS})"
        )));
    };
    let action: String = member(&body, "action")?.unwrap_or_default();
    let uid = me.id();
    match action.as_str() {
        "create" => {
            let data: CreateData = member(&body, "data")?.unwrap_or_default();
            let new = NewThread::from_client(
                data.id_thread.as_deref(),
                data.name.as_deref(),
                data.context.as_deref(),
                data.model.as_deref(),
            )?;
            let thread = threads::create_thread(&state, uid, new).await?;
            Ok(reply(StatusCode::CREATED, json!({ "thread": thread })))
        }
        "update" => {
            let id = ThreadId::new(required::<String>(&body, "idThread")?);
            let data: UpdateData = member(&body, "data")?.unwrap_or_default();
            let patch = ThreadPatch::from_client(
                data.name.as_deref(),
                data.context.as_deref(),
                data.model.as_deref(),
            )?;
            let thread = threads::update_thread(&state, uid, &id, patch).await?;
            Ok(ok(json!({ "thread": thread })))
        }
        "share" => {
            let id = ThreadId::new(required::<String>(&body, "idThread")?);
            let expires_at: Option<i64> = member(&body, "expiresAt")?;
            Ok(ok(
                threads::share_thread(&state, uid, &id, expires_at).await?
            ))
        }
        "unshare" => {
            let id = ThreadId::new(required::<String>(&body, "idThread")?);
            threads::unshare_thread(&state, uid, &id).await?;
            Ok(ok(json!({ "ok": true })))
        }
        "sync" => {
            let messages: Vec<SyncMessageDto> = required(&body, "messages")?;
            Ok(ok(threads::sync_messages(&state, uid, messages).await?))
        }
        "delete" => {
            let id = ThreadId::new(required::<String>(&body, "idThread")?);
            threads::delete_thread(&state, uid, &id).await?;
            Ok(ok(json!({ "ok": true })))
        }
        "" => Err(AppError::bad_request(format!(
            "action: required — use one of {ACTIONS}"
        ))),
        _ => Err(AppError::bad_request(format!(
            "action: unknown — use one of {ACTIONS}"
        ))),
    }
}
