//! The web UI's view of a streaming answer: the events of
//! [`generation::watch`](super::generation::watch) with the answer rendered
//! to HTML here, by the one markdown renderer, so the browser carries no
//! renderer at all (issue 13: the WASM lost the markdown, math and
//! highlighting code).
//!
//! Every event passes through unchanged (the page keeps the raw text for
//! copy and edit); `html` events are added ([`StreamEvent::Html`]):
//! finished blocks are sent once, and only the unfinished tail is sent again
//! ([`IncrementalMarkdown`]), at most every [`RENDER_EVERY`], so the cost
//! for the reader is linear in the answer's length however fast tokens come.
//! The last `html` before `done` renders everything as finished.
use super::generation::Numbered;
use crate::markdown::{with_citations, Flavor, IncrementalMarkdown, Patch};
use crate::model::marks_of;
use crate::vocab::StreamEvent;
use futures::{Stream, StreamExt};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The shortest time between two `html` events of one reader (~20 per second).
pub const RENDER_EVERY: Duration = Duration::from_millis(50);

/// One reader's rendering state.
struct Renderer {
    text: String,
    /// `(at, index)` of the citation markers so far.
    marks: Vec<(u32, u32)>,
    /// The answer's id: the markers link to `#src-<anchor>-<n>`.
    anchor: String,
    markdown: IncrementalMarkdown,
    /// The text changed since the last `html`.
    dirty: bool,
}

impl Renderer {
    fn new(anchor: String) -> Self {
        Self {
            text: String::new(),
            marks: vec![],
            anchor,
            markdown: IncrementalMarkdown::new(Flavor::Answer),
            dirty: false,
        }
    }

    /// Follows the text an event carries (other events change nothing).
    fn follow(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::Snapshot { text, sources, .. } => {
                self.text.clone_from(text);
                self.marks = marks_of(sources);
                self.dirty = true;
            }
            StreamEvent::Citation { source } => {
                self.marks.push((source.at, source.index));
                self.dirty = true;
            }
            StreamEvent::Delta { text, .. } if !text.is_empty() => {
                self.text.push_str(text);
                self.dirty = true;
            }
            _ => {}
        }
    }

    /// The `html` event that brings a reader up to date, if any is needed.
    /// With `last`, the text is complete: everything is finished.
    fn render(&mut self, last: bool) -> Option<Numbered> {
        if !self.dirty && !last {
            return None;
        }
        self.dirty = false;
        let marked = with_citations(&self.text, &self.marks, &self.anchor);
        let event = match self.markdown.update(&marked, last) {
            Patch::Unchanged => return None,
            Patch::Reset { finished, tail } => StreamEvent::Html {
                reset: true,
                append: finished,
                tail,
            },
            Patch::Append { finished, tail } => StreamEvent::Html {
                reset: false,
                append: finished,
                tail,
            },
        };
        Some(Numbered { id: None, event })
    }
}

/// `events` with `html` events added (see the module). The rendering runs in
/// a task of its own, which ends when the reader goes away or after `done`.
pub fn with_html<S>(events: S, message_id: &str) -> impl Stream<Item = Numbered> + Send + 'static
where
    S: Stream<Item = Numbered> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Numbered>(64);
    let anchor = message_id.to_string();
    tokio::spawn(tracing::Instrument::in_current_span(async move {
        let mut events = std::pin::pin!(events);
        let mut renderer = Renderer::new(anchor);
        // When the next `html` may be sent; `None`: nothing to send.
        let mut due: Option<Instant> = None;
        let mut last_sent = Instant::now() - RENDER_EVERY;
        loop {
            let item = tokio::select! {
                biased;
                _ = tx.closed() => return,
                _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                    due = None;
                    last_sent = Instant::now();
                    if let Some(html) = renderer.render(false) {
                        if tx.send(html).await.is_err() {
                            return;
                        }
                    }
                    continue;
                }
                item = events.next() => item,
            };
            let Some(item) = item else {
                // The answer's stream ended without `done` (shutdown).
                if let Some(html) = renderer.render(false) {
                    let _ = tx.send(html).await;
                }
                return;
            };
            renderer.follow(&item.event);
            if item.event.is_done() {
                if let Some(html) = renderer.render(true) {
                    if tx.send(html).await.is_err() {
                        return;
                    }
                }
                let _ = tx.send(item).await;
                return;
            }
            if tx.send(item).await.is_err() {
                return;
            }
            if renderer.dirty && due.is_none() {
                due = Some((last_sent + RENDER_EVERY).max(Instant::now()));
            }
        }
    }));
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::MessageStatus;

    fn numbered(event: StreamEvent) -> Numbered {
        Numbered { id: Some(1), event }
    }

    fn delta(text: &str) -> Numbered {
        numbered(StreamEvent::Delta {
            text: text.into(),
            thinking: String::new(),
        })
    }

    /// Applies `html` events the way the browser does: the DOM as a string
    /// of finished blocks plus the tail.
    fn shown(events: &[Numbered]) -> String {
        let (mut finished, mut tail) = (String::new(), String::new());
        for e in events {
            if let StreamEvent::Html {
                reset,
                append,
                tail: t,
            } = &e.event
            {
                if *reset {
                    finished.clear();
                }
                finished.push_str(append);
                tail.clone_from(t);
            }
        }
        finished + &tail
    }

    #[tokio::test(start_paused = true)]
    async fn the_html_shown_after_done_is_the_whole_rendering_and_every_event_passes() {
        let text = "# Title\n\nA paragraph with **bold**.\n\n- one\n- two\n\n```rust\nfn main() {}\n```\n\nThe end $x^2$.";
        let mut input = vec![numbered(StreamEvent::Snapshot {
            text: String::new(),
            thinking: String::new(),
            status: MessageStatus::Streaming,
            tool: None,
            sources: vec![],
            files: vec![],
        })];
        for chunk in text.as_bytes().chunks(7) {
            input.push(delta(std::str::from_utf8(chunk).unwrap()));
        }
        input.push(numbered(StreamEvent::Done {
            status: MessageStatus::Done,
            finish_reason: Some("stop".into()),
            error: None,
        }));
        let out: Vec<Numbered> = with_html(futures::stream::iter(input.clone()), "m1")
            .collect()
            .await;
        let passed: Vec<&Numbered> = out
            .iter()
            .filter(|n| !matches!(n.event, StreamEvent::Html { .. }))
            .collect();
        assert_eq!(passed, input.iter().collect::<Vec<_>>());
        assert_eq!(shown(&out), crate::markdown::render(text));
        assert!(out.last().unwrap().event.is_done());
        // Every html event but the first appends: finished blocks are sent once.
        let htmls: Vec<&StreamEvent> = out
            .iter()
            .map(|n| &n.event)
            .filter(|e| matches!(e, StreamEvent::Html { .. }))
            .collect();
        assert!(matches!(htmls[0], StreamEvent::Html { reset: true, .. }));
        assert!(htmls[1..]
            .iter()
            .all(|e| matches!(e, StreamEvent::Html { reset: false, .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn html_is_throttled_while_tokens_arrive_fast() {
        // 1,000 deltas, one per millisecond: one second of streaming.
        let (tx, rx) = mpsc::channel::<Numbered>(8);
        tokio::spawn(async move {
            for i in 0..1000 {
                let _ = tx.send(delta(&format!("word{i} "))).await;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let _ = tx
                .send(numbered(StreamEvent::Done {
                    status: MessageStatus::Done,
                    finish_reason: None,
                    error: None,
                }))
                .await;
        });
        let deltas = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let out: Vec<Numbered> = with_html(deltas, "m1").collect().await;
        let htmls = out
            .iter()
            .filter(|n| matches!(n.event, StreamEvent::Html { .. }))
            .count();
        // One per RENDER_EVERY (20 in a second), plus the first and the last.
        assert!(
            (10..=23).contains(&htmls),
            "{htmls} html events for 1,000 deltas in one second"
        );
        assert_eq!(out.len() - htmls, 1001, "every delta and done pass");
        let expected: String = (0..1000).map(|i| format!("word{i} ")).collect();
        assert_eq!(shown(&out), crate::markdown::render(&expected));
    }
}
