//! The generation hub: answers stream from Mistral in server-side tasks that
//! outlive the browser connection.
//!
//! A generation is keyed by its assistant message id. Its task owns the
//! upstream request, appends every event to a replay log, broadcasts it to
//! live subscribers, flushes the partial answer to the database at least once
//! a second while tokens arrive, and writes the final text, status, finish
//! reason and usage at the end. Subscribers get the log after their
//! `Last-Event-ID`, then live events, so a reload or a second device sees the
//! whole answer. Stop cancels the task; the partial answer is kept as
//! `stopped`. The hub is per process: a subscriber on another replica finds no
//! live task and falls back to the flushed row (see the SSE route).
//!
//! The hub also bounds what one person can make the server do: generations
//! and event streams are admitted through [`Slots`] (per user and in total),
//! reserved under one lock before anything is stored and given back when the
//! task or stream ends. Every generation runs under an overall deadline and an
//! idle deadline between upstream events, and everything the upstream sends is
//! cleaned before it is written (no NUL, which PostgreSQL rejects; finish
//! reasons cut to their column), so no odd answer can leave a row `streaming`.
use super::titles::{self, PendingTitles, TitleJob};
use crate::model::SourceDto;
use crate::server::config::Secret;
use crate::server::db::now_ms;
use crate::server::entities::messages;
use crate::server::mistral::{
    ChatRequest, ConversationRequest, MistralClient, MistralError, StreamEvent as Upstream,
};
use crate::server::{AppError, AppResult, AppState};
use crate::vocab::events::{SourceCited, ToolState};
use crate::vocab::limits::{MAX_FINISH_REASON_CHARS, MAX_MODEL_CHARS};
use crate::vocab::{MessageId, MessageStatus, StreamEvent, ThreadId, Tool, UserId};
use futures::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// How often the partial answer is written while tokens arrive.
pub const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// Size of `messages.finish_reason` (see the init migration).
pub const FINISH_REASON_CHARS: usize = MAX_FINISH_REASON_CHARS;
/// Size of `messages.model` and `threads.model`.
pub const MODEL_CHARS: usize = MAX_MODEL_CHARS;

/// Attempts of the final write of an answer, and the wait after the first
/// failure (doubled after each further one).
const FINISH_ATTEMPTS: u32 = 4;
const FINISH_BACKOFF: Duration = Duration::from_millis(200);

/// How long past its deadlines a `streaming` row may go without an update
/// before a reader declares it abandoned (its task died with its process, or
/// its final write failed): room for the final write and its retries.
pub const STALE_GRACE: Duration = Duration::from_secs(30);

/// `s` without NUL characters (PostgreSQL rejects them in text columns, and
/// nothing a person reads needs them) and without the two characters that
/// mark a citation for the renderer ([`crate::markdown::CITE_OPEN`]), so
/// only a real citation can become a marker.
pub fn without_nul(s: &str) -> String {
    s.replace(
        [
            '\0',
            crate::markdown::CITE_OPEN,
            crate::markdown::CITE_CLOSE,
        ],
        "",
    )
}

/// `s` without NUL, cut to at most `max` characters (on a character boundary,
/// as `VARCHAR(n)` counts characters on every backend).
pub fn fit_column(s: &str, max: usize) -> String {
    let clean = without_nul(s);
    match clean.char_indices().nth(max) {
        Some((cut, _)) => clean[..cut].to_string(),
        None => clean,
    }
}

/// "1 second", "90 seconds", "1 minute", "30 minutes": for sentences.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = if secs >= 120 && secs.is_multiple_of(60) {
        (secs / 60, "minute")
    } else if secs == 60 {
        (1, "minute")
    } else {
        (secs, "second")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// Runs `op` up to `attempts` times, waiting `backoff` (doubled each time)
/// between failures; the last error if every attempt failed.
pub async fn with_retries<T, E, F, Fut>(
    attempts: u32,
    backoff: Duration,
    mut op: F,
) -> Result<T, (u32, E)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut wait = backoff;
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt >= attempts.max(1) => return Err((attempt, e)),
            Err(e) => {
                tracing::warn!(attempt, error = %e, "database write failed, retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
                attempt += 1;
            }
        }
    }
}

/// Which cap a [`Slots::try_take`] ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// This user already holds their share.
    User,
    /// The whole server is at its cap.
    Total,
}

#[derive(Default)]
struct SlotCounts {
    by_user: HashMap<String, usize>,
    total: usize,
}

/// Places counted per user and in total (running generations, open event
/// streams). Taking a place checks both caps and counts it under one lock, so
/// concurrent requests can never overshoot; the [`Slot`] gives it back when
/// dropped, however its holder ends.
#[derive(Clone, Default)]
pub struct Slots {
    counts: Arc<Mutex<SlotCounts>>,
}

impl Slots {
    fn counts(&self) -> std::sync::MutexGuard<'_, SlotCounts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn try_take(&self, user_id: &str, per_user: usize, total: usize) -> Result<Slot, Full> {
        let mut c = self.counts();
        if c.by_user.get(user_id).copied().unwrap_or(0) >= per_user {
            return Err(Full::User);
        }
        if c.total >= total {
            return Err(Full::Total);
        }
        *c.by_user.entry(user_id.to_string()).or_insert(0) += 1;
        c.total += 1;
        Ok(Slot {
            slots: self.clone(),
            user_id: user_id.to_string(),
        })
    }

    /// Places `user_id` holds now.
    pub fn held_by(&self, user_id: &str) -> usize {
        self.counts().by_user.get(user_id).copied().unwrap_or(0)
    }

    /// Places held by everyone.
    pub fn held(&self) -> usize {
        self.counts().total
    }
}

/// One place in [`Slots`], given back on drop.
pub struct Slot {
    slots: Slots,
    user_id: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.slots.counts();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_user.get_mut(&self.user_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.by_user.remove(&self.user_id);
            }
        }
    }
}

/// The deadlines of one generation.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// From the start of the task to the end of the answer.
    pub total: Duration,
    /// Longest wait for the next upstream event.
    pub idle: Duration,
}

impl Deadlines {
    pub fn from_config(c: &crate::server::config::Config) -> Self {
        Self {
            total: Duration::from_secs(c.generation_timeout_secs),
            idle: Duration::from_secs(c.generation_idle_timeout_secs),
        }
    }
}

struct Log {
    events: Vec<StreamEvent>,
    finished: bool,
}

/// Live events of a generation, numbered from 1 (the SSE event id).
pub type LiveEvents = broadcast::Receiver<(u64, StreamEvent)>;

/// One running generation.
pub struct Generation {
    pub message_id: MessageId,
    pub user_id: UserId,
    pub thread_id: ThreadId,
    log: Mutex<Log>,
    tx: broadcast::Sender<(u64, StreamEvent)>,
    cancel: watch::Sender<bool>,
}

impl Generation {
    fn push(&self, ev: StreamEvent) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if log.finished {
            return;
        }
        log.events.push(ev.clone());
        let id = log.events.len() as u64;
        if ev.is_done() {
            log.finished = true;
        }
        // Sent under the lock so a subscriber never misses or doubles an event.
        let _ = self.tx.send((id, ev));
    }

    /// Events after `after` (event ids start at 1), and a receiver for the
    /// rest; `None` receiver when the generation already finished.
    pub fn subscribe(&self, after: u64) -> (Vec<(u64, StreamEvent)>, Option<LiveEvents>) {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let backlog = log
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| (i as u64 + 1, e.clone()))
            .filter(|(id, _)| *id > after)
            .collect();
        let rx = (!log.finished).then(|| self.tx.subscribe());
        (backlog, rx)
    }

    pub fn stop(&self) {
        let _ = self.cancel.send(true);
    }
}

/// All live generations of this process, the thread titles being written,
/// and the places for generations and event streams.
#[derive(Clone, Default)]
pub struct GenerationHub {
    live: Arc<Mutex<HashMap<MessageId, Arc<Generation>>>>,
    titles: PendingTitles,
    generations: Slots,
    streams: Slots,
}

/// Everything a generation task needs.
pub struct GenerationJob {
    pub message_id: MessageId,
    pub user_id: UserId,
    pub thread_id: ThreadId,
    /// The place taken by [`GenerationHub::reserve_generation`]; held until
    /// the task ends.
    pub permit: Slot,
    pub deadlines: Deadlines,
    pub key: Secret,
    pub request: ChatRequest,
    /// Built-in tools offered to the model; with any, the answer comes from
    /// the Conversations API instead of chat completions.
    pub tools: Vec<Tool>,
    pub db: DatabaseConnection,
    pub client: MistralClient,
    /// Resolves when the server shuts down: the answer is kept as interrupted.
    pub shutdown: watch::Receiver<bool>,
    /// Resolves once the rows of this answer are committed. The upstream
    /// request starts at once; the task writes nothing before this (a dropped
    /// sender means the rows were not stored: the task writes nothing at all).
    pub stored: Option<oneshot::Receiver<()>>,
    /// The first exchange of a new thread: name it once the answer is done.
    pub title: Option<TitleJob>,
}

/// Whether the rows of an answer exist yet (see [`GenerationJob::stored`]).
struct Stored {
    pending: Option<oneshot::Receiver<()>>,
    ok: bool,
}

impl Stored {
    async fn wait(&mut self) -> bool {
        if let Some(rx) = self.pending.take() {
            self.ok = rx.await.is_ok();
        }
        self.ok
    }
}

impl GenerationHub {
    pub fn get(&self, message_id: &MessageId) -> Option<Arc<Generation>> {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(message_id)
            .cloned()
    }

    /// The titles being written, by thread id.
    pub fn titles(&self) -> &PendingTitles {
        &self.titles
    }

    pub fn live_count(&self) -> usize {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// A place for one more generation of `user_id`, checked before anything
    /// is stored: 429 when the user already has `per_user` answers being
    /// written, 503 when the server runs `total`.
    pub fn reserve_generation(
        &self,
        user_id: &UserId,
        per_user: usize,
        total: usize,
    ) -> AppResult<Slot> {
        self.generations
            .try_take(user_id.as_str(), per_user, total)
            .map_err(|full| match full {
                Full::User => AppError::TooManyRequests {
                    message: format!(
                        "You already have {per_user} {} being written — wait for one to finish or stop it",
                        if per_user == 1 { "answer" } else { "answers" }
                    ),
                    retry_after_secs: 5,
                },
                Full::Total => AppError::Unavailable {
                    message: "The server is writing as many answers as it can right now — please try again in a minute".into(),
                    retry_after_secs: 30,
                },
            })
    }

    /// Generations `user_id` runs now (reserved or started).
    pub fn generations_of(&self, user_id: &UserId) -> usize {
        self.generations.held_by(user_id.as_str())
    }

    /// Generations running now, everyone's.
    pub fn generations_total(&self) -> usize {
        self.generations.held()
    }

    /// A place for one more open event stream of `user_id`: 429 past
    /// `per_user`, 503 past `total`. Hold the slot for as long as the
    /// response streams.
    pub fn open_stream(&self, user_id: &UserId, per_user: usize, total: usize) -> AppResult<Slot> {
        self.streams
            .try_take(user_id.as_str(), per_user, total)
            .map_err(|full| match full {
                Full::User => AppError::TooManyRequests {
                    message: format!(
                        "You have {per_user} live answer streams open already — close some tabs and reload this one"
                    ),
                    retry_after_secs: 10,
                },
                Full::Total => AppError::Unavailable {
                    message: "The server is streaming to as many readers as it can right now — please reload in a minute".into(),
                    retry_after_secs: 30,
                },
            })
    }

    /// Event streams `user_id` holds open now.
    pub fn streams_of(&self, user_id: &UserId) -> usize {
        self.streams.held_by(user_id.as_str())
    }

    /// Stops the live generations matching `which` and waits (a few seconds
    /// at most) for their tasks to store what they had, so a deletion that
    /// follows finds no task still writing.
    async fn stop_where(&self, which: impl Fn(&Generation) -> bool) {
        let stopped: Vec<MessageId> = {
            let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            live.values()
                .filter(|g| which(g))
                .map(|g| {
                    g.stop();
                    g.message_id.clone()
                })
                .collect()
        };
        for _ in 0..150 {
            if stopped.iter().all(|id| self.get(id).is_none()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::warn!(
            count = stopped.len(),
            "stopped generations did not end in time"
        );
    }

    /// Stops the generations answering in `thread_id` (before the thread is
    /// deleted).
    pub async fn stop_for_thread(&self, thread_id: &ThreadId) {
        self.stop_where(|g| &g.thread_id == thread_id).await
    }

    /// Stops every generation of `user_id` (before the account is deleted).
    pub async fn stop_for_user(&self, user_id: &UserId) {
        self.stop_where(|g| &g.user_id == user_id).await
    }

    /// Starts the task; returns at once.
    pub fn start(&self, job: GenerationJob) -> Arc<Generation> {
        let (tx, _) = broadcast::channel(1024);
        let (cancel, cancel_rx) = watch::channel(false);
        let generation = Arc::new(Generation {
            message_id: job.message_id.clone(),
            user_id: job.user_id.clone(),
            thread_id: job.thread_id.clone(),
            log: Mutex::new(Log {
                events: vec![],
                finished: false,
            }),
            tx,
            cancel,
        });
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job.message_id.clone(), generation.clone());
        let hub = self.clone();
        let g = generation.clone();
        let mut job = job;
        let title = job.title.take();
        if let Some(t) = &title {
            hub.titles.begin(&t.thread_id);
        }
        // What the title needs once `run` has consumed the job.
        let titling = title.map(|t| (t, job.db.clone(), job.client.clone(), job.key.clone()));
        // The task outlives the request that started it; it keeps that
        // request's span, so its log lines carry the request id.
        tokio::spawn(tracing::Instrument::in_current_span(async move {
            let (status, answer, permit) = run(job, g.clone(), cancel_rx).await;
            // The answer is over: the user may start another (the title
            // below is a short call of its own). Given back before the hub
            // forgets the generation, so whoever waits for that (stop,
            // deletions) finds the place free.
            drop(permit);
            // Late subscribers read the finished row from the database.
            hub.live
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&g.message_id);
            if let Some((t, db, client, key)) = titling {
                if status == MessageStatus::Done {
                    titles::write_title(&db, &client, &key, &t, &answer).await;
                }
                hub.titles.end(&t.thread_id);
            }
        }));
        generation
    }
}

/// The sources of an answer as citations arrive: numbered in order of first
/// citation, a URL cited again keeps its number and gains a marker.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    list: Vec<SourceDto>,
}

impl Sources {
    /// Adds a citation; the (possibly existing) number it got.
    pub fn cite(&mut self, c: SourceCited) -> u32 {
        if let Some(s) = self.list.iter_mut().find(|s| s.url == c.url) {
            s.at.push(c.at);
            return s.index;
        }
        let index = self.list.len() as u32 + 1;
        self.list.push(SourceDto {
            index,
            title: c.title,
            url: c.url,
            source: c.source,
            at: vec![c.at],
        });
        index
    }

    /// The number `url` has, or would get.
    pub fn index_for(&self, url: &str) -> u32 {
        self.list
            .iter()
            .find(|s| s.url == url)
            .map_or(self.list.len() as u32 + 1, |s| s.index)
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether source `index` already has a marker at `at`.
    pub fn marked_at(&self, index: u32, at: u32) -> bool {
        self.list
            .iter()
            .any(|s| s.index == index && s.at.last() == Some(&at))
    }

    pub fn into_list(self) -> Vec<SourceDto> {
        self.list
    }

    /// The JSON stored in `messages.sources` (`None` when there are none).
    pub fn to_column(&self) -> Option<String> {
        (!self.list.is_empty()).then(|| serde_json::to_string(&self.list).unwrap_or_default())
    }
}

#[derive(Default)]
struct Answer {
    /// What the running image tool was asked to draw.
    image_prompt: Option<String>,
    /// Why a file the answer made could not be stored.
    file_error: Option<String>,
    text: String,
    /// Characters in `text` (where the next citation stands).
    chars: u32,
    sources: Sources,
    thinking: String,
    finish_reason: Option<String>,
    prompt_tokens: Option<i32>,
    completion_tokens: Option<i32>,
    thinking_started: Option<Instant>,
    thinking_ms: Option<i32>,
}

async fn flush(db: &DatabaseConnection, id: &str, a: &Answer) {
    let res = messages::Entity::update_many()
        .col_expr(messages::Column::Text, Expr::value(a.text.clone()))
        .col_expr(
            messages::Column::Thinking,
            Expr::value((!a.thinking.is_empty()).then(|| a.thinking.clone())),
        )
        .col_expr(
            messages::Column::Sources,
            Expr::value(a.sources.to_column()),
        )
        .col_expr(messages::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(messages::Column::Id.eq(id))
        .exec(db)
        .await;
    if let Err(e) = res {
        tracing::warn!(error = %e, "could not flush a partial answer");
    }
}

/// The final write of an answer, retried with backoff: a lost write would
/// leave the row `streaming` until a reader declares it abandoned. Updates by
/// id, so an answer whose thread was deleted meanwhile writes nothing.
async fn finish(
    db: &DatabaseConnection,
    id: &str,
    a: &Answer,
    status: MessageStatus,
    error: Option<String>,
) {
    let thinking = (!a.thinking.is_empty()).then(|| a.thinking.clone());
    let res = with_retries(FINISH_ATTEMPTS, FINISH_BACKOFF, || {
        messages::Entity::update_many()
            .col_expr(messages::Column::Text, Expr::value(a.text.clone()))
            .col_expr(messages::Column::Thinking, Expr::value(thinking.clone()))
            .col_expr(messages::Column::Status, Expr::value(status))
            .col_expr(
                messages::Column::FinishReason,
                Expr::value(a.finish_reason.clone()),
            )
            .col_expr(messages::Column::PromptTokens, Expr::value(a.prompt_tokens))
            .col_expr(
                messages::Column::CompletionTokens,
                Expr::value(a.completion_tokens),
            )
            .col_expr(messages::Column::ThinkingMs, Expr::value(a.thinking_ms))
            .col_expr(messages::Column::Error, Expr::value(error.clone()))
            .col_expr(
                messages::Column::Sources,
                Expr::value(a.sources.to_column()),
            )
            .col_expr(messages::Column::UpdatedAt, Expr::value(now_ms()))
            .filter(messages::Column::Id.eq(id))
            .exec(db)
    })
    .await;
    if let Err((attempts, e)) = res {
        tracing::error!(message_id = id, attempts, error = %e, "could not store a finished answer");
    }
}

/// Longest tool name kept (names come from upstream).
const TOOL_NAME_CHARS: usize = 64;
/// Longest title and address of a source kept, and most sources per answer.
const SOURCE_TITLE_CHARS: usize = 300;
const SOURCE_URL_CHARS: usize = 2_000;
const MAX_SOURCES: usize = 100;

impl Answer {
    /// A citation where the text stands now: `None` when it adds nothing
    /// (an address that cannot be opened, a repeat at the same place, past
    /// the cap).
    fn cite(&mut self, title: String, url: String, source: Option<String>) -> Option<SourceCited> {
        let url = fit_column(url.trim(), SOURCE_URL_CHARS);
        crate::markdown::safe_link(&url).filter(|u| u.starts_with("http"))?;
        let index = self.sources.index_for(&url);
        let known = (index as usize) <= self.sources.len();
        if !known && self.sources.len() >= MAX_SOURCES {
            return None;
        }
        if self.sources.marked_at(index, self.chars) {
            return None;
        }
        let title = fit_column(title.trim(), SOURCE_TITLE_CHARS);
        let cited = SourceCited {
            index,
            title: if title.is_empty() { url.clone() } else { title },
            url,
            source: source
                .map(|s| fit_column(s.trim(), TOOL_NAME_CHARS))
                .filter(|s| !s.is_empty()),
            at: self.chars,
        };
        self.sources.cite(cited.clone());
        Some(cited)
    }
}

/// Longest prompt kept with a generated image.
const IMAGE_PROMPT_CHARS: usize = 2_000;

/// The prompt of an `image_generation` call (its arguments are JSON with a
/// `prompt`; anything else: none).
fn image_prompt(arguments: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(arguments).ok()?;
    let p = v.get("prompt")?.as_str()?.trim();
    (!p.is_empty()).then(|| fit_column(p, IMAGE_PROMPT_CHARS))
}

/// Fetches a file a tool made from Mistral's Files API and stores it as an
/// attachment of the answer; the sentence to show when that fails.
async fn store_generated(
    job: &GenerationJob,
    file_id: &str,
    file_name: &str,
    file_type: &str,
    answer: &Answer,
) -> Result<crate::model::AttachmentDto, String> {
    let failed = "The image could not be stored — regenerate the answer to try again";
    let bytes = job
        .client
        .file_content(&job.key, file_id)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "could not fetch a generated file");
            failed.to_string()
        })?;
    let name = match (file_name.trim(), file_type.trim()) {
        ("", _) => "image".to_string(),
        (n, "") => n.to_string(),
        (n, t) if n.ends_with(&format!(".{t}")) => n.to_string(),
        (n, t) => format!("{n}.{t}"),
    };
    super::files::add_generated_image(
        &job.db,
        &job.user_id,
        &job.message_id,
        &bytes,
        &name,
        answer.image_prompt.clone(),
    )
    .await
    .map_err(|e| {
        tracing::warn!(error = %e, "could not store a generated file");
        failed.to_string()
    })
}

/// The upstream event stream of a job: chat completions, or a conversation
/// when tools are offered.
async fn open_upstream(
    job: &GenerationJob,
) -> Result<futures::stream::BoxStream<'static, Result<Upstream, MistralError>>, MistralError> {
    if job.tools.is_empty() {
        let s = job.client.chat_stream(&job.key, &job.request).await?;
        return Ok(s.boxed());
    }
    let req = ConversationRequest::from_chat(&job.request, &job.tools);
    let s = job.client.conversation_stream(&job.key, &req).await?;
    Ok(s.boxed())
}

enum Outcome {
    Done,
    Stopped,
    /// Cut off (shutdown, broken stream, a deadline): the sentence to store.
    Interrupted(String),
    Failed(String),
}

const INTERRUPTED: &str = "The answer was interrupted";

/// Runs the generation; the final status, the answer text, and the permit
/// (released by the caller once the hub forgot the generation).
async fn run(
    mut job: GenerationJob,
    g: Arc<Generation>,
    mut cancel: watch::Receiver<bool>,
) -> (MessageStatus, String, Slot) {
    let mut stored = Stored {
        pending: job.stored.take(),
        ok: true,
    };
    let mut shutdown = job.shutdown.clone();
    let mut answer = Answer::default();
    let deadlines = job.deadlines;
    let overall = tokio::time::sleep(deadlines.total);
    tokio::pin!(overall);
    let too_long = || {
        format!(
            "The answer took longer than {} and was stopped",
            human_duration(deadlines.total)
        )
    };
    let outcome = 'outer: {
        let stream = tokio::select! {
            s = open_upstream(&job) => s,
            _ = cancel.changed() => break 'outer Outcome::Stopped,
            _ = shutdown.changed() => break 'outer Outcome::Interrupted(INTERRUPTED.into()),
            _ = &mut overall => break 'outer Outcome::Interrupted(too_long()),
        };
        let mut stream = match stream {
            Ok(s) => s,
            Err(e) => break 'outer Outcome::Failed(e.user_message()),
        };
        let mut last_flush = Instant::now();
        loop {
            let next = tokio::select! {
                ev = tokio::time::timeout(deadlines.idle, stream.next()) => match ev {
                    Ok(ev) => ev,
                    Err(_) => break 'outer Outcome::Interrupted(format!(
                        "Mistral sent nothing for {} and the answer was interrupted",
                        human_duration(deadlines.idle)
                    )),
                },
                _ = cancel.changed() => break 'outer Outcome::Stopped,
                _ = shutdown.changed() => break 'outer Outcome::Interrupted(INTERRUPTED.into()),
                _ = &mut overall => break 'outer Outcome::Interrupted(too_long()),
            };
            match next {
                Some(Ok(Upstream::Delta { text, thinking })) => {
                    let (text, thinking) = (without_nul(&text), without_nul(&thinking));
                    if text.is_empty() && thinking.is_empty() {
                        continue;
                    }
                    if !thinking.is_empty() && answer.thinking_started.is_none() {
                        answer.thinking_started = Some(Instant::now());
                    }
                    if !text.is_empty() && answer.thinking_ms.is_none() {
                        if let Some(t0) = answer.thinking_started {
                            answer.thinking_ms =
                                Some(t0.elapsed().as_millis().min(i32::MAX as u128) as i32);
                        }
                    }
                    answer.text.push_str(&text);
                    answer.chars = answer
                        .chars
                        .saturating_add(text.chars().count().min(u32::MAX as usize) as u32);
                    answer.thinking.push_str(&thinking);
                    g.push(StreamEvent::Delta { text, thinking });
                    if last_flush.elapsed() >= FLUSH_EVERY && stored.wait().await {
                        flush(&job.db, job.message_id.as_str(), &answer).await;
                        last_flush = Instant::now();
                    }
                }
                Some(Ok(Upstream::ToolStarted { name, arguments })) => {
                    if name == Tool::ImageGeneration.as_str() {
                        answer.image_prompt = image_prompt(&arguments);
                    }
                    g.push(StreamEvent::Tool {
                        name: fit_column(&name, TOOL_NAME_CHARS),
                        state: ToolState::Started,
                    })
                }
                Some(Ok(Upstream::ToolDone { name })) => g.push(StreamEvent::Tool {
                    name: fit_column(&name, TOOL_NAME_CHARS),
                    state: ToolState::Done,
                }),
                Some(Ok(Upstream::Reference { title, url, source })) => {
                    if let Some(cited) = answer.cite(title, url, source) {
                        g.push(StreamEvent::Citation { source: cited });
                    }
                }
                Some(Ok(Upstream::File {
                    file_id,
                    file_name,
                    file_type,
                })) => {
                    // The attachment row needs the answer's row.
                    if !stored.wait().await {
                        continue;
                    }
                    match store_generated(&job, &file_id, &file_name, &file_type, &answer).await {
                        Ok(file) => g.push(StreamEvent::File { file }),
                        Err(e) => answer.file_error = Some(e),
                    }
                }
                Some(Ok(Upstream::Finish { reason })) => {
                    answer.finish_reason =
                        Some(fit_column(&reason, FINISH_REASON_CHARS)).filter(|r| !r.is_empty());
                }
                Some(Ok(Upstream::Usage {
                    prompt_tokens,
                    completion_tokens,
                })) => {
                    answer.prompt_tokens = Some(prompt_tokens.min(i32::MAX as u64) as i32);
                    answer.completion_tokens = Some(completion_tokens.min(i32::MAX as u64) as i32);
                    g.push(StreamEvent::Usage {
                        prompt_tokens,
                        completion_tokens,
                    });
                }
                Some(Ok(Upstream::Done)) | None => break 'outer Outcome::Done,
                Some(Err(MistralError::Interrupted { .. })) => {
                    break 'outer Outcome::Interrupted(INTERRUPTED.into())
                }
                // Mistral's own error event: its sentence, the partial answer kept.
                Some(Err(e @ MistralError::StreamError { .. })) => {
                    if answer.text.is_empty() && answer.thinking.is_empty() {
                        break 'outer Outcome::Failed(e.user_message());
                    }
                    break 'outer Outcome::Interrupted(e.user_message());
                }
                Some(Err(e)) => {
                    if answer.text.is_empty() && answer.thinking.is_empty() {
                        break 'outer Outcome::Failed(e.user_message());
                    }
                    break 'outer Outcome::Interrupted(INTERRUPTED.into());
                }
            }
        }
    };
    if answer.thinking_ms.is_none() {
        if let Some(t0) = answer.thinking_started {
            answer.thinking_ms = Some(t0.elapsed().as_millis().min(i32::MAX as u128) as i32);
        }
    }
    let (status, error) = match outcome {
        // A file that could not be stored is said on the message.
        Outcome::Done => (MessageStatus::Done, answer.file_error.clone()),
        Outcome::Stopped => (MessageStatus::Stopped, None),
        Outcome::Interrupted(msg) => (MessageStatus::Interrupted, Some(msg)),
        Outcome::Failed(msg) => (MessageStatus::Error, Some(without_nul(&msg))),
    };
    if stored.wait().await {
        finish(
            &job.db,
            job.message_id.as_str(),
            &answer,
            status,
            error.clone(),
        )
        .await;
    }
    g.push(StreamEvent::Done {
        status,
        finish_reason: answer.finish_reason.clone(),
        error,
    });
    (status, answer.text, job.permit)
}

/// A `streaming` row that no task has touched for longer than its deadlines
/// allow (plus [`STALE_GRACE`]) is abandoned: its process died, or its final
/// write kept failing.
pub fn is_abandoned(row: &messages::Model, deadlines: Deadlines, now: i64) -> bool {
    let ms =
        |d: Duration| i64::try_from(d.saturating_add(STALE_GRACE).as_millis()).unwrap_or(i64::MAX);
    row.status == MessageStatus::Streaming
        && (now.saturating_sub(row.updated_at) > ms(deadlines.idle)
            || now.saturating_sub(row.created_at) > ms(deadlines.total))
}

/// Marks an abandoned answer `interrupted` (keeping its partial text) so its
/// readers stop waiting; the row as it is now. A row that changed meanwhile
/// (a live task wrote to it) is left alone.
pub async fn interrupt_abandoned(
    db: &DatabaseConnection,
    row: &messages::Model,
) -> AppResult<Option<messages::Model>> {
    messages::Entity::update_many()
        .col_expr(
            messages::Column::Status,
            Expr::value(MessageStatus::Interrupted),
        )
        .col_expr(
            messages::Column::Error,
            Expr::value("The answer stopped arriving and was interrupted"),
        )
        .col_expr(messages::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(messages::Column::Id.eq(row.id.as_str()))
        .filter(messages::Column::Status.eq(MessageStatus::Streaming))
        .filter(messages::Column::UpdatedAt.eq(row.updated_at))
        .exec(db)
        .await?;
    Ok(messages::Entity::find_by_id(row.id.clone()).one(db).await?)
}

/// One event for one reader, with its SSE id: its place in the generation's
/// log, `None` for a snapshot read from the stored row (a reconnect after it
/// starts again from the row).
#[derive(Debug, Clone, PartialEq)]
pub struct Numbered {
    pub id: Option<u64>,
    pub event: StreamEvent,
}

/// The id of a `done` built from a stored row: past any log position, so a
/// reader that reconnects after it gets nothing more.
const ROW_DONE_ID: u64 = u64::MAX / 2;

/// How often a reader polls the stored row of an answer streaming on another
/// replica.
const POLL_EVERY: Duration = Duration::from_millis(1000);

/// The events of the answer `message_id` for one reader of `user_id`, from
/// after `last_event_id` (`None`: a first connection).
///
/// - A generation running in this process: a first connection gets what was
///   written so far folded into one `snapshot` (its id is the last event it
///   covers) — a page that already shows the stored part replaces it rather
///   than appending the same text again — then the live events; a reconnect
///   gets the log after its id, then the live events. A reader too slow for
///   the broadcast gets the stored row as a `snapshot` and goes on.
/// - Not running here (finished, or streaming on another replica): the stored
///   row as a `snapshot`, polled every second while it is `streaming`, then
///   `done`. A row no task has written past the deadlines is marked
///   `interrupted` for every reader.
///
/// Ownership first (a foreign or unknown id is a 404), then a place among the
/// open streams (`MAX_STREAMS_PER_USER`, `MAX_STREAMS_TOTAL`), held as long as
/// the returned stream lives. The stream ends after `done`, at shutdown, or
/// when it is dropped.
pub async fn watch(
    state: &AppState,
    user_id: &UserId,
    message_id: &MessageId,
    last_event_id: Option<u64>,
) -> AppResult<impl futures::Stream<Item = Numbered> + Send + 'static> {
    let (msg, _) = super::chat::find_owned_message(state, user_id, message_id).await?;
    let slot = state.hub.open_stream(
        user_id,
        state.config.max_streams_per_user,
        state.config.max_streams_total,
    )?;
    let (tx, mut rx) = mpsc::channel::<Numbered>(256);
    let live = state.hub.get(message_id);
    let state = state.clone();
    // The reader keeps the request's span (and so its request id).
    tokio::spawn(tracing::Instrument::in_current_span(async move {
        match live {
            Some(g) => follow_live(&state, &g, last_event_id.unwrap_or(0), &tx).await,
            None => follow_row(&state, msg, &tx).await,
        }
    }));
    Ok(futures::stream::poll_fn(move |cx| {
        // The place is given back when the reader drops the stream.
        let _held = &slot;
        rx.poll_recv(cx)
    }))
}

async fn follow_live(state: &AppState, g: &Generation, after: u64, tx: &mpsc::Sender<Numbered>) {
    let mut shutdown = state.shutdown.subscribe();
    let (backlog, rx_live) = g.subscribe(after);
    let backlog = if after == 0 {
        collapse_backlog(backlog)
    } else {
        backlog
            .into_iter()
            .map(|(id, event)| Numbered {
                id: Some(id),
                event,
            })
            .collect()
    };
    for item in backlog {
        if tx.send(item).await.is_err() {
            return;
        }
    }
    let Some(mut rx_live) = rx_live else { return };
    loop {
        tokio::select! {
            r = rx_live.recv() => match r {
                Ok((id, event)) => {
                    let done = event.is_done();
                    if tx.send(Numbered { id: Some(id), event }).await.is_err() || done {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Too slow a reader: send the stored state instead.
                    if let Ok(Some(row)) = reload(state, g.message_id.as_str()).await {
                        let _ = tx.send(snapshot_of_row(state, &row).await).await;
                    }
                }
                Err(_) => return,
            },
            // The reader went away: stop listening at once.
            _ = tx.closed() => return,
            _ = shutdown.changed() => return,
        }
    }
}

async fn follow_row(state: &AppState, mut row: messages::Model, tx: &mpsc::Sender<Numbered>) {
    let mut shutdown = state.shutdown.subscribe();
    let deadlines = Deadlines::from_config(&state.config);
    loop {
        if is_abandoned(&row, deadlines, now_ms()) {
            // No task has written it for longer than any may: end it for
            // every reader.
            match interrupt_abandoned(&state.db, &row).await {
                Ok(Some(r)) => row = r,
                _ => return,
            }
        }
        if tx.send(snapshot_of_row(state, &row).await).await.is_err() {
            return;
        }
        if row.status.is_final() {
            let done = StreamEvent::Done {
                status: row.status,
                finish_reason: row.finish_reason.clone(),
                error: row.error.clone(),
            };
            let _ = tx
                .send(Numbered {
                    id: Some(ROW_DONE_ID),
                    event: done,
                })
                .await;
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_EVERY) => {}
            _ = tx.closed() => return,
            _ = shutdown.changed() => return,
        }
        match reload(state, &row.id).await {
            Ok(Some(r)) => row = r,
            _ => return,
        }
    }
}

/// The stored state of an answer, as one `snapshot` (with its files, as
/// its owner fetches them: only the owner watches a generation).
async fn snapshot_of_row(state: &AppState, m: &messages::Model) -> Numbered {
    let files = super::files::attachments_for(
        &state.db,
        std::slice::from_ref(&m.id),
        &super::files::FileReader::Owner,
    )
    .await
    .ok()
    .and_then(|mut by| by.remove(&m.id))
    .unwrap_or_default();
    Numbered {
        id: None,
        event: StreamEvent::Snapshot {
            text: m.text.clone(),
            thinking: m.thinking.clone().unwrap_or_default(),
            status: m.status,
            tool: None,
            sources: super::threads::stored_sources(m),
            files,
        },
    }
}

/// The log so far as a first-time reader needs it: one `snapshot` of the
/// text and thinking (its id is the last event it covers, so a reconnect
/// resumes right after it), then `done` if the answer has ended. Usage
/// figures are folded in: no reader shows them mid-answer.
fn collapse_backlog(backlog: Vec<(u64, StreamEvent)>) -> Vec<Numbered> {
    let (mut text, mut thinking) = (String::new(), String::new());
    let (mut covered, mut done) = (None, None);
    let mut tool = None;
    let mut sources = Sources::default();
    let mut files = vec![];
    for (id, event) in backlog {
        match event {
            StreamEvent::Tool { name, state } => {
                tool = (state == ToolState::Started).then_some(name);
                covered = Some(id);
            }
            StreamEvent::Citation { source } => {
                sources.cite(source);
                covered = Some(id);
            }
            StreamEvent::File { file } => {
                files.push(file);
                covered = Some(id);
            }
            StreamEvent::Delta {
                text: t,
                thinking: th,
            } => {
                text.push_str(&t);
                thinking.push_str(&th);
                covered = Some(id);
            }
            StreamEvent::Done { .. } => done = Some((id, event)),
            StreamEvent::Usage { .. } | StreamEvent::Snapshot { .. } | StreamEvent::Html { .. } => {
                covered = Some(id)
            }
        }
    }
    let mut out = vec![];
    if let Some(id) = covered {
        out.push(Numbered {
            id: Some(id),
            event: StreamEvent::Snapshot {
                text,
                thinking,
                status: MessageStatus::Streaming,
                tool,
                sources: sources.into_list(),
                files,
            },
        });
    }
    if let Some((id, event)) = done {
        out.push(Numbered {
            id: Some(id),
            event,
        });
    }
    out
}

async fn reload(state: &AppState, id: &str) -> AppResult<Option<messages::Model>> {
    Ok(messages::Entity::find_by_id(id.to_string())
        .one(&state.db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Role;

    #[test]
    fn columns_lose_nul_and_fit_on_a_char_boundary() {
        assert_eq!(without_nul("a\0b\0"), "ab");
        assert_eq!(fit_column("stop", FINISH_REASON_CHARS), "stop");
        let long = "é".repeat(1000);
        let cut = fit_column(&long, FINISH_REASON_CHARS);
        assert_eq!(cut.chars().count(), FINISH_REASON_CHARS);
        assert_eq!(fit_column("a\0😀😀c", 2), "a😀");
        assert_eq!(fit_column("\0", 5), "");
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(human_duration(Duration::from_secs(1)), "1 second");
        assert_eq!(human_duration(Duration::from_secs(90)), "90 seconds");
        assert_eq!(human_duration(Duration::from_secs(60)), "1 minute");
        assert_eq!(human_duration(Duration::from_secs(1800)), "30 minutes");
    }

    #[test]
    fn slots_count_per_user_and_in_total_and_come_back_on_drop() {
        let slots = Slots::default();
        let a1 = slots.try_take("a", 2, 3).unwrap();
        let _a2 = slots.try_take("a", 2, 3).unwrap();
        assert_eq!(slots.try_take("a", 2, 3).err(), Some(Full::User));
        let _b1 = slots.try_take("b", 2, 3).unwrap();
        assert_eq!(slots.try_take("b", 2, 3).err(), Some(Full::Total));
        assert_eq!((slots.held_by("a"), slots.held()), (2, 3));
        drop(a1);
        assert_eq!((slots.held_by("a"), slots.held()), (1, 2));
        let _b2 = slots.try_take("b", 2, 3).unwrap();
        assert_eq!(slots.held_by("b"), 2);
    }

    #[test]
    fn slots_never_overshoot_under_contention() {
        let slots = Slots::default();
        let taken: Vec<Slot> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|_| s.spawn(|| slots.try_take("u", 3, 100).ok()))
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().ok().flatten())
                .collect()
        });
        assert_eq!(taken.len(), 3);
        drop(taken);
        assert_eq!(slots.held(), 0);
    }

    #[tokio::test]
    async fn a_failing_write_is_retried_then_reported() {
        let calls = std::sync::atomic::AtomicU32::new(0);
        let r: Result<u32, (u32, String)> = with_retries(4, Duration::from_millis(1), || {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            async move {
                if n < 3 {
                    Err(format!("attempt {n} failed"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r, Ok(3));
        let r: Result<(), (u32, String)> = with_retries(3, Duration::from_millis(1), || async {
            Err("down".to_string())
        })
        .await;
        assert_eq!(r, Err((3, "down".to_string())));
    }

    fn row(status: MessageStatus, created_at: i64, updated_at: i64) -> messages::Model {
        let mut m = messages::Model::new_row(
            "t",
            None,
            Role::Assistant,
            String::new(),
            status,
            created_at,
        );
        m.updated_at = updated_at;
        m
    }

    #[test]
    fn a_row_is_abandoned_only_past_its_deadlines() {
        let d = Deadlines {
            total: Duration::from_secs(100),
            idle: Duration::from_secs(10),
        };
        let now = 1_000_000_000;
        let grace = STALE_GRACE.as_millis() as i64;
        assert!(!is_abandoned(
            &row(MessageStatus::Streaming, now - 1000, now - 1000),
            d,
            now
        ));
        assert!(is_abandoned(
            &row(
                MessageStatus::Streaming,
                now - 20_000 - grace,
                now - 10_001 - grace
            ),
            d,
            now
        ));
        assert!(is_abandoned(
            &row(MessageStatus::Streaming, now - 100_001 - grace, now),
            d,
            now
        ));
        assert!(!is_abandoned(&row(MessageStatus::Done, 0, 0), d, now));
    }
}
