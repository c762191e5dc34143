//! Mistral's Files API, as far as MistralChat needs it: downloading a file
//! a built-in tool made (`GET /v1/files/{id}/content`, the images of
//! `image_generation`, `/work/shared/mistral-api.md` §5 and §6.3).
//!
//! Same transport policy as the rest of the client (`client.rs`): bearer
//! key, request timeout, retries before a response is accepted, error
//! bodies read within bounds and mapped by [`MistralError::from_status`].
//! The id comes from Mistral's own answer, yet it is put in a URL path, so
//! it must be URL-safe before any request is made; the body is read up to
//! [`MAX_FILE_CONTENT_BYTES`]. Nothing here stores or inspects the bytes.
use super::client::{
    check_status, correlation_id, describe, read_capped, BodyEnd, Failure, MistralClient,
};
use super::errors::MistralError;
use crate::server::config::Secret;
use reqwest::header::ACCEPT;

/// The largest file downloaded (generated images are a few MB).
pub const MAX_FILE_CONTENT_BYTES: usize = 20 * 1024 * 1024;
/// Longest file id accepted (Mistral's are UUIDs, 36 characters).
const MAX_FILE_ID_LEN: usize = 128;

/// Whether `id` can go into a URL path as it is: 1–128 characters of
/// letters, digits, `-` and `_` (a UUID, hyphenated or not).
pub fn is_url_safe_file_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_FILE_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl MistralClient {
    /// `GET /v1/files/{file_id}/content`: the file's bytes. A file larger
    /// than [`MAX_FILE_CONTENT_BYTES`] or an id that is not URL-safe is
    /// [`MistralError::InvalidResponse`] (no request is made for the latter).
    pub async fn file_content(&self, key: &Secret, file_id: &str) -> Result<Vec<u8>, MistralError> {
        super::client::require_key(key)?;
        if !is_url_safe_file_id(file_id) {
            return Err(MistralError::InvalidResponse {
                detail: "the file id is not URL-safe".into(),
            });
        }
        let url = self.url(&format!("/v1/files/{file_id}/content"));
        let timeouts = self.timeouts();
        self.with_retry_loop("/v1/files/{id}/content", || {
            let rb = self
                .http
                .get(&url)
                .bearer_auth(key.expose())
                .header(ACCEPT, "application/octet-stream")
                .timeout(timeouts.request);
            async move {
                let resp = rb.send().await.map_err(|e| Failure::Retry(describe(e)))?;
                let resp = check_status(resp, timeouts.error_body).await?;
                let too_large = || {
                    Failure::Fatal(MistralError::InvalidResponse {
                        detail: format!("file larger than {MAX_FILE_CONTENT_BYTES} bytes"),
                    })
                };
                if resp
                    .content_length()
                    .is_some_and(|n| n > MAX_FILE_CONTENT_BYTES as u64)
                {
                    tracing::warn!(correlation_id = %correlation_id(resp.headers()), "mistral file over the size cap");
                    return Err(too_large());
                }
                let (bytes, end) = read_capped(resp, MAX_FILE_CONTENT_BYTES, None).await;
                match end {
                    BodyEnd::Complete => Ok(bytes),
                    // Nothing was stored yet, so a broken body is retried.
                    BodyEnd::Broken(detail) => Err(Failure::Retry(detail)),
                    BodyEnd::TimedOut => Err(Failure::Retry("timeout: body".into())),
                    BodyEnd::TooLarge => Err(too_large()),
                }
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::mistral::RetryPolicy;
    use axum::body::Body;
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use axum::Router;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn only_url_safe_ids_are_accepted() {
        for ok in [
            "933c5b5a-1c47-4cdd-84f6-f32526bd161b",
            "933c5b5a1c474cdd84f6f32526bd161b",
            "file_ABC-123",
        ] {
            assert!(is_url_safe_file_id(ok), "{ok}");
        }
        for bad in [
            "",
            "../v1/models",
            "a/b",
            "a?b=c",
            "a#b",
            "a%2Fb",
            "a b",
            "é",
            "a\r\nb",
            &"a".repeat(129),
        ] {
            assert!(!is_url_safe_file_id(bad), "{bad:?}");
        }
    }

    /// A local server answering `/v1/files/{id}/content`: `big` sends one
    /// byte past the cap (without a Content-Length), `huge` announces too
    /// much, `missing` is a 404, anything else three bytes.
    async fn serve(hits: Arc<AtomicUsize>) -> MistralClient {
        let app = Router::new().route(
            "/v1/files/{id}/content",
            get(move |Path(id): Path<String>| {
                let hits = hits.clone();
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    match id.as_str() {
                        "big" => {
                            let chunk = vec![0u8; 1024 * 1024];
                            let chunks = (0..=MAX_FILE_CONTENT_BYTES / chunk.len())
                                .map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
                            Response::new(Body::from_stream(futures::stream::iter(chunks)))
                        }
                        "huge" => {
                            // A stream (no size of its own), so the
                            // announced length is what goes out.
                            // It never ends: the client must refuse on
                            // the header alone.
                            use futures::StreamExt;
                            let piece = futures::stream::iter([Ok::<_, std::io::Error>(vec![0u8; 16])])
                                .chain(futures::stream::pending());
                            let mut r = Response::new(Body::from_stream(piece));
                            r.headers_mut().insert(
                                "content-length",
                                (MAX_FILE_CONTENT_BYTES + 1).to_string().parse().unwrap(),
                            );
                            r
                        }
                        "missing" => (
                            StatusCode::NOT_FOUND,
                            [("content-type", "application/json")],
                            r#"{"object":"error","message":"File not found","type":"invalid_request_error","code":"1300"}"#,
                        )
                            .into_response(),
                        _ => Response::new(Body::from(vec![1u8, 2, 3])),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MistralClient::new(reqwest::Client::new(), format!("http://{addr}")).with_retry(
            RetryPolicy {
                max_attempts: 2,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(1),
            },
        )
    }

    #[tokio::test]
    async fn downloads_within_the_cap_and_refuses_past_it() {
        let hits = Arc::new(AtomicUsize::new(0));
        let client = serve(hits.clone()).await;
        let key = Secret::new("k");
        assert_eq!(
            client.file_content(&key, "abc").await.unwrap(),
            vec![1, 2, 3]
        );
        for id in ["big", "huge"] {
            let err = client.file_content(&key, id).await.unwrap_err();
            assert!(
                matches!(&err, MistralError::InvalidResponse { detail } if detail.contains("larger than")),
                "{id}: {err:?}"
            );
        }
        let err = client.file_content(&key, "missing").await.unwrap_err();
        assert!(
            matches!(&err, MistralError::Rejected { status: 404, message } if message == "File not found"),
            "{err:?}"
        );
        // Too large and 404 are final: one request each, no retry.
        assert_eq!(hits.load(Ordering::SeqCst), 4);
        // An unsafe id never leaves the process.
        let err = client.file_content(&key, "../models").await.unwrap_err();
        assert!(
            matches!(err, MistralError::InvalidResponse { .. }),
            "{err:?}"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 4);
    }
}
