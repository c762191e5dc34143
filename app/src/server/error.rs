//! `AppError`: the one error type of the service layer.
//!
//! Every variant maps to an HTTP status and a sentence a person can act on.
//! Internal details (database errors, upstream bodies) are logged here and
//! never sent to the client. Server functions get the same sentence and
//! status through `From<AppError> for ApiError`, so `?` is safe there.
use crate::api::error::set_response_status;
use crate::api::{ApiError, ErrorKind};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input that fails validation; the message names the field.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// Missing *or not yours*: both answer the same, so ids cannot be probed.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the sentence names the supported types.
    #[error("{0}")]
    UnsupportedType(String),
    /// 422: well-formed but unusable input, e.g. a corrupt file.
    #[error("{0}")]
    Unprocessable(String),
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// The server is at a capacity limit (e.g. the password-hashing queue is
    /// full): 503 with `Retry-After`.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    NotImplemented(String),
    /// An upstream service (Mistral, Google) failed in a way the user should know about.
    #[error("{0}")]
    Upstream(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::BadRequest(msg.into())
    }
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }
    pub fn unauthorized() -> Self {
        Self::Unauthorized(
            "Not signed in, or the session has expired — please sign in again".into(),
        )
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The sentence shown to people; internal errors stay generic.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => crate::api::error::INTERNAL.into(),
            other => other.to_string(),
        }
    }

    /// Internal details go to the log (with the request's span, so the
    /// line carries its request id), never to the client.
    fn log(&self) {
        if let Self::Internal(detail) = self {
            tracing::error!(error = %detail, "internal error");
        }
    }

    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests {
                retry_after_secs, ..
            }
            | Self::Unavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::BadRequest(_) => ErrorKind::BadInput,
            Self::Unauthorized(_) => ErrorKind::SignedOut,
            Self::Forbidden(_) => ErrorKind::Forbidden,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::Conflict(_) => ErrorKind::Conflict,
            Self::PayloadTooLarge(_) => ErrorKind::TooLarge,
            Self::UnsupportedType(_) => ErrorKind::UnsupportedType,
            Self::Unprocessable(_) => ErrorKind::Unprocessable,
            Self::TooManyRequests { .. } => ErrorKind::TooMany,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::NotImplemented(_) => ErrorKind::NotImplemented,
            Self::Upstream(_) => ErrorKind::Upstream,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Internal(format!("database: {e}"))
    }
}

impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(e: sea_orm::TransactionError<AppError>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(app) => app,
        }
    }
}

/// A service error leaving through a server function: logged like on
/// `/api`, the response gets the same status (and `Retry-After`), and the
/// browser gets the kind and the public sentence — never an internal detail.
impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        e.log();
        set_response_status(e.status().as_u16(), e.retry_after_secs());
        ApiError::new(e.kind(), e.public_message())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let mut resp = (
            status,
            axum::Json(serde_json::json!({ "error": self.public_message() })),
        )
            .into_response();
        if let Some(retry_after_secs) = self.retry_after_secs() {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                resp.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// A value refused by one of the parsers of [`crate::vocab::input`] becomes a
/// 400 naming the field the way the caller spelled it
/// (`ModelId::parse(raw).field("defaultModel")?`).
pub trait FieldResult<T> {
    fn field(self, name: &str) -> AppResult<T>;
}

impl<T> FieldResult<T> for Result<T, crate::vocab::InputError> {
    fn field(self, name: &str) -> AppResult<T> {
        self.map_err(|e| AppError::BadRequest(e.at(name)))
    }
}
