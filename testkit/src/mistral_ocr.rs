//! The fake's document endpoints (`/work/shared/mistral-api.md` §4, §5):
//! `POST /v1/files` (multipart upload) and `POST /v1/ocr`.
//!
//! Both check the key, apply forced failures and log the request like every
//! other endpoint (`prelude`). An upload's log entry has a JSON summary as
//! its body, not the file: `{"purpose","filename","bytes","sha256"}` (hex
//! SHA-256 of the file). An OCR request's entry is the body as received.
//!
//! # `POST /v1/files`
//! Parts `file` (binary; its file name is the file's `filename`, `upload`
//! when the part has none) and `purpose` (`fine-tune`, `batch`, `ocr` or
//! `audio`; default `fine-tune`); other parts are ignored. No `file` part (or
//! no multipart body) → 422 with FastAPI's `missing` detail; another purpose
//! → 422 `enum`. The bytes are kept by this fake instance under a new uuid
//! ([`FakeMistral::uploaded_file`]) and the answer is the `FileSchema` of
//! §5. `mimetype` comes from the content (PDF, PNG, JPEG, GIF, WebP), else
//! from the part's content type, else `application/octet-stream`;
//! `sample_type` is `ocr_input` (`batch_request` for `batch`, `instruct` for
//! `fine-tune`). `GET /v1/files/{id}/content` is unchanged: for any id,
//! uploaded or not, it serves the generated PNG of that id.
//!
//! # `POST /v1/ocr`
//! Validation as Mistral: top-level fields of `OCRRequest` only (others →
//! 422 `extra_forbidden`), `model` and `document` required (422 `missing`),
//! `model` a string naming a `mistral-ocr…` model (else 400 `invalid_model`),
//! `document` one of `{"type":"file","file_id"}`,
//! `{"type":"image_url","image_url": url | {"url"}}`,
//! `{"type":"document_url","document_url","document_name"?}` (unknown tag →
//! 422 `union_tag_invalid`, extra or missing fields → 422), `pages` null, a
//! list of 0-based indexes, one index, or a string such as `"0,2-4"`.
//! An unknown `file_id` → 404 with Mistral's error object `File not found`.
//!
//! What the fake "reads", deterministically:
//! - a PDF (bytes starting `%PDF-`: an uploaded file, or a `data:` URI in
//!   `document_url`): one page per page of its page tree, each page's
//!   markdown being the strings its content stream shows with `Tj`/`TJ`,
//!   joined with `\n` ([`crate::pdf::pdf_page_texts`]). For a PDF from
//!   [`crate::pdf::pdf_with_pages`] that is exactly the text of each page:
//!   `pdf_with_pages(&["# Page 1\n\nAlpha bravo"])` reads as one page with
//!   markdown `"# Page 1\n\nAlpha bravo"`;
//! - an image (any `image_url` `data:` URI; an uploaded file or
//!   `document_url` `data:` URI that is PNG, JPEG, GIF or WebP): one page
//!   whose markdown is the planted text, if the bytes hold the marker
//!   `OCRTEXT:` (text up to a NUL or the end; in a PNG, up to the end of the
//!   chunk holding it — [`crate::pdf::png_with_text`] plants it in a `tEXt`
//!   chunk), else `Text read from an image of <n> bytes` (n = decoded size);
//! - an `http(s)` URL (`image_url` or `document_url`; nothing is fetched):
//!   one page, `Text read from the image at <url>` or `Text read from the
//!   document at <url>`, and `doc_size_bytes` null;
//! - anything else (random bytes, a PDF without pages, bad base64, another
//!   URL scheme): 422 with Mistral's error object, message `The document
//!   could not be processed: <reason>`.
//!
//! `pages` keeps only those pages (in document order, with their original
//! `index`); an index past the last page → 400 error object. If the text of
//! any page of the document holds `[[fake:ocr-error]]`, the answer is 500
//! with an error object. Every page has no images, tables or links, null
//! header and footer and the dimensions of a US Letter page at 200 dpi; the
//! model is `mistral-ocr-2512`; `usage_info` counts the pages returned and
//! the document's size in bytes.
use super::{error_object, js, json_response, lock, now_secs, prelude, Admission, FakeMistral};
use crate::pdf::{pdf_page_texts, OCR_TEXT_MARKER};
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{post, MethodRouter};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// Largest request body the two endpoints accept (axum's default is 2 MB).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// `POST /v1/files`, with the larger body limit.
pub(super) fn upload_route() -> MethodRouter<FakeMistral> {
    post(upload).layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// `POST /v1/ocr`, with the larger body limit.
pub(super) fn ocr_route() -> MethodRouter<FakeMistral> {
    post(ocr).layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// A page text that makes `POST /v1/ocr` answer 500.
pub const OCR_ERROR_DIRECTIVE: &str = "[[fake:ocr-error]]";

/// The model every OCR answer names.
pub const OCR_MODEL: &str = "mistral-ocr-2512";

/// A file uploaded to one fake instance.
#[derive(Debug, Clone)]
pub(super) struct UploadedFile {
    bytes: Bytes,
}

impl FakeMistral {
    /// The bytes of file `id` uploaded to this instance (`POST /v1/files`).
    pub fn uploaded_file(&self, id: &str) -> Option<Vec<u8>> {
        lock(&self.files).get(id).map(|f| f.bytes.to_vec())
    }
}

/// An error answer: status and JSON body.
struct Refusal(u16, String);

impl Refusal {
    fn response(self) -> Response {
        json_response(self.0, self.1)
    }
}

/// `{"detail":[{type, loc, msg, input}]}` with status 422 (FastAPI).
fn detail_422(kind: &str, loc: &[Value], msg: &str, input: &Value) -> Refusal {
    let loc = serde_json::to_string(loc).unwrap_or_else(|_| "[]".into());
    Refusal(
        422,
        format!(
            "{{\"detail\":[{{\"type\":{},\"loc\":{loc},\"msg\":{},\"input\":{input}}}]}}",
            js(kind),
            js(msg)
        ),
    )
}

fn loc(parts: &[&str]) -> Vec<Value> {
    parts.iter().map(|p| Value::from(*p)).collect()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The media type of an image by its first bytes.
fn image_type(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(PNG_SIGNATURE) {
        Some("image/png")
    } else if data.starts_with(b"\xFF\xD8\xFF") {
        Some("image/jpeg")
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if data.len() >= 12 && data.starts_with(b"RIFF") && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn is_pdf(data: &[u8]) -> bool {
    data.starts_with(b"%PDF-")
}

// ---------------------------------------------------------------------------
// POST /v1/files
// ---------------------------------------------------------------------------

const PURPOSES: [&str; 4] = ["fine-tune", "batch", "ocr", "audio"];

/// `POST /v1/files`.
async fn upload(
    State(fake): State<FakeMistral>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let mut purpose: Option<String> = None;
    // (file name, part content type, bytes)
    let mut file: Option<(Option<String>, Option<String>, Bytes)> = None;
    let mut too_large = false;
    if let Ok(mut parts) = multipart {
        loop {
            let field = match parts.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(e) => {
                    too_large = e.status() == StatusCode::PAYLOAD_TOO_LARGE;
                    break;
                }
            };
            let name = field.name().map(str::to_string);
            match name.as_deref() {
                Some("purpose") => match field.text().await {
                    Ok(t) => purpose = Some(t),
                    Err(e) => {
                        too_large = e.status() == StatusCode::PAYLOAD_TOO_LARGE;
                        break;
                    }
                },
                Some("file") => {
                    let name = field.file_name().map(str::to_string);
                    let ctype = field.content_type().map(str::to_string);
                    match field.bytes().await {
                        Ok(b) => file = Some((name, ctype, b)),
                        Err(e) => {
                            too_large = e.status() == StatusCode::PAYLOAD_TOO_LARGE;
                            break;
                        }
                    }
                }
                _ => {
                    if field.bytes().await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    let filename = file
        .as_ref()
        .map(|(name, _, _)| name.clone().unwrap_or_else(|| "upload".into()));
    let summary = json!({
        "purpose": purpose,
        "filename": filename,
        "bytes": file.as_ref().map_or(0, |(_, _, b)| b.len()),
        "sha256": file.as_ref().map(|(_, _, b)| {
            Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect::<String>()
        }),
    });
    if let Admission::Reject(resp) = prelude(&fake, &method, &uri, &headers, &summary, false) {
        return resp;
    }
    if too_large {
        return json_response(
            413,
            error_object("File too large", "invalid_request_error", None),
        );
    }
    let (Some(filename), Some((_, ctype, bytes))) = (filename, file) else {
        return detail_422(
            "missing",
            &loc(&["body", "file"]),
            "Field required",
            &Value::Null,
        )
        .response();
    };
    let purpose = purpose.unwrap_or_else(|| "fine-tune".into());
    if !PURPOSES.contains(&purpose.as_str()) {
        return json_response(
            422,
            format!(
                "{{\"detail\":[{{\"type\":\"enum\",\"loc\":[\"body\",\"purpose\"],\"msg\":\"Input should be 'fine-tune', 'batch', 'ocr' or 'audio'\",\"input\":{},\"ctx\":{{\"expected\":\"'fine-tune', 'batch', 'ocr' or 'audio'\"}}}}]}}",
                js(&purpose)
            ),
        );
    }
    let mimetype = if is_pdf(&bytes) {
        "application/pdf".to_string()
    } else if let Some(t) = image_type(&bytes) {
        t.to_string()
    } else {
        ctype
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "application/octet-stream".into())
    };
    let sample_type = match purpose.as_str() {
        "batch" => "batch_request",
        "fine-tune" => "instruct",
        _ => "ocr_input",
    };
    let id = uuid::Uuid::new_v4().to_string();
    let size = bytes.len();
    lock(&fake.files).insert(id.clone(), UploadedFile { bytes });
    json_response(
        200,
        format!(
            "{{\"id\":{},\"object\":\"file\",\"bytes\":{size},\"created_at\":{},\"filename\":{},\"purpose\":{},\"sample_type\":{},\"num_lines\":0,\"mimetype\":{},\"source\":\"upload\"}}",
            js(&id),
            now_secs(),
            js(&filename),
            js(&purpose),
            js(sample_type),
            js(&mimetype),
        ),
    )
}

// ---------------------------------------------------------------------------
// POST /v1/ocr
// ---------------------------------------------------------------------------

/// Top-level fields of `OCRRequest` ([PY] `ocrrequest.py`, §4).
const OCR_FIELDS: &[&str] = &[
    "model",
    "id",
    "document",
    "pages",
    "include_image_base64",
    "image_limit",
    "image_min_size",
    "bbox_annotation_format",
    "document_annotation_format",
    "document_annotation_prompt",
    "table_format",
    "extract_header",
    "extract_footer",
    "include_blocks",
    "confidence_scores_granularity",
];

enum Source {
    File(String),
    ImageUrl(String),
    DocumentUrl(String),
}

struct OcrRequest {
    document: Source,
    /// The pages asked for (`None`: all).
    pages: Option<BTreeSet<usize>>,
}

/// FastAPI's `extra_forbidden` (as for chat requests).
fn extra(loc_parts: &[Value], input: &Value) -> Refusal {
    detail_422(
        "extra_forbidden",
        loc_parts,
        "Extra inputs are not permitted",
        input,
    )
}

fn string_type(loc_parts: &[Value], input: &Value) -> Refusal {
    detail_422(
        "string_type",
        loc_parts,
        "Input should be a valid string",
        input,
    )
}

fn validate_document(doc: &Value) -> Result<Source, Refusal> {
    let Some(obj) = doc.as_object() else {
        return Err(detail_422(
            "model_attributes_type",
            &loc(&["body", "document"]),
            "Input should be a valid dictionary or object to extract fields from",
            doc,
        ));
    };
    let tag = match obj.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(other) => {
            return Err(detail_422(
                "union_tag_invalid",
                &loc(&["body", "document"]),
                &format!("Input tag '{other}' found using 'type' does not match any of the expected tags: 'file', 'image_url', 'document_url'"),
                doc,
            ))
        }
        // The SDK's chunks may omit `type`; the union is then told apart by
        // its required field.
        None => match ["file_id", "image_url", "document_url"]
            .into_iter()
            .find(|k| obj.contains_key(*k))
        {
            Some("file_id") => "file".into(),
            Some(k) => k.to_string(),
            None => {
                return Err(detail_422(
                    "union_tag_not_found",
                    &loc(&["body", "document"]),
                    "Unable to extract tag using discriminator 'type'",
                    doc,
                ))
            }
        },
    };
    let (required, allowed): (&str, &[&str]) = match tag.as_str() {
        "file" => ("file_id", &["type", "file_id"]),
        "image_url" => ("image_url", &["type", "image_url"]),
        "document_url" => ("document_url", &["type", "document_url", "document_name"]),
        _ => {
            return Err(detail_422(
                "union_tag_invalid",
                &loc(&["body", "document"]),
                &format!("Input tag '{tag}' found using 'type' does not match any of the expected tags: 'file', 'image_url', 'document_url'"),
                doc,
            ))
        }
    };
    if let Some((k, v)) = obj.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        return Err(extra(&loc(&["body", "document", &tag, k]), v));
    }
    let Some(value) = obj.get(required) else {
        return Err(detail_422(
            "missing",
            &loc(&["body", "document", &tag, required]),
            "Field required",
            doc,
        ));
    };
    let text = match (tag.as_str(), value) {
        (_, Value::String(s)) => s.clone(),
        ("image_url", Value::Object(o)) => match o.get("url") {
            Some(Value::String(s)) => s.clone(),
            other => {
                return Err(string_type(
                    &loc(&["body", "document", &tag, "image_url", "url"]),
                    other.unwrap_or(&Value::Null),
                ))
            }
        },
        _ => {
            return Err(string_type(
                &loc(&["body", "document", &tag, required]),
                value,
            ))
        }
    };
    Ok(match tag.as_str() {
        "file" => Source::File(text),
        "image_url" => Source::ImageUrl(text),
        _ => Source::DocumentUrl(text),
    })
}

/// `pages`: null, an index, a list of indexes, or `"0,2-4"`.
fn validate_pages(v: &Value) -> Result<Option<BTreeSet<usize>>, Refusal> {
    let bad = || {
        detail_422(
            "list_type",
            &loc(&["body", "pages"]),
            "Input should be a valid list of page indexes (0-based), or a string such as \"0,2-4\"",
            v,
        )
    };
    let index = |x: &Value| x.as_u64().map(|n| n as usize);
    match v {
        Value::Null => Ok(None),
        Value::Number(_) => index(v).map(|n| Some(BTreeSet::from([n]))).ok_or_else(bad),
        Value::Array(items) => items
            .iter()
            .map(|x| index(x).ok_or(()))
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Some)
            .map_err(|_| bad()),
        Value::String(s) => {
            let mut out = BTreeSet::new();
            for part in s.split(',').map(str::trim) {
                let num = |t: &str| t.trim().parse::<usize>().ok();
                match part.split_once('-') {
                    Some((a, b)) => match (num(a), num(b)) {
                        (Some(a), Some(b)) if a <= b && b - a <= 100_000 => out.extend(a..=b),
                        _ => return Err(bad()),
                    },
                    None => {
                        out.insert(num(part).ok_or_else(bad)?);
                    }
                }
            }
            Ok(Some(out))
        }
        _ => Err(bad()),
    }
}

fn validate(body: &Value) -> Result<OcrRequest, Refusal> {
    let Some(obj) = body.as_object() else {
        return Err(detail_422(
            "model_attributes_type",
            &loc(&["body"]),
            "Input should be a valid dictionary or object to extract fields from",
            body,
        ));
    };
    if let Some((k, v)) = obj.iter().find(|(k, _)| !OCR_FIELDS.contains(&k.as_str())) {
        return Err(extra(&loc(&["body", k]), v));
    }
    for field in ["model", "document"] {
        if !obj.contains_key(field) {
            return Err(detail_422(
                "missing",
                &loc(&["body", field]),
                "Field required",
                body,
            ));
        }
    }
    let Some(model) = obj["model"].as_str() else {
        return Err(string_type(&loc(&["body", "model"]), &obj["model"]));
    };
    let document = validate_document(&obj["document"])?;
    let pages = validate_pages(obj.get("pages").unwrap_or(&Value::Null))?;
    if !model.starts_with("mistral-ocr") {
        return Err(Refusal(
            400,
            error_object(
                &format!("Invalid model: {model}"),
                "invalid_model",
                Some("1500"),
            ),
        ));
    }
    Ok(OcrRequest { document, pages })
}

fn unprocessable(why: &str) -> Refusal {
    Refusal(
        422,
        error_object(
            &format!("The document could not be processed: {why}"),
            "invalid_request_error",
            None,
        ),
    )
}

/// Standard or URL-safe base64, padding optional, whitespace ignored.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut ended = false;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                ended = true;
                continue;
            }
            c if c.is_ascii_whitespace() => continue,
            _ => return None,
        };
        if ended {
            return None; // data after padding
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A lone sixth-bit group cannot encode a byte.
    (bits < 6).then_some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// The bytes of a `data:` URI (base64 or percent-encoded).
fn data_uri_bytes(uri: &str) -> Result<Vec<u8>, String> {
    let rest = &uri["data:".len()..];
    let (meta, data) = rest
        .split_once(',')
        .ok_or_else(|| "the data URI has no ','".to_string())?;
    if meta.to_ascii_lowercase().ends_with(";base64") {
        return base64_decode(data).ok_or_else(|| "the data URI is not valid base64".into());
    }
    let raw = data.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = (raw[i] == b'%')
            .then(|| Some(hex_value(*raw.get(i + 1)?)? * 16 + hex_value(*raw.get(i + 2)?)?))
            .flatten();
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(raw[i]);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The text after the marker, up to a NUL or the end of `hay`.
fn marker_text(hay: &[u8]) -> Option<String> {
    let at = find(hay, OCR_TEXT_MARKER.as_bytes())?;
    let rest = &hay[at + OCR_TEXT_MARKER.len()..];
    let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// The text planted in an image: in a PNG, searched chunk by chunk (the
/// text ends with its chunk); in anything else, in all the bytes.
fn planted_text(data: &[u8]) -> Option<String> {
    if !data.starts_with(PNG_SIGNATURE) {
        return marker_text(data);
    }
    let mut at = PNG_SIGNATURE.len();
    while at + 8 <= data.len() {
        let len = u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        let end = (at + 8).saturating_add(len as usize).min(data.len());
        if let Some(text) = marker_text(&data[at + 8..end]) {
            return Some(text);
        }
        at = end + 4;
    }
    None
}

fn image_page(data: &[u8]) -> String {
    planted_text(data).unwrap_or_else(|| format!("Text read from an image of {} bytes", data.len()))
}

/// The pages of a PDF or an image given as bytes.
fn read_bytes(data: &[u8]) -> Result<Vec<String>, Refusal> {
    if is_pdf(data) {
        return match pdf_page_texts(data) {
            Ok(pages) if pages.is_empty() => Err(unprocessable("the PDF has no pages")),
            Ok(pages) => Ok(pages),
            Err(why) => Err(unprocessable(&why)),
        };
    }
    if image_type(data).is_some() {
        return Ok(vec![image_page(data)]);
    }
    Err(unprocessable("it is neither a PDF nor an image"))
}

fn is_http_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// Every page text of the document, and its size in bytes when known.
fn read_document(
    fake: &FakeMistral,
    document: &Source,
) -> Result<(Vec<String>, Option<usize>), Refusal> {
    match document {
        Source::File(id) => {
            let bytes = lock(&fake.files).get(id).map(|f| f.bytes.clone());
            let Some(bytes) = bytes else {
                return Err(Refusal(
                    404,
                    error_object("File not found", "invalid_request_error", None),
                ));
            };
            Ok((read_bytes(&bytes)?, Some(bytes.len())))
        }
        Source::ImageUrl(url) if url.starts_with("data:") => {
            let data = data_uri_bytes(url).map_err(|why| unprocessable(&why))?;
            Ok((vec![image_page(&data)], Some(data.len())))
        }
        Source::DocumentUrl(url) if url.starts_with("data:") => {
            let data = data_uri_bytes(url).map_err(|why| unprocessable(&why))?;
            Ok((read_bytes(&data)?, Some(data.len())))
        }
        Source::ImageUrl(url) if is_http_url(url) => {
            Ok((vec![format!("Text read from the image at {url}")], None))
        }
        Source::DocumentUrl(url) if is_http_url(url) => {
            Ok((vec![format!("Text read from the document at {url}")], None))
        }
        Source::ImageUrl(_) | Source::DocumentUrl(_) => Err(unprocessable(
            "the URL is neither an http(s) URL nor a data URI",
        )),
    }
}

/// The exact `POST /v1/ocr` body for `(index, markdown)` pages.
fn response_json(pages: &[(usize, &str)], doc_size: Option<usize>) -> String {
    let pages_json: Vec<String> = pages
        .iter()
        .map(|(i, md)| {
            format!(
                "{{\"index\":{i},\"markdown\":{},\"images\":[],\"tables\":[],\"hyperlinks\":[],\"header\":null,\"footer\":null,\"dimensions\":{{\"dpi\":200,\"height\":2200,\"width\":1700}}}}",
                js(md)
            )
        })
        .collect();
    format!(
        "{{\"pages\":[{}],\"model\":{},\"document_annotation\":null,\"usage_info\":{{\"pages_processed\":{},\"doc_size_bytes\":{}}}}}",
        pages_json.join(","),
        js(OCR_MODEL),
        pages.len(),
        doc_size.map_or("null".to_string(), |n| n.to_string())
    )
}

/// `POST /v1/ocr`.
async fn ocr(
    State(fake): State<FakeMistral>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let parsed: Result<Value, _> = serde_json::from_slice(&raw);
    let body = parsed.as_ref().cloned().unwrap_or(Value::Null);
    if let Admission::Reject(resp) = prelude(&fake, &method, &uri, &headers, &body, false) {
        return resp;
    }
    if let Err(e) = parsed {
        return json_response(
            422,
            format!(
                "{{\"detail\":[{{\"type\":\"json_invalid\",\"loc\":[\"body\",{}],\"msg\":\"JSON decode error\",\"input\":{{}},\"ctx\":{{\"error\":{}}}}}]}}",
                e.column().saturating_sub(1),
                js(&e.to_string())
            ),
        );
    }
    let request = match validate(&body) {
        Ok(r) => r,
        Err(refusal) => return refusal.response(),
    };
    let (texts, doc_size) = match read_document(&fake, &request.document) {
        Ok(read) => read,
        Err(refusal) => return refusal.response(),
    };
    if texts.iter().any(|t| t.contains(OCR_ERROR_DIRECTIVE)) {
        return json_response(
            500,
            error_object("Internal server error", "internal_server_error", None),
        );
    }
    if let Some(past) = request
        .pages
        .as_ref()
        .and_then(|p| p.iter().find(|i| **i >= texts.len()))
    {
        return json_response(
            400,
            error_object(
                &format!(
                    "Page index {past} is out of range: the document has {} page(s)",
                    texts.len()
                ),
                "invalid_request_error",
                None,
            ),
        );
    }
    let pages: Vec<(usize, &str)> = texts
        .iter()
        .enumerate()
        .filter(|(i, _)| request.pages.as_ref().is_none_or(|p| p.contains(i)))
        .map(|(i, t)| (i, t.as_str()))
        .collect();
    json_response(200, response_json(&pages, doc_size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf::{pdf_with_pages, png_with_text};
    use crate::{FakeFailure, RecordedRequest};

    fn base64_encode(data: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for group in data.chunks(3) {
            let n = group
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..4 {
                if i <= group.len() {
                    out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    async fn upload(
        fake: &FakeMistral,
        key: &str,
        purpose: Option<&str>,
        file: Option<(&str, Vec<u8>)>,
    ) -> (u16, Value) {
        let mut form = reqwest::multipart::Form::new();
        if let Some(p) = purpose {
            form = form.text("purpose", p.to_string());
        }
        if let Some((name, bytes)) = file {
            form = form.part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
            );
        }
        let resp = client()
            .post(format!("{}/v1/files", fake.base_url))
            .bearer_auth(key)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    async fn post_ocr(fake: &FakeMistral, key: &str, body: &Value) -> (u16, Value) {
        let resp = client()
            .post(format!("{}/v1/ocr", fake.base_url))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    fn markdowns(v: &Value) -> Vec<(u64, String)> {
        v["pages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["index"].as_u64().unwrap(),
                    p["markdown"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    const PAGES: [&str; 3] = [
        "# Page 1\n\nAlpha bravo",
        "# Page 2\n\nCharlie (delta) \\ echo",
        "# Page 3\n\nFoxtrot",
    ];

    async fn uploaded_pdf(fake: &FakeMistral) -> String {
        let (status, v) = upload(
            fake,
            "k",
            Some("ocr"),
            Some(("doc.pdf", pdf_with_pages(&PAGES))),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    #[tokio::test]
    async fn an_uploaded_pdf_reads_as_one_page_per_pdf_page() {
        let fake = FakeMistral::start().await;
        let pdf = pdf_with_pages(&PAGES);
        let (status, file) = upload(&fake, "k", Some("ocr"), Some(("doc.pdf", pdf.clone()))).await;
        assert_eq!(status, 200, "{file}");
        let id = file["id"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        assert_eq!(file["object"], "file");
        assert_eq!(file["bytes"], pdf.len());
        assert!(file["created_at"].as_u64().unwrap() > 1_700_000_000);
        assert_eq!(file["filename"], "doc.pdf");
        assert_eq!(file["purpose"], "ocr");
        assert_eq!(file["sample_type"], "ocr_input");
        assert_eq!(file["num_lines"], 0);
        assert_eq!(file["mimetype"], "application/pdf");
        assert_eq!(file["source"], "upload");
        assert_eq!(fake.uploaded_file(id), Some(pdf.clone()));

        let logged = fake.last_request().unwrap();
        assert_eq!(
            (logged.method.as_str(), logged.path.as_str()),
            ("POST", "/v1/files")
        );
        let sha: String = Sha256::digest(&pdf)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            logged.body,
            json!({"purpose":"ocr","filename":"doc.pdf","bytes":pdf.len(),"sha256":sha})
        );

        let req = json!({"model":"mistral-ocr-latest","document":{"type":"file","file_id":id},"include_image_base64":false});
        let (status, v) = post_ocr(&fake, "k", &req).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(
            markdowns(&v),
            vec![
                (0, PAGES[0].to_string()),
                (1, PAGES[1].to_string()),
                (2, PAGES[2].to_string())
            ]
        );
        assert_eq!(v["model"], OCR_MODEL);
        assert_eq!(
            v["usage_info"],
            json!({"pages_processed":3,"doc_size_bytes":pdf.len()})
        );
        assert_eq!(
            v["pages"][1],
            json!({"index":1,"markdown":PAGES[1],"images":[],"tables":[],"hyperlinks":[],"header":null,"footer":null,"dimensions":{"dpi":200,"height":2200,"width":1700}})
        );
        let logged = fake.last_request().unwrap();
        assert_eq!((logged.path.as_str(), &logged.body), ("/v1/ocr", &req));

        // Files are per instance; the content endpoint still answers.
        let other = FakeMistral::start().await;
        assert_eq!(other.uploaded_file(id), None);
        let resp = client()
            .get(format!("{}/v1/files/{id}/content", fake.base_url))
            .bearer_auth("k")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    #[tokio::test]
    async fn exact_response_bytes() {
        let fake = FakeMistral::start().await;
        let pdf = pdf_with_pages(&["Only"]);
        let url = format!("data:application/pdf;base64,{}", base64_encode(&pdf));
        let resp = client()
            .post(format!("{}/v1/ocr", fake.base_url))
            .bearer_auth("k")
            .json(&json!({"model":"mistral-ocr-latest","document":{"type":"document_url","document_url":url,"document_name":"a.pdf"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/json");
        assert!(resp.headers().contains_key("mistral-correlation-id"));
        assert_eq!(
            resp.text().await.unwrap(),
            format!("{{\"pages\":[{{\"index\":0,\"markdown\":\"Only\",\"images\":[],\"tables\":[],\"hyperlinks\":[],\"header\":null,\"footer\":null,\"dimensions\":{{\"dpi\":200,\"height\":2200,\"width\":1700}}}}],\"model\":\"mistral-ocr-2512\",\"document_annotation\":null,\"usage_info\":{{\"pages_processed\":1,\"doc_size_bytes\":{}}}}}", pdf.len())
        );
    }

    #[tokio::test]
    async fn pages_select_only_those_pages() {
        let fake = FakeMistral::start().await;
        let id = uploaded_pdf(&fake).await;
        let doc = json!({"type":"file","file_id":id});
        let (status, v) = post_ocr(
            &fake,
            "k",
            &json!({"model":"mistral-ocr-latest","document":doc,"pages":[1]}),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(markdowns(&v), vec![(1, PAGES[1].to_string())]);
        assert_eq!(v["usage_info"]["pages_processed"], 1);

        let (_, v) = post_ocr(
            &fake,
            "k",
            &json!({"model":"mistral-ocr-latest","document":doc,"pages":[2,0]}),
        )
        .await;
        assert_eq!(
            markdowns(&v),
            vec![(0, PAGES[0].to_string()), (2, PAGES[2].to_string())]
        );
        let (_, v) = post_ocr(
            &fake,
            "k",
            &json!({"model":"mistral-ocr-latest","document":doc,"pages":"1-2"}),
        )
        .await;
        assert_eq!(markdowns(&v).len(), 2);
        assert_eq!(markdowns(&v)[0].0, 1);

        let (status, v) = post_ocr(
            &fake,
            "k",
            &json!({"model":"mistral-ocr-latest","document":doc,"pages":[3]}),
        )
        .await;
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["object"], "error");
        let (status, _) = post_ocr(
            &fake,
            "k",
            &json!({"model":"mistral-ocr-latest","document":doc,"pages":[-1]}),
        )
        .await;
        assert_eq!(status, 422);
    }

    #[tokio::test]
    async fn images_read_as_their_planted_text() {
        let fake = FakeMistral::start().await;
        let png = png_with_text("Invoice 42: total 17 EUR");
        let url = format!("data:image/png;base64,{}", base64_encode(&png));
        let (status, v) = post_ocr(
            &fake,
            "k",
            &json!({"model":"mistral-ocr-latest","document":{"type":"image_url","image_url":url}}),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(
            markdowns(&v),
            vec![(0, "Invoice 42: total 17 EUR".to_string())]
        );
        assert_eq!(v["usage_info"]["doc_size_bytes"], png.len());

        // Object form of image_url, an image without planted text.
        let plain = crate::mistral::files::generated_png("x");
        let url = format!("data:image/png;base64,{}", base64_encode(&plain));
        let (_, v) = post_ocr(
            &fake,
            "k",
            &json!({"model":"mistral-ocr-latest","document":{"type":"image_url","image_url":{"url":url}}}),
        )
        .await;
        assert_eq!(
            markdowns(&v),
            vec![(
                0,
                format!("Text read from an image of {} bytes", plain.len())
            )]
        );

        // Raw marker in JPEG-looking bytes, ended by a NUL; uploaded.
        let jpeg = b"\xFF\xD8\xFF\xE0junk OCRTEXT:Hello jpeg\0tail".to_vec();
        let (status, file) = upload(&fake, "k", Some("ocr"), Some(("a.jpg", jpeg))).await;
        assert_eq!((status, &file["mimetype"]), (200, &json!("image/jpeg")));
        let (_, v) = post_ocr(
            &fake,
            "k",
            &json!({"model":"mistral-ocr-latest","document":{"type":"file","file_id":file["id"]}}),
        )
        .await;
        assert_eq!(markdowns(&v), vec![(0, "Hello jpeg".to_string())]);

        // An https URL is not fetched.
        let (_, v) = post_ocr(
            &fake,
            "k",
            &json!({"model":"mistral-ocr-latest","document":{"type":"document_url","document_url":"https://example.com/a.pdf"}}),
        )
        .await;
        assert_eq!(
            markdowns(&v),
            vec![(
                0,
                "Text read from the document at https://example.com/a.pdf".to_string()
            )]
        );
        assert_eq!(v["usage_info"]["doc_size_bytes"], Value::Null);
    }

    #[tokio::test]
    async fn a_bad_key_is_refused_on_both_endpoints() {
        let fake = FakeMistral::start().await;
        fake.set_valid_keys(["good"]);
        let (status, v) = upload(
            &fake,
            "bad",
            Some("ocr"),
            Some(("a.pdf", pdf_with_pages(&["x"]))),
        )
        .await;
        assert_eq!((status, v), (401, json!({"detail":"Unauthorized"})));
        assert_eq!(fake.last_request().unwrap().api_key.as_deref(), Some("bad"));
        let (status, v) = post_ocr(
            &fake,
            "bad",
            &json!({"model":"mistral-ocr-latest","document":{"type":"document_url","document_url":"https://example.com/a.pdf"}}),
        )
        .await;
        assert_eq!((status, v), (401, json!({"detail":"Unauthorized"})));
        let (status, _) = upload(
            &fake,
            "good",
            Some("ocr"),
            Some(("a.pdf", pdf_with_pages(&["x"]))),
        )
        .await;
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn forced_failures_apply() {
        let fake = FakeMistral::start().await;
        let pdf = || Some(("a.pdf", pdf_with_pages(&["x"])));
        let ocr_req = json!({"model":"mistral-ocr-latest","document":{"type":"document_url","document_url":"https://example.com/a.pdf"}});
        fake.fail_times(
            FakeFailure::RateLimited {
                retry_after_secs: Some(3),
            },
            1,
        );
        let (status, v) = upload(&fake, "k", Some("ocr"), pdf()).await;
        assert_eq!((status, &v["type"]), (429, &json!("rate_limited")));
        fake.fail_times(FakeFailure::ServerError, 1);
        let (status, _) = post_ocr(&fake, "k", &ocr_req).await;
        assert_eq!(status, 500);
        fake.fail_times(FakeFailure::Unauthorized, 1);
        let (status, _) = post_ocr(&fake, "k", &ocr_req).await;
        assert_eq!(status, 401);
        fake.fail_times(
            FakeFailure::Custom {
                status: 503,
                content_type: "application/json".into(),
                body: "{\"odd\":true}".into(),
            },
            1,
        );
        let (status, v) = upload(&fake, "k", Some("ocr"), pdf()).await;
        assert_eq!((status, v), (503, json!({"odd":true})));
        // Recovered.
        let (status, _) = post_ocr(&fake, "k", &ocr_req).await;
        assert_eq!(status, 200);
        assert_eq!(fake.requests().len(), 5);
    }

    #[tokio::test]
    async fn invalid_requests_are_refused_like_mistral() {
        let fake = FakeMistral::start().await;
        let doc = json!({"type":"document_url","document_url":"https://example.com/a.pdf"});
        let (status, v) = post_ocr(
            &fake,
            "k",
            &json!({"model":"mistral-ocr-latest","document":doc,"temperature":0.2}),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(
            v,
            json!({"detail":[{"type":"extra_forbidden","loc":["body","temperature"],"msg":"Extra inputs are not permitted","input":0.2}]})
        );
        let (status, v) = post_ocr(&fake, "k", &json!({"document":doc})).await;
        assert_eq!(
            (status, &v["detail"][0]["loc"]),
            (422, &json!(["body", "model"]))
        );
        let (status, v) = post_ocr(
            &fake,
            "k",
            &json!({"model":"mistral-ocr-latest","document":{"type":"pdf","url":"x"}}),
        )
        .await;
        assert_eq!(
            (status, &v["detail"][0]["type"]),
            (422, &json!("union_tag_invalid"))
        );
        let (status, v) = post_ocr(
            &fake,
            "k",
            &json!({"model":"mistral-ocr-latest","document":{"type":"file","file_id":"x","url":"y"}}),
        )
        .await;
        assert_eq!(
            (status, &v["detail"][0]["loc"]),
            (422, &json!(["body", "document", "file", "url"]))
        );
        let (status, v) = post_ocr(
            &fake,
            "k",
            &json!({"model":"mistral-small-latest","document":doc}),
        )
        .await;
        assert_eq!((status, &v["type"]), (400, &json!("invalid_model")));

        // An upload without a file.
        let (status, v) = upload(&fake, "k", Some("ocr"), None).await;
        assert_eq!(
            (status, v),
            (
                422,
                json!({"detail":[{"type":"missing","loc":["body","file"],"msg":"Field required","input":null}]})
            )
        );
        let (status, v) = upload(
            &fake,
            "k",
            Some("pictures"),
            Some(("a.pdf", b"%PDF-".to_vec())),
        )
        .await;
        assert_eq!((status, &v["detail"][0]["type"]), (422, &json!("enum")));
    }

    #[tokio::test]
    async fn unknown_files_and_unreadable_documents_are_errors() {
        let fake = FakeMistral::start().await;
        let ocr_of = |id: &str| json!({"model":"mistral-ocr-latest","document":{"type":"file","file_id":id}});
        let (status, v) =
            post_ocr(&fake, "k", &ocr_of("6f1c1d2e-0000-4000-8000-000000000000")).await;
        assert_eq!((status, &v["message"]), (404, &json!("File not found")));

        for (name, bytes) in [
            ("random.bin", b"\x00\x01 random bytes \xFF".to_vec()),
            ("empty.pdf", pdf_with_pages(&[])),
        ] {
            let (status, file) = upload(&fake, "k", Some("ocr"), Some((name, bytes))).await;
            assert_eq!(status, 200);
            let (status, v) = post_ocr(&fake, "k", &ocr_of(file["id"].as_str().unwrap())).await;
            assert_eq!(status, 422, "{name}: {v}");
            assert!(
                v["message"]
                    .as_str()
                    .unwrap()
                    .contains("could not be processed"),
                "{v}"
            );
        }

        let id = {
            let (_, file) = upload(
                &fake,
                "k",
                Some("ocr"),
                Some((
                    "boom.pdf",
                    pdf_with_pages(&["fine", "then [[fake:ocr-error]]"]),
                )),
            )
            .await;
            file["id"].as_str().unwrap().to_string()
        };
        let (status, v) = post_ocr(&fake, "k", &ocr_of(&id)).await;
        assert_eq!((status, &v["object"]), (500, &json!("error")));
    }

    #[test]
    fn base64_and_data_uris_decode() {
        for data in [&b""[..], b"a", b"ab", b"abc", b"\x00\xFF\x10hello"] {
            assert_eq!(base64_decode(&base64_encode(data)).as_deref(), Some(data));
        }
        assert_eq!(base64_decode("aGk").as_deref(), Some(&b"hi"[..]));
        assert_eq!(base64_decode("a"), None);
        assert_eq!(base64_decode("a*b="), None);
        assert_eq!(data_uri_bytes("data:text/plain,a%20b").unwrap(), b"a b");
        assert!(data_uri_bytes("data:image/png;base64").is_err());
    }

    #[test]
    fn image_urls_collects_both_forms_and_messages_stay_text() {
        let r = RecordedRequest {
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            api_key: None,
            accept: None,
            body: json!({"model":"m","messages":[
                {"role":"system","content":"Be brief."},
                {"role":"user","content":[
                    {"type":"text","text":"What is "},
                    {"type":"image_url","image_url":"data:image/png;base64,AAAA"},
                    {"type":"text","text":"this?"},
                    {"type":"image_url","image_url":{"url":"https://example.com/b.png","detail":"high"}}
                ]},
                {"role":"assistant","content":"A cat."},
                {"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,BBBB"}}]}
            ]}),
        };
        assert_eq!(
            r.image_urls(),
            [
                "data:image/png;base64,AAAA",
                "https://example.com/b.png",
                "data:image/jpeg;base64,BBBB"
            ]
        );
        assert_eq!(
            r.messages(),
            [
                ("system".to_string(), "Be brief.".to_string()),
                ("user".to_string(), "What is this?".to_string()),
                ("assistant".to_string(), "A cat.".to_string()),
                ("user".to_string(), String::new()),
            ]
        );
    }
}
