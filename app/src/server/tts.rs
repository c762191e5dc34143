//! The operator's text-to-speech provider — the reference project's
//! contract, reached at `TTS_API_BASE` with the operator's `TTS_API_KEY`:
//! `POST /tts/generate` `{api_key, text, lang}` answers MP3 bytes,
//! `POST /tts/validate` `{api_key}` answers JSON saying whether the key is
//! good.
//!
//! Owns the HTTP of that provider: timeouts, bounded error bodies (read with
//! the Mistral client's [`read_capped`]), status → [`TtsError`] → the
//! sentence of an [`AppError`]. Audio is passed on chunk by chunk as it
//! arrives, never buffered whole. It must not log the key (it travels in the
//! JSON body, which is never logged) or the text, and knows nothing about
//! users: the service decides when this provider is used.
use crate::server::config::{Config, Secret};
use crate::server::mistral::client::{describe, read_capped, BodyEnd, MAX_ERROR_BODY_BYTES};
use crate::server::mistral::errors::{error_message, retry_after};
use crate::server::AppError;
use futures::Stream;
use reqwest::header::ACCEPT;
use std::time::Duration;

/// Until the provider's response headers arrive.
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest silence between two chunks of audio.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Reading a failed response's body, or a validation answer.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest validation answer read.
const MAX_VALIDATE_BYTES: usize = 64 * 1024;

/// What went wrong with the provider. `Display` is for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TtsError {
    /// 401 or 403: the operator's key is not (or no longer) good.
    #[error("the TTS provider refused the operator's key ({status})")]
    Refused { status: u16 },
    #[error("TTS provider rate limit, retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Another 4xx, with the body's message.
    #[error("the TTS provider rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// 5xx, connect errors and timeouts before any audio.
    #[error("TTS provider unavailable: {detail}")]
    Unavailable { detail: String },
    /// The audio broke off after it started.
    #[error("TTS audio interrupted: {detail}")]
    Interrupted { detail: String },
}

impl From<TtsError> for AppError {
    fn from(e: TtsError) -> Self {
        tracing::warn!(error = %e, "tts provider request failed");
        match e {
            TtsError::Refused { .. } => AppError::Upstream(
                "The text-to-speech provider refused this server's key — tell the operator".into(),
            ),
            TtsError::RateLimited { retry_after_secs } => AppError::TooManyRequests {
                message: format!(
                    "The text-to-speech provider is busy, retry in {retry_after_secs} s"
                ),
                retry_after_secs,
            },
            TtsError::Rejected { message, .. } => AppError::Upstream(format!(
                "The text-to-speech provider rejected the request: {message}"
            )),
            TtsError::Unavailable { .. } | TtsError::Interrupted { .. } => AppError::Upstream(
                "The text-to-speech provider is unavailable right now — please try again in a moment"
                    .into(),
            ),
        }
    }
}

/// The configured provider (`TTS_API_BASE` and `TTS_API_KEY`).
#[derive(Clone)]
pub struct TtsProvider {
    http: reqwest::Client,
    base: String,
    key: Secret,
}

impl std::fmt::Debug for TtsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TtsProvider")
            .field("base", &self.base)
            .finish()
    }
}

impl TtsProvider {
    /// The provider, when the operator configured one (both variables).
    pub fn configured(config: &Config, http: &reqwest::Client) -> Option<TtsProvider> {
        match (&config.tts_api_base, &config.tts_api_key) {
            (Some(base), Some(key)) if !key.expose().trim().is_empty() => Some(TtsProvider {
                http: http.clone(),
                base: base.trim_end_matches('/').to_string(),
                key: key.clone(),
            }),
            _ => None,
        }
    }

    async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
        accept: &'static str,
    ) -> Result<reqwest::Response, TtsError> {
        let sent = self
            .http
            .post(format!("{}{path}", self.base))
            .header(ACCEPT, accept)
            .json(&body)
            .send();
        match tokio::time::timeout(FIRST_BYTE_TIMEOUT, sent).await {
            Err(_) => Err(TtsError::Unavailable {
                detail: format!(
                    "timeout: no response headers within {} s",
                    FIRST_BYTE_TIMEOUT.as_secs()
                ),
            }),
            Ok(Err(e)) => Err(TtsError::Unavailable {
                detail: describe(e),
            }),
            Ok(Ok(resp)) => Ok(resp),
        }
    }

    /// `POST /tts/generate`: the MP3 of `text`, chunk by chunk as the
    /// provider sends it. A failure before the audio starts is an `Err`;
    /// after, the stream's last item.
    pub async fn generate(
        &self,
        text: &str,
        lang: &str,
    ) -> Result<impl Stream<Item = Result<Vec<u8>, TtsError>> + Send + 'static, TtsError> {
        let body = serde_json::json!({
            "api_key": self.key.expose(),
            "text": text,
            "lang": lang,
        });
        let resp = check(self.post("/tts/generate", body, "audio/mpeg").await?).await?;
        Ok(futures::stream::unfold(Some(resp), |state| async move {
            let mut resp = state?;
            match tokio::time::timeout(IDLE_TIMEOUT, resp.chunk()).await {
                Err(_) => Some((
                    Err(TtsError::Interrupted {
                        detail: format!("no audio for {} s", IDLE_TIMEOUT.as_secs()),
                    }),
                    None,
                )),
                Ok(Ok(Some(bytes))) => Some((Ok(bytes.to_vec()), Some(resp))),
                Ok(Ok(None)) => None,
                Ok(Err(e)) => Some((
                    Err(TtsError::Interrupted {
                        detail: describe(e),
                    }),
                    None,
                )),
            }
        }))
    }

    /// `POST /tts/validate`: whether the provider accepts the operator's
    /// key. A 401/403, or a JSON answer with `valid` (or `ok`) false, is
    /// `Ok(false)`; any other 2xx is `Ok(true)`.
    pub async fn validate(&self) -> Result<bool, TtsError> {
        let body = serde_json::json!({ "api_key": self.key.expose() });
        let resp = self.post("/tts/validate", body, "application/json").await?;
        if matches!(resp.status().as_u16(), 401 | 403) {
            return Ok(false);
        }
        let resp = check(resp).await?;
        let (bytes, end) = read_capped(resp, MAX_VALIDATE_BYTES, Some(BODY_TIMEOUT)).await;
        if end != BodyEnd::Complete {
            return Err(TtsError::Unavailable {
                detail: format!("validation answer cut short: {end:?}"),
            });
        }
        let said = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
        let refused = said.as_ref().is_some_and(|v| {
            ["valid", "ok"]
                .iter()
                .any(|k| v.get(*k).and_then(serde_json::Value::as_bool) == Some(false))
        });
        Ok(!refused)
    }
}

/// Passes a 2xx response; reads (bounded) and classifies anything else.
async fn check(resp: reqwest::Response) -> Result<reqwest::Response, TtsError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let code = status.as_u16();
    let headers = resp.headers().clone();
    let (bytes, end) = read_capped(resp, MAX_ERROR_BODY_BYTES, Some(BODY_TIMEOUT)).await;
    let body = match end {
        BodyEnd::Complete => String::from_utf8_lossy(&bytes).into_owned(),
        _ => String::new(),
    };
    Err(match code {
        401 | 403 => TtsError::Refused { status: code },
        429 => TtsError::RateLimited {
            retry_after_secs: retry_after(&headers),
        },
        400..=499 => TtsError::Rejected {
            status: code,
            message: error_message(&body).unwrap_or_else(|| format!("HTTP {code}")),
        },
        _ => TtsError::Unavailable {
            detail: format!("HTTP {code}: {}", error_message(&body).unwrap_or_default()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_complete_configuration_is_a_provider() {
        let http = reqwest::Client::new();
        let mut c = Config::for_tests("sqlite::memory:");
        assert!(TtsProvider::configured(&c, &http).is_none());
        c.tts_api_base = Some("http://127.0.0.1:9/".into());
        assert!(TtsProvider::configured(&c, &http).is_none());
        c.tts_api_key = Some(Secret::new("operator-key"));
        let p = TtsProvider::configured(&c, &http).unwrap();
        assert_eq!(p.base, "http://127.0.0.1:9");
        assert!(!format!("{p:?}").contains("operator-key"));
    }

    #[test]
    fn failures_become_sentences_without_details() {
        let app: AppError = TtsError::Refused { status: 401 }.into();
        assert_eq!(app.status().as_u16(), 502);
        assert!(app.public_message().contains("refused this server's key"));
        let app: AppError = TtsError::RateLimited {
            retry_after_secs: 3,
        }
        .into();
        assert_eq!(app.status().as_u16(), 429);
        let app: AppError = TtsError::Unavailable {
            detail: "connect: refused 10.0.0.1".into(),
        }
        .into();
        assert!(!app.public_message().contains("10.0.0.1"));
    }
}
