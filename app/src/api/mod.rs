//! Server functions (mounted under `/rpc`), grouped by area. Each one parses
//! its input, resolves the caller and calls the matching service in
//! `crate::server::services`; no domain logic lives here.
pub mod auth;
pub mod chat;
pub mod settings;
pub mod threads;

/// The signed-in caller of a server function, or a 401-style error.
#[cfg(feature = "ssr")]
pub(crate) async fn require_caller() -> Result<
    (
        crate::server::AppState,
        crate::server::services::auth::AuthUser,
    ),
    leptos::prelude::ServerFnError,
> {
    use crate::server::services::auth;
    let state = crate::server::state::from_context()?;
    let headers: axum::http::HeaderMap = leptos_axum::extract().await?;
    let me = auth::authenticate_headers(&state, &headers)
        .await
        .map_err(|e| e.to_server_fn_error())?;
    Ok((state, me))
}
