//! The fake's audio endpoints (`/work/shared/mistral-api.md` §7) and a fake
//! of the reference project's text-to-speech provider, on the same server.
//!
//! Every Mistral endpoint here checks the key, applies forced failures and
//! logs the request like the others (`prelude`).
//!
//! # `POST /v1/audio/transcriptions` (multipart)
//! Parts `file` (binary), `model`, `language`; `file_url`/`file_id` are
//! recognised, other parts ignored. The request is kept whole in
//! [`FakeMistral::transcriptions`] ([`ReceivedAudio`]: key, model,
//! language, file name, part content type and the exact bytes); its log
//! entry's body is a JSON summary `{model, language, filename,
//! content_type, bytes, sha256}`. Validation as Mistral: no `model` → 422
//! `missing`; not exactly one of `file`/`file_url`/`file_id` → 400 error
//! object; a `language` that is not two word characters → 422
//! `string_pattern_mismatch`. The answer is `TranscriptionResponse`: the
//! `model` asked for, the `text` planted in the bytes as `SAY:<text>` (up to
//! a newline, a NUL or the end; see [`with_said`]) else the configured
//! `transcript`, else [`DEFAULT_TRANSCRIPT`], the `language` sent (else null), no segments and
//! a usage block.
//!
//! # `POST /v1/audio/speech` (JSON)
//! `model` and `input` required (422 `missing`), `response_format` one of
//! `mp3` (default), `wav`, `pcm`, `flac`, `opus` (else 422 `enum`); extra
//! members are accepted (the spec's `additionalProperties: true`). Without
//! `stream` the answer is `{"audio_data": "<base64>"}`; with `stream: true`
//! it is SSE: `event: speech.audio.delta` / `data:
//! {"type":"speech.audio.delta","audio_data":"<base64 fragment>"}` for each
//! [`FRAGMENT_BYTES`] of the audio, then `event: speech.audio.done` with
//! usage. The audio is [`speech_audio`] of the input — real audio, see there.
//!
//! # `GET /v1/audio/voices?limit&offset&type`
//! The preset voices of [`VOICES`] (`type` `all` or `preset`; `custom` has
//! none), paged as Mistral pages (`limit` 1–100, default 10). The log
//! entry's body is the query as a JSON object.
//!
//! # Directives (in the audio bytes, or the text to speak)
//! - `[[fake:status=N]]` with N = 401, 403, 429 or 500: that failure —
//!   `{"detail":"Unauthorized"}`, a moderation error object, a rate limit
//!   with `Retry-After: 7`, a server error object (any other N: an error
//!   object with that status);
//! - `[[fake:tts-ms=N]]` (speech, both providers): N ms between fragments;
//! - `[[fake:tts-die]]` (streamed speech, both providers): the connection
//!   drops after the first fragment.
//!
//! # The reference TTS provider
//! `POST /tts/generate` `{api_key, text, lang}` → `audio/mpeg`
//! ([`speech_audio`] of the text as mp3, in [`FRAGMENT_BYTES`] chunks);
//! an unaccepted key → 401 `{"error":"Invalid API key"}`, no text → 400.
//! `POST /tts/validate` `{api_key}` → 200 `{"valid": bool}`. Keys are
//! accepted as [`super::FakeMistralConfig::tts_provider_keys`] says (unset:
//! any non-empty key not starting with `invalid`). Both are logged with the
//! body as received (the key included: it is the fake's).
use super::{
    error_object, failure_response, js, json_response, lock, prelude, Admission, FakeFailure,
    FakeMistral, Piece, RecordedRequest,
};
use axum::body::{Body, Bytes};
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::response::Response;
use axum::routing::{post, MethodRouter};
use base64::Engine as _;
use futures::channel::mpsc;
use futures::SinkExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;

/// Largest transcription upload accepted (Mistral's limit is larger).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// What a recording without a `SAY:` marker transcribes to.
pub const DEFAULT_TRANSCRIPT: &str = "This is what the fake Mistral heard.";
/// The marker whose following text a recording transcribes to.
pub const SAY_MARKER: &[u8] = b"SAY:";
/// Samples per second of `pcm` and `wav` speech.
pub const SAMPLE_RATE: u32 = 24_000;
/// Bytes of audio per streamed fragment (a multiple of 4: pcm samples stay whole).
pub const FRAGMENT_BYTES: usize = 4096;

/// `POST /v1/audio/transcriptions`, with the larger body limit.
pub(super) fn transcriptions_route() -> MethodRouter<FakeMistral> {
    post(transcriptions).layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// A transcription request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceivedAudio {
    pub api_key: Option<String>,
    pub model: Option<String>,
    pub language: Option<String>,
    pub file_name: Option<String>,
    /// The `file` part's `Content-Type`.
    pub content_type: Option<String>,
    /// The `file` part's bytes, exactly.
    pub bytes: Vec<u8>,
    /// Names of the other parts, in order.
    pub other_parts: Vec<String>,
}

impl FakeMistral {
    /// Every transcription request received, oldest first.
    pub fn transcriptions(&self) -> Vec<ReceivedAudio> {
        lock(&self.audio).clone()
    }
}

/// A recording (any bytes) that transcribes to `text`.
pub fn with_said(mut audio: Vec<u8>, text: &str) -> Vec<u8> {
    audio.extend_from_slice(SAY_MARKER);
    audio.extend_from_slice(text.as_bytes());
    audio.push(b'\n');
    audio
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The number N of the first `[[fake:<name>=N]]` in `hay`.
fn directive_number(hay: &[u8], name: &str) -> Option<u64> {
    let open = format!("[[fake:{name}=");
    let at = find(hay, open.as_bytes())? + open.len();
    let rest = &hay[at..];
    let end = find(rest, b"]]")?;
    std::str::from_utf8(&rest[..end]).ok()?.trim().parse().ok()
}

fn has_directive(hay: &[u8], name: &str) -> bool {
    find(hay, format!("[[fake:{name}]]").as_bytes()).is_some()
}

/// The failure a `[[fake:status=N]]` directive asks for.
fn directed_failure(hay: &[u8]) -> Option<Response> {
    let status = u16::try_from(directive_number(hay, "status")?).ok()?;
    Some(match status {
        401 => failure_response(&FakeFailure::Unauthorized),
        403 => json_response(
            403,
            error_object(
                "The input was blocked by moderation",
                "invalid_request_error",
                Some("3230"),
            ),
        ),
        429 => failure_response(&FakeFailure::RateLimited {
            retry_after_secs: Some(7),
        }),
        500 => failure_response(&FakeFailure::ServerError),
        other => json_response(
            other,
            error_object("Forced by the test", "invalid_request_error", None),
        ),
    })
}

/// FastAPI's 422 with one detail.
fn detail_422(kind: &str, loc: &[&str], msg: &str, input: &Value) -> Response {
    let loc: Vec<Value> = loc.iter().map(|p| Value::from(*p)).collect();
    json_response(
        422,
        json!({"detail": [{"type": kind, "loc": loc, "msg": msg, "input": input}]}).to_string(),
    )
}

// ---------------------------------------------------------------------------
// POST /v1/audio/transcriptions
// ---------------------------------------------------------------------------

async fn transcriptions(
    State(fake): State<FakeMistral>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let mut got = ReceivedAudio {
        api_key: super::api_key(&headers),
        ..Default::default()
    };
    let mut has_file = false;
    let mut sources = 0;
    let mut broken = false;
    if let Ok(mut parts) = multipart {
        loop {
            let field = match parts.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(_) => {
                    broken = true;
                    break;
                }
            };
            let name = field.name().unwrap_or_default().to_string();
            match name.as_str() {
                "file" => {
                    got.file_name = field.file_name().map(str::to_string);
                    got.content_type = field.content_type().map(str::to_string);
                    match field.bytes().await {
                        Ok(b) => got.bytes = b.to_vec(),
                        Err(_) => broken = true,
                    }
                    has_file = true;
                    sources += 1;
                }
                "model" | "language" => match field.text().await {
                    Ok(t) if name == "model" => got.model = Some(t),
                    Ok(t) => got.language = Some(t),
                    Err(_) => broken = true,
                },
                other => {
                    if other == "file_url" || other == "file_id" {
                        sources += 1;
                    }
                    got.other_parts.push(other.to_string());
                    if field.bytes().await.is_err() {
                        broken = true;
                    }
                }
            }
            if broken {
                break;
            }
        }
    }
    let summary = json!({
        "model": got.model,
        "language": got.language,
        "filename": got.file_name,
        "content_type": got.content_type,
        "bytes": got.bytes.len(),
        "sha256": has_file.then(|| {
            Sha256::digest(&got.bytes).iter().map(|x| format!("{x:02x}")).collect::<String>()
        }),
    });
    lock(&fake.audio).push(got.clone());
    if let Admission::Reject(resp) = prelude(&fake, &method, &uri, &headers, &summary, false) {
        return resp;
    }
    if broken {
        return json_response(
            400,
            error_object("Invalid multipart body", "invalid_request_error", None),
        );
    }
    let Some(model) = got.model.clone() else {
        return detail_422(
            "missing",
            &["body", "model"],
            "Field required",
            &Value::Null,
        );
    };
    if sources != 1 {
        return json_response(
            400,
            error_object(
                "Exactly one of file, file_url or file_id must be provided",
                "invalid_request_error",
                None,
            ),
        );
    }
    if let Some(lang) = &got.language {
        let ok = lang.chars().count() == 2 && lang.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !ok {
            return detail_422(
                "string_pattern_mismatch",
                &["body", "language"],
                "String should match pattern '^\\w{2}$'",
                &Value::from(lang.as_str()),
            );
        }
    }
    if let Some(resp) = directed_failure(&got.bytes) {
        return resp;
    }
    let text = match find(&got.bytes, SAY_MARKER) {
        Some(at) => {
            let rest = &got.bytes[at + SAY_MARKER.len()..];
            let end = rest
                .iter()
                .position(|&b| b == b'\n' || b == 0)
                .unwrap_or(rest.len());
            String::from_utf8_lossy(&rest[..end]).into_owned()
        }
        None => lock(&fake.config)
            .transcript
            .clone()
            .unwrap_or_else(|| DEFAULT_TRANSCRIPT.to_string()),
    };
    let words = text.split_whitespace().count();
    let seconds = (got.bytes.len() / 16_000).max(1);
    json_response(
        200,
        format!(
            "{{\"model\":{},\"text\":{},\"language\":{},\"segments\":[],\"usage\":{{\"prompt_audio_seconds\":{seconds},\"prompt_tokens\":4,\"completion_tokens\":{words},\"total_tokens\":{},\"request_count\":1}}}}",
            js(&model),
            js(&text),
            got.language.as_deref().map_or("null".to_string(), js),
            4 + words,
        ),
    )
}

// ---------------------------------------------------------------------------
// Audio the fake speaks
// ---------------------------------------------------------------------------

/// Samples of speech for `text`: 50 ms per character, between 0.1 s and 30 s.
fn sample_count(text: &str) -> usize {
    (text.chars().count() * SAMPLE_RATE as usize / 20).clamp(2_400, 30 * SAMPLE_RATE as usize)
}

/// A 440 Hz tone at a third of full scale.
fn tone(i: usize) -> f32 {
    let t = i as f32 / SAMPLE_RATE as f32;
    0.3 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
}

/// The audio the fake speaks `text` as, in `format` — real, playable audio,
/// deterministic (the same text and format give the same bytes):
/// - `pcm`: a 440 Hz tone, float32 little-endian, mono, [`SAMPLE_RATE`];
/// - `wav`: the same tone as 16-bit PCM in a RIFF/WAVE file with a
///   complete header (exact sizes);
/// - `mp3`: silent MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz, mono: a
///   frame header, zeroed side information and main data, which decoders
///   play as silence);
/// - `opus`: an Ogg Opus stream (`OpusHead`, `OpusTags`, then pages of
///   20 ms digital-silence packets `F8 FF FE`, with correct Ogg CRCs and
///   granule positions);
/// - `flac`: a FLAC stream header with only `STREAMINFO` (no audio frames).
///
/// About 50 ms per character (0.1 s to 30 s).
pub fn speech_audio(text: &str, format: &str) -> Vec<u8> {
    let n = sample_count(text);
    match format {
        "pcm" => (0..n).flat_map(|i| tone(i).to_le_bytes()).collect(),
        "wav" => wav(n),
        "opus" => ogg_opus(n),
        "flac" => flac_header(),
        _ => mp3(n),
    }
}

fn wav(samples: usize) -> Vec<u8> {
    let data_len = (samples * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes()); // byte rate
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..samples {
        let s = (tone(i) * i16::MAX as f32) as i16;
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: 417-byte frames of
/// 1152 samples.
fn mp3(samples_24k: usize) -> Vec<u8> {
    const FRAME: usize = 417;
    let frames = (samples_24k * 44_100 / SAMPLE_RATE as usize).div_ceil(1152);
    let mut out = Vec::with_capacity(frames * FRAME);
    for _ in 0..frames {
        // Sync, MPEG-1, layer III, no CRC; 128 kbit/s, 44.1 kHz; mono, original.
        out.extend_from_slice(&[0xFF, 0xFB, 0x90, 0xC4]);
        out.resize(out.len() + FRAME - 4, 0);
    }
    out
}

/// Ogg's CRC-32 (polynomial 0x04C11DB7, no reflection, initial 0).
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc ^= (b as u32) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// One Ogg page holding whole `packets` (each shorter than 255 bytes).
fn ogg_page(flags: u8, granule: u64, seq: u32, packets: &[&[u8]]) -> Vec<u8> {
    let mut page = Vec::new();
    page.extend_from_slice(b"OggS");
    page.push(0); // version
    page.push(flags);
    page.extend_from_slice(&granule.to_le_bytes());
    page.extend_from_slice(&0x4D43_4854u32.to_le_bytes()); // stream serial
    page.extend_from_slice(&seq.to_le_bytes());
    page.extend_from_slice(&[0; 4]); // CRC, filled below
    page.push(packets.len() as u8);
    for p in packets {
        page.push(p.len() as u8);
    }
    for p in packets {
        page.extend_from_slice(p);
    }
    let crc = ogg_crc(&page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}

fn ogg_opus(samples_24k: usize) -> Vec<u8> {
    const SILENCE: &[u8] = &[0xF8, 0xFF, 0xFE];
    const PER_PAGE: usize = 50; // one second of 20 ms packets
    let mut head = b"OpusHead".to_vec();
    head.push(1); // version
    head.push(1); // channels
    head.extend_from_slice(&312u16.to_le_bytes()); // pre-skip
    head.extend_from_slice(&SAMPLE_RATE.to_le_bytes()); // input rate
    head.extend_from_slice(&0i16.to_le_bytes()); // gain
    head.push(0); // mapping family
    let vendor = b"fake-mistral";
    let mut tags = b"OpusTags".to_vec();
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor);
    tags.extend_from_slice(&0u32.to_le_bytes());
    let mut out = ogg_page(0x02, 0, 0, &[&head]);
    out.extend(ogg_page(0x00, 0, 1, &[&tags]));
    let packets = samples_24k.div_ceil(SAMPLE_RATE as usize / 50);
    let pages = packets.div_ceil(PER_PAGE);
    let mut done = 0usize;
    for page in 0..pages {
        let here = PER_PAGE.min(packets - done);
        done += here;
        let flags = if page + 1 == pages { 0x04 } else { 0x00 };
        let list: Vec<&[u8]> = vec![SILENCE; here];
        out.extend(ogg_page(flags, (done * 960) as u64, 2 + page as u32, &list));
    }
    out
}

fn flac_header() -> Vec<u8> {
    let mut out = b"fLaC".to_vec();
    out.push(0x80); // last metadata block, STREAMINFO
    out.extend_from_slice(&[0, 0, 34]);
    out.extend_from_slice(&4096u16.to_be_bytes()); // min block size
    out.extend_from_slice(&4096u16.to_be_bytes()); // max block size
    out.extend_from_slice(&[0; 6]); // min and max frame size: unknown
                                    // Sample rate (20 bits), channels - 1 (3), bits per sample - 1 (5),
                                    // total samples (36): none.
    let packed: u64 = (u64::from(SAMPLE_RATE) << 44) | (15 << 36);
    out.extend_from_slice(&packed.to_be_bytes());
    out.extend_from_slice(&[0; 16]); // MD5 of the audio: unknown
    out
}

// ---------------------------------------------------------------------------
// POST /v1/audio/speech
// ---------------------------------------------------------------------------

const FORMATS: [&str; 5] = ["mp3", "wav", "pcm", "flac", "opus"];

/// How a speech stream is paced.
#[derive(Debug, Clone, Copy)]
struct Pace {
    between: Duration,
    die_after_first: bool,
}

impl Pace {
    fn of(text: &str) -> Pace {
        Pace {
            between: Duration::from_millis(
                directive_number(text.as_bytes(), "tts-ms").unwrap_or(0),
            ),
            die_after_first: has_directive(text.as_bytes(), "tts-die"),
        }
    }
}

/// Sends `pieces` into `tx` with the pace; `Err` after the first when the
/// pace says the connection dies.
async fn send_paced(pieces: Vec<Vec<u8>>, pace: Pace, mut tx: mpsc::Sender<Piece>) {
    for (i, piece) in pieces.into_iter().enumerate() {
        if i > 0 {
            if pace.die_after_first {
                let _ = tx.flush().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = tx
                    .send(Err(std::io::Error::other(
                        "fake speech dropped the connection",
                    )))
                    .await;
                return;
            }
            if !pace.between.is_zero() {
                tokio::time::sleep(pace.between).await;
            }
        }
        if tx.send(Ok(piece)).await.is_err() {
            return; // the client went away
        }
    }
}

fn streamed(pieces: Vec<Vec<u8>>, pace: Pace, content_type: &'static str) -> Response {
    // No buffer: the writer runs at most one piece ahead of hyper.
    let (tx, rx) = mpsc::channel::<Piece>(0);
    tokio::spawn(send_paced(pieces, pace, tx));
    let mut resp = Response::new(Body::from_stream(rx));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(super) async fn speech(
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
        return detail_422(
            "json_invalid",
            &["body"],
            "JSON decode error",
            &Value::from(e.to_string()),
        );
    }
    for field in ["model", "input"] {
        match &body[field] {
            Value::String(_) => {}
            Value::Null => {
                return detail_422("missing", &["body", field], "Field required", &Value::Null)
            }
            other => {
                return detail_422(
                    "string_type",
                    &["body", field],
                    "Input should be a valid string",
                    other,
                )
            }
        }
    }
    let input = body["input"].as_str().unwrap_or_default().to_string();
    let format = match &body["response_format"] {
        Value::Null => "mp3".to_string(),
        Value::String(f) if FORMATS.contains(&f.as_str()) => f.clone(),
        other => {
            return detail_422(
                "enum",
                &["body", "response_format"],
                "Input should be 'mp3', 'wav', 'pcm', 'flac' or 'opus'",
                other,
            )
        }
    };
    if !matches!(body["voice_id"], Value::Null | Value::String(_)) {
        return detail_422(
            "string_type",
            &["body", "voice_id"],
            "Input should be a valid string",
            &body["voice_id"],
        );
    }
    if let Some(resp) = directed_failure(input.as_bytes()) {
        return resp;
    }
    let audio = speech_audio(&input, &format);
    if body["stream"] != Value::Bool(true) {
        return json_response(200, format!("{{\"audio_data\":{}}}", js(&b64(&audio))));
    }
    let mut events: Vec<Vec<u8>> = audio
        .chunks(FRAGMENT_BYTES)
        .map(|c| {
            format!(
                "event: speech.audio.delta\ndata: {{\"type\":\"speech.audio.delta\",\"audio_data\":{}}}\n\n",
                js(&b64(c))
            )
            .into_bytes()
        })
        .collect();
    let chars = input.chars().count();
    events.push(
        format!(
            "event: speech.audio.done\ndata: {{\"type\":\"speech.audio.done\",\"usage\":{{\"prompt_tokens\":{chars},\"completion_tokens\":{},\"total_tokens\":{}}}}}\n\n",
            audio.len() / 4,
            chars + audio.len() / 4
        )
        .into_bytes(),
    );
    streamed(events, Pace::of(&input), "text/event-stream")
}

// ---------------------------------------------------------------------------
// GET /v1/audio/voices
// ---------------------------------------------------------------------------

/// The fake's preset voices: `(id, name, slug, languages, gender)`.
pub const VOICES: &[(&str, &str, &str, &[&str], &str)] = &[
    (
        "3f1c6e0a-5b8d-4c57-9a0e-2f6d1b7c9e01",
        "Marie",
        "voice_592",
        &["fr"],
        "female",
    ),
    (
        "7a2d4b91-0c3e-4f68-8d15-6e9b2a4c7f02",
        "Paul",
        "en_paul_neutral",
        &["en"],
        "male",
    ),
    (
        "b5e8f3c2-9d14-4a7b-b6c0-1d3e5f7a9b03",
        "Jane",
        "gb_jane_neutral",
        &["en", "fr"],
        "female",
    ),
];

pub(super) async fn voices(
    State(fake): State<FakeMistral>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let summary = serde_json::to_value(&q).unwrap_or(Value::Null);
    if let Admission::Reject(resp) = prelude(&fake, &method, &uri, &headers, &summary, false) {
        return resp;
    }
    // The name of a query parameter that is not a number in its range.
    let number =
        |name: &'static str, default: usize, range: std::ops::RangeInclusive<usize>| match q
            .get(name)
        {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or(name),
        };
    let (limit, offset) = match (
        number("limit", 10, 1..=100),
        number("offset", 0, 0..=100_000),
    ) {
        (Ok(l), Ok(o)) => (l, o),
        (Err(name), _) | (_, Err(name)) => {
            let got = q.get(name).cloned().unwrap_or_default();
            return detail_422(
                "int_parsing",
                &["query", name],
                "Input should be a valid integer in range",
                &Value::from(got),
            );
        }
    };
    let kind = q.get("type").map(String::as_str).unwrap_or("all");
    let all: Vec<Value> = match kind {
        "all" | "preset" => VOICES
            .iter()
            .map(|(id, name, slug, langs, gender)| {
                json!({"id": id, "name": name, "slug": slug, "languages": langs, "gender": gender,
                       "age": null, "tags": null, "created_at": "2026-03-01T00:00:00Z"})
            })
            .collect(),
        "custom" => vec![],
        other => {
            return detail_422(
                "enum",
                &["query", "type"],
                "Input should be 'all', 'custom' or 'preset'",
                &Value::from(other),
            )
        }
    };
    let total = all.len();
    let items: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
    json_response(
        200,
        json!({
            "items": items,
            "total": total,
            "page": offset / limit + 1,
            "page_size": limit,
            "total_pages": total.div_ceil(limit),
        })
        .to_string(),
    )
}

// ---------------------------------------------------------------------------
// The reference TTS provider
// ---------------------------------------------------------------------------

fn provider_key_accepted(fake: &FakeMistral, key: Option<&str>) -> bool {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return false;
    };
    match &lock(&fake.config).tts_provider_keys {
        Some(keys) => keys.contains(key),
        None => !key.starts_with("invalid"),
    }
}

/// Logs a provider request; its key from the body.
fn record_provider(fake: &FakeMistral, uri: &Uri, headers: &HeaderMap, body: &Value) {
    fake.record(RecordedRequest {
        method: "POST".into(),
        path: uri.path().to_string(),
        api_key: body["api_key"].as_str().map(str::to_string),
        accept: headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: body.clone(),
    });
}

fn provider_error(status: u16, message: &str) -> Response {
    json_response(status, json!({ "error": message }).to_string())
}

pub(super) async fn tts_generate(
    State(fake): State<FakeMistral>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    record_provider(&fake, &uri, &headers, &body);
    if !provider_key_accepted(&fake, body["api_key"].as_str()) {
        return provider_error(401, "Invalid API key");
    }
    let text = body["text"].as_str().unwrap_or_default();
    if text.trim().is_empty() {
        return provider_error(400, "text is required");
    }
    if let Some(resp) = directed_failure(text.as_bytes()) {
        return resp;
    }
    let audio = speech_audio(text, "mp3");
    let pieces = audio.chunks(FRAGMENT_BYTES).map(<[u8]>::to_vec).collect();
    streamed(pieces, Pace::of(text), "audio/mpeg")
}

pub(super) async fn tts_validate(
    State(fake): State<FakeMistral>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    record_provider(&fake, &uri, &headers, &body);
    let valid = provider_key_accepted(&fake, body["api_key"].as_str());
    json_response(200, json!({ "valid": valid }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    #[test]
    fn the_audio_is_real() {
        let pcm = speech_audio("Hello", "pcm");
        assert_eq!(pcm.len(), 6_000 * 4); // 5 chars × 50 ms at 24 kHz, 4 bytes each
        let first = f32::from_le_bytes(pcm[4..8].try_into().unwrap());
        assert!((first - tone(1)).abs() < 1e-6 && first > 0.0);

        let wav = speech_audio("Hello", "wav");
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        let riff_len = u32::from_le_bytes(wav[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff_len + 8, wav.len());
        let data_len = u32::from_le_bytes(wav[40..44].try_into().unwrap()) as usize;
        assert_eq!(data_len + 44, wav.len());

        let mp3 = speech_audio("Hello", "mp3");
        assert_eq!(mp3.len() % 417, 0);
        assert!(mp3.chunks(417).all(|f| f[..4] == [0xFF, 0xFB, 0x90, 0xC4]));

        let opus = speech_audio("Hello", "opus");
        let mut at = 0;
        let mut pages = 0;
        while at < opus.len() {
            assert_eq!(&opus[at..at + 4], b"OggS");
            let segs = opus[at + 26] as usize;
            let len: usize = opus[at + 27..at + 27 + segs]
                .iter()
                .map(|&b| b as usize)
                .sum();
            let end = at + 27 + segs + len;
            let mut page = opus[at..end].to_vec();
            let crc = u32::from_le_bytes(page[22..26].try_into().unwrap());
            page[22..26].copy_from_slice(&[0; 4]);
            assert_eq!(ogg_crc(&page), crc, "page {pages}");
            at = end;
            pages += 1;
        }
        assert!(pages >= 3);
        assert_eq!(&opus[28..36], b"OpusHead");
        assert_eq!(speech_audio("x", "flac")[..4], *b"fLaC");
        // Deterministic.
        assert_eq!(speech_audio("Hello", "opus"), opus);
    }

    #[test]
    fn directives_are_read() {
        assert_eq!(
            directive_number(b"a [[fake:tts-ms=250]] b", "tts-ms"),
            Some(250)
        );
        assert_eq!(directive_number(b"[[fake:status=x]]", "status"), None);
        assert!(has_directive(b"..[[fake:tts-die]]", "tts-die"));
        assert!(directed_failure(b"[[fake:status=403]]").is_some());
        assert!(directed_failure(b"nothing").is_none());
    }

    #[tokio::test]
    async fn transcription_records_the_request_and_answers_the_planted_text() {
        let fake = FakeMistral::start().await;
        let audio = with_said(b"OggS\0\x02fake".to_vec(), "Bonjour tout le monde");
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(audio.clone())
                    .file_name("audio.ogg")
                    .mime_str("audio/ogg")
                    .unwrap(),
            )
            .text("model", "voxtral-mini-latest")
            .text("language", "fr");
        let resp = client()
            .post(format!("{}/v1/audio/transcriptions", fake.base_url))
            .bearer_auth("k-1")
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["text"], "Bonjour tout le monde");
        assert_eq!(v["language"], "fr");
        assert_eq!(v["model"], "voxtral-mini-latest");
        assert_eq!(v["segments"], json!([]));
        let got = &fake.transcriptions()[0];
        assert_eq!(got.bytes, audio);
        assert_eq!(got.api_key.as_deref(), Some("k-1"));
        assert_eq!(got.content_type.as_deref(), Some("audio/ogg"));

        // No model: 422; a bad language: 422; a directive: its status.
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(b"x".to_vec()));
        let resp = client()
            .post(format!("{}/v1/audio/transcriptions", fake.base_url))
            .bearer_auth("k-1")
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 422);
        for (bytes, lang, status) in [
            (b"x".to_vec(), "fra", 422),
            (b"[[fake:status=429]]".to_vec(), "fr", 429),
            (b"[[fake:status=401]]".to_vec(), "fr", 401),
        ] {
            let form = reqwest::multipart::Form::new()
                .part("file", reqwest::multipart::Part::bytes(bytes))
                .text("model", "m")
                .text("language", lang);
            let resp = client()
                .post(format!("{}/v1/audio/transcriptions", fake.base_url))
                .bearer_auth("k-1")
                .multipart(form)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), status, "{lang}");
        }
    }

    #[tokio::test]
    async fn speech_streams_fragments_that_reassemble_to_the_audio() {
        let fake = FakeMistral::start().await;
        let text = "A sentence long enough for several fragments of audio.";
        let resp = client()
            .post(format!("{}/v1/audio/speech", fake.base_url))
            .bearer_auth("k")
            .json(&json!({"model": "voxtral-mini-tts-latest", "input": text, "response_format": "pcm", "stream": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let body = resp.bytes().await.unwrap();
        let mut parser = crate::sse::SseParser::new();
        let events = parser.push(&body);
        let (deltas, rest): (Vec<_>, Vec<_>) =
            events.iter().partition(|e| e.event == "speech.audio.delta");
        assert!(deltas.len() > 1);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].event, "speech.audio.done");
        let mut audio = vec![];
        for d in deltas {
            let v: Value = serde_json::from_str(&d.data).unwrap();
            assert_eq!(v["type"], "speech.audio.delta");
            audio.extend(
                base64::engine::general_purpose::STANDARD
                    .decode(v["audio_data"].as_str().unwrap())
                    .unwrap(),
            );
        }
        assert_eq!(audio, speech_audio(text, "pcm"));

        // Not streamed: one JSON body.
        let resp = client()
            .post(format!("{}/v1/audio/speech", fake.base_url))
            .bearer_auth("k")
            .json(&json!({"model": "m", "input": "Hi"}))
            .send()
            .await
            .unwrap();
        let v: Value = resp.json().await.unwrap();
        let audio = base64::engine::general_purpose::STANDARD
            .decode(v["audio_data"].as_str().unwrap())
            .unwrap();
        assert_eq!(audio, speech_audio("Hi", "mp3"));
        // Validation and moderation.
        for (body, status) in [
            (json!({"model": "m"}), 422),
            (
                json!({"model": "m", "input": "x", "response_format": "aac"}),
                422,
            ),
            (json!({"model": "m", "input": "[[fake:status=403]]"}), 403),
        ] {
            let resp = client()
                .post(format!("{}/v1/audio/speech", fake.base_url))
                .bearer_auth("k")
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), status, "{body}");
        }
    }

    #[tokio::test]
    async fn voices_page_and_the_provider_checks_its_key() {
        let fake = FakeMistral::start().await;
        let v: Value = client()
            .get(format!(
                "{}/v1/audio/voices?limit=2&offset=0&type=all",
                fake.base_url
            ))
            .bearer_auth("k")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 2);
        assert_eq!(v["total"], VOICES.len());
        assert_eq!(v["total_pages"], 2);
        assert_eq!(v["items"][0]["name"], "Marie");

        fake.configure(|c| c.tts_provider_keys = Some(["op-key".to_string()].into()));
        let resp = client()
            .post(format!("{}/tts/generate", fake.base_url))
            .json(&json!({"api_key": "op-key", "text": "Salut", "lang": "fr"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "audio/mpeg");
        assert_eq!(
            resp.bytes().await.unwrap().to_vec(),
            speech_audio("Salut", "mp3")
        );
        let resp = client()
            .post(format!("{}/tts/generate", fake.base_url))
            .json(&json!({"api_key": "other", "text": "Salut"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        for (key, valid) in [("op-key", true), ("other", false)] {
            let v: Value = client()
                .post(format!("{}/tts/validate", fake.base_url))
                .json(&json!({ "api_key": key }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(v["valid"], valid);
        }
        let last = fake.last_request().unwrap();
        assert_eq!(last.path, "/tts/validate");
        assert_eq!(last.api_key.as_deref(), Some("other"));
    }
}
