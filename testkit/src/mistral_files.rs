//! The fake Mistral's Files API: `GET /v1/files/{id}/content` (how a client
//! downloads an image the `image_generation` tool made,
//! `/work/shared/mistral-api.md` §5 and §6.3).
//!
//! Every id names a real PNG ([`generated_png`]): 64×48 pixels of one
//! colour derived from the id, so different ids give different bytes and a
//! test can compute what it should receive. Ids starting with `missing-`
//! answer 404 with Mistral's error object. The key check, forced failures
//! and the request log are the fake's usual ones (`prelude`).
//!
//! The PNG is written by hand (stored deflate blocks, CRC-32, Adler-32) so
//! the fake needs no image library; any decoder reads it.
use super::{error_object, json_response, prelude, Admission, FakeMistral};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::response::Response;
use serde_json::Value;

/// Width and height of every generated image.
pub const PNG_WIDTH: u32 = 64;
pub const PNG_HEIGHT: u32 = 48;

/// CRC-32 (IEEE), as PNG chunks carry it.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in bytes {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// zlib data of `raw` in stored (uncompressed) deflate blocks.
fn zlib_stored(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut blocks = raw.chunks(65_535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(raw).to_be_bytes());
    out
}

/// The RGB colour of file `id` (FNV-1a of the id).
pub fn colour_of(id: &str) -> [u8; 3] {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let b = h.to_be_bytes();
    [b[0], b[1], b[2]]
}

/// The exact bytes the fake serves for file `id`: a valid 64×48 RGB PNG of
/// one colour.
pub fn generated_png(id: &str) -> Vec<u8> {
    let rgb = colour_of(id);
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&PNG_WIDTH.to_be_bytes());
    ihdr.extend_from_slice(&PNG_HEIGHT.to_be_bytes());
    // 8 bits per sample, RGB, deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    // Each scanline: filter type 0 (none), then the pixels.
    let row: Vec<u8> = std::iter::once(0)
        .chain(rgb.iter().copied().cycle().take(PNG_WIDTH as usize * 3))
        .collect();
    let raw = row.repeat(PNG_HEIGHT as usize);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    chunk(&mut png, b"IEND", &[]);
    png
}

/// `GET /v1/files/{id}/content`.
pub(super) async fn content(
    State(fake): State<FakeMistral>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Admission::Reject(resp) = prelude(&fake, &method, &uri, &headers, &Value::Null, false) {
        return resp;
    }
    if id.starts_with("missing-") {
        return json_response(
            404,
            error_object("File not found", "invalid_request_error", None),
        );
    }
    let mut resp = Response::new(Body::from(generated_png(&id)));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_their_references() {
        // CRC-32 of "IEND" is fixed by the PNG spec; Adler-32 of "Wikipedia".
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn pngs_are_well_formed_and_differ_by_id() {
        let a = generated_png("933c5b5a-1c47-4cdd-84f6-f32526bd161b");
        let b = generated_png("0b8e2f8e-0000-4000-8000-000000000000");
        assert_ne!(a, b);
        assert_eq!(a, generated_png("933c5b5a-1c47-4cdd-84f6-f32526bd161b"));
        assert!(a.starts_with(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"));
        assert_eq!(&a[16..24], &[0, 0, 0, 64, 0, 0, 0, 48]);
        assert!(a.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]));
        // The IDAT chunk's length covers the zlib stream exactly.
        let idat_len = u32::from_be_bytes([a[33], a[34], a[35], a[36]]) as usize;
        assert_eq!(&a[37..41], b"IDAT");
        assert_eq!(a.len(), 33 + 12 + idat_len + 12);
    }
}
