//! Server functions (mounted under `/rpc`), grouped by area. Each one parses
//! its input, resolves the caller and calls the matching service in
//! `crate::server::services`; no domain logic lives here. Every one returns
//! [`ApiError`] on failure (see `error.rs`): `?` on a service result is safe.
pub mod auth;
pub mod chat;
pub mod error;
pub mod settings;
pub mod threads;
pub mod voice;

pub use error::{ApiError, ErrorKind};

/// The server's state inside a server function.
#[cfg(feature = "ssr")]
pub(crate) fn state() -> Result<crate::server::AppState, ApiError> {
    leptos::prelude::use_context::<crate::server::AppState>()
        .ok_or_else(|| ApiError::internal("server state missing from the server function context"))
}

/// The signed-in caller of a server function, or a "signed out" error (401).
#[cfg(feature = "ssr")]
pub(crate) async fn require_caller() -> Result<
    (
        crate::server::AppState,
        crate::server::services::auth::AuthUser,
    ),
    ApiError,
> {
    use crate::server::services::auth;
    let state = state()?;
    let headers: axum::http::HeaderMap = leptos_axum::extract().await?;
    let me = auth::authenticate_headers(&state, &headers).await?;
    Ok((state, me))
}

/// The caller of a server function that writes, creating a guest first when
/// a visitor without a session writes and `ALLOW_GUESTS=true` (the guest's
/// session cookie is set on this answer). Only writes call this: a page view
/// or a read never creates a row. A request with an `Authorization` header
/// that did not authenticate is refused as before (401), never turned into a
/// guest.
#[cfg(feature = "ssr")]
pub(crate) async fn require_caller_or_guest() -> Result<
    (
        crate::server::AppState,
        crate::server::services::auth::AuthUser,
    ),
    ApiError,
> {
    use crate::server::services::{auth, guests, rate_limit};
    use crate::server::AppError;
    let state = state()?;
    let headers: axum::http::HeaderMap = leptos_axum::extract().await?;
    match auth::authenticate_headers(&state, &headers).await {
        Ok(me) => return Ok((state, me)),
        Err(AppError::Unauthorized(_))
            if state.config.allow_guests
                && auth::authorization_header(&headers) == auth::AuthorizationHeader::Absent => {}
        Err(e) => return Err(e.into()),
    }
    let peer = leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .ok()
        .map(|axum::extract::ConnectInfo(peer)| peer.ip());
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let ip = peer
        .and_then(|p| rate_limit::limited_address(p, &forwarded, &state.config.trusted_proxies));
    let issued = guests::create(&state, ip).await?;
    if let Some(resp) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(v) = axum::http::HeaderValue::from_str(&auth::session_cookie(&state, &issued)) {
            resp.append_header(axum::http::header::SET_COOKIE, v);
        }
    }
    let me = auth::authenticate(&state, &issued.token).await?;
    Ok((state, me))
}
