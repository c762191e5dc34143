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
