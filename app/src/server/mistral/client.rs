//! `MistralClient`: the HTTP client for Mistral's `GET /v1/models` and
//! `POST /v1/chat/completions` (JSON and SSE streaming).
//!
//! Owns transport policy: the `Authorization: Bearer` header, timeouts,
//! bounded retries with backoff (connect errors, timeouts and 5xx, only
//! *before* a response has been accepted — never once stream bytes were
//! delivered) and turning the SSE byte stream into [`StreamEvent`]s. Nothing
//! the upstream sends is read without a bound: error bodies are cut at
//! [`MAX_ERROR_BODY_BYTES`] and [`Timeouts::error_body`], JSON bodies at
//! [`MAX_JSON_BODY_BYTES`], one SSE event at [`MAX_EVENT_BYTES`].
//! It must not log API keys or request/response bodies, must not persist
//! anything and knows nothing about users, threads or which key to use —
//! callers pass the key as a [`Secret`].
use super::errors::{error_message, MistralError};
use super::sse::{SseEvent, SseParser};
use super::transport::StreamTransport;
use super::types::{decode_delta, ChatChunk, ChatRequest, ChatResponse, ModelCard, ModelList};
use crate::server::config::Secret;
use futures::{Stream, StreamExt};
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// The most of a failed response's body that is read (for its message).
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// The largest JSON body accepted (the model list is ~20 KB).
pub const MAX_JSON_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The largest single SSE event (one chunk of an answer is a few hundred bytes).
pub const MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// One step of a streamed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// New answer text and/or reasoning text (either may be empty, not both).
    Delta { text: String, thinking: String },
    /// `finish_reason` of the choice: `stop`, `length`, `error`, `tool_calls`…
    Finish { reason: String },
    /// Token counts (on the last chunk).
    Usage {
        prompt_tokens: u64,
        completion_tokens: u64,
    },
    /// A built-in tool started (`web_search`, `image_generation`, …;
    /// Conversations API only).
    ToolStarted { name: String, arguments: String },
    /// A built-in tool finished.
    ToolDone { name: String },
    /// A source the answer cites here (web search).
    Reference {
        title: String,
        url: String,
        source: Option<String>,
    },
    /// A file a tool made (a generated image), to fetch from the Files API.
    File {
        file_id: String,
        file_name: String,
        file_type: String,
    },
    /// The stream completed normally; nothing follows.
    Done,
}

/// Bounded retries before a response is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, including the first (≥ 1).
    pub max_attempts: u32,
    /// Wait after the first failure; doubled after each further one…
    pub initial_backoff: Duration,
    /// …up to this.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Whole request for the JSON endpoints (models, non-streaming chat).
    pub request: Duration,
    /// Streaming: until the response headers arrive.
    pub first_byte: Duration,
    /// Streaming: longest silence between two body reads.
    pub idle: Duration,
    /// Reading the body of a failed response (any endpoint): past this the
    /// error is reported with what arrived.
    pub error_body: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            request: Duration::from_secs(60),
            first_byte: Duration::from_secs(60),
            idle: Duration::from_secs(90),
            error_body: Duration::from_secs(10),
        }
    }
}

#[derive(Clone)]
pub struct MistralClient {
    pub(super) http: reqwest::Client,
    /// Carries streamed answers (see `transport.rs`: no stall behind an
    /// upstream without TCP_NODELAY); `None` behind a proxy, when reqwest
    /// carries them too.
    stream: Option<StreamTransport>,
    base_url: String,
    retry: RetryPolicy,
    timeouts: Timeouts,
}

impl std::fmt::Debug for MistralClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MistralClient")
            .field("base_url", &self.base_url)
            .field("retry", &self.retry)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

/// How one attempt failed.
pub(super) enum Failure {
    /// Worth another attempt (connect error, timeout, 5xx).
    Retry(String),
    /// Final (4xx, unreadable body).
    Fatal(MistralError),
}

pub(super) fn correlation_id(headers: &HeaderMap) -> String {
    headers
        .get("mistral-correlation-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string()
}

/// Connection setup for every upstream request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The headers reqwest would send for a streaming chat request; `None` when
/// the URL or the key cannot be written into a request.
fn stream_request(
    url: &str,
    key: &Secret,
    body: &[u8],
) -> Option<hyper::Request<http_body_util::Full<hyper::body::Bytes>>> {
    let mut auth =
        reqwest::header::HeaderValue::from_str(&format!("Bearer {}", key.expose())).ok()?;
    auth.set_sensitive(true);
    hyper::Request::post(url)
        .header(reqwest::header::AUTHORIZATION, auth)
        .header(ACCEPT, "text/event-stream")
        .header(CONTENT_TYPE, "application/json")
        .header(reqwest::header::USER_AGENT, USER_AGENT)
        .body(http_body_util::Full::new(
            hyper::body::Bytes::copy_from_slice(body),
        ))
        .ok()
}

/// What the server's reqwest client sends as `User-Agent` (`state.rs`).
pub const USER_AGENT: &str = concat!("MistralChat/", env!("CARGO_PKG_VERSION"));

/// An error of the streaming transport, described like [`describe`]: kind
/// and causes (hyper's errors carry no URL or header).
fn describe_transport(e: &(dyn std::error::Error + 'static)) -> String {
    let connect = e
        .downcast_ref::<hyper_util::client::legacy::Error>()
        .is_some_and(|e| e.is_connect());
    let mut detail = format!("{}: {e}", if connect { "connect" } else { "transport" });
    let mut source = e.source();
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    detail
}

/// A transport error, described without the URL's query or any header.
/// A blank key is refused before any request is made, as Mistral would
/// refuse it (every call that sends a key starts with this).
pub(super) fn require_key(key: &Secret) -> Result<(), MistralError> {
    match key.expose().trim().is_empty() {
        true => Err(MistralError::Unauthorized),
        false => Ok(()),
    }
}

pub(crate) fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "transport"
    };
    let e = e.without_url();
    let mut detail = format!("{kind}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    detail
}

impl MistralClient {
    /// `base_url` without the `/v1` suffix, e.g. `https://api.mistral.ai`.
    pub fn new(http: reqwest::Client, base_url: String) -> Self {
        Self {
            http,
            stream: StreamTransport::new(CONNECT_TIMEOUT),
            base_url: base_url.trim_end_matches('/').to_string(),
            retry: RetryPolicy::default(),
            timeouts: Timeouts::default(),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = RetryPolicy {
            max_attempts: retry.max_attempts.max(1),
            ..retry
        };
        self
    }

    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// `GET /v1/models`: every card, aliases included (one card per id).
    pub async fn list_models(&self, key: &Secret) -> Result<Vec<ModelCard>, MistralError> {
        let list: ModelList = self
            .json_call(key, reqwest::Method::GET, "/v1/models", None)
            .await?;
        Ok(list.data)
    }

    /// Non-streaming chat (short answers such as thread titles); `stream` is
    /// forced to false.
    pub async fn chat(
        &self,
        key: &Secret,
        req: &ChatRequest,
    ) -> Result<ChatResponse, MistralError> {
        let body = encode(req, false)?;
        self.json_call(
            key,
            reqwest::Method::POST,
            "/v1/chat/completions",
            Some(body),
        )
        .await
    }

    /// Streaming chat; `stream` is forced to true. Retries happen only until
    /// Mistral accepts the request (2xx headers). The returned stream yields
    /// `Delta`/`Finish`/`Usage` events and ends with `Done`, or with one
    /// `Err(MistralError::Interrupted)` if the connection breaks, stalls for
    /// [`Timeouts::idle`], carries an error object or ends before `[DONE]`
    /// (a stream that delivered a `finish_reason` but no `[DONE]` still ends
    /// with `Done`: the answer is complete). Nothing follows an `Err`.
    pub async fn chat_stream(
        &self,
        key: &Secret,
        req: &ChatRequest,
    ) -> Result<impl Stream<Item = Result<StreamEvent, MistralError>> + Send + 'static, MistralError>
    {
        let body = encode(req, true)?;
        let resp = self.stream_post(key, "/v1/chat/completions", body).await?;
        Ok(events(resp.bytes_stream(), self.timeouts.idle))
    }

    /// POSTs a streaming request to `path`, retried until Mistral accepts it
    /// (2xx headers); the response, whose body is the event stream.
    pub(super) async fn stream_post(
        &self,
        key: &Secret,
        path: &str,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, MistralError> {
        require_key(key)?;
        let url = self.url(path);
        self.with_retry_loop(path, || {
            let first_byte = self.timeouts.first_byte;
            let error_body = self.timeouts.error_body;
            let sent = self.send_stream_request(&url, key, &body);
            async move {
                let resp = match tokio::time::timeout(first_byte, sent).await {
                    Err(_) => {
                        return Err(Failure::Retry(format!(
                            "timeout: no response headers within {} s",
                            first_byte.as_secs()
                        )))
                    }
                    Ok(Err(failure)) => return Err(failure),
                    Ok(Ok(resp)) => resp,
                };
                check_status(resp, error_body).await
            }
        })
        .await
    }

    /// Sends a streaming chat request over [`StreamTransport`] (or reqwest
    /// behind a proxy) and returns the response once its headers arrived.
    fn send_stream_request(
        &self,
        url: &str,
        key: &Secret,
        body: &[u8],
    ) -> impl Future<Output = Result<reqwest::Response, Failure>> + Send + 'static {
        let reqwest_request = || {
            self.http
                .post(url)
                .bearer_auth(key.expose())
                .header(ACCEPT, "text/event-stream")
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_vec())
        };
        enum Via {
            Transport(
                StreamTransport,
                hyper::Request<http_body_util::Full<hyper::body::Bytes>>,
            ),
            Reqwest(reqwest::RequestBuilder),
        }
        let via = match &self.stream {
            Some(t) => match stream_request(url, key, body) {
                Some(req) => Via::Transport(t.clone(), req),
                // Not expressible as a header (a key with odd characters):
                // reqwest reports it like any malformed request.
                None => Via::Reqwest(reqwest_request()),
            },
            None => Via::Reqwest(reqwest_request()),
        };
        async move {
            match via {
                Via::Transport(t, req) => t
                    .send(req)
                    .await
                    .map_err(|e| Failure::Retry(describe_transport(&*e))),
                Via::Reqwest(rb) => rb.send().await.map_err(|e| Failure::Retry(describe(e))),
            }
        }
    }

    pub(super) fn idle_timeout(&self) -> Duration {
        self.timeouts.idle
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub(super) async fn json_call<T: serde::de::DeserializeOwned>(
        &self,
        key: &Secret,
        method: reqwest::Method,
        path: &'static str,
        body: Option<Vec<u8>>,
    ) -> Result<T, MistralError> {
        require_key(key)?;
        let url = self.url(path);
        self.with_retry_loop(path, || {
            let mut rb = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(key.expose())
                .header(ACCEPT, "application/json")
                .timeout(self.timeouts.request);
            if let Some(b) = &body {
                rb = rb.header(CONTENT_TYPE, "application/json").body(b.clone());
            }
            let error_body = self.timeouts.error_body;
            async move {
                let resp = rb.send().await.map_err(|e| Failure::Retry(describe(e)))?;
                let resp = check_status(resp, error_body).await?;
                let corr = correlation_id(resp.headers());
                // The request timeout bounds the time; this bounds the size.
                read_json::<T>(resp, MAX_JSON_BODY_BYTES).await.inspect_err(|f| {
                    if let Failure::Fatal(MistralError::InvalidResponse { detail }) = f {
                        tracing::warn!(path, correlation_id = %corr, error = %detail, "unreadable mistral response");
                    }
                })
            }
        })
        .await
    }

    pub(super) async fn with_retry_loop<T, F, Fut>(
        &self,
        what: &str,
        mut op: F,
    ) -> Result<T, MistralError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut backoff = self.retry.initial_backoff;
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry(detail)) if attempt < self.retry.max_attempts => {
                    tracing::warn!(what, attempt, %detail, "mistral unavailable, retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.retry.max_backoff);
                    attempt += 1;
                }
                Err(Failure::Retry(detail)) => {
                    tracing::warn!(what, attempt, %detail, "mistral unavailable, giving up");
                    return Err(MistralError::Unavailable {
                        attempts: attempt,
                        detail,
                    });
                }
            }
        }
    }
}

/// The request body with `stream` set.
fn encode(req: &ChatRequest, stream: bool) -> Result<Vec<u8>, MistralError> {
    let mut req = req.clone();
    req.stream = stream;
    serde_json::to_vec(&req).map_err(|e| MistralError::InvalidResponse {
        detail: format!("request could not be encoded: {e}"),
    })
}

/// How reading a body ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyEnd {
    Complete,
    /// Stopped at the size cap.
    TooLarge,
    /// Stopped at the deadline.
    TimedOut,
    Broken(String),
}

/// Reads a 2xx JSON body of at most `max` bytes: a body cut short is worth
/// another attempt (nothing was shown to anyone yet), a larger or
/// unreadable one is final.
pub(super) async fn read_json<T: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
    max: usize,
) -> Result<T, Failure> {
    let (bytes, end) = read_capped(resp, max, None).await;
    match end {
        BodyEnd::Complete => {}
        BodyEnd::Broken(detail) => return Err(Failure::Retry(detail)),
        BodyEnd::TimedOut => return Err(Failure::Retry("timeout: body".into())),
        BodyEnd::TooLarge => {
            return Err(Failure::Fatal(MistralError::InvalidResponse {
                detail: format!("response larger than {max} bytes"),
            }))
        }
    }
    serde_json::from_str::<T>(&String::from_utf8_lossy(&bytes)).map_err(|e| {
        Failure::Fatal(MistralError::InvalidResponse {
            detail: e.to_string(),
        })
    })
}

/// Reads at most `max` bytes of a body, until `within` has passed if given.
/// What arrived is returned however reading ended, so an endless or
/// trickling body costs a bounded amount of memory and time.
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    max: usize,
    within: Option<Duration>,
) -> (Vec<u8>, BodyEnd) {
    let deadline = within.map(|d| tokio::time::Instant::now() + d);
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let next = match deadline {
            Some(at) => match tokio::time::timeout_at(at, resp.chunk()).await {
                Ok(next) => next,
                Err(_) => return (buf, BodyEnd::TimedOut),
            },
            None => resp.chunk().await,
        };
        match next {
            Ok(Some(bytes)) => {
                let room = max - buf.len();
                if bytes.len() > room {
                    buf.extend_from_slice(&bytes[..room]);
                    return (buf, BodyEnd::TooLarge);
                }
                buf.extend_from_slice(&bytes);
            }
            Ok(None) => return (buf, BodyEnd::Complete),
            Err(e) => return (buf, BodyEnd::Broken(describe(e))),
        }
    }
}

/// Passes a 2xx response through; reads (bounded by [`MAX_ERROR_BODY_BYTES`]
/// and `error_body`) and classifies anything else.
pub(super) async fn check_status(
    resp: reqwest::Response,
    error_body: Duration,
) -> Result<reqwest::Response, Failure> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let headers = resp.headers().clone();
    let corr = correlation_id(&headers);
    let (bytes, end) = read_capped(resp, MAX_ERROR_BODY_BYTES, Some(error_body)).await;
    // A body cut short is no message to pass on: the status speaks alone.
    let body = match end {
        BodyEnd::Complete => String::from_utf8_lossy(&bytes).into_owned(),
        end => {
            tracing::info!(correlation_id = %corr, ?end, "mistral error body cut short");
            String::new()
        }
    };
    let code = status.as_u16();
    if status.is_server_error() {
        let detail = format!("HTTP {code}: {}", error_message(&body).unwrap_or_default());
        tracing::info!(status = code, correlation_id = %corr, "mistral server error");
        return Err(Failure::Retry(detail));
    }
    let err = MistralError::from_status(code, &headers, &body);
    tracing::info!(status = code, correlation_id = %corr, error = %err, "mistral refused the request");
    Err(Failure::Fatal(err))
}

/// Turns the SSE events of one kind of stream into items: [`StreamEvent`]s
/// for answers, audio bytes for speech (`audio.rs`).
pub(super) trait Decoder: Send + 'static {
    type Item: Send + 'static;
    /// Decodes one event into `out`; `false` once the stream is over (a
    /// terminal event, or an error pushed), when nothing more is read.
    fn decode(
        &mut self,
        ev: SseEvent,
        out: &mut VecDeque<Result<Self::Item, MistralError>>,
    ) -> bool;
    /// The body ended without a terminal event: `Ok` (with a last item to
    /// yield, if any) when the stream is complete anyway, else why it is not.
    fn at_end(&self) -> Result<Option<Self::Item>, String>;
}

/// The chat-completions stream (§1.5): `data:` chunks, then `[DONE]`.
#[derive(Default)]
struct ChatDecoder {
    saw_finish: bool,
}

fn interrupted(detail: String) -> Result<StreamEvent, MistralError> {
    Err(MistralError::Interrupted { detail })
}

impl Decoder for ChatDecoder {
    type Item = StreamEvent;

    fn decode(
        &mut self,
        ev: SseEvent,
        out: &mut VecDeque<Result<StreamEvent, MistralError>>,
    ) -> bool {
        if ev.is_done() {
            out.push_back(Ok(StreamEvent::Done));
            return false;
        }
        let chunk: ChatChunk = match serde_json::from_str(&ev.data) {
            Ok(c) => c,
            Err(e) => {
                out.push_back(interrupted(format!("malformed chunk: {e}")));
                return false;
            }
        };
        if chunk.object.as_deref() == Some("error") {
            let msg = error_message(&ev.data).unwrap_or_else(|| "error event".into());
            out.push_back(interrupted(format!("error in stream: {msg}")));
            return false;
        }
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            let parts = decode_delta(&choice.delta);
            if !parts.is_empty() {
                out.push_back(Ok(StreamEvent::Delta {
                    text: parts.text,
                    thinking: parts.thinking,
                }));
            }
            if let Some(reason) = &choice.finish_reason {
                self.saw_finish = true;
                out.push_back(Ok(StreamEvent::Finish {
                    reason: reason.clone(),
                }));
            }
        }
        if let Some(u) = chunk.usage {
            out.push_back(Ok(StreamEvent::Usage {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
            }));
        }
        true
    }

    fn at_end(&self) -> Result<Option<StreamEvent>, String> {
        // A finish_reason but no [DONE]: the answer is complete.
        match self.saw_finish {
            true => Ok(Some(StreamEvent::Done)),
            false => Err("stream ended without [DONE]".into()),
        }
    }
}

struct StreamState<S, D: Decoder> {
    body: Pin<Box<S>>,
    parser: SseParser,
    pending: VecDeque<Result<D::Item, MistralError>>,
    /// No further reads: a terminal event, an error, or end of body handled.
    ended: bool,
    decoder: D,
    idle: Duration,
}

impl<S, D: Decoder> StreamState<S, D> {
    fn interrupt(&mut self, detail: String) {
        self.pending
            .push_back(Err(MistralError::Interrupted { detail }));
        self.ended = true;
    }

    fn handle(&mut self, events: Vec<SseEvent>) {
        for ev in events {
            if self.ended {
                return;
            }
            if !self.decoder.decode(ev, &mut self.pending) {
                self.ended = true;
            }
        }
    }
}

/// Decodes a chat-completions SSE body (any byte-chunk stream) into
/// [`StreamEvent`]s.
pub fn events<S, B, E>(
    body: S,
    idle: Duration,
) -> impl Stream<Item = Result<StreamEvent, MistralError>> + Send + 'static
where
    S: Stream<Item = Result<B, E>> + Send + 'static,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    decode_events(body, idle, ChatDecoder::default())
}

/// Decodes an SSE body with `decoder`: bounded events, an idle deadline,
/// and one `Err(Interrupted)` for a broken, stalled or truncated stream.
pub(super) fn decode_events<S, B, E, D>(
    body: S,
    idle: Duration,
    decoder: D,
) -> impl Stream<Item = Result<D::Item, MistralError>> + Send + 'static
where
    S: Stream<Item = Result<B, E>> + Send + 'static,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
    D: Decoder,
{
    let state = StreamState {
        body: Box::pin(body),
        parser: SseParser::new(),
        pending: VecDeque::new(),
        ended: false,
        decoder,
        idle,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(item) = st.pending.pop_front() {
                return Some((item, st));
            }
            if st.ended {
                return None;
            }
            match tokio::time::timeout(st.idle, st.body.next()).await {
                Err(_) => st.interrupt(format!("no data for {} s", st.idle.as_secs())),
                Ok(Some(Ok(bytes))) => {
                    let evs = st.parser.push(bytes.as_ref());
                    st.handle(evs);
                    if !st.ended && st.parser.pending_bytes() > MAX_EVENT_BYTES {
                        st.interrupt(format!("an event longer than {MAX_EVENT_BYTES} bytes"));
                    }
                }
                Ok(Some(Err(e))) => st.interrupt(format!("connection broke: {e}")),
                Ok(None) => {
                    let evs = st.parser.finish();
                    st.handle(evs);
                    if !st.ended {
                        match st.decoder.at_end() {
                            Ok(last) => {
                                st.pending.extend(last.map(Ok));
                                st.ended = true;
                            }
                            Err(detail) => st.interrupt(detail),
                        }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(content: &str, finish: Option<&str>) -> String {
        let finish = finish.map_or("null".to_string(), |f| format!("\"{f}\""));
        format!(
            "data: {{\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{content}}},\"finish_reason\":{finish}}}]}}\n\n"
        )
    }

    async fn run(pieces: Vec<Result<Vec<u8>, String>>) -> Vec<Result<StreamEvent, MistralError>> {
        events(futures::stream::iter(pieces), Duration::from_secs(5))
            .collect()
            .await
    }

    fn delta(text: &str, thinking: &str) -> Result<StreamEvent, MistralError> {
        Ok(StreamEvent::Delta {
            text: text.into(),
            thinking: thinking.into(),
        })
    }

    #[tokio::test]
    async fn decodes_text_thinking_finish_usage_done() {
        let body = [
            chunk("[{\"type\":\"thinking\",\"thinking\":[{\"type\":\"text\",\"text\":\"hm\"}]}]", None),
            chunk("\"Hi\"", None),
            "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n".to_string(),
            "data: [DONE]\n\n".to_string(),
        ]
        .concat();
        let out = run(vec![Ok(body.into_bytes())]).await;
        assert_eq!(
            out,
            vec![
                delta("", "hm"),
                delta("Hi", ""),
                Ok(StreamEvent::Finish {
                    reason: "stop".into()
                }),
                Ok(StreamEvent::Usage {
                    prompt_tokens: 3,
                    completion_tokens: 2
                }),
                Ok(StreamEvent::Done),
            ]
        );
    }

    #[tokio::test]
    async fn an_endless_event_is_cut_off_at_the_cap() {
        let start = chunk("\"Hi\"", None).into_bytes();
        let mut pieces: Vec<Result<Vec<u8>, String>> = vec![Ok(start), Ok(b"data: ".to_vec())];
        // One event that never ends: 1 MiB pieces without a line break.
        pieces.extend((0..(MAX_EVENT_BYTES / (1 << 20) + 2)).map(|_| Ok(vec![b'x'; 1 << 20])));
        let out = run(pieces).await;
        assert_eq!(out[0], delta("Hi", ""));
        assert!(
            matches!(&out[1], Err(MistralError::Interrupted { detail }) if detail.contains("longer than")),
            "{out:?}"
        );
        assert_eq!(out.len(), 2);
    }

    #[tokio::test]
    async fn broken_or_truncated_streams_are_interrupted() {
        let first = chunk("\"Hel\"", None).into_bytes();
        let out = run(vec![Ok(first.clone()), Err("reset by peer".into())]).await;
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], delta("Hel", ""));
        assert!(matches!(out[1], Err(MistralError::Interrupted { .. })));

        let out = run(vec![Ok(first.clone())]).await;
        assert!(matches!(out[1], Err(MistralError::Interrupted { .. })));

        // finish_reason seen, [DONE] missing: complete answer.
        let out = run(vec![
            Ok(first.clone()),
            Ok(chunk("\"\"", Some("stop")).into_bytes()),
        ])
        .await;
        assert_eq!(out.last(), Some(&Ok(StreamEvent::Done)));

        let out = run(vec![
            Ok(first.clone()),
            Ok(
                b"data: {\"object\":\"error\",\"message\":\"boom\",\"type\":\"server_error\"}\n\n"
                    .to_vec(),
            ),
            Ok(chunk("\"never\"", None).into_bytes()),
        ])
        .await;
        assert_eq!(out.len(), 2);
        assert!(
            matches!(&out[1], Err(MistralError::Interrupted { detail }) if detail.contains("boom"))
        );

        let out = run(vec![Ok(b"data: {not json\n\n".to_vec())]).await;
        assert!(matches!(out[0], Err(MistralError::Interrupted { .. })));

        // Anything after [DONE] is ignored.
        let out = run(vec![Ok(b"data: [DONE]\n\ndata: {\"x\":1}\n\n".to_vec())]).await;
        assert_eq!(out, vec![Ok(StreamEvent::Done)]);
    }

    #[tokio::test]
    async fn stalled_stream_is_interrupted() {
        let body = futures::stream::iter(vec![Ok::<_, String>(chunk("\"a\"", None).into_bytes())])
            .chain(futures::stream::pending());
        let out: Vec<_> = events(body, Duration::from_millis(50)).collect().await;
        assert_eq!(out[0], delta("a", ""));
        assert!(matches!(out[1], Err(MistralError::Interrupted { .. })));
    }
}
