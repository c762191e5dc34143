//! Session server functions: who is signed in, sign out (here or on every
//! device), delete the account, and what the login page may offer.
use crate::model::UserDto;
use leptos::prelude::*;

/// What the login page needs to know about the server.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LoginOptions {
    pub google_client_id: Option<String>,
    /// `false` when `ALLOW_REGISTRATION=false`: the page offers sign-in only.
    pub allow_registration: bool,
}

#[cfg(feature = "ssr")]
async fn caller() -> Result<Option<crate::server::services::auth::AuthUser>, ServerFnError> {
    use crate::server::services::auth;
    let state = crate::server::state::from_context()?;
    let headers: axum::http::HeaderMap = leptos_axum::extract().await?;
    match auth::authenticate_headers(&state, &headers).await {
        Ok(u) => Ok(Some(u)),
        Err(crate::server::AppError::Unauthorized(_)) => Ok(None),
        Err(e) => Err(e.to_server_fn_error()),
    }
}

#[cfg(feature = "ssr")]
fn clear_session_cookie(state: &crate::server::AppState) {
    use crate::server::services::auth;
    let resp = expect_context::<leptos_axum::ResponseOptions>();
    for cookie in auth::clear_cookies(state) {
        if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
            resp.append_header(axum::http::header::SET_COOKIE, v);
        }
    }
}

/// The signed-in user, or `None`.
#[server(prefix = "/rpc", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<UserDto>, ServerFnError> {
    Ok(caller()
        .await?
        .map(|a| crate::server::services::auth::to_dto(&a.user)))
}

#[server(prefix = "/rpc", endpoint = "login_config")]
pub async fn login_config() -> Result<LoginOptions, ServerFnError> {
    let state = crate::server::state::from_context()?;
    Ok(LoginOptions {
        google_client_id: state.config.google_client_id.clone(),
        allow_registration: state.config.allow_registration,
    })
}

/// Ends this browser's session.
#[server(prefix = "/rpc", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), ServerFnError> {
    use crate::server::error::ForServerFn;
    use crate::server::services::auth;
    let state = crate::server::state::from_context()?;
    let headers: axum::http::HeaderMap = leptos_axum::extract().await?;
    for token in auth::presented_tokens(&headers) {
        auth::logout(&state, &token).await.sfn()?;
    }
    clear_session_cookie(&state);
    Ok(())
}

/// Ends every session of the signed-in account (this browser included).
#[server(prefix = "/rpc", endpoint = "sign_out_everywhere")]
pub async fn sign_out_everywhere() -> Result<(), ServerFnError> {
    use crate::server::{error::ForServerFn, services::auth, AppError};
    let state = crate::server::state::from_context()?;
    let me = caller()
        .await?
        .ok_or_else(|| AppError::unauthorized().to_server_fn_error())?;
    auth::logout_all(&state, me.id()).await.sfn()?;
    clear_session_cookie(&state);
    Ok(())
}

/// Deletes the account after the user typed their email (or `DELETE` for
/// accounts without a password).
#[server(prefix = "/rpc", endpoint = "delete_account")]
pub async fn delete_account(confirmation: String) -> Result<(), ServerFnError> {
    use crate::server::{error::ForServerFn, services::auth, AppError};
    let state = crate::server::state::from_context()?;
    let me = caller()
        .await?
        .ok_or_else(|| AppError::unauthorized().to_server_fn_error())?;
    let expected = expected_confirmation(&me.user.provider, me.user.email.as_deref());
    if confirmation.trim().to_lowercase() != expected.to_lowercase() {
        return Err(
            AppError::bad_request(format!("confirmation: type {expected} to confirm"))
                .to_server_fn_error(),
        );
    }
    auth::delete_account(&state, me.id()).await.sfn()?;
    clear_session_cookie(&state);
    Ok(())
}

/// What a user must type to confirm account deletion.
pub fn expected_confirmation(provider: &str, email: Option<&str>) -> String {
    match (provider, email) {
        ("email", Some(e)) => e.to_string(),
        _ => "DELETE".to_string(),
    }
}
