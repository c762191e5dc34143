//! Session server functions: who is signed in, sign out (here or on every
//! device), delete the account, and what the login page may offer; plus the
//! fixed error codes of the sign-in form posted without JavaScript.
use super::ApiError;
use crate::model::UserDto;
use leptos::prelude::*;

/// Why a sign-in or registration *form post* (`POST /auth/login`,
/// `/auth/register`, used before the WASM has loaded) failed. The server
/// redirects to `/login?error=<code>`: a fixed set of codes, so the URL never
/// carries what the person typed, and the page shows [`Self::sentence`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFormError {
    InvalidLogin,
    AccountExists,
    Email,
    Password,
    Name,
    RegistrationClosed,
    TooManyAttempts,
    Busy,
    Failed,
}

impl AuthFormError {
    const ALL: [Self; 9] = [
        Self::InvalidLogin,
        Self::AccountExists,
        Self::Email,
        Self::Password,
        Self::Name,
        Self::RegistrationClosed,
        Self::TooManyAttempts,
        Self::Busy,
        Self::Failed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidLogin => "invalid",
            Self::AccountExists => "exists",
            Self::Email => "email",
            // Not "password": no URL should ever contain that word.
            Self::Password => "length",
            Self::Name => "name",
            Self::RegistrationClosed => "closed",
            Self::TooManyAttempts => "too-many",
            Self::Busy => "busy",
            Self::Failed => "failed",
        }
    }

    /// `None` for a code we never send (a hand-written URL shows nothing).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }

    pub fn sentence(self) -> &'static str {
        match self {
            Self::InvalidLogin => "Invalid email or password",
            Self::AccountExists => "An account with this email already exists — sign in instead",
            Self::Email => "Enter a valid email address",
            Self::Password => "Use a password of at least 8 characters (at most 1024)",
            Self::Name => "Use a name of at most 200 characters",
            Self::RegistrationClosed => {
                "Registration is closed on this server — ask its operator for an account"
            }
            Self::TooManyAttempts => "Too many attempts — please wait a few minutes and try again",
            Self::Busy => "The server is busy — please try again in a moment",
            Self::Failed => "Something went wrong on the server — please try again",
        }
    }

    /// The code for a service error (validation errors name their field first).
    #[cfg(feature = "ssr")]
    pub fn from_app_error(e: &crate::server::AppError) -> Self {
        use crate::server::AppError;
        match e {
            AppError::Unauthorized(_) => Self::InvalidLogin,
            AppError::Conflict(_) => Self::AccountExists,
            AppError::Forbidden(_) => Self::RegistrationClosed,
            AppError::TooManyRequests { .. } => Self::TooManyAttempts,
            AppError::Unavailable { .. } => Self::Busy,
            AppError::BadRequest(m) if m.starts_with("email") => Self::Email,
            AppError::BadRequest(m) if m.starts_with("password") => Self::Password,
            AppError::BadRequest(m) if m.starts_with("name") => Self::Name,
            _ => Self::Failed,
        }
    }
}

/// What the login page needs to know about the server.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LoginOptions {
    pub google_client_id: Option<String>,
    /// `false` when `ALLOW_REGISTRATION=false`: the page offers sign-in only.
    pub allow_registration: bool,
    /// `ALLOW_GUESTS`: visitors may chat without an account.
    #[serde(default)]
    pub allow_guests: bool,
    /// How long an inactive guest's chats are kept (`GUEST_TTL_DAYS`).
    #[serde(default)]
    pub guest_ttl_days: i64,
}

#[cfg(feature = "ssr")]
async fn caller() -> Result<Option<crate::server::services::auth::AuthUser>, ApiError> {
    use crate::server::services::auth;
    let state = super::state()?;
    let headers: axum::http::HeaderMap = leptos_axum::extract().await?;
    match auth::authenticate_headers(&state, &headers).await {
        Ok(u) => Ok(Some(u)),
        Err(crate::server::AppError::Unauthorized(_)) => Ok(None),
        Err(e) => Err(e.into()),
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
pub async fn current_user() -> Result<Option<UserDto>, ApiError> {
    Ok(caller()
        .await?
        .map(|a| crate::server::services::auth::to_dto(&a.user)))
}

#[server(prefix = "/rpc", endpoint = "login_config")]
pub async fn login_config() -> Result<LoginOptions, ApiError> {
    let state = super::state()?;
    Ok(LoginOptions {
        google_client_id: state.config.google_client_id.clone(),
        allow_registration: state.config.allow_registration,
        allow_guests: state.config.allow_guests,
        guest_ttl_days: state.config.guest_ttl_days,
    })
}

/// A one-time link (15 minutes) that hands this guest's chats to an account
/// signed in elsewhere; 403 for an account.
#[server(prefix = "/rpc", endpoint = "guest_claim_link")]
pub async fn guest_claim_link() -> Result<crate::model::ClaimLinkDto, ApiError> {
    use crate::server::services::guests;
    let (state, me) = super::require_caller().await?;
    let link = guests::create_claim(&state, &me).await?;
    Ok(crate::model::ClaimLinkDto {
        url: guests::claim_url(&state, &link.code),
        expires_at: link.expires_at,
    })
}

/// Redeems a guest's claim code into the signed-in account (403 for a
/// guest, 404 for an unknown, used or expired code).
#[server(prefix = "/rpc", endpoint = "claim_guest_chats")]
pub async fn claim_guest_chats(code: String) -> Result<crate::model::MergeResultDto, ApiError> {
    use crate::server::services::guests;
    let (state, me) = super::require_caller().await?;
    let m = guests::redeem_claim(&state, &me, &code).await?;
    Ok(m.to_dto())
}

/// Ends this browser's session.
#[server(prefix = "/rpc", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), ApiError> {
    use crate::server::services::auth;
    let state = super::state()?;
    let headers: axum::http::HeaderMap = leptos_axum::extract().await?;
    for token in auth::presented_tokens(&headers) {
        auth::logout(&state, &token).await?;
    }
    clear_session_cookie(&state);
    Ok(())
}

/// Ends every session of the signed-in account (this browser included).
#[server(prefix = "/rpc", endpoint = "sign_out_everywhere")]
pub async fn sign_out_everywhere() -> Result<(), ApiError> {
    use crate::server::{services::auth, AppError};
    let state = super::state()?;
    let me = caller().await?.ok_or_else(AppError::unauthorized)?;
    auth::logout_all(&state, me.id()).await?;
    clear_session_cookie(&state);
    Ok(())
}

/// Deletes the account after the user typed their email (or `DELETE` for
/// accounts without a password); `services::auth::delete_account` checks it.
#[server(prefix = "/rpc", endpoint = "delete_account")]
pub async fn delete_account(confirmation: String) -> Result<(), ApiError> {
    use crate::server::{services::auth, AppError};
    let state = super::state()?;
    let me = caller().await?.ok_or_else(AppError::unauthorized)?;
    auth::delete_account(&state, me.id(), &confirmation).await?;
    clear_session_cookie(&state);
    Ok(())
}

/// What a user must type to confirm account deletion.
pub fn expected_confirmation(provider: &crate::vocab::Provider, email: Option<&str>) -> String {
    match (provider, email) {
        (crate::vocab::Provider::Email, Some(e)) => e.to_string(),
        _ => "DELETE".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_error_codes_round_trip() {
        for e in AuthFormError::ALL {
            assert_eq!(AuthFormError::from_code(e.code()), Some(e));
            assert!(!e.sentence().is_empty());
        }
        assert_eq!(AuthFormError::from_code("<script>"), None);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn service_errors_map_to_codes() {
        use crate::server::AppError;
        let code = |e: AppError| AuthFormError::from_app_error(&e).code();
        assert_eq!(code(AppError::Unauthorized("x".into())), "invalid");
        assert_eq!(code(AppError::bad_request("email: nope")), "email");
        assert_eq!(code(AppError::bad_request("password: short")), "length");
        assert_eq!(code(AppError::bad_request("name: long")), "name");
        assert_eq!(code(AppError::Conflict("x".into())), "exists");
        assert_eq!(code(AppError::internal("db down")), "failed");
    }
}
