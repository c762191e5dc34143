//! `/api/auth/*` and `/api/user`: the reference project's auth contract.
use super::{ApiJson, Caller};
use app::server::services::auth::{self, IssuedToken};
use app::server::{AppError, AppResult, AppState};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/email/register", post(register))
        .route("/api/auth/email/login", post(login))
        .route("/api/auth/google/token", post(google_token))
        .route("/api/auth/validate", get(validate))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/delete", delete(delete_account))
        .route("/api/user", get(user))
}

fn with_cookie(status: StatusCode, cookie: String) -> Response {
    let mut resp = (status, Json(json!({"ok": true}))).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn signed_in(state: &AppState, status: StatusCode, issued: &IssuedToken) -> Response {
    with_cookie(status, auth::session_cookie(state, issued))
}

#[derive(Deserialize)]
struct RegisterBody {
    email: String,
    password: String,
    name: Option<String>,
}

async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterBody>,
) -> AppResult<Response> {
    let issued = auth::register(&state, &body.email, &body.password, body.name.as_deref()).await?;
    Ok(signed_in(&state, StatusCode::CREATED, &issued))
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<LoginBody>,
) -> AppResult<Response> {
    let ip = peer.ip().to_string();
    let issued = auth::login(&state, &body.email, &body.password, Some(&ip)).await?;
    Ok(signed_in(&state, StatusCode::OK, &issued))
}

#[derive(Deserialize)]
struct GoogleBody {
    access_token: Option<String>,
    id_token: Option<String>,
}

async fn google_token(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<GoogleBody>,
) -> AppResult<Response> {
    if !state.google.enabled() {
        return Err(AppError::NotImplemented(
            "Google sign-in is not configured on this server (set GOOGLE_CLIENT_ID)".into(),
        ));
    }
    let who = match (body.id_token.as_deref(), body.access_token.as_deref()) {
        (Some(t), _) if !t.is_empty() => state.google.verify_id_token(t).await?,
        (_, Some(t)) if !t.is_empty() => state.google.verify_access_token(t).await?,
        _ => {
            return Err(AppError::bad_request(
                "access_token: send either access_token or id_token",
            ))
        }
    };
    let issued = auth::google_sign_in(&state, who).await?;
    Ok(signed_in(&state, StatusCode::OK, &issued))
}

async fn validate(_caller: Caller) -> Json<serde_json::Value> {
    Json(json!({"ok": true}))
}

async fn user(Caller(me): Caller) -> Json<app::model::UserDto> {
    Json(auth::to_dto(&me.user))
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Response> {
    if let Some(token) = auth::token_from_headers(&headers) {
        auth::logout(&state, &token).await?;
    }
    Ok(with_cookie(StatusCode::OK, auth::clear_cookie(&state)))
}

async fn delete_account(State(state): State<AppState>, Caller(me): Caller) -> AppResult<Response> {
    auth::delete_account(&state, me.id()).await?;
    Ok(with_cookie(StatusCode::OK, auth::clear_cookie(&state)))
}
