//! `FakeMistral`: an in-process Mistral API over real HTTP (axum on
//! 127.0.0.1) that reproduces `/work/shared/mistral-api.md` byte for byte —
//! `GET /v1/models`, `POST /v1/chat/completions` as JSON and as SSE (role
//! chunk, one chunk per token, final chunk with `finish_reason` and `usage`,
//! `data: [DONE]`), thinking chunks for reasoning requests, Mistral's error
//! bodies and its strict request validation (unknown fields → 422); files
//! and OCR (`ocr`), audio — transcription, speech, voices — and a fake of
//! the reference project's TTS provider on the same server (`audio`).
//!
//! Owns only the fake's behaviour, its knobs ([`FakeMistralConfig`]) and the
//! log of requests it received. It must not be used by production code paths
//! (only tests, the `fake_upstreams` binary and the `bench` crate point at it), must
//! not call the real Mistral and must not share state between instances.
//!
//! JSON is written by hand (not through `serde_json::Value`) so that key order
//! and spacing match the captured wire format exactly.
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use futures::channel::mpsc;
use futures::SinkExt;
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[path = "mistral_conversations.rs"]
mod conversations;
pub use conversations::{SEARCH_TEXT, SOURCES};
/// `/v1/audio/transcriptions`, `/v1/audio/speech`, `/v1/audio/voices`, and
/// the reference TTS provider's `/tts/generate` and `/tts/validate`.
#[path = "mistral_audio.rs"]
pub mod audio;
/// `GET /v1/files/{id}/content` (generated images).
#[path = "mistral_files.rs"]
pub mod files;
/// `POST /v1/files` (uploads) and `POST /v1/ocr`.
#[path = "mistral_ocr.rs"]
pub mod ocr;

/// A failure the fake answers with instead of its normal behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeFailure {
    /// 401 `{"detail":"Unauthorized"}` (as for a wrong key).
    Unauthorized,
    /// 422 with FastAPI's `extra_forbidden` detail for a field `store`.
    Unprocessable,
    /// 429 `{"object":"error","message":"Rate limit exceeded","type":"rate_limited",…}`,
    /// with `Retry-After` when given.
    RateLimited { retry_after_secs: Option<u64> },
    /// 500 with an error object.
    ServerError,
    /// Streaming chat only: send the role chunk and `k` token chunks, then
    /// drop the connection (no final chunk, no `[DONE]`). Other requests are
    /// served normally and do not consume the failure.
    DieAfterTokens(usize),
    /// Any status with any body (e.g. plain-text or odd JSON error bodies).
    Custom {
        status: u16,
        content_type: String,
        body: String,
    },
    /// `status` with a body that never ends: 1 KiB of JSON-looking text
    /// every `piece_every` (zero: as fast as the client reads), until the
    /// client hangs up.
    EndlessErrorBody { status: u16, piece_every: Duration },
}

/// Whether the fake's accepted sockets use Nagle's algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Nagle {
    /// TCP_NODELAY set: every write goes out at once (Mistral's front end).
    #[default]
    Off,
    /// TCP_NODELAY not set: the kernel default of many upstreams and proxies.
    On,
}

/// The fake's knobs; change them at any time through [`FakeMistral::configure`].
#[derive(Debug, Clone, Default)]
pub struct FakeMistralConfig {
    /// Pause before each token chunk of a stream.
    pub token_delay: Duration,
    /// The answer text; `None` → [`echo_reply`] of the last user message.
    pub reply: Option<String>,
    /// Reasoning text for reasoning requests; `None` → [`default_thinking`].
    pub thinking: Option<String>,
    /// Write each SSE event in several pieces split at odd offsets (inside
    /// `data:`, inside the JSON, inside multi-byte UTF-8, between the final
    /// two newlines).
    pub awkward_chunking: bool,
    /// Keys accepted in `Authorization: Bearer` (or `x-api-key`). `None` →
    /// any non-empty key that does not start with `invalid`.
    pub valid_keys: Option<HashSet<String>>,
    /// Streaming chat: after this many token chunks, send nothing for the
    /// given time (a stalled upstream), then carry on.
    pub stall: Option<(usize, Duration)>,
    /// The `finish_reason` of every answer instead of `stop`/`length` (odd
    /// values: very long ones, NUL characters).
    pub finish_reason: Option<String>,
    /// A forced failure…
    pub failure: Option<FakeFailure>,
    /// …for this many more requests (`None` → every request).
    pub failure_remaining: Option<u32>,
    /// Keys the fake TTS provider (`/tts/*`) accepts as `api_key`. `None` →
    /// any non-empty key that does not start with `invalid`.
    pub tts_provider_keys: Option<HashSet<String>>,
    /// What a transcription hears when the audio plants no `SAY:` text
    /// (`None` → [`crate::mistral_audio::DEFAULT_TRANSCRIPT`]): browser
    /// tests record real microphone audio, which cannot carry a marker.
    pub transcript: Option<String>,
}

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The key from `Authorization: Bearer …` or `x-api-key`.
    pub api_key: Option<String>,
    pub accept: Option<String>,
    /// The parsed JSON body (`Value::Null` when absent or not JSON).
    pub body: Value,
}

impl RecordedRequest {
    /// `(role, text)` of every message in a chat request (text chunks joined;
    /// image and document chunks are left out, see [`Self::image_urls`]).
    pub fn messages(&self) -> Vec<(String, String)> {
        self.body["messages"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .map(|m| {
                        let role = m["role"].as_str().unwrap_or_default().to_string();
                        (role, content_text(&m["content"]))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The URL of every `image_url` chunk in the messages of a chat request,
    /// in order (`"image_url":"…"` or `"image_url":{"url":"…"}`).
    pub fn image_urls(&self) -> Vec<String> {
        self.body["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["content"].as_array())
            .flatten()
            .filter(|c| c["type"] == "image_url")
            .filter_map(|c| match &c["image_url"] {
                Value::String(url) => Some(url.clone()),
                other => other["url"].as_str().map(str::to_string),
            })
            .collect()
    }
}

#[derive(Clone)]
pub struct FakeMistral {
    /// `http://127.0.0.1:PORT` — what `MISTRAL_API_BASE` should be.
    pub base_url: String,
    pub config: Arc<Mutex<FakeMistralConfig>>,
    recorded: Arc<Mutex<Vec<RecordedRequest>>>,
    /// Files uploaded through `POST /v1/files`, by id.
    files: Arc<Mutex<std::collections::HashMap<String, ocr::UploadedFile>>>,
    /// Transcription requests, whole (`audio::ReceivedAudio`).
    audio: Arc<Mutex<Vec<audio::ReceivedAudio>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FakeMistral {
    /// Starts on `127.0.0.1:0` with the default configuration.
    pub async fn start() -> FakeMistral {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap_or_else(|e| panic!("fake mistral could not bind 127.0.0.1: {e}"))
    }

    /// Starts on `addr`; the server runs until the runtime shuts down.
    /// Its sockets set TCP_NODELAY, like Mistral's own front end.
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<FakeMistral> {
        Self::start_with(addr, Nagle::Off).await
    }

    /// Starts on `addr` with the given Nagle setting on accepted sockets.
    /// [`Nagle::On`] is an upstream (or proxy) that never sets TCP_NODELAY:
    /// each small write waits until the previous one is acknowledged, so a
    /// client that delays its ACKs sees the stream stall (the case the
    /// `bench_stream --nagle` figures measure).
    pub async fn start_with(addr: SocketAddr, nagle: Nagle) -> std::io::Result<FakeMistral> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let fake = FakeMistral {
            base_url: format!("http://{}", listener.local_addr()?),
            config: Arc::new(Mutex::new(FakeMistralConfig::default())),
            recorded: Arc::new(Mutex::new(Vec::new())),
            files: Arc::new(Mutex::new(std::collections::HashMap::new())),
            audio: Arc::new(Mutex::new(Vec::new())),
        };
        let router = Router::new()
            .route("/v1/models", get(models))
            .route("/v1/chat/completions", post(chat))
            .route("/v1/conversations", post(conversations::conversations))
            .route("/v1/files/{id}/content", get(files::content))
            .route("/v1/files", ocr::upload_route())
            .route("/v1/ocr", ocr::ocr_route())
            .route("/v1/audio/transcriptions", audio::transcriptions_route())
            .route("/v1/audio/speech", post(audio::speech))
            .route("/v1/audio/voices", get(audio::voices))
            .route("/tts/generate", post(audio::tts_generate))
            .route("/tts/validate", post(audio::tts_validate))
            .fallback(not_found)
            .layer(axum::middleware::map_response(add_mistral_headers))
            .with_state(fake.clone());
        // Like Mistral's own front end: small SSE writes go out at once
        // (unless asked to behave like a Nagle upstream).
        let nodelay = nagle == Nagle::Off;
        let listener = axum::serve::ListenerExt::tap_io(listener, move |tcp| {
            let _ = tcp.set_nodelay(nodelay);
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(fake)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.recorded).clone()
    }

    pub fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.recorded).last().cloned()
    }

    pub fn clear_requests(&self) {
        lock(&self.recorded).clear();
    }

    /// Changes the configuration: `fake.configure(|c| c.reply = Some("Hi".into()))`.
    pub fn configure(&self, f: impl FnOnce(&mut FakeMistralConfig)) {
        f(&mut lock(&self.config));
    }

    /// Answers every following request with `failure`.
    pub fn fail(&self, failure: FakeFailure) {
        self.configure(|c| {
            c.failure = Some(failure);
            c.failure_remaining = None;
        });
    }

    /// Answers the next `times` (applicable) requests with `failure`, then recovers.
    pub fn fail_times(&self, failure: FakeFailure, times: u32) {
        self.configure(|c| {
            c.failure = Some(failure);
            c.failure_remaining = Some(times);
        });
    }

    pub fn clear_failure(&self) {
        self.configure(|c| {
            c.failure = None;
            c.failure_remaining = None;
        });
    }

    pub fn set_valid_keys<I, S>(&self, keys: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let keys: HashSet<String> = keys.into_iter().map(Into::into).collect();
        self.configure(|c| c.valid_keys = Some(keys));
    }

    fn record(&self, r: RecordedRequest) {
        lock(&self.recorded).push(r);
    }

    /// Takes the forced failure if it applies to this request.
    fn take_failure(&self, streaming_chat: bool) -> Option<FakeFailure> {
        let mut c = lock(&self.config);
        let failure = c.failure.clone()?;
        if matches!(failure, FakeFailure::DieAfterTokens(_)) && !streaming_chat {
            return None;
        }
        match c.failure_remaining {
            None => {}
            Some(0) => {
                c.failure = None;
                c.failure_remaining = None;
                return None;
            }
            Some(n) => {
                c.failure_remaining = Some(n - 1);
                if n == 1 {
                    c.failure = None;
                    c.failure_remaining = None;
                }
            }
        }
        Some(failure)
    }
}

/// The default answer: echoes the last user message.
pub fn echo_reply(last_user: &str) -> String {
    format!("You said: {last_user}. That is all from the fake Mistral.")
}

/// A test-only directive in the last user message,
/// `[[fake:long words=N tps=R]]`: the answer is [`long_markdown`] of about
/// `N` words (one token each), streamed at `R` tokens per second whatever
/// the configured token delay, so that one request of a suite can stream a
/// long answer fast while the others keep the suite's pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongAnswer {
    pub words: usize,
    pub tokens_per_second: u32,
}

impl LongAnswer {
    /// Longest answer a directive can ask for (a typo must not eat memory).
    pub const MAX_WORDS: usize = 100_000;

    /// The directive in `text`, if any (`words` defaults to 3,000, `tps` to 500).
    pub fn find(text: &str) -> Option<LongAnswer> {
        let start = text.find("[[fake:long")?;
        let rest = &text[start + "[[fake:long".len()..];
        let body = &rest[..rest.find("]]")?];
        let mut long = LongAnswer {
            words: 3_000,
            tokens_per_second: 500,
        };
        for pair in body.split_whitespace() {
            match pair.split_once('=') {
                Some(("words", v)) => long.words = v.parse().ok()?,
                Some(("tps", v)) => long.tokens_per_second = v.parse().ok()?,
                _ => return None,
            }
        }
        (long.words > 0 && long.words <= Self::MAX_WORDS && long.tokens_per_second > 0)
            .then_some(long)
    }

    /// Time between two tokens.
    pub fn pace(&self) -> Duration {
        Duration::from_secs(1) / self.tokens_per_second
    }
}

/// A long, deterministic markdown answer of at least `words` words (and at
/// most one section more), in sections that hold what real answers hold:
/// a heading, paragraphs with inline code, emphasis and math, a list, a code
/// block, a table and display math. It ends with `End of the long answer.`
pub fn long_markdown(words: usize) -> String {
    /// Words from a small vocabulary in a fixed pseudo-random order.
    struct Words(usize);
    impl Words {
        fn next(&mut self) -> &'static str {
            const VOCABULARY: &[&str] = &[
                "stream",
                "render",
                "block",
                "answer",
                "model",
                "token",
                "browser",
                "frame",
                "parser",
                "linear",
                "quadratic",
                "paragraph",
                "table",
                "formula",
                "latency",
                "cache",
                "vector",
                "matrix",
                "signal",
                "layout",
            ];
            self.0 = (self.0 * 1_103_515_245 + 12_345) % 2_147_483_648;
            VOCABULARY[(self.0 >> 8) % VOCABULARY.len()]
        }
        fn sentence(&mut self) -> String {
            let mut t = format!("The {} {}", self.next(), self.next());
            for _ in 0..9 {
                t.push(' ');
                t.push_str(self.next());
            }
            t.push('.');
            t
        }
    }
    let mut w = Words(7);
    let (mut out, mut count, mut s) = (String::new(), 0, 0);
    while count < words {
        s += 1;
        let mut sec = format!("## Section {s}: the {} {}\n\n", w.next(), w.next());
        sec.push_str(&format!(
            "In section {s} the **{}** meets `{}_{s}()` and $x_{{{s}}}^2 + y = {s}$. {} {}\n\n",
            w.next(),
            w.next(),
            w.sentence(),
            w.sentence()
        ));
        for item in 1..=4 {
            sec.push_str(&format!(
                "- Item {item} of section {s}: *{}* {} {}\n",
                w.next(),
                w.next(),
                w.next()
            ));
        }
        sec.push_str(&format!(
            "\n```rust\nfn section_{s}(x: u32) -> u32 {{\n    // {} {}\n    let y = x * {s};\n    y + 1\n}}\n```\n\n",
            w.next(),
            w.next()
        ));
        sec.push_str("| n | square | note |\n|---|---|---|\n");
        for n in 1..=3 {
            sec.push_str(&format!(
                "| {n} | {} | {} {} |\n",
                n * n,
                w.next(),
                w.next()
            ));
        }
        sec.push_str(&format!(
            "\n$$\\sum_{{k=1}}^{{{s}}} k = \\frac{{{s}({s}+1)}}{{2}}$$\n\n{} {}\n\n",
            w.sentence(),
            w.sentence()
        ));
        count += sec.split_whitespace().count();
        out.push_str(&sec);
    }
    out.push_str("End of the long answer.");
    out
}

/// The default reasoning trace for reasoning requests.
pub fn default_thinking(last_user: &str) -> String {
    format!("The user wrote \"{last_user}\". I will repeat it back to them.")
}

/// Splits text into "tokens": each whitespace run starts a new token, so the
/// concatenation is exactly the input (`"You said: hi"` → `You`, ` said:`, ` hi`).
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_ws = false;
    for ch in text.chars() {
        let ws = ch.is_whitespace();
        if ws && !prev_ws && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(ch);
        prev_ws = ws;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

// ---------------------------------------------------------------------------
// Wire helpers
// ---------------------------------------------------------------------------

fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn json_response(status: u16, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn error_object(message: &str, kind: &str, code: Option<&str>) -> String {
    format!(
        "{{\"object\":\"error\",\"message\":{},\"type\":{},\"param\":null,\"code\":{}}}",
        js(message),
        js(kind),
        code.map_or("null".to_string(), js)
    )
}

fn unauthorized() -> Response {
    json_response(401, "{\"detail\":\"Unauthorized\"}".into())
}

fn extra_forbidden(loc: &[Value], input: &Value) -> Response {
    let loc = serde_json::to_string(loc).unwrap_or_else(|_| "[]".into());
    json_response(
        422,
        format!(
            "{{\"detail\":[{{\"type\":\"extra_forbidden\",\"loc\":{loc},\"msg\":\"Extra inputs are not permitted\",\"input\":{input}}}]}}"
        ),
    )
}

fn failure_response(f: &FakeFailure) -> Response {
    match f {
        FakeFailure::Unauthorized => unauthorized(),
        FakeFailure::Unprocessable => extra_forbidden(
            &[Value::from("body"), Value::from("store")],
            &Value::Bool(false),
        ),
        FakeFailure::RateLimited { retry_after_secs } => {
            let mut r = json_response(
                429,
                error_object("Rate limit exceeded", "rate_limited", Some("1300")),
            );
            let h = r.headers_mut();
            if let Some(s) = retry_after_secs {
                if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                    h.insert(header::RETRY_AFTER, v);
                }
            }
            h.insert(
                "x-ratelimit-limit-req-minute",
                HeaderValue::from_static("720"),
            );
            h.insert(
                "x-ratelimit-remaining-req-minute",
                HeaderValue::from_static("0"),
            );
            h.insert(
                "x-ratelimit-limit-tokens-minute",
                HeaderValue::from_static("5000000"),
            );
            h.insert(
                "x-ratelimit-remaining-tokens-minute",
                HeaderValue::from_static("0"),
            );
            r
        }
        // No verified 5xx sample exists; the SDK treats the body as opaque.
        FakeFailure::ServerError => json_response(
            500,
            error_object("Internal server error", "internal_server_error", None),
        ),
        FakeFailure::DieAfterTokens(_) => json_response(500, String::new()),
        FakeFailure::Custom {
            status,
            content_type,
            body,
        } => {
            let mut r = json_response(*status, body.clone());
            if let Ok(v) = HeaderValue::from_str(content_type) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r
        }
        FakeFailure::EndlessErrorBody {
            status,
            piece_every,
        } => {
            let (mut tx, rx) = mpsc::channel::<Piece>(0);
            let every = *piece_every;
            tokio::spawn(async move {
                if tx
                    .send(Ok(b"{\"object\":\"error\",\"message\":\"".to_vec()))
                    .await
                    .is_err()
                {
                    return;
                }
                loop {
                    if !every.is_zero() {
                        tokio::time::sleep(every).await;
                    }
                    if tx.send(Ok(vec![b'x'; 1024])).await.is_err() {
                        return; // the client hung up
                    }
                }
            });
            let mut r = Response::new(Body::from_stream(rx));
            *r.status_mut() =
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
    }
}

/// Every response carries Mistral's correlation headers.
async fn add_mistral_headers(mut resp: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        let h = resp.headers_mut();
        h.insert("mistral-correlation-id", v.clone());
        h.insert("x-kong-request-id", v);
        h.insert("x-kong-upstream-latency", HeaderValue::from_static("3"));
        h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    }
    resp
}

async fn not_found() -> Response {
    json_response(404, "{\"detail\":\"Not Found\"}".into())
}

fn api_key(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        if v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") {
            return Some(v[7..].trim().to_string());
        }
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
}

fn key_accepted(cfg: &FakeMistralConfig, key: Option<&str>) -> bool {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return false;
    };
    match &cfg.valid_keys {
        Some(set) => set.contains(key),
        None => !key.starts_with("invalid"),
    }
}

/// What [`prelude`] decided about a request.
enum Admission {
    /// Serve it; `die_after` is a `DieAfterTokens` failure taken for it.
    Serve {
        die_after: Option<usize>,
    },
    Reject(Response),
}

/// Records the request, checks the key and applies a forced failure.
fn prelude(
    fake: &FakeMistral,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Value,
    streaming_chat: bool,
) -> Admission {
    let key = api_key(headers);
    fake.record(RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        api_key: key.clone(),
        accept: headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: body.clone(),
    });
    if !key_accepted(&lock(&fake.config), key.as_deref()) {
        return Admission::Reject(unauthorized());
    }
    match fake.take_failure(streaming_chat) {
        None => Admission::Serve { die_after: None },
        Some(FakeFailure::DieAfterTokens(k)) => Admission::Serve { die_after: Some(k) },
        Some(f) => Admission::Reject(failure_response(&f)),
    }
}

// ---------------------------------------------------------------------------
// GET /v1/models
// ---------------------------------------------------------------------------

struct Card {
    id: &'static str,
    name: &'static str,
    aliases: &'static [&'static str],
    created: u64,
    ctx: u64,
    temperature: Option<&'static str>,
    deprecation: Option<&'static str>,
    replacement: Option<&'static str>,
    caps: &'static [&'static str],
}

const CAPABILITIES: [&str; 14] = [
    "completion_chat",
    "function_calling",
    "reasoning",
    "completion_fim",
    "fine_tuning",
    "vision",
    "ocr",
    "classification",
    "moderation",
    "audio",
    "audio_transcription",
    "audio_transcription_realtime",
    "audio_speech",
    "unified_resources",
];

const CHAT_REASONING_VISION: &[&str] =
    &["completion_chat", "function_calling", "reasoning", "vision"];
const CHAT_VISION: &[&str] = &["completion_chat", "function_calling", "vision"];

/// The fake's model list: one card per id (aliases repeat a card, as the real
/// list does). Magistral is kept undeprecated here so tests have an
/// always-thinking model; Pixtral Large is the deprecated one.
#[rustfmt::skip]
const CARDS: &[Card] = &[
    Card { id: "mistral-small-2603", name: "mistral-small-2603", aliases: &["mistral-small-latest"], created: 1773600000, ctx: 262144, temperature: Some("0.3"), deprecation: None, replacement: None, caps: CHAT_REASONING_VISION },
    Card { id: "mistral-small-latest", name: "mistral-small-2603", aliases: &["mistral-small-2603"], created: 1773600000, ctx: 262144, temperature: Some("0.3"), deprecation: None, replacement: None, caps: CHAT_REASONING_VISION },
    Card { id: "mistral-medium-latest", name: "mistral-medium-3-5", aliases: &["mistral-medium-3-5", "mistral-medium-3"], created: 1777334400, ctx: 262144, temperature: Some("0.3"), deprecation: None, replacement: None, caps: CHAT_REASONING_VISION },
    Card { id: "mistral-large-2512", name: "mistral-large-2512", aliases: &["mistral-large-latest"], created: 1764633600, ctx: 262144, temperature: Some("0.7"), deprecation: None, replacement: None, caps: CHAT_VISION },
    Card { id: "mistral-large-latest", name: "mistral-large-2512", aliases: &["mistral-large-2512"], created: 1764633600, ctx: 262144, temperature: Some("0.7"), deprecation: None, replacement: None, caps: CHAT_VISION },
    Card { id: "magistral-medium-2509", name: "magistral-medium-2509", aliases: &["magistral-medium-latest"], created: 1758240000, ctx: 131072, temperature: Some("0.7"), deprecation: None, replacement: None, caps: CHAT_REASONING_VISION },
    Card { id: "magistral-medium-latest", name: "magistral-medium-2509", aliases: &["magistral-medium-2509"], created: 1758240000, ctx: 131072, temperature: Some("0.7"), deprecation: None, replacement: None, caps: CHAT_REASONING_VISION },
    Card { id: "pixtral-large-latest", name: "pixtral-large-2411", aliases: &["pixtral-large-2411"], created: 1731542400, ctx: 131072, temperature: Some("0.7"), deprecation: Some("2026-05-31T12:00:00Z"), replacement: Some("mistral-large-latest"), caps: CHAT_VISION },
    Card { id: "ministral-8b-latest", name: "ministral-8b-2512", aliases: &["ministral-8b-2512"], created: 1764633600, ctx: 262144, temperature: Some("0.3"), deprecation: None, replacement: None, caps: CHAT_VISION },
    Card { id: "codestral-latest", name: "codestral-2508", aliases: &["codestral-2508"], created: 1754006400, ctx: 131072, temperature: Some("0.3"), deprecation: None, replacement: None, caps: &["completion_chat", "function_calling", "completion_fim"] },
    Card { id: "voxtral-small-latest", name: "voxtral-small-2507", aliases: &["voxtral-small-2507"], created: 1752537600, ctx: 32768, temperature: Some("0.2"), deprecation: None, replacement: None, caps: &["completion_chat", "function_calling", "audio"] },
    Card { id: "open-mistral-7b", name: "open-mistral-7b", aliases: &[], created: 1727740800, ctx: 32768, temperature: Some("0.7"), deprecation: None, replacement: None, caps: &["completion_chat"] },
    Card { id: "mistral-ocr-latest", name: "mistral-ocr-4-1", aliases: &["mistral-ocr-4", "mistral-ocr-4-1"], created: 1784160000, ctx: 32768, temperature: None, deprecation: None, replacement: None, caps: &["ocr"] },
    Card { id: "mistral-embed", name: "mistral-embed-2312", aliases: &["mistral-embed-2312"], created: 1702252800, ctx: 8192, temperature: None, deprecation: None, replacement: None, caps: &[] },
];

fn card_json(c: &Card) -> String {
    let caps: Vec<String> = CAPABILITIES
        .iter()
        .map(|k| format!("\"{k}\":{}", c.caps.contains(k)))
        .collect();
    let aliases: Vec<String> = c.aliases.iter().map(|a| js(a)).collect();
    format!(
        "{{\"id\":{},\"object\":\"model\",\"created\":{},\"owned_by\":\"mistralai\",\"capabilities\":{{{}}},\"name\":{},\"description\":{},\"max_context_length\":{},\"aliases\":[{}],\"deprecation\":{},\"deprecation_replacement_model\":{},\"default_model_temperature\":{},\"type\":\"base\"}}",
        js(c.id),
        c.created,
        caps.join(","),
        js(c.name),
        js(&format!("Official {} Mistral AI model", c.name)),
        c.ctx,
        aliases.join(","),
        c.deprecation.map_or("null".to_string(), js),
        c.replacement.map_or("null".to_string(), js),
        c.temperature.unwrap_or("null"),
    )
}

/// The exact `GET /v1/models` body the fake serves.
pub fn models_body() -> String {
    let cards: Vec<String> = CARDS.iter().map(card_json).collect();
    format!("{{\"object\":\"list\",\"data\":[{}]}}", cards.join(","))
}

async fn models(
    State(fake): State<FakeMistral>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Admission::Reject(resp) = prelude(&fake, &method, &uri, &headers, &Value::Null, false) {
        return resp;
    }
    json_response(200, models_body())
}

// ---------------------------------------------------------------------------
// POST /v1/chat/completions
// ---------------------------------------------------------------------------

const REQUEST_FIELDS: &[&str] = &[
    "model",
    "messages",
    "temperature",
    "top_p",
    "max_tokens",
    "stream",
    "stop",
    "random_seed",
    "metadata",
    "response_format",
    "tools",
    "tool_choice",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "prediction",
    "parallel_tool_calls",
    "reasoning_effort",
    "prompt_mode",
    "guardrails",
    "prompt_cache_key",
    "service_tier",
    "safe_prompt",
];

fn message_fields(role: &str) -> Option<&'static [&'static str]> {
    Some(match role {
        "system" | "user" => &["role", "content"],
        "assistant" => &["role", "content", "tool_calls", "prefix"],
        "tool" => &["role", "content", "tool_call_id", "name"],
        _ => return None,
    })
}

/// Text of a `content` value: the string, or its `text` chunks joined.
fn content_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(chunks) => chunks
            .iter()
            .filter(|c| c["type"] == "text")
            .filter_map(|c| c["text"].as_str())
            .collect(),
        _ => String::new(),
    }
}

/// Mistral's request validation, as far as the product can trip it:
/// `Some(error response)` when Mistral would refuse the body.
fn validate(body: &Value) -> Option<Response> {
    let Some(obj) = body.as_object() else {
        return Some(json_response(
            422,
            format!(
                "{{\"detail\":[{{\"type\":\"model_attributes_type\",\"loc\":[\"body\"],\"msg\":\"Input should be a valid dictionary or object to extract fields from\",\"input\":{body}}}]}}"
            ),
        ));
    };
    if let Some((k, v)) = obj
        .iter()
        .find(|(k, _)| !REQUEST_FIELDS.contains(&k.as_str()))
    {
        return Some(extra_forbidden(
            &[Value::from("body"), Value::from(k.as_str())],
            v,
        ));
    }
    for field in ["model", "messages"] {
        if !obj.contains_key(field) {
            return Some(json_response(
                422,
                format!(
                    "{{\"detail\":[{{\"type\":\"missing\",\"loc\":[\"body\",\"{field}\"],\"msg\":\"Field required\",\"input\":{body}}}]}}"
                ),
            ));
        }
    }
    let messages = obj["messages"].as_array().cloned().unwrap_or_default();
    for (i, m) in messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or_default();
        let Some(allowed) = message_fields(role) else {
            let msg = format!(
                "Input tag '{role}' found using 'role' does not match any of the expected tags: 'system', 'user', 'assistant', 'tool'"
            );
            return Some(json_response(
                422,
                format!(
                    "{{\"detail\":[{{\"type\":\"union_tag_invalid\",\"loc\":[\"body\",\"messages\",{i}],\"msg\":{},\"input\":{m}}}]}}",
                    js(&msg),
                ),
            ));
        };
        if let Some((k, v)) = m
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| !allowed.contains(&k.as_str())))
        {
            return Some(extra_forbidden(
                &[
                    Value::from("body"),
                    Value::from("messages"),
                    Value::from(i),
                    Value::from(role),
                    Value::from(k.as_str()),
                ],
                v,
            ));
        }
    }
    let model = obj["model"].as_str().unwrap_or_default();
    if !CARDS
        .iter()
        .any(|c| c.id == model && c.caps.contains(&"completion_chat"))
    {
        return Some(json_response(
            400,
            error_object(
                &format!("Invalid model: {model}"),
                "invalid_model",
                Some("1500"),
            ),
        ));
    }
    let last = messages.last();
    let last_role = last.and_then(|m| m["role"].as_str()).unwrap_or("none");
    let prefixed = last.is_some_and(|m| m["prefix"] == Value::Bool(true));
    if !(last_role == "user" || last_role == "tool" || (last_role == "assistant" && prefixed)) {
        return Some(json_response(
            400,
            error_object(
                &format!("Expected last role User or Tool (or Assistant with prefix True) for serving but got {last_role}"),
                "invalid_request_error",
                None,
            ),
        ));
    }
    None
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Reasoning {
    None,
    /// Magistral: every delta is a list (thinking chunks, then text chunks).
    Magistral,
    /// `reasoning_effort`: thinking list, a transition list, then strings.
    Effort,
}

struct Plan {
    id: String,
    created: u64,
    model: String,
    reasoning: Reasoning,
    thinking: Vec<String>,
    tokens: Vec<String>,
    finish: String,
    prompt_tokens: usize,
    /// Time between tokens asked for by a [`LongAnswer`] directive (it
    /// replaces the configured token delay).
    pace: Option<Duration>,
}

impl Plan {
    fn new(body: &Value, cfg: &FakeMistralConfig) -> Plan {
        let model = body["model"].as_str().unwrap_or_default().to_string();
        let messages = body["messages"].as_array().cloned().unwrap_or_default();
        let last_user = messages
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .map(|m| content_text(&m["content"]))
            .unwrap_or_default();
        let effort = body["reasoning_effort"].as_str().unwrap_or("none");
        let reasoning = if model.starts_with("magistral") {
            Reasoning::Magistral
        } else if effort != "none" {
            Reasoning::Effort
        } else {
            Reasoning::None
        };
        let long = LongAnswer::find(&last_user);
        let reply = match (long, &cfg.reply) {
            (Some(long), _) => long_markdown(long.words),
            (None, Some(reply)) => reply.clone(),
            (None, None) => echo_reply(&last_user),
        };
        let mut tokens = tokenize(&reply);
        let mut finish = "stop";
        if let Some(max) = body["max_tokens"].as_u64() {
            if (max as usize) < tokens.len() {
                tokens.truncate(max as usize);
                finish = "length";
            }
        }
        let finish = cfg
            .finish_reason
            .clone()
            .unwrap_or_else(|| finish.to_string());
        let thinking = if reasoning == Reasoning::None {
            Vec::new()
        } else {
            tokenize(
                &cfg.thinking
                    .clone()
                    .unwrap_or_else(|| default_thinking(&last_user)),
            )
        };
        let prompt_tokens = messages
            .iter()
            .map(|m| tokenize(&content_text(&m["content"])).len() + 1)
            .sum();
        Plan {
            id: new_id(),
            created: now_secs(),
            model,
            reasoning,
            thinking,
            tokens,
            finish,
            prompt_tokens,
            pace: long.map(|l| l.pace()),
        }
    }

    fn completion_tokens(&self) -> usize {
        self.thinking.len() + self.tokens.len()
    }

    fn reply(&self) -> String {
        self.tokens.concat()
    }

    /// The non-streaming body (§1.3 / §1.4).
    fn response_json(&self) -> String {
        let content = if self.reasoning == Reasoning::None {
            js(&self.reply())
        } else {
            format!(
                "[{{\"type\":\"thinking\",\"thinking\":[{{\"type\":\"text\",\"text\":{}}}],\"closed\":true}},{{\"type\":\"text\",\"text\":{}}}]",
                js(&self.thinking.concat()),
                js(&self.reply())
            )
        };
        let c = self.completion_tokens();
        format!(
            "{{\"id\":{},\"object\":\"chat.completion\",\"model\":{},\"created\":{},\"usage\":{{\"prompt_tokens\":{},\"completion_tokens\":{},\"total_tokens\":{}}},\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":{},\"tool_calls\":null,\"prefix\":false}},\"finish_reason\":{}}}]}}",
            js(&self.id),
            js(&self.model),
            self.created,
            self.prompt_tokens,
            c,
            self.prompt_tokens + c,
            content,
            js(&self.finish),
        )
    }

    /// One `data: {…}\n\n` event. The Magistral capture has no `logprobs`.
    fn event(&self, delta: &str, finish: Option<&str>, usage: bool) -> Vec<u8> {
        let logprobs = if self.reasoning == Reasoning::Magistral {
            ""
        } else {
            ",\"logprobs\":null"
        };
        let usage = if usage {
            let c = self.completion_tokens();
            format!(
                ",\"usage\":{{\"prompt_tokens\":{},\"total_tokens\":{},\"completion_tokens\":{}}}",
                self.prompt_tokens,
                self.prompt_tokens + c,
                c
            )
        } else {
            String::new()
        };
        format!(
            "data: {{\"id\":{},\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":{},\"choices\":[{{\"index\":0,\"delta\":{},\"finish_reason\":{}{}}}]{}}}\n\n",
            js(&self.id),
            self.created,
            js(&self.model),
            delta,
            finish.map_or("null".to_string(), js),
            logprobs,
            usage
        )
        .into_bytes()
    }

    /// The stream as (is_token, bytes) events, in order, `[DONE]` included.
    fn stream_events(&self) -> Vec<(bool, Vec<u8>)> {
        let think = |t: &str| {
            format!(
                "[{{\"type\":\"thinking\",\"thinking\":[{{\"type\":\"text\",\"text\":{}}}]}}]",
                js(t)
            )
        };
        let mut out = Vec::new();
        match self.reasoning {
            Reasoning::Magistral => {
                // The role rides on the first content chunk (captured stream).
                let mut first = true;
                let pieces = self.thinking.iter().map(|t| think(t)).chain(
                    self.tokens
                        .iter()
                        .map(|t| format!("[{{\"type\":\"text\",\"text\":{}}}]", js(t))),
                );
                for content in pieces {
                    let role = if first { "\"role\":\"assistant\"," } else { "" };
                    first = false;
                    out.push((
                        true,
                        self.event(&format!("{{{role}\"content\":{content}}}"), None, false),
                    ));
                }
            }
            Reasoning::Effort | Reasoning::None => {
                out.push((
                    false,
                    self.event("{\"role\":\"assistant\",\"content\":\"\"}", None, false),
                ));
                for t in &self.thinking {
                    out.push((
                        true,
                        self.event(&format!("{{\"content\":{}}}", think(t)), None, false),
                    ));
                }
                for (i, t) in self.tokens.iter().enumerate() {
                    // Docs (reasoning page, "Streaming"): the first answer
                    // chunk closes the thinking chunk in the same list; then
                    // plain strings. Exact bytes of that list are unverified.
                    let delta = if i == 0 && self.reasoning == Reasoning::Effort {
                        format!(
                            "{{\"content\":[{{\"type\":\"thinking\",\"thinking\":[],\"closed\":true}},{{\"type\":\"text\",\"text\":{}}}]}}",
                            js(t)
                        )
                    } else {
                        format!("{{\"content\":{}}}", js(t))
                    };
                    out.push((true, self.event(&delta, None, false)));
                }
            }
        }
        out.push((
            false,
            self.event("{\"content\":\"\"}", Some(&self.finish), true),
        ));
        out.push((false, b"data: [DONE]\n\n".to_vec()));
        out
    }
}

/// Cut points for awkward chunking: inside `data:`, inside the JSON, inside
/// the first multi-byte characters, every 13 bytes, between the final `\n\n`.
fn awkward_pieces(bytes: &[u8]) -> Vec<Vec<u8>> {
    let len = bytes.len();
    let mut cuts: BTreeSet<usize> = [1, 3, 7, len / 2, len.saturating_sub(1)]
        .into_iter()
        .collect();
    cuts.extend((13..len).step_by(13));
    let multibyte_starts = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b >= 0xC0)
        .map(|(i, _)| i)
        .take(3);
    for i in multibyte_starts {
        cuts.insert(i + 1);
    }
    let mut out = Vec::new();
    let mut start = 0;
    for c in cuts.into_iter().filter(|c| *c > 0 && *c < len) {
        out.push(bytes[start..c].to_vec());
        start = c;
    }
    out.push(bytes[start..].to_vec());
    out
}

type Piece = Result<Vec<u8>, std::io::Error>;

async fn write_stream(
    plan: Plan,
    cfg: FakeMistralConfig,
    die_after: Option<usize>,
    mut tx: mpsc::Sender<Piece>,
) {
    let (delay, awkward) = (cfg.token_delay, cfg.awkward_chunking);
    // A paced stream keeps its average rate: each token waits for its own
    // deadline, so timer granularity does not add up over thousands of them.
    let started = tokio::time::Instant::now();
    let mut tokens_sent = 0usize;
    for (is_token, bytes) in plan.stream_events() {
        if is_token {
            if let Some((after, pause)) = cfg.stall {
                if tokens_sent == after {
                    tokio::time::sleep(pause).await;
                }
            }
            if die_after.is_some_and(|k| tokens_sent >= k) {
                // Let hyper take and flush what was sent (the channel has no
                // buffer, so `flush` waits until the last piece was taken),
                // then fail the body: hyper aborts the connection — no final
                // chunk, no `[DONE]`.
                let _ = tx.flush().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = tx
                    .send(Err(std::io::Error::other(
                        "fake mistral dropped the connection",
                    )))
                    .await;
                return;
            }
            if let Some(pace) = plan.pace {
                let n = u32::try_from(tokens_sent + 1).unwrap_or(u32::MAX);
                tokio::time::sleep_until(started + pace * n).await;
            } else if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            tokens_sent += 1;
        }
        let pieces = if awkward {
            awkward_pieces(&bytes)
        } else {
            vec![bytes]
        };
        for p in pieces {
            if tx.send(Ok(p)).await.is_err() {
                return; // client went away
            }
        }
    }
}

async fn chat(
    State(fake): State<FakeMistral>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let parsed: Result<Value, _> = serde_json::from_slice(&raw);
    let body = parsed.as_ref().cloned().unwrap_or(Value::Null);
    let streaming = body["stream"] == Value::Bool(true);
    let die_after = match prelude(&fake, &method, &uri, &headers, &body, streaming) {
        Admission::Serve { die_after } => die_after,
        Admission::Reject(resp) => return resp,
    };
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
    if let Some(resp) = validate(&body) {
        return resp;
    }
    let cfg = lock(&fake.config).clone();
    let plan = Plan::new(&body, &cfg);
    if !streaming {
        return json_response(200, plan.response_json());
    }
    // No buffer: the writer runs at most one piece ahead of hyper.
    let (tx, rx) = mpsc::channel::<Piece>(0);
    tokio::spawn(write_stream(plan, cfg, die_after, tx));
    let mut resp = Response::new(Body::from_stream(rx));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_reassemble_exactly() {
        for s in ["You said: hi.", "  lead\n\nnew  para ", "Grüße 😀 漢字", ""] {
            assert_eq!(tokenize(s).concat(), s);
        }
        assert_eq!(tokenize("You said: hi"), vec!["You", " said:", " hi"]);
    }

    #[test]
    fn awkward_pieces_cover_every_byte_and_split_utf8() {
        let ev = "data: {\"content\":\"é😀\"}\n\n".as_bytes();
        let pieces = awkward_pieces(ev);
        assert_eq!(pieces.concat(), ev);
        assert!(pieces.len() > 4);
        assert!(pieces.iter().any(|p| std::str::from_utf8(p).is_err()));
        assert_eq!(pieces.last().map(Vec::as_slice), Some(&b"\n"[..]));
    }

    #[test]
    fn models_body_is_valid_json_with_every_capability() {
        let v: Value = serde_json::from_str(&models_body()).unwrap();
        let data = v["data"].as_array().unwrap();
        assert!(data
            .iter()
            .all(|c| c["capabilities"].as_object().unwrap().len() == 14));
        assert!(data.iter().any(
            |c| c["id"] == "magistral-medium-latest" && c["capabilities"]["reasoning"] == true
        ));
        assert!(data.iter().any(|c| c["deprecation"].is_string()));
    }

    #[test]
    fn stream_matches_the_captured_format() {
        let body = serde_json::json!({"model":"mistral-small-latest","messages":[{"role":"user","content":"hi"}]});
        let cfg = FakeMistralConfig {
            reply: Some("Hello response.".into()),
            ..Default::default()
        };
        let mut plan = Plan::new(&body, &cfg);
        plan.id = "5319bd".into();
        plan.created = 1769088720;
        let text: Vec<u8> = plan
            .stream_events()
            .into_iter()
            .flat_map(|(_, b)| b)
            .collect();
        let expected = concat!(
            "data: {\"id\":\"5319bd\",\"object\":\"chat.completion.chunk\",\"created\":1769088720,\"model\":\"mistral-small-latest\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null,\"logprobs\":null}]}\n\n",
            "data: {\"id\":\"5319bd\",\"object\":\"chat.completion.chunk\",\"created\":1769088720,\"model\":\"mistral-small-latest\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null,\"logprobs\":null}]}\n\n",
            "data: {\"id\":\"5319bd\",\"object\":\"chat.completion.chunk\",\"created\":1769088720,\"model\":\"mistral-small-latest\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" response.\"},\"finish_reason\":null,\"logprobs\":null}]}\n\n",
            "data: {\"id\":\"5319bd\",\"object\":\"chat.completion.chunk\",\"created\":1769088720,\"model\":\"mistral-small-latest\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"stop\",\"logprobs\":null}],\"usage\":{\"prompt_tokens\":2,\"total_tokens\":4,\"completion_tokens\":2}}\n\n",
            "data: [DONE]\n\n",
        );
        assert_eq!(String::from_utf8(text).unwrap(), expected);
    }

    #[test]
    fn the_long_answer_directive_streams_generated_markdown_at_its_pace() {
        assert_eq!(
            LongAnswer::find("go [[fake:long words=1700 tps=250]] now"),
            Some(LongAnswer {
                words: 1700,
                tokens_per_second: 250
            })
        );
        assert_eq!(
            LongAnswer::find("[[fake:long]]"),
            Some(LongAnswer {
                words: 3000,
                tokens_per_second: 500
            })
        );
        for bad in [
            "[[fake:long words=x]]",
            "[[fake:long words=0]]",
            "[[fake:long tps=0]]",
            "[[fake:long words=1 color=red]]",
            "[[fake:long words=1000000]]",
            "[[fake:long words=10",
            "no directive",
        ] {
            assert_eq!(LongAnswer::find(bad), None, "{bad}");
        }
        assert_eq!(
            LongAnswer::find("[[fake:long tps=400]]").map(|l| l.pace()),
            Some(Duration::from_micros(2_500))
        );

        let md = long_markdown(3_000);
        let words = md.split_whitespace().count();
        assert!((3_000..3_300).contains(&words), "{words}");
        assert!(md.ends_with("End of the long answer."));
        for construct in [
            "## Section 1",
            "- Item 1",
            "```rust\n",
            "| n | square |",
            "$$\\sum",
            "$x_{1}^2",
        ] {
            assert!(md.contains(construct), "{construct}");
        }
        assert_eq!(long_markdown(3_000), md, "deterministic");

        // The stream carries the document in one-word tokens, in the exact
        // wire format, paced by the directive rather than the token delay.
        let body = serde_json::json!({"model":"mistral-small-latest","messages":[{"role":"user","content":"[[fake:long words=50 tps=100]]"}]});
        let cfg = FakeMistralConfig {
            token_delay: Duration::from_secs(5),
            ..Default::default()
        };
        let plan = Plan::new(&body, &cfg);
        assert_eq!(plan.reply(), long_markdown(50));
        assert_eq!(plan.pace, Some(Duration::from_millis(10)));
        let events = plan.stream_events();
        let streamed: String = events
            .iter()
            .filter(|(token, _)| *token)
            .map(|(_, bytes)| {
                let line = std::str::from_utf8(bytes).unwrap();
                let v: Value =
                    serde_json::from_str(line.trim().strip_prefix("data: ").unwrap()).unwrap();
                v["choices"][0]["delta"]["content"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(streamed, long_markdown(50));
        assert_eq!(
            events.last().map(|(_, b)| b.as_slice()),
            Some(&b"data: [DONE]\n\n"[..])
        );
    }

    #[test]
    fn validation_mirrors_mistral() {
        let ok = serde_json::json!({"model":"mistral-small-latest","messages":[{"role":"user","content":"hi"}],"stream":true});
        assert!(validate(&ok).is_none());
        let extra = serde_json::json!({"model":"mistral-small-latest","messages":[{"role":"user","content":"hi"}],"store":false});
        assert_eq!(validate(&extra).unwrap().status(), 422);
        let msg_extra = serde_json::json!({"model":"mistral-small-latest","messages":[{"role":"user","content":"hi","reasoning_content":"x"}]});
        assert_eq!(validate(&msg_extra).unwrap().status(), 422);
        let last_assistant = serde_json::json!({"model":"mistral-small-latest","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]});
        assert_eq!(validate(&last_assistant).unwrap().status(), 400);
        let bad_model =
            serde_json::json!({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]});
        assert_eq!(validate(&bad_model).unwrap().status(), 400);
    }
}
