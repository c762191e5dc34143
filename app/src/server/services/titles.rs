//! Short thread titles, written by a cheap model after the first exchange.
//!
//! A new thread is first named after the first line of its question. When its
//! first answer is done, the generation task asks `TITLE_MODEL` for a title of
//! a few words (one non-streaming call) and renames the thread — unless the
//! user renamed it meanwhile. Nothing waits for this: the answer is complete
//! and shown first; a browser that wants the new name asks
//! [`wait_for_title`], which returns when the title is written (or at once).
use super::threads::{find_owned, DEFAULT_THREAD_NAME};
use crate::server::config::Secret;
use crate::server::db::now_ms;
use crate::server::entities::threads;
use crate::server::mistral::{ChatRequest, Message, MistralClient};
use crate::server::{AppResult, AppState};
use crate::vocab::{ThreadId, UserId};
use pulldown_cmark::{Event, Options, Parser, TagEnd};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The system message of a title request (tests recognise title requests by it).
pub const TITLE_INSTRUCTION: &str = "You name conversations. Reply with a title of at most six words for the conversation below, in the language of the conversation. Reply with the title only: no quotes, no final period, no markdown.";
/// Longest title kept.
pub const MAX_TITLE_CHARS: usize = 60;
/// How much of the question and answer the title model sees.
const EXCERPT_CHARS: usize = 2_000;
/// Longest wait of [`wait_for_title`].
const WAIT_AT_MOST: Duration = Duration::from_secs(20);

/// The first exchange of a new thread, to be named when its answer is done.
#[derive(Debug, Clone)]
pub struct TitleJob {
    pub thread_id: String,
    /// The name the thread got at creation; a different name means the user
    /// renamed it and the title is not written.
    pub first_name: String,
    pub model: String,
    pub question: String,
}

/// The name a thread gets at creation: the first line of the question that
/// has any text, as plain text (see [`plain_text`]).
pub fn first_line_name(question: &str) -> String {
    let name: String = question
        .lines()
        .map(plain_text)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .chars()
        .take(MAX_TITLE_CHARS)
        .collect();
    let name = name.trim();
    if name.is_empty() {
        DEFAULT_THREAD_NAME.into()
    } else {
        name.to_string()
    }
}

/// A line of markdown as the text a reader sees, because titles are shown
/// as plain text (sidebar, heading, `<title>`, share page): emphasis, code
/// ticks, heading marks, list and quote markers and HTML tags go; links and
/// images become their text and alt text; whitespace is collapsed.
pub fn plain_text(markdown: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    let mut out = String::new();
    for ev in Parser::new_ext(markdown, opts) {
        match ev {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            // Blocks and line breaks separate words; inline ends do not
            // ("**Hello**, world" stays "Hello, world").
            Event::SoftBreak
            | Event::HardBreak
            | Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::BlockQuote(_)
                | TagEnd::CodeBlock
                | TagEnd::Item,
            ) => out.push(' '),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A model's reply made into a title: first line with text, as plain text
/// (see [`plain_text`]), without a "Title:" prefix, quotes or a final period;
/// `None` when nothing usable is left.
pub fn clean_title(raw: &str) -> Option<String> {
    let line = raw.lines().map(plain_text).find(|l| !l.is_empty())?;
    let line = line.as_str();
    let quotes: &[char] = &['"', '\'', '“', '”', '«', '»', '`', '*', '_'];
    let lead = |s: &'_ str| -> String {
        s.trim_start_matches(|c: char| quotes.contains(&c) || c.is_whitespace())
            .to_string()
    };
    let mut t = lead(line.trim_start_matches('#'));
    for prefix in ["Title:", "title:", "TITLE:", "Titre :", "Titre:"] {
        if let Some(rest) = t.strip_prefix(prefix) {
            t = lead(rest);
        }
    }
    let t = t.trim_end_matches(|c: char| {
        c == '.' || c == '。' || quotes.contains(&c) || c.is_whitespace()
    });
    let title: String = t.chars().take(MAX_TITLE_CHARS).collect();
    let title = title.trim().to_string();
    (!title.is_empty()).then_some(title)
}

fn excerpt(s: &str) -> String {
    s.chars().take(EXCERPT_CHARS).collect()
}

/// The title request for an exchange.
pub fn title_request(job: &TitleJob, answer: &str) -> ChatRequest {
    let mut req = ChatRequest::new(
        job.model.clone(),
        vec![
            Message::system(TITLE_INSTRUCTION),
            Message::user(format!(
                "Question:\n{}\n\nAnswer:\n{}",
                excerpt(&job.question),
                excerpt(answer)
            )),
        ],
    );
    req.max_tokens = Some(24);
    req.temperature = Some(0.2);
    req
}

/// Asks the title model and renames the thread if the user did not rename it
/// meanwhile. Failures are logged and leave the first-line name.
pub async fn write_title(
    db: &DatabaseConnection,
    client: &MistralClient,
    key: &Secret,
    job: &TitleJob,
    answer: &str,
) {
    let reply = match client.chat(key, &title_request(job, answer)).await {
        Ok(r) => r.text(),
        Err(e) => {
            tracing::info!(error = %e, "no title for a new thread");
            return;
        }
    };
    let Some(title) = clean_title(&reply) else {
        return;
    };
    let res = threads::Entity::update_many()
        .col_expr(threads::Column::Name, Expr::value(title))
        .col_expr(threads::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(threads::Column::Id.eq(job.thread_id.as_str()))
        .filter(threads::Column::Name.eq(job.first_name.as_str()))
        .exec(db)
        .await;
    if let Err(e) = res {
        tracing::warn!(error = %e, "could not store a thread title");
    }
}

/// Threads whose title is being written in this process.
#[derive(Clone, Default)]
pub struct PendingTitles {
    inner: Arc<Mutex<HashMap<String, watch::Sender<bool>>>>,
}

impl PendingTitles {
    pub fn begin(&self, thread_id: &str) {
        let (tx, _) = watch::channel(false);
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(thread_id.to_string(), tx);
    }

    pub fn end(&self, thread_id: &str) {
        if let Some(tx) = self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(thread_id)
        {
            let _ = tx.send(true);
        }
    }

    fn watch(&self, thread_id: &str) -> Option<watch::Receiver<bool>> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(thread_id)
            .map(|tx| tx.subscribe())
    }
}

/// The caller's thread name once its title is written (at most ~20 s; at once
/// when no title is pending here).
pub async fn wait_for_title(
    state: &AppState,
    user_id: &UserId,
    thread_id: &ThreadId,
) -> AppResult<String> {
    find_owned(&state.db, user_id, thread_id).await?;
    if let Some(mut rx) = state.hub.titles().watch(thread_id.as_str()) {
        let _ = tokio::time::timeout(WAIT_AT_MOST, rx.wait_for(|done| *done)).await;
    }
    Ok(find_owned(&state.db, user_id, thread_id).await?.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_cleaned() {
        assert_eq!(
            clean_title("\"Paris weather in June\".").as_deref(),
            Some("Paris weather in June")
        );
        assert_eq!(
            clean_title("\n\n**Title:** Rust lifetimes explained\nmore").as_deref(),
            Some("Rust lifetimes explained")
        );
        assert_eq!(
            clean_title("# «Recette de crêpes»").as_deref(),
            Some("Recette de crêpes")
        );
        assert_eq!(clean_title("  \n \"\" "), None);
        assert_eq!(
            clean_title("`Rust` *lifetimes* [explained](https://x.y)").as_deref(),
            Some("Rust lifetimes explained")
        );
        assert_eq!(
            clean_title("- ![Lyon](x.png) in three days").as_deref(),
            Some("Lyon in three days")
        );
        let long = "word ".repeat(40);
        assert!(clean_title(&long).unwrap().chars().count() <= MAX_TITLE_CHARS);
    }

    #[test]
    fn plain_text_drops_markdown() {
        let cases = [
            ("**bold** and __strong__", "bold and strong"),
            ("**Hello**, world", "Hello, world"),
            (
                "*italic* and _emphasis_ ~~gone~~",
                "italic and emphasis gone",
            ),
            ("use `Vec<T>` here", "use Vec<T> here"),
            (
                "see [the docs](https://example.com) now",
                "see the docs now",
            ),
            ("![a cat](/cat.png) picture", "a cat picture"),
            ("## Heading *two*", "Heading two"),
            ("- list item", "list item"),
            ("3. numbered item", "numbered item"),
            ("> quoted **text**", "quoted text"),
            ("<b>bold</b> <span class=\"x\">tag</span>", "bold tag"),
            ("<script>alert(1)</script>", ""),
            ("snake_case_name stays", "snake_case_name stays"),
            ("2 * 3 * 4", "2 * 3 * 4"),
            ("an escaped \\*star\\*", "an escaped *star*"),
            ("Fish &amp; chips", "Fish & chips"),
            ("  spaced   out  ", "spaced out"),
        ];
        for (md, plain) in cases {
            assert_eq!(plain_text(md), plain, "{md:?}");
        }
    }

    #[test]
    fn first_line_names() {
        assert_eq!(first_line_name("\n  Hello there  \nsecond"), "Hello there");
        assert_eq!(first_line_name("   "), "New chat");
        assert_eq!(
            first_line_name("**Bold** `code` question\nmore"),
            "Bold code question"
        );
        assert_eq!(
            first_line_name("```rust\nfn main() {}\n```"),
            "fn main() {}"
        );
        assert_eq!(first_line_name("<div>\n\n# Real *title*"), "Real title");
        assert_eq!(
            first_line_name(&"é".repeat(100)).chars().count(),
            MAX_TITLE_CHARS
        );
    }

    #[test]
    fn the_request_is_short_and_bounded() {
        let job = TitleJob {
            thread_id: "t".into(),
            first_name: "q".into(),
            model: "ministral-8b-latest".into(),
            question: "q".repeat(10_000),
        };
        let req = title_request(&job, &"a".repeat(10_000));
        assert_eq!(req.model, "ministral-8b-latest");
        assert_eq!(req.max_tokens, Some(24));
        let body = serde_json::to_string(&req).unwrap();
        assert!(body.len() < 5_000, "excerpts only: {} bytes", body.len());
        assert!(body.contains("You name conversations"));
    }
}
