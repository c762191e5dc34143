//! `MistralError`: what can go wrong talking to Mistral, with a sentence a
//! person understands ([`MistralError::user_message`]) and the mapping to the
//! service layer's [`AppError`].
//!
//! Owns the classification of HTTP statuses and the lenient reading of
//! Mistral's error bodies (`/work/shared/mistral-api.md` §2). It must not
//! perform requests or decide about retries (that is `client.rs`), and the
//! `Display` text — which may carry upstream detail — is for logs only.
use crate::server::AppError;
use serde_json::Value;

/// Seconds to wait after a 429 that names no delay.
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 10;

/// Longest upstream message passed on to a person.
const MAX_MESSAGE_CHARS: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MistralError {
    /// 401 (or no key at all).
    #[error("Mistral refused the API key (401)")]
    Unauthorized,
    /// 429.
    #[error("Mistral rate limit (429), retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Any other 4xx (400, 403, 404, 422, …) with the body's message.
    #[error("Mistral rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// 5xx, connect errors and timeouts, after the bounded retries.
    #[error("Mistral unavailable after {attempts} attempt(s): {detail}")]
    Unavailable { attempts: u32, detail: String },
    /// The stream broke, ended without `[DONE]`, stalled, or carried an
    /// in-stream error object — after the deltas it delivered.
    #[error("Mistral stream interrupted: {detail}")]
    Interrupted { detail: String },
    /// Mistral ended a conversation stream with its own error event
    /// (`conversation.response.error`: a moderation refusal, a tool failure).
    #[error("Mistral ended the answer with an error ({code:?}): {message}")]
    StreamError {
        message: String,
        code: Option<String>,
    },
    /// A 2xx body that is not what the API documents.
    #[error("unreadable Mistral response: {detail}")]
    InvalidResponse { detail: String },
}

impl MistralError {
    /// The sentence to show a person.
    pub fn user_message(&self) -> String {
        match self {
            Self::Unauthorized => {
                "Your Mistral API key was refused — update it in Settings → Models".into()
            }
            Self::RateLimited { retry_after_secs } => {
                format!("Mistral is rate-limiting this key, retry in {retry_after_secs} s")
            }
            Self::Rejected { message, .. } => format!("Mistral rejected the request: {message}"),
            Self::Unavailable { .. } => {
                "Mistral is unavailable right now — please try again in a moment".into()
            }
            Self::Interrupted { .. } => "The answer was interrupted".into(),
            Self::StreamError { message, .. } if message.trim().is_empty() => {
                "Mistral stopped the answer with an error — retry".into()
            }
            Self::StreamError { message, .. } => {
                format!("Mistral stopped the answer: {}", truncate(message.trim()))
            }
            Self::InvalidResponse { .. } => {
                "Mistral sent an answer that could not be read — please try again".into()
            }
        }
    }

    /// Seconds to wait before retrying, for a rate limit.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// Builds the error for a non-success status from its headers and body.
    pub fn from_status(status: u16, headers: &reqwest::header::HeaderMap, body: &str) -> Self {
        match status {
            401 => Self::Unauthorized,
            429 => Self::RateLimited {
                retry_after_secs: retry_after(headers),
            },
            400..=499 => Self::Rejected {
                status,
                message: error_message(body).unwrap_or_else(|| format!("HTTP {status}")),
            },
            _ => Self::Unavailable {
                attempts: 1,
                detail: format!("HTTP {status}: {}", error_message(body).unwrap_or_default()),
            },
        }
    }
}

/// `Retry-After` (integer seconds), else the older `ratelimitbysize-reset`,
/// else [`DEFAULT_RETRY_AFTER_SECS`]. Never less than 1 s.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> u64 {
    ["retry-after", "ratelimitbysize-reset"]
        .iter()
        .find_map(|name| {
            headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
        })
        .map(|s| (s.ceil() as u64).max(1))
        .unwrap_or(DEFAULT_RETRY_AFTER_SECS)
}

/// The human-readable message of an error body, whatever its shape:
/// `{"message": "…"}`, `{"message": {"detail": […]}}`, `{"detail": "…"}`,
/// `{"detail": [{"loc": […], "msg": "…"}]}`, `{"error": {"message": "…"}}`,
/// `{"error": "…"}` or plain text. `None` for an empty body.
pub fn error_message(body: &str) -> Option<String> {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return None;
    }
    let msg = match serde_json::from_str::<Value>(trimmed) {
        Ok(v) => message_of(&v).unwrap_or_else(|| trimmed.to_string()),
        Err(_) => trimmed.to_string(),
    };
    let msg = msg.trim();
    if msg.is_empty() {
        return None;
    }
    Some(truncate(msg))
}

fn message_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(detail_item).collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        Value::Object(map) => ["message", "detail", "error", "msg"]
            .iter()
            .find_map(|k| map.get(*k).and_then(message_of)),
        _ => None,
    }
}

/// One pydantic validation item: `"store: Extra inputs are not permitted"`.
fn detail_item(item: &Value) -> Option<String> {
    let Some(msg) = item.get("msg").and_then(Value::as_str) else {
        return message_of(item);
    };
    let loc: Vec<String> = item
        .get("loc")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter(|p| p.as_str() != Some("body"))
                .map(|p| match p {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(if loc.is_empty() {
        msg.to_string()
    } else {
        format!("{}: {msg}", loc.join("."))
    })
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The product's answer to a Mistral failure. A refused Mistral key is *not*
/// a 401 here: our 401 means "your session is gone" and would sign the
/// person out, so it is a 502 with the sentence telling them to fix the key.
impl From<MistralError> for AppError {
    fn from(e: MistralError) -> Self {
        match &e {
            MistralError::RateLimited { retry_after_secs } => AppError::TooManyRequests {
                message: e.user_message(),
                retry_after_secs: *retry_after_secs,
            },
            _ => {
                tracing::warn!(error = %e, "mistral request failed");
                AppError::Upstream(e.user_message())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn reads_every_documented_body_shape() {
        assert_eq!(
            error_message(r#"{"detail":"Unauthorized"}"#).unwrap(),
            "Unauthorized"
        );
        assert_eq!(
            error_message(r#"{"message":"Unauthorized","request_id":"c61f"}"#).unwrap(),
            "Unauthorized"
        );
        assert_eq!(error_message("").as_deref(), None);
        assert_eq!(
            error_message(r#"{"detail":[{"type":"extra_forbidden","loc":["body","store"],"msg":"Extra inputs are not permitted","input":false},{"type":"extra_forbidden","loc":["body","messages",0,"assistant","reasoning_content"],"msg":"Extra inputs are not permitted"}]}"#).unwrap(),
            "store: Extra inputs are not permitted; messages.0.assistant.reasoning_content: Extra inputs are not permitted"
        );
        assert_eq!(
            error_message(r#"{"object":"error","message":{"detail":[{"type":"float_type","loc":["body","top_p"],"msg":"Input should be a valid number","input":null}]},"type":"invalid_request_error","param":null,"code":null}"#).unwrap(),
            "top_p: Input should be a valid number"
        );
        assert_eq!(
            error_message(r#"{"object":"error","message":"Rate limit exceeded","type":"rate_limited","param":null,"code":"1300"}"#).unwrap(),
            "Rate limit exceeded"
        );
        assert_eq!(
            error_message(r#"{"error":{"message":"model not found","type":"x"}}"#).unwrap(),
            "model not found"
        );
        assert_eq!(
            error_message("upstream connect error\n").unwrap(),
            "upstream connect error"
        );
        assert_eq!(error_message(r#"{"other":1}"#).unwrap(), r#"{"other":1}"#);
        let long = "é".repeat(500);
        assert_eq!(
            error_message(&long).unwrap().chars().count(),
            MAX_MESSAGE_CHARS + 1
        );
    }

    #[test]
    fn statuses_map_to_sentences() {
        let none = HeaderMap::new();
        let e = MistralError::from_status(401, &none, r#"{"detail":"Unauthorized"}"#);
        assert_eq!(
            e.user_message(),
            "Your Mistral API key was refused — update it in Settings → Models"
        );
        let e = MistralError::from_status(429, &headers(&[("retry-after", "7")]), "");
        assert_eq!(
            e.user_message(),
            "Mistral is rate-limiting this key, retry in 7 s"
        );
        let e = MistralError::from_status(429, &none, "");
        assert_eq!(e.retry_after_secs(), Some(10));
        let e = MistralError::from_status(429, &headers(&[("ratelimitbysize-reset", "2.2")]), "");
        assert_eq!(e.retry_after_secs(), Some(3));
        let e = MistralError::from_status(422, &none, "");
        assert_eq!(e.user_message(), "Mistral rejected the request: HTTP 422");
        let e = MistralError::from_status(
            400,
            &none,
            r#"{"object":"error","message":"Invalid model: nope","type":"invalid_model","param":null,"code":"1500"}"#,
        );
        assert_eq!(
            e.user_message(),
            "Mistral rejected the request: Invalid model: nope"
        );
        let e = MistralError::from_status(503, &none, "overloaded");
        assert_eq!(
            e.user_message(),
            "Mistral is unavailable right now — please try again in a moment"
        );
        assert_eq!(
            MistralError::Interrupted {
                detail: "eof".into()
            }
            .user_message(),
            "The answer was interrupted"
        );
    }

    #[test]
    fn maps_to_app_errors() {
        let app: AppError = MistralError::RateLimited {
            retry_after_secs: 4,
        }
        .into();
        assert!(matches!(
            app,
            AppError::TooManyRequests {
                retry_after_secs: 4,
                ..
            }
        ));
        assert_eq!(app.status().as_u16(), 429);
        let app: AppError = MistralError::Unauthorized.into();
        assert_eq!(app.status().as_u16(), 502);
        assert_eq!(
            app.public_message(),
            "Your Mistral API key was refused — update it in Settings → Models"
        );
        let app: AppError = MistralError::Interrupted { detail: "x".into() }.into();
        assert_eq!(app.public_message(), "The answer was interrupted");
    }
}
