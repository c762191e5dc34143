//! `ApiError`: the one error every server function returns, compiled for the
//! server and the browser.
//!
//! It carries a [`ErrorKind`] the page can match on (signed out → go to the
//! login page; the rest → show the sentence) and the sentence itself, the
//! same text `/api/*` sends as `{"error": "…"}`. On the wire it is that JSON
//! object plus `"kind"`, with the HTTP status of the same failure on `/api`.
//!
//! What it must not do: carry internal details. A service's `AppError` turns
//! into an `ApiError` only through `From<AppError>` (in `server::error`),
//! which logs internal errors and keeps their sentence generic, so `?` on an
//! `AppResult` in a server function is safe. Failures of the server-function
//! machinery itself (unreadable arguments, a network error, an answer that is
//! not ours) map to fixed sentences here: the library's own texts never
//! reach the screen.
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What kind of failure, for the page to decide what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No session, or it ended: the page sends the person to sign in.
    SignedOut,
    Forbidden,
    /// Input that fails a rule; the sentence names the field.
    BadInput,
    /// Missing, or not the caller's (they answer the same).
    NotFound,
    Conflict,
    TooLarge,
    /// A file of a type the product does not take.
    UnsupportedType,
    /// Well-formed input that cannot be processed (e.g. a corrupt file).
    Unprocessable,
    /// A limit was reached; waiting helps.
    TooMany,
    /// The server is at capacity; waiting helps.
    Unavailable,
    NotImplemented,
    /// Mistral or Google failed.
    Upstream,
    /// Our fault; the details are in the server log only.
    Internal,
    /// The browser could not reach the server (never sent by the server).
    Network,
    /// An answer that is not ours, e.g. a proxy's error page (never sent by
    /// the server).
    Garbled,
}

impl ErrorKind {
    /// The HTTP status this kind answers with, on `/rpc` as on `/api`.
    pub fn status(self) -> u16 {
        match self {
            Self::SignedOut => 401,
            Self::Forbidden => 403,
            Self::BadInput => 400,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::TooLarge => 413,
            Self::UnsupportedType => 415,
            Self::Unprocessable => 422,
            Self::TooMany => 429,
            Self::Unavailable => 503,
            Self::NotImplemented => 501,
            Self::Upstream => 502,
            Self::Internal | Self::Network | Self::Garbled => 500,
        }
    }
}

/// A failed server function: what kind of failure and what to tell the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    /// The sentence to show; named `error` on the wire like `/api`'s bodies.
    #[serde(rename = "error")]
    pub message: String,
}

/// The sentence for an internal error (details stay in the log).
pub const INTERNAL: &str = "Something went wrong on the server — please try again";

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn is_signed_out(&self) -> bool {
        self.kind == ErrorKind::SignedOut
    }

    /// A server-side failure we do not explain to the client: logged here,
    /// answered with [`INTERNAL`] and status 500.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        #[cfg(feature = "ssr")]
        {
            tracing::error!(error = %detail, "internal error");
            set_response_status(500, None);
        }
        #[cfg(not(feature = "ssr"))]
        let _ = detail.to_string();
        Self::new(ErrorKind::Internal, INTERNAL)
    }
}

/// Records the status (and `Retry-After`) of a failed server function on
/// its HTTP response: server_fn answers every error with 500 otherwise.
/// Outside a server-function request (no `ResponseOptions`) it does nothing.
#[cfg(feature = "ssr")]
pub(crate) fn set_response_status(status: u16, retry_after_secs: Option<u64>) {
    use axum::http::{header, HeaderValue, StatusCode};
    let Some(resp) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    if let Ok(s) = StatusCode::from_u16(status) {
        resp.set_status(s);
    }
    if let Some(secs) = retry_after_secs {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.insert_header(header::RETRY_AFTER, v);
        }
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // On the server: the arguments could not be read — the caller's
            // mistake, so a 400 like `/api`'s invalid bodies.
            ServerFnErrorErr::Args(detail) => {
                #[cfg(feature = "ssr")]
                set_response_status(400, None);
                Self::new(ErrorKind::BadInput, format!("Invalid arguments: {detail}"))
            }
            ServerFnErrorErr::MissingArg(name) => {
                #[cfg(feature = "ssr")]
                set_response_status(400, None);
                Self::new(ErrorKind::BadInput, format!("{name}: required"))
            }
            // In the browser: the request never got an answer.
            ServerFnErrorErr::Request(_) => {
                Self::new(ErrorKind::Network, crate::client::UNREACHABLE)
            }
            // In the browser: an answer that is not one of ours.
            ServerFnErrorErr::Deserialization(_)
            | ServerFnErrorErr::Serialization(_)
            | ServerFnErrorErr::UnsupportedRequestMethod(_)
                if !cfg!(feature = "ssr") =>
            {
                Self::new(ErrorKind::Garbled, crate::client::GARBLED)
            }
            // On the server: the machinery failed (no request parts, a
            // response that could not be built). Our fault, not explained.
            other => Self::internal(other),
        }
    }
}

impl From<ServerFnErrorErr> for ApiError {
    fn from(e: ServerFnErrorErr) -> Self {
        Self::from_server_fn_error(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_shape_is_the_api_error_body_plus_a_kind() {
        let e = ApiError::new(ErrorKind::SignedOut, "Please sign in");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"kind": "signed_out", "error": "Please sign in"})
        );
        let back: ApiError = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
        assert!(back.is_signed_out());
    }

    #[test]
    fn an_answer_that_is_not_ours_is_garbled_or_internal() {
        let e = ApiError::de(leptos::server_fn::Bytes::from_static(
            b"<html>502 Bad Gateway</html>",
        ));
        // In the browser build it is "garbled"; a server never decodes one.
        assert!(matches!(e.kind, ErrorKind::Garbled | ErrorKind::Internal));
        assert!(!e.message.contains("html"));
    }

    #[test]
    fn unreadable_arguments_are_the_callers_mistake() {
        let e = ApiError::from_server_fn_error(ServerFnErrorErr::MissingArg("text".into()));
        assert_eq!(e.kind, ErrorKind::BadInput);
        assert_eq!(e.kind.status(), 400);
        assert_eq!(e.message, "text: required");
    }
}
