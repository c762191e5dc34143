//! The file store: content-addressed blobs, the attachments that point at
//! them, and who may read which file.
//!
//! Bytes live once per SHA-256 in the `blobs` table of whichever database is
//! configured, so every replica sharing that database serves them. Their
//! type is *sniffed* from the bytes ([`sniff`]: PNG, JPEG, GIF, WebP, PDF,
//! else `application/octet-stream`); a name or type claimed by an uploader
//! or by Mistral is never believed. An attachment row ties a blob to its
//! owner and (once sent) to a message.
//!
//! Reading rules live here, not in the routes: the owner reads a file by id
//! ([`serve`]; a foreign id answers exactly like a missing one), a share
//! reader only the files of messages on the shared branch of an active
//! share ([`serve_shared`]). [`attachments_for`] gives each message's files
//! with the address the current reader may use. This module knows nothing
//! about HTTP headers; `server::api::file_routes` turns a [`FileBody`] into
//! a response. Deleting blobs is `services::blobs`.
use crate::model::{AttachmentDto, AttachmentKind, MessageDto};
use crate::server::crypto::sha256_hex;
use crate::server::db::now_ms;
use crate::server::entities::{attachments, blobs};
use crate::server::services::threads::{self, ShareCode, IN_CHUNK};
use crate::server::{AppError, AppResult, AppState};
use crate::vocab::{FileId, MessageId, UserId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, SqlErr,
};
use std::collections::HashMap;

/// The largest file the store accepts (Mistral's generated images are a few
/// MB; the client's download cap is the same).
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
/// Longest stored file name, in characters (the column holds 255).
const MAX_FILE_NAME_CHARS: usize = 200;
/// Longest stored prompt of a generated image, in characters.
const MAX_PROMPT_CHARS: usize = 100_000;
/// The type of anything the sniffer does not recognise.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// What the bytes of a file are, read from their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    pub mime: &'static str,
    /// Pixels, for images whose header could be read.
    pub width: Option<u32>,
    pub height: Option<u32>,
}

impl Sniffed {
    fn of(mime: &'static str, dims: Option<(u32, u32)>) -> Self {
        let dims = dims.filter(|(w, h)| *w > 0 && *h > 0);
        Self {
            mime,
            width: dims.map(|d| d.0),
            height: dims.map(|d| d.1),
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]).into())
}

fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]).into())
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        0,
    ]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn png_size(b: &[u8]) -> Option<(u32, u32)> {
    (b.get(12..16)? == b"IHDR").then_some(())?;
    Some((be32(b, 16)?, be32(b, 20)?))
}

fn gif_size(b: &[u8]) -> Option<(u32, u32)> {
    Some((le16(b, 6)?, le16(b, 8)?))
}

/// Walks the JPEG markers up to the first start-of-frame (bounded by the
/// data: every step moves forward).
fn jpeg_size(b: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    loop {
        if *b.get(i)? != 0xFF {
            return None;
        }
        // Fill bytes before a marker.
        while *b.get(i + 1)? == 0xFF {
            i += 1;
        }
        let marker = *b.get(i + 1)?;
        i += 2;
        match marker {
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => continue,
            // Start of scan or end of image before any frame.
            0xD9 | 0xDA => return None,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return Some((be16(b, i + 5)?, be16(b, i + 3)?));
            }
            _ => {
                let len = be16(b, i)? as usize;
                if len < 2 {
                    return None;
                }
                i += len;
            }
        }
    }
}

fn webp_size(b: &[u8]) -> Option<(u32, u32)> {
    match b.get(12..16)? {
        b"VP8 " => {
            (b.get(23..26)? == [0x9d, 0x01, 0x2a]).then_some(())?;
            Some((le16(b, 26)? & 0x3fff, le16(b, 28)? & 0x3fff))
        }
        b"VP8L" => {
            (*b.get(20)? == 0x2f).then_some(())?;
            let v = u32::from_le_bytes(b.get(21..25)?.try_into().ok()?);
            Some(((v & 0x3fff) + 1, ((v >> 14) & 0x3fff) + 1))
        }
        b"VP8X" => Some((le24(b, 24)? + 1, le24(b, 27)? + 1)),
        _ => None,
    }
}

/// The type of `bytes` from their magic numbers, and an image's size.
/// Anything not recognised — HTML, SVG, XML, script, text — is
/// `application/octet-stream`: only the types the routes may show inline
/// are ever named.
pub fn sniff(bytes: &[u8]) -> Sniffed {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Sniffed::of("image/png", png_size(bytes))
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Sniffed::of("image/jpeg", jpeg_size(bytes))
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Sniffed::of("image/gif", gif_size(bytes))
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Sniffed::of("image/webp", webp_size(bytes))
    } else if bytes.starts_with(b"%PDF-") {
        Sniffed::of("application/pdf", None)
    } else {
        Sniffed::of(OCTET_STREAM, None)
    }
}

/// The usual extension of a sniffed type (without the dot).
fn extension(mime: &str) -> Option<&'static str> {
    Some(match mime {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "application/pdf" => "pdf",
        _ => return None,
    })
}

/// A file name fit to store: no path, no control characters, not empty, at
/// most [`MAX_FILE_NAME_CHARS`], with the extension of its sniffed type
/// (Mistral names generated images `image_generated_0`).
pub fn clean_file_name(raw: &str, mime: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name: String = base
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .chars()
        .take(MAX_FILE_NAME_CHARS)
        .collect();
    if name.is_empty() {
        name = "file".into();
    }
    if let Some(ext) = extension(mime) {
        let has = name.rsplit_once('.').is_some_and(|(_, e)| {
            e.eq_ignore_ascii_case(ext) || (ext == "jpg" && e.eq_ignore_ascii_case("jpeg"))
        });
        if !has {
            name = name
                .chars()
                .take(MAX_FILE_NAME_CHARS - ext.len() - 1)
                .collect();
            name.push('.');
            name.push_str(ext);
        }
    }
    name
}

fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Stores `bytes` once under their SHA-256 and returns the hash (hex) with
/// the sniffed type. Storing the same bytes again — also concurrently, from
/// another request or replica — writes nothing: the insert is
/// `ON CONFLICT DO NOTHING` (MySQL: a no-op update), and a unique violation
/// that still gets through is taken as "already there". Safe inside a
/// transaction on PostgreSQL (the conflict clause never aborts it).
pub async fn store_blob<C: ConnectionTrait>(
    db: &C,
    bytes: &[u8],
) -> AppResult<(String, &'static str)> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(AppError::PayloadTooLarge(format!(
            "File too large (limit {} MB)",
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    let sha = sha256_hex(bytes);
    let mime = sniff(bytes).mime;
    store_blob_owned(db, bytes.to_vec(), sha.clone()).await?;
    Ok((sha, mime))
}

/// [`store_blob`] for bytes the caller hands over with their SHA-256 (hex),
/// already computed while they arrived: the bytes are not copied again.
pub async fn store_blob_owned<C: ConnectionTrait>(
    db: &C,
    bytes: Vec<u8>,
    sha: String,
) -> AppResult<()> {
    let exists = blobs::Entity::find_by_id(sha.clone())
        .select_only()
        .column(blobs::Column::Sha256)
        .into_tuple::<String>()
        .one(db)
        .await?
        .is_some();
    if exists {
        return Ok(());
    }
    let row = blobs::ActiveModel {
        sha256: Set(sha),
        size: Set(bytes.len() as i64),
        mime: Set(sniff(&bytes).mime.to_string()),
        data: Set(bytes),
        created_at: Set(now_ms()),
    };
    match blobs::Entity::insert(row)
        .on_conflict_do_nothing_on([blobs::Column::Sha256])
        .exec_without_returning(db)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Text fit for a text column: no NUL (PostgreSQL refuses it), at most
/// `max` characters.
fn clean_text(s: &str, max: usize) -> String {
    s.chars().filter(|c| *c != '\0').take(max).collect()
}

/// Stores an image a tool generated for the answer `message_id` of
/// `user_id`: the blob (once per content) and an attachment of kind
/// `generated` linked to the message, with the sniffed type, the pixel size
/// and the prompt. The address in the result is the owner's.
pub async fn add_generated_image<C: ConnectionTrait>(
    db: &C,
    user_id: &UserId,
    message_id: &MessageId,
    bytes: &[u8],
    file_name: &str,
    prompt: Option<String>,
) -> AppResult<AttachmentDto> {
    let (sha, mime) = store_blob(db, bytes).await?;
    let dims = sniff(bytes);
    let row = attachments::ActiveModel {
        id: Set(FileId::generate().to_string()),
        user_id: Set(user_id.to_string()),
        message_id: Set(Some(message_id.to_string())),
        blob_sha256: Set(sha),
        kind: Set(kind_column(AttachmentKind::Generated).into()),
        filename: Set(clean_file_name(file_name, mime)),
        mime: Set(mime.into()),
        size: Set(bytes.len() as i64),
        extracted_text: Set(None),
        seen: Set(None),
        created_at: Set(now_ms()),
        width: Set(dims.width.and_then(|w| i32::try_from(w).ok())),
        height: Set(dims.height.and_then(|h| i32::try_from(h).ok())),
        prompt: Set(prompt
            .map(|p| clean_text(&p, MAX_PROMPT_CHARS))
            .filter(|p| !p.trim().is_empty())),
    }
    .insert(db)
    .await?;
    Ok(attachment_dto(row, &FileReader::Owner))
}

/// `attachments.kind` as stored: the serde name of the kind.
fn kind_column(kind: AttachmentKind) -> &'static str {
    match kind {
        AttachmentKind::Generated => "generated",
        AttachmentKind::Upload => "upload",
    }
}

/// Who reads a message's files, which decides their addresses.
#[derive(Debug, Clone, Copy)]
pub enum FileReader<'a> {
    /// The owner: `/api/files/{id}`.
    Owner,
    /// A reader of the share link with this code:
    /// `/api/shared/{code}/files/{id}`.
    Share(&'a ShareCode),
}

impl FileReader<'_> {
    /// The address this reader fetches file `id` from. Share codes and file
    /// ids are URL-safe, so nothing needs escaping.
    pub fn url(&self, id: &str) -> String {
        match self {
            FileReader::Owner => format!("/api/files/{id}"),
            FileReader::Share(code) => format!("/api/shared/{}/files/{id}", code.as_str()),
        }
    }
}

fn attachment_dto(a: attachments::Model, reader: &FileReader<'_>) -> AttachmentDto {
    AttachmentDto {
        url: reader.url(&a.id),
        kind: if a.kind == kind_column(AttachmentKind::Generated) {
            AttachmentKind::Generated
        } else {
            AttachmentKind::Upload
        },
        id: a.id,
        name: a.filename,
        mime: a.mime,
        size: a.size,
        width: a.width.and_then(|w| u32::try_from(w).ok()),
        height: a.height.and_then(|h| u32::try_from(h).ok()),
        prompt: a.prompt,
        seen: a.seen.as_deref().and_then(|s| serde_json::from_str(s).ok()),
    }
}

/// The files of each of `message_ids` (oldest first), addressed for
/// `reader`: one query per [`IN_CHUNK`] ids. The caller has already decided
/// that the reader may see these messages.
pub async fn attachments_for<C: ConnectionTrait>(
    db: &C,
    message_ids: &[String],
    reader: &FileReader<'_>,
) -> AppResult<HashMap<String, Vec<AttachmentDto>>> {
    let mut out: HashMap<String, Vec<AttachmentDto>> = HashMap::new();
    for chunk in message_ids.chunks(IN_CHUNK) {
        let rows = attachments::Entity::find()
            .filter(attachments::Column::MessageId.is_in(chunk.iter().cloned()))
            .order_by_asc(attachments::Column::CreatedAt)
            .order_by_asc(attachments::Column::Id)
            .all(db)
            .await?;
        for a in rows {
            if let Some(m) = a.message_id.clone() {
                out.entry(m).or_default().push(attachment_dto(a, reader));
            }
        }
    }
    Ok(out)
}

/// Fills [`MessageDto::attachments`] of `messages` for `reader`.
pub async fn fill_attachments<C: ConnectionTrait>(
    db: &C,
    messages: &mut [MessageDto],
    reader: &FileReader<'_>,
) -> AppResult<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
    let mut by_message = attachments_for(db, &ids, reader).await?;
    for m in messages.iter_mut() {
        if let Some(files) = by_message.remove(&m.id) {
            m.attachments = files;
        }
    }
    Ok(())
}

fn file_not_found() -> AppError {
    AppError::not_found("File")
}

/// A file the reader may have, before its bytes are read (a conditional
/// request is answered from the hash alone).
#[derive(Debug, Clone)]
pub struct FileRef {
    sha256: String,
    file_name: String,
}

/// A file's bytes with their sniffed type.
#[derive(Debug, Clone)]
pub struct FileBody {
    pub sha256: String,
    pub file_name: String,
    /// Sniffed from `data` as it is served, whatever the rows say.
    pub mime: &'static str,
    pub data: Vec<u8>,
}

impl FileRef {
    /// The content hash (hex): the file's strong validator.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Reads the bytes.
    pub async fn load<C: ConnectionTrait>(self, db: &C) -> AppResult<FileBody> {
        let blob = blobs::Entity::find_by_id(self.sha256.clone())
            .one(db)
            .await?
            .ok_or_else(file_not_found)?;
        Ok(FileBody {
            mime: sniff(&blob.data).mime,
            sha256: self.sha256,
            file_name: self.file_name,
            data: blob.data,
        })
    }
}

impl From<attachments::Model> for FileRef {
    fn from(a: attachments::Model) -> Self {
        Self {
            sha256: a.blob_sha256,
            file_name: a.filename,
        }
    }
}

/// The caller's file `file_id`; `404 File not found` when it is missing *or
/// someone else's*.
pub async fn serve(state: &AppState, caller: &UserId, file_id: &FileId) -> AppResult<FileRef> {
    if !file_id.is_plausible() {
        return Err(file_not_found());
    }
    attachments::Entity::find()
        .filter(attachments::Column::Id.eq(file_id))
        .filter(attachments::Column::UserId.eq(caller))
        .one(&state.db)
        .await?
        .map(FileRef::from)
        .ok_or_else(file_not_found)
}

/// File `file_id` for a reader of the share link `code`: only a file of a
/// message on the branch the active share shows. Unknown, revoked and
/// expired codes, files of other messages (later ones, other versions,
/// other threads) and missing files all answer `404 File not found`.
pub async fn serve_shared(
    state: &AppState,
    code: &ShareCode,
    file_id: &FileId,
) -> AppResult<FileRef> {
    if !file_id.is_plausible() {
        return Err(file_not_found());
    }
    let (thread, branch) = match threads::shared_branch(&state.db, code).await {
        Ok(found) => found,
        Err(AppError::NotFound(_)) => return Err(file_not_found()),
        Err(e) => return Err(e),
    };
    let file = attachments::Entity::find()
        .filter(attachments::Column::Id.eq(file_id))
        .filter(attachments::Column::UserId.eq(thread.user_id.as_str()))
        .one(&state.db)
        .await?
        .ok_or_else(file_not_found)?;
    let on_branch = file
        .message_id
        .as_ref()
        .is_some_and(|m| branch.iter().any(|id| id == m));
    if !on_branch {
        return Err(file_not_found());
    }
    Ok(file.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal PNG header with the given size (enough for the sniffer).
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&[8, 2, 0, 0, 0]);
        b
    }

    #[test]
    fn recognises_images_and_pdf_with_their_sizes() {
        assert_eq!(
            sniff(&png_header(64, 48)),
            Sniffed {
                mime: "image/png",
                width: Some(64),
                height: Some(48)
            }
        );
        let mut gif = b"GIF89a".to_vec();
        gif.extend_from_slice(&[10, 0, 3, 1]);
        assert_eq!(
            (sniff(&gif).mime, sniff(&gif).width, sniff(&gif).height),
            ("image/gif", Some(10), Some(259))
        );
        // JPEG: SOI, an APP0 segment, then SOF0 (height 0x0120, width 0x0200).
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xFF, 0xC0, 0x00, 0x11, 0x08,
            0x01, 0x20, 0x02, 0x00, 0x03,
        ];
        assert_eq!(
            (sniff(&jpeg).mime, sniff(&jpeg).width, sniff(&jpeg).height),
            ("image/jpeg", Some(512), Some(288))
        );
        // WebP, extended header: canvas 640×480 stored minus one.
        let mut webp = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0".to_vec();
        webp.extend_from_slice(&[0x7f, 0x02, 0x00, 0xdf, 0x01, 0x00]);
        assert_eq!(
            (sniff(&webp).mime, sniff(&webp).width, sniff(&webp).height),
            ("image/webp", Some(640), Some(480))
        );
        // Lossless WebP: 1 + 14-bit fields.
        let mut vp8l = b"RIFF\0\0\0\0WEBPVP8L\0\0\0\0\x2f".to_vec();
        let bits: u32 = 99 | (49 << 14);
        vp8l.extend_from_slice(&bits.to_le_bytes());
        assert_eq!(
            (sniff(&vp8l).width, sniff(&vp8l).height),
            (Some(100), Some(50))
        );
        assert_eq!(sniff(b"%PDF-1.7\n").mime, "application/pdf");
    }

    #[test]
    fn anything_else_is_octet_stream_without_a_size() {
        for bytes in [
            &b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"[..],
            b"<!DOCTYPE html><html><script>alert(1)</script>",
            b"<?xml version='1.0'?><x/>",
            b"alert(document.cookie)",
            b"",
            b"\x89PN",
            b"RIFF\0\0\0\0WAVE",
        ] {
            assert_eq!(
                sniff(bytes),
                Sniffed {
                    mime: OCTET_STREAM,
                    width: None,
                    height: None
                }
            );
        }
    }

    #[test]
    fn truncated_or_hostile_headers_never_panic() {
        let png = png_header(7, 9);
        for n in 0..png.len() {
            let _ = sniff(&png[..n]);
        }
        // A JPEG whose segments loop on zero lengths or run off the end.
        let _ = sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x00]);
        let _ = sniff(&[0xFF, 0xD8, 0xFF, 0xFF, 0xFF, 0xFF]);
        let _ = sniff(&[0xFF, 0xD8, 0xFF, 0xC0, 0x00]);
        assert_eq!(sniff(&png_header(0, 5)).width, None, "no zero sizes");
    }

    #[test]
    fn file_names_lose_paths_and_controls_and_gain_the_extension() {
        assert_eq!(
            clean_file_name("image_generated_0", "image/png"),
            "image_generated_0.png"
        );
        assert_eq!(clean_file_name("cat.PNG", "image/png"), "cat.PNG");
        assert_eq!(clean_file_name("photo.jpeg", "image/jpeg"), "photo.jpeg");
        assert_eq!(clean_file_name("../../etc/passwd", OCTET_STREAM), "passwd");
        assert_eq!(clean_file_name("a\\b\r\n\0c.txt", OCTET_STREAM), "bc.txt");
        assert_eq!(clean_file_name(" .hidden", OCTET_STREAM), "hidden");
        assert_eq!(clean_file_name("", "image/gif"), "file.gif");
        let long = clean_file_name(&"é".repeat(500), "image/webp");
        assert_eq!(long.chars().count(), MAX_FILE_NAME_CHARS);
        assert!(long.ends_with(".webp"));
    }

    #[test]
    fn urls_depend_on_the_reader() {
        let code = ShareCode::parse("AbCdEfGhIjKlMnOp_-123").unwrap();
        assert_eq!(FileReader::Owner.url("f1"), "/api/files/f1");
        assert_eq!(
            FileReader::Share(&code).url("f1"),
            "/api/shared/AbCdEfGhIjKlMnOp_-123/files/f1"
        );
    }
}
