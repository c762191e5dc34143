//! The public JSON API (`/api/*`), compatible with the reference project's
//! paths and shapes. Handlers are thin: extract, call a service, map errors.
//! Each JSON route is registered with its OpenAPI description
//! (`utoipa_axum::routes!`); [`openapi`] serves the resulting document.
use app::server::services::auth::{self, AuthUser};
use app::server::{AppError, AppState};
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Router;
use serde::de::DeserializeOwned;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub mod auth_routes;
pub mod chat_routes;
pub mod file_routes;
pub mod health;
pub mod openapi;
pub mod thread_routes;
pub mod voice_routes;

pub fn router() -> Router<AppState> {
    routes()
        .split_for_parts()
        .0
        .layer(axum::middleware::from_fn(json_refusals))
}

/// Longest plain-text refusal worth keeping as the sentence.
const MAX_REFUSAL_TEXT: usize = 4096;

/// Every refusal of the JSON API is `{"error": "…"}`, including the ones
/// axum's extractors answer before a handler runs (a path segment that is
/// not UTF-8, a repeated query parameter, a method the route does not
/// have), which are plain text. Their sentence is kept for 4xx (it names
/// the problem with the request); a 5xx gets the generic one, as
/// [`AppError`] does, so no internal detail leaks.
async fn json_refusals(req: Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, MAX_REFUSAL_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let sentence = if status.is_server_error() {
        AppError::internal("").public_message()
    } else if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("Bad request")
            .to_string()
    } else {
        text
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = serde_json::json!({ "error": sentence }).to_string();
    Response::from_parts(parts, Body::from(body))
}

/// Every route of this module with its description: registering a JSON
/// route anywhere else would leave it out of `/api/openapi.json`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(openapi::openapi_json))
        .merge(health::router())
        .merge(auth_routes::router())
        .merge(chat_routes::router())
        .merge(thread_routes::router())
        .merge(file_routes::router())
        .merge(voice_routes::router())
}

/// JSON body extractor whose rejections are `{"error": "…"}` with the right
/// status (400 for malformed or unknown fields, 413 for oversized bodies).
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(match rej.status().as_u16() {
                413 => AppError::PayloadTooLarge("Request body too large (limit 10 MB)".into()),
                415 => {
                    AppError::bad_request("Send the body as JSON (Content-Type: application/json)")
                }
                _ => AppError::bad_request(format!("Invalid JSON body: {}", rej.body_text())),
            }),
        }
    }
}

/// The authenticated caller. Token from `Authorization: Bearer` or the
/// `access_token` cookie, resolved by the one service function
/// [`auth::authenticate`] — there is no other way in.
pub struct Caller(pub AuthUser);

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        auth::authenticate_headers(state, &parts.headers)
            .await
            .map(Caller)
    }
}
