//! Files people send with their messages: upload (limits, type from the
//! bytes, quota, one blob per content), the text a model gets of each file
//! (a text file as it is; documents and images read by OCR once per content
//! and OCR model), fitting files into the model's context — never silently:
//! each attachment records what the model received ([`SeenDto`]) — and the
//! removal of uploads never sent.
//!
//! The bytes themselves live in the file store (`services::files`); who may
//! read a file is decided there too. Every lookup here is scoped to the
//! caller: someone else's file id answers like a missing one (404).
use super::blobs::delete_unreferenced;
use super::files::{self, clean_file_name, sniff, FileReader};
use super::settings;
use crate::model::{AttachmentKind, FileTextDto, FileUsageDto, SeenAs, SeenDto, UploadedFileDto};
use crate::server::config::{Secret, MB};
use crate::server::db::now_ms;
use crate::server::entities::{attachments, blobs, ocr_results};
use crate::server::mistral::ocr::{OcrDocument, OcrRequest};
use crate::server::mistral::{ContentChunk, MistralError};
use crate::server::{AppError, AppResult, AppState};
use crate::vocab::limits::{estimate_tokens, image_tokens};
use crate::vocab::{FileId, UserId};
use base64::Engine as _;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

/// Uploads not sent with a message within this time are removed.
pub const UNSENT_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// Rows removed per sweep (the next sweep takes the rest).
const SWEEP_BATCH: u64 = 500;

pub const MIME_TEXT: &str = "text/plain";
pub const MIME_DOCX: &str =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
pub const MIME_PPTX: &str =
    "application/vnd.openxmlformats-officedocument.presentationml.presentation";
/// What the 415 sentence lists.
pub const SUPPORTED: &str =
    "images (PNG, JPEG, GIF, WebP), PDF, Word (.docx), PowerPoint (.pptx) and text or code files";

/// How a file reaches a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// A raster image: to a vision model as itself, else as OCR text.
    Image,
    /// PDF or an Office document: OCR, page by page.
    Document,
    /// UTF-8 text (code, markdown, CSV, …): the text itself.
    Text,
}

impl Category {
    /// From the type stored with an attachment.
    pub fn of_mime(mime: &str) -> Category {
        if mime.starts_with("image/") {
            Category::Image
        } else if mime.starts_with("text/") {
            Category::Text
        } else {
            Category::Document
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Whether `bytes` are text a model can read: UTF-8 (a byte-order mark
/// allowed), no NUL, and almost no other control characters.
fn is_text(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Ok(s) = std::str::from_utf8(bytes) else {
        return false;
    };
    let mut controls = 0usize;
    for c in s.chars() {
        match c {
            '\0' => return false,
            '\t' | '\n' | '\r' | '\x0c' => {}
            c if c.is_control() => controls += 1,
            _ => {}
        }
    }
    controls * 100 <= s.len()
}

/// The type of an uploaded file, from its bytes alone (a name or a claimed
/// type is never believed): `None` for a type the product does not take.
pub fn classify(bytes: &[u8]) -> Option<(&'static str, Category)> {
    let sniffed = sniff(bytes).mime;
    match sniffed {
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" => {
            return Some((sniffed, Category::Image))
        }
        "application/pdf" => return Some((sniffed, Category::Document)),
        _ => {}
    }
    if bytes.starts_with(b"PK\x03\x04") && contains(bytes, b"[Content_Types].xml") {
        if contains(bytes, b"word/document.xml") {
            return Some((MIME_DOCX, Category::Document));
        }
        if contains(bytes, b"ppt/presentation.xml") {
            return Some((MIME_PPTX, Category::Document));
        }
        return None;
    }
    is_text(bytes).then_some((MIME_TEXT, Category::Text))
}

pub(crate) fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / MB as f64;
    if mb >= 1024.0 {
        format!("{:.0} GB", mb / 1024.0)
    } else if mb >= 10.0 || mb.fract() == 0.0 {
        format!("{mb:.0} MB")
    } else {
        format!("{mb:.1} MB")
    }
}

/// A file arriving in pieces: hashed as it comes, refused as soon as it
/// passes the limit, held once in memory.
pub struct Incoming {
    buf: Vec<u8>,
    hasher: Sha256,
    limit: u64,
}

impl Incoming {
    pub fn new(limit: u64) -> Self {
        Self {
            buf: Vec::new(),
            hasher: Sha256::new(),
            limit,
        }
    }

    /// Takes the next piece; 413 naming the limit once the file passes it.
    pub fn push(&mut self, piece: &[u8]) -> AppResult<()> {
        if (self.buf.len() + piece.len()) as u64 > self.limit {
            return Err(AppError::PayloadTooLarge(format!(
                "That file is larger than the {} limit per file",
                megabytes(self.limit)
            )));
        }
        self.hasher.update(piece);
        self.buf.extend_from_slice(piece);
        Ok(())
    }

    fn finish(self) -> (Vec<u8>, String) {
        (self.buf, hex(&self.hasher.finalize()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the caller's files take: each content counted once.
pub async fn used_bytes<C: ConnectionTrait>(db: &C, user_id: &UserId) -> AppResult<u64> {
    let rows: Vec<(String, i64)> = attachments::Entity::find()
        .select_only()
        .column(attachments::Column::BlobSha256)
        .column_as(attachments::Column::Size.max(), "size")
        .filter(attachments::Column::UserId.eq(user_id))
        .group_by(attachments::Column::BlobSha256)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.iter().map(|(_, s)| (*s).max(0) as u64).sum())
}

/// The caller's storage and the limits the composer shows.
pub async fn usage(state: &AppState, user_id: &UserId) -> AppResult<FileUsageDto> {
    let c = &state.config;
    Ok(FileUsageDto {
        used_bytes: used_bytes(&state.db, user_id).await?,
        quota_bytes: c.user_storage_quota_bytes,
        max_file_bytes: c.max_upload_bytes,
        max_files_per_message: c.max_attachments as u32,
        max_message_bytes: c.max_message_files_bytes,
    })
}

/// Stores an uploaded file for `user_id`: its type from the bytes (415
/// naming the supported ones), the quota (413), one blob per content, and
/// an attachment not yet tied to a message.
pub async fn finish_upload(
    state: &AppState,
    user_id: &UserId,
    file_name: &str,
    incoming: Incoming,
) -> AppResult<UploadedFileDto> {
    sweep_unsent(&state.db, now_ms()).await?;
    let (bytes, sha) = incoming.finish();
    if bytes.is_empty() {
        return Err(AppError::bad_request("file: the file is empty"));
    }
    let Some((mime, _)) = classify(&bytes) else {
        return Err(AppError::UnsupportedType(format!(
            "That type of file isn't supported — send {SUPPORTED}"
        )));
    };
    let size = bytes.len() as u64;
    let already_mine = attachments::Entity::find()
        .filter(attachments::Column::UserId.eq(user_id))
        .filter(attachments::Column::BlobSha256.eq(sha.as_str()))
        .one(&state.db)
        .await?
        .is_some();
    if !already_mine {
        let used = used_bytes(&state.db, user_id).await?;
        let quota = state.config.user_storage_quota_bytes;
        if used + size > quota {
            return Err(AppError::PayloadTooLarge(format!(
                "Your files already take {} of your {} of storage — delete chats with files to make room",
                megabytes(used),
                megabytes(quota)
            )));
        }
    }
    let dims = sniff(&bytes);
    files::store_blob_owned(&state.db, bytes, sha.clone()).await?;
    let row = attachments::ActiveModel {
        id: Set(FileId::generate().to_string()),
        user_id: Set(user_id.to_string()),
        message_id: Set(None),
        blob_sha256: Set(sha.clone()),
        kind: Set("upload".into()),
        filename: Set(clean_file_name(file_name, mime)),
        mime: Set(mime.into()),
        size: Set(size as i64),
        extracted_text: Set(None),
        created_at: Set(now_ms()),
        width: Set(dims.width.and_then(|w| i32::try_from(w).ok())),
        height: Set(dims.height.and_then(|h| i32::try_from(h).ok())),
        prompt: Set(None),
        seen: Set(None),
    }
    .insert(&state.db)
    .await?;
    Ok(UploadedFileDto {
        url: FileReader::Owner.url(&row.id),
        id: row.id,
        name: row.filename,
        mime: row.mime,
        size: row.size,
        sha256: sha,
        kind: AttachmentKind::Upload,
        width: row.width.and_then(|w| u32::try_from(w).ok()),
        height: row.height.and_then(|h| u32::try_from(h).ok()),
    })
}

/// Removes uploads never sent that are older than [`UNSENT_TTL_MS`], and
/// then every blob nothing references any more.
pub async fn sweep_unsent<C: ConnectionTrait>(db: &C, now: i64) -> AppResult<u64> {
    let old: Vec<(String, String)> = attachments::Entity::find()
        .select_only()
        .column(attachments::Column::Id)
        .column(attachments::Column::BlobSha256)
        .filter(attachments::Column::MessageId.is_null())
        .filter(attachments::Column::CreatedAt.lt(now - UNSENT_TTL_MS))
        .limit(SWEEP_BATCH)
        .into_tuple()
        .all(db)
        .await?;
    if old.is_empty() {
        return Ok(0);
    }
    let ids: Vec<String> = old.iter().map(|(id, _)| id.clone()).collect();
    let removed = attachments::Entity::delete_many()
        .filter(attachments::Column::Id.is_in(ids))
        .filter(attachments::Column::MessageId.is_null())
        .exec(db)
        .await?
        .rows_affected;
    let hashes: HashSet<String> = old.into_iter().map(|(_, h)| h).collect();
    delete_unreferenced(db, hashes.into_iter().collect()).await?;
    Ok(removed)
}

fn file_not_found() -> AppError {
    AppError::not_found("File")
}

/// The caller's file `id` (any of theirs: sent or not).
pub async fn owned(
    state: &AppState,
    user_id: &UserId,
    id: &FileId,
) -> AppResult<attachments::Model> {
    if !id.is_plausible() {
        return Err(file_not_found());
    }
    attachments::Entity::find()
        .filter(attachments::Column::Id.eq(id))
        .filter(attachments::Column::UserId.eq(user_id))
        .one(&state.db)
        .await?
        .ok_or_else(file_not_found)
}

/// Removes the caller's upload `id` before it is sent (409 once sent: it
/// goes with its thread), and its blob when nothing else uses it.
pub async fn delete_unsent(state: &AppState, user_id: &UserId, id: &FileId) -> AppResult<()> {
    let row = owned(state, user_id, id).await?;
    if row.message_id.is_some() {
        return Err(AppError::Conflict(
            "This file was sent with a message — it is deleted with its chat".into(),
        ));
    }
    let txn = sea_orm::TransactionTrait::begin(&state.db).await?;
    attachments::Entity::delete_by_id(row.id.clone())
        .exec(&txn)
        .await?;
    delete_unreferenced(&txn, vec![row.blob_sha256]).await?;
    txn.commit().await?;
    Ok(())
}

/// The files a message is sent with, in the order given: each must be the
/// caller's (404 otherwise, like a missing one), within the count and size
/// limits per message (413).
pub async fn for_message(
    state: &AppState,
    user_id: &UserId,
    ids: &[FileId],
) -> AppResult<Vec<attachments::Model>> {
    let c = &state.config;
    if ids.len() > c.max_attachments {
        return Err(AppError::PayloadTooLarge(format!(
            "A message can carry at most {} files",
            c.max_attachments
        )));
    }
    let mut seen = HashSet::new();
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        if !seen.insert(id.as_str().to_string()) {
            continue;
        }
        rows.push(owned(state, user_id, id).await?);
    }
    let total: u64 = rows.iter().map(|r| r.size.max(0) as u64).sum();
    if total > c.max_message_files_bytes {
        return Err(AppError::PayloadTooLarge(format!(
            "The files of one message may take at most {} together",
            megabytes(c.max_message_files_bytes)
        )));
    }
    Ok(rows)
}

/// The text a model gets of a file: its own text (one page), or the
/// markdown OCR read from each page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub as_: SeenAs,
    pub pages: Vec<String>,
}

fn unreadable(name: &str, why: &str) -> AppError {
    AppError::Unprocessable(format!("{name} could not be read: {why}"))
}

/// A blob's bytes.
async fn blob_bytes<C: ConnectionTrait>(db: &C, sha: &str) -> AppResult<Vec<u8>> {
    blobs::Entity::find_by_id(sha.to_string())
        .one(db)
        .await?
        .map(|b| b.data)
        .ok_or_else(file_not_found)
}

/// The text of `row`, reading it with OCR (once per content and OCR model,
/// with `key`) when it is a document or an image.
pub async fn extract(
    state: &AppState,
    key: &Secret,
    row: &attachments::Model,
) -> AppResult<Extracted> {
    if Category::of_mime(&row.mime) == Category::Text {
        let bytes = blob_bytes(&state.db, &row.blob_sha256).await?;
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let text = String::from_utf8_lossy(bytes).replace('\0', "");
        return Ok(Extracted {
            as_: SeenAs::Text,
            pages: vec![text],
        });
    }
    let model = state.config.ocr_model.clone();
    let cached = ocr_results::Entity::find_by_id((row.blob_sha256.clone(), model.clone()))
        .one(&state.db)
        .await?;
    if let Some(hit) = cached {
        let pages: Vec<String> = serde_json::from_str(&hit.pages).map_err(AppError::internal)?;
        return Ok(Extracted {
            as_: SeenAs::Pages,
            pages,
        });
    }
    let bytes = blob_bytes(&state.db, &row.blob_sha256).await?;
    let read = match Category::of_mime(&row.mime) {
        Category::Image => {
            let uri = data_uri(&row.mime, &bytes);
            let req = OcrRequest::new(model.clone(), OcrDocument::ImageUrl { image_url: uri });
            state.mistral.ocr(key, &req).await
        }
        _ => {
            let file_id = state
                .mistral
                .upload_for_ocr(key, &row.filename, &bytes)
                .await
                .map_err(|e| ocr_error(&row.filename, e))?;
            let req = OcrRequest::new(
                model.clone(),
                OcrDocument::File {
                    file_id: file_id.clone(),
                },
            );
            let read = state.mistral.ocr(key, &req).await;
            state.mistral.delete_file(key, &file_id).await;
            read
        }
    };
    let pages: Vec<String> = read
        .map_err(|e| ocr_error(&row.filename, e))?
        .page_texts()
        .into_iter()
        .map(|p| p.replace('\0', ""))
        .collect();
    let json = serde_json::to_string(&pages).map_err(AppError::internal)?;
    let insert = ocr_results::Entity::insert(ocr_results::ActiveModel {
        blob_sha256: Set(row.blob_sha256.clone()),
        model: Set(model),
        pages: Set(json),
        page_count: Set(pages.len().min(i32::MAX as usize) as i32),
        created_at: Set(now_ms()),
    })
    .on_conflict_do_nothing_on([ocr_results::Column::BlobSha256, ocr_results::Column::Model])
    .exec_without_returning(&state.db)
    .await;
    if let Err(e) = insert {
        // Another request stored the same reading first, or the file went:
        // the pages are still good for this answer.
        tracing::info!(error = %e, "OCR result not cached");
    }
    Ok(Extracted {
        as_: SeenAs::Pages,
        pages,
    })
}

/// A refusal about the file itself is the file's fault (422 naming it);
/// anything else is Mistral's (mapped like a chat error).
fn ocr_error(name: &str, e: MistralError) -> AppError {
    match &e {
        MistralError::Rejected {
            status: 400 | 413 | 415 | 422,
            message,
        } => unreadable(name, message),
        _ => e.into(),
    }
}

fn data_uri(mime: &str, bytes: &[u8]) -> String {
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The key a caller's file is read with (their own, else the operator's
/// when allowed).
pub async fn key_for(state: &AppState, user_id: &UserId) -> AppResult<Secret> {
    let row = settings::row(state, user_id).await?;
    Ok(settings::pick_key(state, user_id, row.as_ref()).await?.key)
}

/// `GET /api/files/{id}/text`: what the model would read of the caller's
/// file, page by page, with each page's token estimate.
pub async fn text_of(state: &AppState, user_id: &UserId, id: &FileId) -> AppResult<FileTextDto> {
    let row = owned(state, user_id, id).await?;
    let key = key_for(state, user_id).await?;
    let got = extract(state, &key, &row).await?;
    let page_tokens = got
        .pages
        .iter()
        .enumerate()
        .map(|(i, p)| page_tokens(got.as_, i, p))
        .collect();
    Ok(FileTextDto {
        id: row.id,
        name: row.filename,
        as_: got.as_,
        pages: got.pages,
        page_tokens,
    })
}

/// The marker before page `index` (0-based) of a document.
fn page_marker(index: usize) -> String {
    format!("--- Page {} ---\n", index + 1)
}

fn page_tokens(as_: SeenAs, index: usize, text: &str) -> u64 {
    match as_ {
        SeenAs::Pages => estimate_tokens(&page_marker(index)) + estimate_tokens(text),
        _ => estimate_tokens(text),
    }
}

/// A file name fit for the `name="…"` of a file block.
fn block_name(name: &str) -> String {
    name.chars()
        .map(|c| if c == '"' || c.is_control() { '\'' } else { c })
        .collect()
}

/// What the model receives of one file, and the record of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// Text put before the question (a `<file>` block), if any.
    pub block: Option<String>,
    /// An image chunk, if the file goes as an image.
    pub image: Option<String>,
    pub seen: SeenDto,
}

impl Part {
    pub fn tokens(&self) -> u64 {
        self.seen.tokens
    }
}

/// How much of a file goes: what fits in `budget` tokens, or exactly what
/// `keep` says went before (a history replayed).
#[derive(Debug, Clone, Copy)]
pub enum Fit<'a> {
    Budget(u64),
    Keep(&'a SeenDto),
}

/// The `<file>` block of `name` holding as much of `got` as `fit` allows,
/// with a sentence telling the model what was left out.
pub fn fit_text(name: &str, got: &Extracted, fit: Fit<'_>) -> Part {
    let name = block_name(name);
    let total_chars: u64 = got.pages.iter().map(|p| p.chars().count() as u64).sum();
    match got.as_ {
        SeenAs::Pages => {
            let n = got.pages.len();
            let take = match fit {
                Fit::Keep(seen) => seen.pages.map_or(0, |[_, b]| (b as usize).min(n)),
                Fit::Budget(budget) => {
                    let mut used = 0u64;
                    let mut k = 0;
                    for (i, p) in got.pages.iter().enumerate() {
                        let t = page_tokens(SeenAs::Pages, i, p);
                        if used + t > budget {
                            break;
                        }
                        used += t;
                        k += 1;
                    }
                    k
                }
            };
            let mut block = format!("<file name=\"{name}\" pages=\"{n}\">\n");
            let mut chars = 0u64;
            for (i, p) in got.pages.iter().take(take).enumerate() {
                block.push_str(&page_marker(i));
                block.push_str(p);
                block.push_str("\n\n");
                chars += p.chars().count() as u64;
            }
            if take < n {
                block.push_str(&format!(
                    "[Pages {}–{n} of {name} were left out: they do not fit in the model's context.]\n",
                    take + 1
                ));
            }
            block.push_str("</file>");
            text_part(
                block,
                SeenAs::Pages,
                (take > 0).then_some([1, take as u32]),
                Some(n as u32),
                (chars, total_chars),
            )
        }
        _ => {
            let text = got.pages.concat();
            let keep_chars = match fit {
                Fit::Keep(seen) => seen.chars.min(total_chars) as usize,
                Fit::Budget(budget) => {
                    let overhead = estimate_tokens(&name) + 40;
                    let room = budget.saturating_sub(overhead).saturating_mul(3);
                    if estimate_tokens(&text) + overhead <= budget {
                        total_chars as usize
                    } else {
                        cut_at_line(&text, room as usize)
                    }
                }
            };
            let kept: String = text.chars().take(keep_chars).collect();
            let mut block = format!("<file name=\"{name}\">\n{kept}");
            if !kept.ends_with('\n') {
                block.push('\n');
            }
            if (keep_chars as u64) < total_chars {
                block.push_str(&format!(
                    "[The rest of {name} ({} of {} characters) was left out: it does not fit in the model's context.]\n",
                    total_chars - keep_chars as u64,
                    total_chars
                ));
            }
            block.push_str("</file>");
            text_part(
                block,
                SeenAs::Text,
                None,
                None,
                (keep_chars as u64, total_chars),
            )
        }
    }
}

/// A `<file>` block and its record: `chars` of `total` characters sent.
fn text_part(
    block: String,
    as_: SeenAs,
    pages: Option<[u32; 2]>,
    total_pages: Option<u32>,
    (chars, total_chars): (u64, u64),
) -> Part {
    Part {
        seen: SeenDto {
            as_,
            pages,
            total_pages,
            chars,
            total_chars,
            tokens: estimate_tokens(&block),
        },
        block: Some(block),
        image: None,
    }
}

/// How many characters of `text` to keep so that at most `max` go: cut at
/// the last line break in the final fifth, else at `max`.
fn cut_at_line(text: &str, max: usize) -> usize {
    let head: String = text.chars().take(max).collect();
    let n = head.chars().count();
    match head.rfind('\n') {
        Some(at) => {
            let line_end = head[..=at].chars().count();
            if line_end * 5 >= n * 4 {
                line_end
            } else {
                n
            }
        }
        None => n,
    }
}

/// An image sent as itself.
pub fn image_part(mime: &str, bytes: &[u8], width: Option<u32>, height: Option<u32>) -> Part {
    Part {
        block: None,
        image: Some(data_uri(mime, bytes)),
        seen: SeenDto {
            as_: SeenAs::Image,
            pages: None,
            total_pages: None,
            chars: 0,
            total_chars: 0,
            tokens: image_tokens(width, height),
        },
    }
}

fn dims(row: &attachments::Model) -> (Option<u32>, Option<u32>) {
    (
        row.width.and_then(|w| u32::try_from(w).ok()),
        row.height.and_then(|h| u32::try_from(h).ok()),
    )
}

/// How a message's images go to a model that cannot see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vision {
    /// The model sees images.
    Sees,
    /// It does not: images are refused before anything is stored…
    Refuse,
    /// …or read with OCR, when the person chose that.
    Ocr,
}

/// The parts of a new message's files, fitted into `budget` tokens in the
/// order given (images first take their share).
pub async fn parts_for_send(
    state: &AppState,
    key: &Secret,
    model: &str,
    rows: &[attachments::Model],
    vision: Vision,
    budget: u64,
) -> AppResult<Vec<Part>> {
    if vision == Vision::Refuse {
        if let Some(img) = rows
            .iter()
            .find(|r| Category::of_mime(&r.mime) == Category::Image)
        {
            return Err(AppError::bad_request(format!(
                "attachments: {model} can't see images ({}) — switch to a model with vision, or send the image's text instead",
                img.filename
            )));
        }
    }
    let mut left = budget;
    let mut parts = Vec::with_capacity(rows.len());
    // Images first: they go whole or not at all.
    let mut slots: Vec<Option<Part>> = vec![None; rows.len()];
    if vision == Vision::Sees {
        for (i, r) in rows.iter().enumerate() {
            if Category::of_mime(&r.mime) == Category::Image {
                let bytes = blob_bytes(&state.db, &r.blob_sha256).await?;
                let (w, h) = dims(r);
                let part = image_part(&r.mime, &bytes, w, h);
                left = left.saturating_sub(part.tokens());
                slots[i] = Some(part);
            }
        }
    }
    for (i, r) in rows.iter().enumerate() {
        if slots[i].is_some() {
            continue;
        }
        let got = extract(state, key, r).await?;
        let part = fit_text(&r.filename, &got, Fit::Budget(left));
        left = left.saturating_sub(part.tokens());
        slots[i] = Some(part);
    }
    parts.extend(slots.into_iter().flatten());
    Ok(parts)
}

/// The parts of an earlier message's files, exactly as they went then.
/// An image for a model that cannot see it becomes a sentence saying so.
pub async fn parts_as_sent(
    state: &AppState,
    key: &Secret,
    rows: &[attachments::Model],
    sees_images: bool,
) -> AppResult<Vec<Part>> {
    let mut parts = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(seen) = r
            .seen
            .as_deref()
            .and_then(|s| serde_json::from_str::<SeenDto>(s).ok())
        else {
            continue;
        };
        let part = match seen.as_ {
            SeenAs::Image if sees_images => {
                let bytes = blob_bytes(&state.db, &r.blob_sha256).await?;
                let (w, h) = dims(r);
                image_part(&r.mime, &bytes, w, h)
            }
            SeenAs::Image => {
                let block = format!(
                    "[An image, {}, was attached here; this model cannot see images.]",
                    block_name(&r.filename)
                );
                Part {
                    seen: SeenDto {
                        tokens: estimate_tokens(&block),
                        ..seen
                    },
                    block: Some(block),
                    image: None,
                }
            }
            _ => {
                let got = extract(state, key, r).await?;
                fit_text(&r.filename, &got, Fit::Keep(&seen))
            }
        };
        parts.push(part);
    }
    Ok(parts)
}

/// A user message's content with its files: images as chunks, then the
/// file blocks and the question as one text.
pub fn user_content(text: &str, parts: &[Part]) -> Vec<ContentChunk> {
    let mut chunks: Vec<ContentChunk> = parts
        .iter()
        .filter_map(|p| p.image.clone())
        .map(ContentChunk::image_url)
        .collect();
    let mut body = String::new();
    for b in parts.iter().filter_map(|p| p.block.as_deref()) {
        body.push_str(b);
        body.push_str("\n\n");
    }
    body.push_str(text);
    chunks.push(ContentChunk::text(body));
    chunks
}

/// Every file of the given messages (oldest first), as stored.
pub async fn rows_of_messages<C: ConnectionTrait>(
    db: &C,
    message_ids: &[String],
) -> AppResult<Vec<attachments::Model>> {
    let mut out = Vec::new();
    for chunk in message_ids.chunks(super::threads::IN_CHUNK) {
        let rows = attachments::Entity::find()
            .filter(attachments::Column::MessageId.is_in(chunk.iter().cloned()))
            .filter(attachments::Column::Kind.eq("upload"))
            .order_by_asc(attachments::Column::CreatedAt)
            .order_by_asc(attachments::Column::Id)
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Ties `rows` to the new message `message_id` with what the model saw of
/// each: an upload not sent yet is claimed; a file already on a message
/// (an edited question keeping it, or a race) gets a new row on the same
/// blob.
pub async fn link<C: ConnectionTrait>(
    db: &C,
    message_id: &str,
    rows: &[attachments::Model],
    parts: &[Part],
) -> AppResult<()> {
    let now = now_ms();
    for (i, (r, p)) in rows.iter().zip(parts).enumerate() {
        let seen = serde_json::to_string(&p.seen).map_err(AppError::internal)?;
        let claimed = if r.message_id.is_none() {
            attachments::Entity::update_many()
                .col_expr(attachments::Column::MessageId, message_id.into())
                .col_expr(attachments::Column::Seen, seen.clone().into())
                .col_expr(attachments::Column::CreatedAt, (now + i as i64).into())
                .filter(attachments::Column::Id.eq(r.id.as_str()))
                .filter(attachments::Column::MessageId.is_null())
                .exec(db)
                .await?
                .rows_affected
                == 1
        } else {
            false
        };
        if !claimed {
            attachments::ActiveModel {
                id: Set(FileId::generate().to_string()),
                user_id: Set(r.user_id.clone()),
                message_id: Set(Some(message_id.to_string())),
                blob_sha256: Set(r.blob_sha256.clone()),
                kind: Set(r.kind.clone()),
                filename: Set(r.filename.clone()),
                mime: Set(r.mime.clone()),
                size: Set(r.size),
                extracted_text: Set(None),
                created_at: Set(now + i as i64),
                width: Set(r.width),
                height: Set(r.height),
                prompt: Set(r.prompt.clone()),
                seen: Set(Some(seen)),
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(n: usize, chars: usize) -> Extracted {
        Extracted {
            as_: SeenAs::Pages,
            pages: (0..n)
                .map(|i| format!("{i}{}", "x".repeat(chars - 1)))
                .collect(),
        }
    }

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(
            classify(b"%PDF-1.4\n"),
            Some(("application/pdf", Category::Document))
        );
        assert_eq!(
            classify(b"fn main() {}\n"),
            Some((MIME_TEXT, Category::Text))
        );
        assert_eq!(
            classify("\u{feff}héllo, wörld\r\n".as_bytes()),
            Some((MIME_TEXT, Category::Text))
        );
        // HTML and SVG are text to a model (never served inline: the file
        // routes sniff them as octet-stream).
        assert_eq!(
            classify(b"<svg onload=alert(1)>"),
            Some((MIME_TEXT, Category::Text))
        );
        assert_eq!(classify(b"\x00\x01\x02binary"), None);
        assert_eq!(classify(&[0xff, 0xfe, 0x41, 0x00]), None);
        assert_eq!(classify(b"PK\x03\x04 just a zip"), None);
        let mut docx = b"PK\x03\x04....[Content_Types].xml....".to_vec();
        docx.extend_from_slice(b"PK\x03\x04word/document.xml");
        assert_eq!(classify(&docx), Some((MIME_DOCX, Category::Document)));
        let pptx = b"PK\x03\x04[Content_Types].xml ppt/presentation.xml";
        assert_eq!(classify(pptx), Some((MIME_PPTX, Category::Document)));
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 2, 8, 2, 0, 0, 0]);
        assert_eq!(classify(&png), Some(("image/png", Category::Image)));
    }

    #[test]
    fn incoming_refuses_past_the_limit_and_hashes_what_came() {
        let mut inc = Incoming::new(10);
        inc.push(b"hello").unwrap();
        inc.push(b"world").unwrap();
        let err = inc.push(b"!").unwrap_err();
        assert_eq!(err.status().as_u16(), 413);
        assert!(err.to_string().contains("limit"), "{err}");
        let (bytes, sha) = Incoming {
            buf: vec![],
            hasher: Sha256::new(),
            limit: 100,
        }
        .finish();
        assert!(bytes.is_empty());
        assert_eq!(sha, crate::server::crypto::sha256_hex(b""));
    }

    #[test]
    fn documents_fit_by_whole_pages_and_say_what_was_left_out() {
        let doc = pages(120, 3000);
        let part = fit_text("big.pdf", &doc, Fit::Budget(40 * 1010));
        let seen = &part.seen;
        assert_eq!(seen.total_pages, Some(120));
        let [a, b] = seen.pages.unwrap();
        assert_eq!(a, 1);
        assert!(b > 30 && b < 41, "{b}");
        assert!(!seen.complete());
        assert_eq!(seen.describe(), format!("pages 1–{b} of 120"));
        let block = part.block.unwrap();
        assert!(block.starts_with("<file name=\"big.pdf\" pages=\"120\">\n--- Page 1 ---\n0"));
        assert!(block.contains(&format!("[Pages {}–120 of big.pdf were left out", b + 1)));
        assert!(!block.contains(&format!("--- Page {} ---", b + 1)));
        assert!(part.seen.tokens <= 40 * 1010 + 50);
        // Replayed exactly as recorded, whatever the budget now.
        let again = fit_text("big.pdf", &doc, Fit::Keep(seen));
        assert_eq!(again.seen, *seen);
        // Everything fits.
        let small = fit_text("s.pdf", &pages(3, 10), Fit::Budget(10_000));
        assert_eq!(small.seen.describe(), "all 3 pages");
        assert!(small.seen.complete());
        // Nothing fits.
        let none = fit_text("s.pdf", &pages(3, 10), Fit::Budget(0));
        assert_eq!(none.seen.pages, None);
        assert_eq!(none.seen.describe(), "none of its 3 pages");
    }

    #[test]
    fn text_is_cut_at_a_line_and_the_cut_is_stated() {
        let text = (0..1000).map(|i| format!("line {i}\n")).collect::<String>();
        let got = Extracted {
            as_: SeenAs::Text,
            pages: vec![text.clone()],
        };
        let all = fit_text("a.txt", &got, Fit::Budget(100_000));
        assert!(all.seen.complete());
        assert_eq!(
            all.block.as_deref(),
            Some(format!("<file name=\"a.txt\">\n{text}</file>").as_str())
        );
        let cut = fit_text("a\"b.txt", &got, Fit::Budget(500));
        assert!(!cut.seen.complete());
        assert!(
            cut.seen.chars > 1000 && cut.seen.chars < 1500,
            "{}",
            cut.seen.chars
        );
        let block = cut.block.unwrap();
        assert!(block.starts_with("<file name=\"a'b.txt\">\nline 0\n"));
        let kept: String = text.chars().take(cut.seen.chars as usize).collect();
        assert!(kept.ends_with('\n'), "cut at a line break");
        assert!(block.contains("was left out"));
        assert!(cut.seen.tokens <= 520, "{}", cut.seen.tokens);
        assert_eq!(
            cut.seen.describe(),
            format!(
                "{} of {} characters",
                crate::model::group(cut.seen.chars),
                crate::model::group(cut.seen.total_chars)
            )
        );
    }

    #[test]
    fn content_puts_images_first_then_files_then_the_question() {
        let img = image_part("image/png", b"\x89PNG", Some(64), Some(48));
        let doc = fit_text(
            "d.txt",
            &Extracted {
                as_: SeenAs::Text,
                pages: vec!["hi".into()],
            },
            Fit::Budget(1000),
        );
        let chunks = user_content("What is it?", &[img, doc]);
        let json = serde_json::to_value(&chunks).unwrap();
        assert_eq!(json[0]["type"], "image_url");
        assert!(json[0]["image_url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,"));
        assert_eq!(
            json[1]["text"],
            "<file name=\"d.txt\">\nhi\n</file>\n\nWhat is it?"
        );
    }
}
