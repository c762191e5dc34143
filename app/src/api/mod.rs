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
    use crate::server::services::{auth, guests};
    let (state, ip) = match caller_or_visitor().await? {
        (state, Reader::User(me)) => return Ok((state, *me)),
        (state, Reader::Visitor { ip }) => (state, ip),
    };
    let issued = guests::create(&state, ip).await?;
    if let Some(resp) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(v) = axum::http::HeaderValue::from_str(&auth::session_cookie(&state, &issued)) {
            resp.append_header(axum::http::header::SET_COOKIE, v);
        }
    }
    let me = auth::authenticate(&state, &issued.token).await?;
    Ok((state, me))
}

/// The address a request is counted against (the peer, or the client a
/// trusted proxy names), as the login and guest limiters see it.
#[cfg(feature = "ssr")]
async fn client_ip(
    state: &crate::server::AppState,
    headers: &axum::http::HeaderMap,
) -> Option<std::net::IpAddr> {
    use crate::server::services::rate_limit;
    let peer = leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .ok()
        .map(|axum::extract::ConnectInfo(peer)| peer.ip());
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    peer.and_then(|p| rate_limit::limited_address(p, &forwarded, &state.config.trusted_proxies))
}

/// Who calls a server function that only reads.
#[cfg(feature = "ssr")]
pub(crate) enum Reader {
    /// Signed in, as an account or a guest.
    User(Box<crate::server::services::auth::AuthUser>),
    /// No session while guests are allowed: a visitor who owns nothing yet
    /// (a guest account is made by their first write, never by a read).
    Visitor { ip: Option<std::net::IpAddr> },
}

/// The caller of a server function that reads: the signed-in user, or a
/// visitor when `ALLOW_GUESTS=true` and the request carries no session
/// (or only an ended one, as [`require_caller_or_guest`] treats it), so the
/// chat opens without a login wall and reads answer "nothing yet". An
/// `Authorization` header that did not authenticate, or guests turned off:
/// 401 as before.
#[cfg(feature = "ssr")]
pub(crate) async fn caller_or_visitor() -> Result<(crate::server::AppState, Reader), ApiError> {
    use crate::server::services::auth;
    use crate::server::AppError;
    let state = state()?;
    let headers: axum::http::HeaderMap = leptos_axum::extract().await?;
    match auth::authenticate_headers(&state, &headers).await {
        Ok(me) => Ok((state, Reader::User(Box::new(me)))),
        Err(AppError::Unauthorized(_))
            if state.config.allow_guests
                && auth::authorization_header(&headers) == auth::AuthorizationHeader::Absent =>
        {
            let ip = client_ip(&state, &headers).await;
            Ok((state, Reader::Visitor { ip }))
        }
        Err(e) => Err(e.into()),
    }
}
