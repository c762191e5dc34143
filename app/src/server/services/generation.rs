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
use super::titles::{self, PendingTitles, TitleJob};
use crate::server::config::Secret;
use crate::server::db::now_ms;
use crate::server::entities::messages;
use crate::server::mistral::{ChatRequest, MistralClient, MistralError, StreamEvent};
use futures::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, oneshot, watch};

/// How often the partial answer is written while tokens arrive.
pub const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// What subscribers receive. Serialized as the SSE `data` of the event named
/// by [`GenEvent::name`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
pub enum GenEvent {
    Delta {
        text: String,
        thinking: String,
    },
    Usage {
        prompt_tokens: u64,
        completion_tokens: u64,
    },
    Done {
        status: String,
        finish_reason: Option<String>,
        error: Option<String>,
    },
}

impl GenEvent {
    pub fn name(&self) -> &'static str {
        match self {
            GenEvent::Delta { .. } => "delta",
            GenEvent::Usage { .. } => "usage",
            GenEvent::Done { .. } => "done",
        }
    }
    pub fn is_done(&self) -> bool {
        matches!(self, GenEvent::Done { .. })
    }
}

struct Log {
    events: Vec<GenEvent>,
    finished: bool,
}

/// Live events of a generation, numbered from 1 (the SSE event id).
pub type LiveEvents = broadcast::Receiver<(u64, GenEvent)>;

/// One running generation.
pub struct Generation {
    pub message_id: String,
    pub user_id: String,
    log: Mutex<Log>,
    tx: broadcast::Sender<(u64, GenEvent)>,
    cancel: watch::Sender<bool>,
}

impl Generation {
    fn push(&self, ev: GenEvent) {
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
    pub fn subscribe(&self, after: u64) -> (Vec<(u64, GenEvent)>, Option<LiveEvents>) {
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

/// All live generations of this process, and the thread titles being written.
#[derive(Clone, Default)]
pub struct GenerationHub {
    live: Arc<Mutex<HashMap<String, Arc<Generation>>>>,
    titles: PendingTitles,
}

/// Everything a generation task needs.
pub struct GenerationJob {
    pub message_id: String,
    pub user_id: String,
    pub key: Secret,
    pub request: ChatRequest,
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
    pub fn get(&self, message_id: &str) -> Option<Arc<Generation>> {
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

    /// Starts the task; returns at once.
    pub fn start(&self, job: GenerationJob) -> Arc<Generation> {
        let (tx, _) = broadcast::channel(1024);
        let (cancel, cancel_rx) = watch::channel(false);
        let generation = Arc::new(Generation {
            message_id: job.message_id.clone(),
            user_id: job.user_id.clone(),
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
        tokio::spawn(async move {
            let (status, answer) = run(job, g.clone(), cancel_rx).await;
            // Late subscribers read the finished row from the database.
            hub.live
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&g.message_id);
            if let Some((t, db, client, key)) = titling {
                if status == "done" {
                    titles::write_title(&db, &client, &key, &t, &answer).await;
                }
                hub.titles.end(&t.thread_id);
            }
        });
        generation
    }
}

#[derive(Default)]
struct Answer {
    text: String,
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
        .col_expr(messages::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(messages::Column::Id.eq(id))
        .exec(db)
        .await;
    if let Err(e) = res {
        tracing::warn!(error = %e, "could not flush a partial answer");
    }
}

async fn finish(
    db: &DatabaseConnection,
    id: &str,
    a: &Answer,
    status: &str,
    error: Option<String>,
) {
    let res = messages::Entity::update_many()
        .col_expr(messages::Column::Text, Expr::value(a.text.clone()))
        .col_expr(
            messages::Column::Thinking,
            Expr::value((!a.thinking.is_empty()).then(|| a.thinking.clone())),
        )
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
        .col_expr(messages::Column::Error, Expr::value(error))
        .col_expr(messages::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(messages::Column::Id.eq(id))
        .exec(db)
        .await;
    if let Err(e) = res {
        tracing::error!(error = %e, "could not store a finished answer");
    }
}

enum Outcome {
    Done,
    Stopped,
    Interrupted,
    Failed(String),
}

/// Runs the generation; the final status and answer text.
async fn run(
    mut job: GenerationJob,
    g: Arc<Generation>,
    mut cancel: watch::Receiver<bool>,
) -> (&'static str, String) {
    let mut stored = Stored {
        pending: job.stored.take(),
        ok: true,
    };
    let mut shutdown = job.shutdown.clone();
    let mut answer = Answer::default();
    let outcome = 'outer: {
        let stream = tokio::select! {
            s = job.client.chat_stream(&job.key, &job.request) => s,
            _ = cancel.changed() => break 'outer Outcome::Stopped,
            _ = shutdown.changed() => break 'outer Outcome::Interrupted,
        };
        let mut stream = match stream {
            Ok(s) => Box::pin(s),
            Err(e) => break 'outer Outcome::Failed(e.user_message()),
        };
        let mut last_flush = Instant::now();
        loop {
            let next = tokio::select! {
                ev = stream.next() => ev,
                _ = cancel.changed() => break 'outer Outcome::Stopped,
                _ = shutdown.changed() => break 'outer Outcome::Interrupted,
            };
            match next {
                Some(Ok(StreamEvent::Delta { text, thinking })) => {
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
                    answer.thinking.push_str(&thinking);
                    g.push(GenEvent::Delta { text, thinking });
                    if last_flush.elapsed() >= FLUSH_EVERY && stored.wait().await {
                        flush(&job.db, &job.message_id, &answer).await;
                        last_flush = Instant::now();
                    }
                }
                Some(Ok(StreamEvent::Finish { reason })) => answer.finish_reason = Some(reason),
                Some(Ok(StreamEvent::Usage {
                    prompt_tokens,
                    completion_tokens,
                })) => {
                    answer.prompt_tokens = Some(prompt_tokens.min(i32::MAX as u64) as i32);
                    answer.completion_tokens = Some(completion_tokens.min(i32::MAX as u64) as i32);
                    g.push(GenEvent::Usage {
                        prompt_tokens,
                        completion_tokens,
                    });
                }
                Some(Ok(StreamEvent::Done)) | None => break 'outer Outcome::Done,
                Some(Err(MistralError::Interrupted { .. })) => break 'outer Outcome::Interrupted,
                Some(Err(e)) => {
                    if answer.text.is_empty() && answer.thinking.is_empty() {
                        break 'outer Outcome::Failed(e.user_message());
                    }
                    break 'outer Outcome::Interrupted;
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
        Outcome::Done => ("done", None),
        Outcome::Stopped => ("stopped", None),
        Outcome::Interrupted => (
            "interrupted",
            Some("The answer was interrupted".to_string()),
        ),
        Outcome::Failed(msg) => ("error", Some(msg)),
    };
    if stored.wait().await {
        finish(&job.db, &job.message_id, &answer, status, error.clone()).await;
    }
    g.push(GenEvent::Done {
        status: status.to_string(),
        finish_reason: answer.finish_reason.clone(),
        error,
    });
    (status, answer.text)
}
