//! Reading documents and images with Mistral's OCR (`POST /v1/ocr`,
//! `/work/shared/mistral-api.md` §4), and the upload it needs for documents
//! (`POST /v1/files` with `purpose=ocr`, then `DELETE /v1/files/{id}`, §5).
//!
//! Images go inline as a data URI; documents (PDF, Word, PowerPoint) are
//! uploaded first, read by file id, then deleted from Mistral's storage so
//! no copy outlives the read. Same transport policy as `client.rs`: bearer
//! key, retries before a response is accepted (the upload is retried with
//! the same bytes), error bodies bounded and mapped by
//! [`MistralError::from_status`]. OCR can take a while on a long document,
//! so its timeout is [`OCR_TIMEOUT`], not the JSON endpoints' one.
use super::client::{check_status, describe, read_json, require_key, Failure, MistralClient};
use super::errors::MistralError;
use super::files::is_url_safe_file_id;
use crate::server::config::Secret;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Longest wait for one OCR or upload request.
pub const OCR_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest OCR response read (markdown of every page; images are not asked for).
pub const MAX_OCR_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// What OCR reads.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OcrDocument {
    /// A file uploaded with `purpose=ocr`.
    File { file_id: String },
    /// An image as a `data:` URI.
    ImageUrl { image_url: String },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OcrRequest {
    pub model: String,
    pub document: OcrDocument,
    /// Page images are never needed: only the markdown is kept.
    pub include_image_base64: bool,
    /// Tables inline in the markdown, so the model sees them.
    pub table_format: &'static str,
}

impl OcrRequest {
    pub fn new(model: impl Into<String>, document: OcrDocument) -> Self {
        Self {
            model: model.into(),
            document,
            include_image_base64: false,
            table_format: "markdown",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct OcrPage {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub markdown: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct OcrResponse {
    #[serde(default)]
    pub pages: Vec<OcrPage>,
    #[serde(default)]
    pub model: Option<String>,
}

impl OcrResponse {
    /// Each page's markdown, in page order.
    pub fn page_texts(mut self) -> Vec<String> {
        self.pages.sort_by_key(|p| p.index);
        self.pages.into_iter().map(|p| p.markdown).collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
struct UploadedFile {
    id: String,
}

impl MistralClient {
    /// `POST /v1/files` (`purpose=ocr`): the id Mistral gave the file.
    pub async fn upload_for_ocr(
        &self,
        key: &Secret,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<String, MistralError> {
        require_key(key)?;
        let url = self.url("/v1/files");
        let error_body = self.timeouts().error_body;
        let id: String = self
            .with_retry_loop("/v1/files", || {
                let part = reqwest::multipart::Part::bytes(bytes.to_vec())
                    .file_name(file_name.to_string());
                let form = reqwest::multipart::Form::new()
                    .text("purpose", "ocr")
                    .part("file", part);
                let rb = self
                    .http
                    .post(&url)
                    .bearer_auth(key.expose())
                    .header(ACCEPT, "application/json")
                    .multipart(form)
                    .timeout(OCR_TIMEOUT);
                async move {
                    let resp = rb.send().await.map_err(|e| Failure::Retry(describe(e)))?;
                    let resp = check_status(resp, error_body).await?;
                    read_json::<UploadedFile>(resp, 1024 * 1024)
                        .await
                        .map(|f| f.id)
                }
            })
            .await?;
        if !is_url_safe_file_id(&id) {
            return Err(MistralError::InvalidResponse {
                detail: "the file id is not URL-safe".into(),
            });
        }
        Ok(id)
    }

    /// `DELETE /v1/files/{id}`. Failures are only logged: the file was
    /// Mistral's copy for one read.
    pub async fn delete_file(&self, key: &Secret, file_id: &str) {
        if require_key(key).is_err() || !is_url_safe_file_id(file_id) {
            return;
        }
        let url = self.url(&format!("/v1/files/{file_id}"));
        let sent = self
            .http
            .delete(&url)
            .bearer_auth(key.expose())
            .timeout(self.timeouts().request)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::info!(status = r.status().as_u16(), "mistral kept an OCR upload"),
            Err(e) => tracing::info!(error = %describe(e), "mistral kept an OCR upload"),
        }
    }

    /// `POST /v1/ocr`: the markdown of each page.
    pub async fn ocr(&self, key: &Secret, req: &OcrRequest) -> Result<OcrResponse, MistralError> {
        require_key(key)?;
        let url = self.url("/v1/ocr");
        let body = serde_json::to_vec(req).map_err(|e| MistralError::InvalidResponse {
            detail: e.to_string(),
        })?;
        let error_body = self.timeouts().error_body;
        self.with_retry_loop("/v1/ocr", || {
            let rb = self
                .http
                .post(&url)
                .bearer_auth(key.expose())
                .header(ACCEPT, "application/json")
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone())
                .timeout(OCR_TIMEOUT);
            async move {
                let resp = rb.send().await.map_err(|e| Failure::Retry(describe(e)))?;
                let resp = check_status(resp, error_body).await?;
                read_json::<OcrResponse>(resp, MAX_OCR_RESPONSE_BYTES).await
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_asks_for_markdown_without_images() {
        let req = OcrRequest::new(
            "mistral-ocr-latest",
            OcrDocument::File {
                file_id: "f-1".into(),
            },
        );
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"model":"mistral-ocr-latest","document":{"type":"file","file_id":"f-1"},"include_image_base64":false,"table_format":"markdown"}"#
        );
        let img = OcrDocument::ImageUrl {
            image_url: "data:image/png;base64,AAAA".into(),
        };
        assert_eq!(
            serde_json::to_string(&img).unwrap(),
            r#"{"type":"image_url","image_url":"data:image/png;base64,AAAA"}"#
        );
    }

    #[test]
    fn pages_come_back_in_order_and_unknown_fields_are_ignored() {
        let r: OcrResponse = serde_json::from_str(
            r#"{"pages":[{"index":1,"markdown":"b","images":[],"dimensions":{"dpi":200}},{"index":0,"markdown":"a"}],"model":"mistral-ocr-2512","usage_info":{"pages_processed":2}}"#,
        )
        .unwrap();
        assert_eq!(r.page_texts(), vec!["a".to_string(), "b".to_string()]);
    }
}
