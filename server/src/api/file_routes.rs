//! `/api/files/{id}` (the owner, session required) and
//! `/api/shared/{code}/files/{id}` (a share link's readers, no session): the
//! bytes of a stored file.
//!
//! Who may read what is `app::server::services::files` ([`files::serve`],
//! [`files::serve_shared`]); this module owns only the HTTP of it. A file
//! must never run in our origin: its `Content-Type` is sniffed from the
//! bytes (never a name or an uploader's claim), only raster images and PDF
//! are `inline`, everything else (HTML, SVG, XML, script, unknown) is an
//! `attachment`, `nosniff` keeps the browser from guessing, and the policy
//! is `default-src 'none'` plus `sandbox` (PDF excepted, which browsers'
//! viewers refuse to show sandboxed). The content hash is a strong `ETag`
//! and the bytes never change under an id, so responses are cached for a
//! year (`private`: they are someone's files) and revalidate with
//! `If-None-Match`; single byte ranges are served for media players and
//! resumed downloads.
//!
//! These routes sit in the API router, which has no compression layer and
//! no page guard: files go out as stored with an exact `Content-Length`.
use super::Caller;
use crate::security_headers::FILE_POLICY;
use app::model::{FileTextDto, FileUsageDto, UploadedFileDto};
use app::server::services::files::{self, FileRef};
use app::server::services::threads::ShareCode;
use app::server::services::uploads::{self, Incoming};
use app::server::{AppError, AppResult, AppState};
use app::vocab::FileId;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        // The upload enforces its own limits while the file streams in
        // (`MAX_UPLOAD_MB`), instead of the router's 10 MB for JSON bodies.
        .routes(routes!(upload))
        .layer(DefaultBodyLimit::disable())
        .routes(routes!(get_file, delete_file))
        .routes(routes!(file_text))
        .routes(routes!(usage))
        .routes(routes!(get_shared_file))
}

/// `multipart/form-data` with one part named `file`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct UploadForm {
    /// The file's bytes; its name is taken from the part's `filename`.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Upload a file to send with a message (`attachments` of `POST /api/chat`).
/// Its type is detected from its bytes; the same bytes are stored once. A
/// file not sent within 24 hours is removed.
#[utoipa::path(
    post,
    path = "/api/files",
    tag = "files",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Stored", body = UploadedFileDto),
        (status = 400, description = "No `file` part, an empty file, or a malformed form", body = super::openapi::ErrorBody),
        (status = 413, description = "Larger than the limit per file, or over the storage quota", body = super::openapi::ErrorBody),
        (status = 415, description = "A type that is not supported (the sentence lists the supported ones)", body = super::openapi::ErrorBody)
    )
)]
async fn upload(
    State(state): State<AppState>,
    Caller(me): Caller,
    mut form: Multipart,
) -> AppResult<(StatusCode, Json<UploadedFileDto>)> {
    let bad_form = |e: axum::extract::multipart::MultipartError| {
        AppError::bad_request(format!(
            "file: the upload could not be read ({})",
            e.body_text()
        ))
    };
    while let Some(mut field) = form.next_field().await.map_err(bad_form)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("file").to_string();
        let mut incoming = Incoming::new(state.config.max_upload_bytes);
        while let Some(piece) = field.chunk().await.map_err(bad_form)? {
            incoming.push(&piece)?;
        }
        let stored = uploads::finish_upload(&state, me.id(), &name, incoming).await?;
        return Ok((StatusCode::CREATED, Json(stored)));
    }
    Err(AppError::bad_request(
        "file: send the file as a multipart part named \"file\"",
    ))
}

/// Remove a file uploaded but not sent (a chip removed from the composer).
#[utoipa::path(
    delete,
    path = "/api/files/{id}",
    tag = "files",
    params(("id" = String, Path, description = "The file's id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such file (or not yours)", body = super::openapi::ErrorBody),
        (status = 409, description = "The file was sent with a message; it goes with its thread", body = super::openapi::ErrorBody)
    )
)]
async fn delete_file(
    State(state): State<AppState>,
    Caller(me): Caller,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    uploads::delete_unsent(&state, me.id(), &FileId::new(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the model reads of a file: a text file's text, or the markdown OCR
/// reads from each page of a document or image (read once per file, with
/// the caller's Mistral key), with each page's token estimate.
#[utoipa::path(
    get,
    path = "/api/files/{id}/text",
    tag = "files",
    params(("id" = String, Path, description = "The file's id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The text, page by page", body = FileTextDto),
        (status = 400, description = "No Mistral key to read it with", body = super::openapi::ErrorBody),
        (status = 404, description = "No such file (or not yours)", body = super::openapi::ErrorBody),
        (status = 422, description = "The file could not be read (e.g. a corrupt document)", body = super::openapi::ErrorBody),
        (status = 429, description = "Mistral is rate-limiting the key", body = super::openapi::ErrorBody),
        (status = 502, description = "Mistral failed", body = super::openapi::ErrorBody)
    )
)]
async fn file_text(
    State(state): State<AppState>,
    Caller(me): Caller,
    Path(id): Path<String>,
) -> AppResult<Json<FileTextDto>> {
    Ok(Json(
        uploads::text_of(&state, me.id(), &FileId::new(&id)).await?,
    ))
}

/// What the caller's files take against the quota, and the upload limits.
#[utoipa::path(
    get,
    path = "/api/files/usage",
    tag = "files",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Storage used and limits", body = FileUsageDto))
)]
async fn usage(State(state): State<AppState>, Caller(me): Caller) -> AppResult<Json<FileUsageDto>> {
    Ok(Json(uploads::usage(&state, me.id()).await?))
}

/// Files never change under their id (a new file is a new id).
const CACHE_CONTROL: &str = "private, max-age=31536000, immutable";

/// The caller's file.
#[utoipa::path(
    get,
    path = "/api/files/{id}",
    tag = "files",
    params(
        ("id" = String, Path, description = "The file's id (`attachments[].id` of a message)"),
        ("Range" = Option<String>, Header, description = "One byte range: `bytes=a-b`, `bytes=a-` or `bytes=-n`"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy the client has")
    ),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The file. `Content-Type` is sniffed from its bytes; images and PDF are `inline`, anything else an `attachment`",
            content(("image/png"), ("image/jpeg"), ("image/gif"), ("image/webp"), ("application/pdf"), ("application/octet-stream")),
            headers(
                ("ETag" = String, description = "`\"<sha256>\"` of the bytes"),
                ("Content-Disposition" = String, description = "`inline` or `attachment`, with the file name"),
                ("Cache-Control" = String, description = "`private, max-age=31536000, immutable`"),
                ("Accept-Ranges" = String, description = "`bytes`")
            )),
        (status = 206, description = "The requested byte range",
            content(("image/png"), ("image/jpeg"), ("image/gif"), ("image/webp"), ("application/pdf"), ("application/octet-stream")),
            headers(("Content-Range" = String, description = "`bytes a-b/size`"))),
        (status = 304, description = "The copy named by `If-None-Match` is current"),
        (status = 404, description = "No such file (or not yours)", body = super::openapi::ErrorBody),
        (status = 416, description = "The range lies outside the file", body = super::openapi::ErrorBody,
            headers(("Content-Range" = String, description = "`bytes */size`")))
    )
)]
async fn get_file(
    State(state): State<AppState>,
    Caller(me): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let file = files::serve(&state, me.id(), &FileId::new(&id)).await?;
    respond(&state, file, &headers).await
}

/// A file of a shared thread, for anyone holding the share link.
#[utoipa::path(
    get,
    path = "/api/shared/{code}/files/{id}",
    tag = "files",
    params(
        ("code" = String, Path, description = "The share code"),
        ("id" = String, Path, description = "The file's id (`attachments[].id` of a shared message)"),
        ("Range" = Option<String>, Header, description = "One byte range: `bytes=a-b`, `bytes=a-` or `bytes=-n`"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy the client has")
    ),
    security(()),
    responses(
        (status = 200, description = "The file, as for its owner",
            content(("image/png"), ("image/jpeg"), ("image/gif"), ("image/webp"), ("application/pdf"), ("application/octet-stream")),
            headers(
                ("ETag" = String, description = "`\"<sha256>\"` of the bytes"),
                ("Content-Disposition" = String, description = "`inline` or `attachment`, with the file name"),
                ("Cache-Control" = String, description = "`private, max-age=31536000, immutable`"),
                ("Accept-Ranges" = String, description = "`bytes`")
            )),
        (status = 206, description = "The requested byte range",
            content(("image/png"), ("image/jpeg"), ("image/gif"), ("image/webp"), ("application/pdf"), ("application/octet-stream")),
            headers(("Content-Range" = String, description = "`bytes a-b/size`"))),
        (status = 304, description = "The copy named by `If-None-Match` is current"),
        (status = 404, description = "No such file on the shared branch, or no such share (revoked, expired)", body = super::openapi::ErrorBody),
        (status = 416, description = "The range lies outside the file", body = super::openapi::ErrorBody,
            headers(("Content-Range" = String, description = "`bytes */size`")))
    )
)]
async fn get_shared_file(
    State(state): State<AppState>,
    Path((code, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> AppResult<Response> {
    // A malformed code is just another unknown one.
    let code = ShareCode::parse(&code).map_err(|_| AppError::not_found("File"))?;
    let file = files::serve_shared(&state, &code, &FileId::new(&id)).await?;
    respond(&state, file, &headers).await
}

/// Whether `If-None-Match` names `etag` (or is `*`); weak tags compare by
/// their opaque part, as RFC 9110 asks for this header.
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Ranged {
    /// No range, or one this server ignores (malformed, several ranges,
    /// another unit): the whole file, as RFC 9110 allows.
    Full,
    /// Bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// A well-formed range that lies outside the file.
    Unsatisfiable,
}

fn parse_range(value: &str, len: u64) -> Ranged {
    let Some((unit, spec)) = value.trim().split_once('=') else {
        return Ranged::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return Ranged::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ranged::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match (first.is_empty(), last.is_empty()) {
        // `-n`: the last n bytes.
        (true, false) => {
            let Some(n) = digits(last).then(|| last.parse::<u64>().ok()).flatten() else {
                return Ranged::Full;
            };
            if n == 0 || len == 0 {
                return Ranged::Unsatisfiable;
            }
            Ranged::Part {
                start: len.saturating_sub(n),
                end: len - 1,
            }
        }
        (false, _) => {
            let Some(start) = digits(first).then(|| first.parse::<u64>().ok()).flatten() else {
                return Ranged::Full;
            };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                match digits(last).then(|| last.parse::<u64>().ok()).flatten() {
                    Some(end) if end >= start => end,
                    _ => return Ranged::Full,
                }
            };
            if start >= len {
                return Ranged::Unsatisfiable;
            }
            Ranged::Part {
                start,
                end: end.min(len - 1),
            }
        }
        (true, true) => Ranged::Full,
    }
}

/// An ASCII name for `filename="…"`: letters, digits and a few safe marks;
/// anything else (quotes, `\`, `/`, `;`, `%`, controls, non-ASCII) becomes
/// `_`.
fn ascii_file_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " .-_()+,[]".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim().trim_start_matches('.').to_string();
    if s.is_empty() {
        "file".into()
    } else {
        s
    }
}

/// `filename*` (RFC 5987/8187): UTF-8, every byte outside `attr-char`
/// percent-encoded; path separators and controls dropped first.
fn rfc5987_file_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\'))
        .collect();
    let clean = if clean.trim().is_empty() {
        "file".to_string()
    } else {
        clean
    };
    let mut out = String::from("UTF-8''");
    for b in clean.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Types a browser may show in the page's origin without running anything.
fn shown_inline(mime: &str) -> bool {
    matches!(
        mime,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "application/pdf"
    )
}

fn content_disposition(name: &str, mime: &str) -> HeaderValue {
    let kind = if shown_inline(mime) {
        "inline"
    } else {
        "attachment"
    };
    let value = format!(
        "{kind}; filename=\"{}\"; filename*={}",
        ascii_file_name(name),
        rfc5987_file_name(name)
    );
    // Only ASCII printable characters are left, so this cannot fail; the
    // bare disposition still keeps the file from being shown.
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("attachment"))
}

fn set(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

async fn respond(state: &AppState, file: FileRef, req: &HeaderMap) -> AppResult<Response> {
    let etag = format!("\"{}\"", file.sha256());
    if none_match(req, &etag) {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        let h = resp.headers_mut();
        set(h, header::ETAG, &etag);
        set(h, header::CACHE_CONTROL, CACHE_CONTROL);
        return Ok(resp);
    }
    let body = file.load(&state.db).await?;
    let len = body.data.len() as u64;
    // `If-Range` with another validator: the client's part is stale, so
    // the whole file is the answer.
    let range_applies = req
        .get(header::IF_RANGE)
        .is_none_or(|v| v.to_str().is_ok_and(|v| v.trim() == etag));
    let ranged = match req.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) if range_applies => parse_range(r, len),
        _ => Ranged::Full,
    };
    let mut resp = match ranged {
        Ranged::Unsatisfiable => {
            let sentence = format!("Range not satisfiable: the file has {len} bytes");
            let mut resp = (
                StatusCode::RANGE_NOT_SATISFIABLE,
                axum::Json(serde_json::json!({ "error": sentence })),
            )
                .into_response();
            set(
                resp.headers_mut(),
                header::CONTENT_RANGE,
                &format!("bytes */{len}"),
            );
            return Ok(resp);
        }
        Ranged::Full => Response::new(Body::from(body.data)),
        Ranged::Part { start, end } => {
            // start ≤ end < len, both fit in usize (they index `data`).
            let part = body.data[start as usize..=end as usize].to_vec();
            let mut resp = Response::new(Body::from(part));
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            set(
                resp.headers_mut(),
                header::CONTENT_RANGE,
                &format!("bytes {start}-{end}/{len}"),
            );
            resp
        }
    };
    let h = resp.headers_mut();
    set(h, header::CONTENT_TYPE, body.mime);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        content_disposition(&body.file_name, body.mime),
    );
    set(h, header::ETAG, &etag);
    set(h, header::CACHE_CONTROL, CACHE_CONTROL);
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if body.mime != "application/pdf" {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(FILE_POLICY),
        );
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        let part = |start, end| Ranged::Part { start, end };
        assert_eq!(parse_range("bytes=0-9", 100), part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), part(90, 99));
        assert_eq!(parse_range("bytes=90-500", 100), part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), part(90, 99));
        assert_eq!(parse_range("bytes=-500", 100), part(0, 99));
        assert_eq!(parse_range("BYTES = 5-5", 100), part(5, 5));
        for unsatisfiable in ["bytes=100-", "bytes=100-200", "bytes=-0"] {
            assert_eq!(
                parse_range(unsatisfiable, 100),
                Ranged::Unsatisfiable,
                "{unsatisfiable}"
            );
        }
        assert_eq!(parse_range("bytes=0-", 0), Ranged::Unsatisfiable);
        for ignored in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=5-1",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=+1-2",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(parse_range(ignored, 100), Ranged::Full, "{ignored}");
        }
    }

    #[test]
    fn if_none_match_lists_and_weak_tags() {
        let etag = "\"abc\"";
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            m
        };
        assert!(none_match(&h("\"abc\""), etag));
        assert!(none_match(&h("\"x\", W/\"abc\""), etag));
        assert!(none_match(&h("*"), etag));
        assert!(!none_match(&h("\"abcd\""), etag));
        assert!(!none_match(&HeaderMap::new(), etag));
    }

    #[test]
    fn dispositions_are_safe_for_any_stored_name() {
        let d = |name: &str, mime: &str| {
            content_disposition(name, mime)
                .to_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            d("cat.png", "image/png"),
            "inline; filename=\"cat.png\"; filename*=UTF-8''cat.png"
        );
        assert_eq!(
            d("x.pdf", "application/pdf"),
            "inline; filename=\"x.pdf\"; filename*=UTF-8''x.pdf"
        );
        assert_eq!(
            d("évil\"; a=b\r\n../x.html", "application/octet-stream"),
            "attachment; filename=\"_vil__ a_b__.._x.html\"; filename*=UTF-8''%C3%A9vil%22%3B%20a%3Db..x.html"
        );
        assert_eq!(
            d("", "image/gif"),
            "inline; filename=\"file\"; filename*=UTF-8''file"
        );
        for mime in [
            "text/html",
            "image/svg+xml",
            "text/xml",
            "application/javascript",
            "application/octet-stream",
        ] {
            assert!(d("a", mime).starts_with("attachment;"), "{mime}");
        }
    }
}
