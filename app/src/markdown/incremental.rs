//! Rendering a message that grows: the text is cut into a *finished* part,
//! rendered once and never again, and an unfinished *tail* re-rendered on
//! each update, so streaming an answer costs time linear in its length
//! instead of re-rendering the whole message for every delta.
//!
//! The cut is always at the start of a top-level block that follows a blank
//! line. After a blank line no paragraph is open, and a top-level block that
//! has begun there cannot be taken back into the block before it (a list
//! would have swallowed an indented line instead), so text appended later can
//! change neither the finished blocks nor where they end: rendering the
//! pieces one by one gives what rendering the whole text gives. The
//! exceptions are document-wide state, handled here:
//! - the formula budget is shared by the pieces in order;
//! - link reference definitions: later pieces resolve labels defined in
//!   earlier ones, and a finished piece that *defines* labels (which could
//!   turn text in earlier pieces into links) makes the whole finished part
//!   render again as one piece. Until the definition is finished, earlier
//!   pieces show such references as text; the last update renders it all.
//!
//! The tests in `tests.rs` check the pieces against [`super::render`] on
//! generated documents cut at every point. This module owns no DOM: it says
//! what to append or replace ([`Patch`]); the view applies it.
use super::{options, render_piece, Definitions, Flavor, MAX_TYPESET_FORMULAS};
use pulldown_cmark::{Event, Parser, Tag};

/// Where the finished blocks of `md` end: the start of the line of the last
/// top-level block that follows a blank line (0 when there is none). Text
/// appended to `md` cannot change the rendering of `md[..cut]`.
///
/// One exception to the blank-line rule is checked here: after a list, a
/// line of digits is a paragraph that may still become the list's next item
/// (`2` → `2.`), so the list does not end there.
pub fn finished_blocks_end(md: &str) -> usize {
    let mut depth = 0usize;
    let mut cut = 0;
    let mut after_list = false;
    for (event, range) in Parser::new_ext(md, options()).into_offset_iter() {
        let top_level_start = depth == 0 && !matches!(event, Event::End(_));
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        if !top_level_start {
            continue;
        }
        let line = md[..range.start].rfind('\n').map_or(0, |i| i + 1);
        let first_line = md[line..].lines().next().unwrap_or_default().trim();
        let may_join_list = after_list && first_line.bytes().all(|b| b.is_ascii_digit());
        if line > 0 && follows_blank_line(&md[..line]) && !may_join_list {
            cut = line;
        }
        after_list = matches!(event, Event::Start(Tag::List(_)));
    }
    cut
}

/// Whether the last line of `before` (which ends with a newline) is blank.
fn follows_blank_line(before: &str) -> bool {
    let before = before.strip_suffix('\n').unwrap_or(before);
    let last_line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    last_line.trim_matches([' ', '\t', '\r']).is_empty()
}

/// What the view must do to show the text given to [`IncrementalMarkdown::update`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patch {
    /// Replace everything with `finished` followed by `tail`.
    Reset { finished: String, tail: String },
    /// Remove the old tail, append `finished` (newly finished blocks, maybe
    /// none) and then the new `tail`.
    Append { finished: String, tail: String },
    /// The rendering is what is shown already.
    Unchanged,
}

/// The state of one growing message's rendering.
#[derive(Debug)]
pub struct IncrementalMarkdown {
    flavor: Flavor,
    /// The source of the finished part (a prefix of every text that follows,
    /// or else everything is rendered afresh).
    finished: String,
    /// Definitions made in the finished part.
    definitions: Definitions,
    /// Formulas the tail and later pieces may still typeset.
    formulas_left: usize,
    /// The tail's HTML as last shown.
    tail_html: String,
    /// Whether anything was rendered yet (the first update is a reset).
    started: bool,
}

impl IncrementalMarkdown {
    pub fn new(flavor: Flavor) -> Self {
        Self {
            flavor,
            finished: String::new(),
            definitions: Definitions::new(),
            formulas_left: MAX_TYPESET_FORMULAS,
            tail_html: String::new(),
            started: false,
        }
    }

    /// Whether an update was made (before it, the view shows what it was
    /// built with).
    pub fn started(&self) -> bool {
        self.started
    }

    /// Bytes of the text that are finished (rendered for good).
    pub fn finished_len(&self) -> usize {
        self.finished.len()
    }

    /// The patch that shows `text`. With `last`, the text is complete and
    /// everything is finished (no tail). Text that does not start with the
    /// finished part (a replacement rather than an append) is rendered afresh.
    pub fn update(&mut self, text: &str, last: bool) -> Patch {
        let fresh = !self.started || !text.starts_with(&self.finished);
        if fresh {
            self.started = true;
            self.finished.clear();
            self.definitions.clear();
            self.formulas_left = MAX_TYPESET_FORMULAS;
        }
        let rest = &text[self.finished.len()..];
        let cut = if last {
            rest.len()
        } else {
            finished_blocks_end(rest)
        };
        let (piece, tail_source) = rest.split_at(cut);
        let mut finished = String::new();
        let mut reset = fresh;
        if !piece.is_empty() {
            let defined = render_piece(
                piece,
                self.flavor,
                &self.definitions,
                &mut self.formulas_left,
                &mut finished,
            );
            self.finished.push_str(piece);
            if !defined.is_empty() && self.finished.len() > piece.len() {
                // New definitions may turn references in earlier pieces into
                // links: the finished part is rendered again, as one piece.
                reset = true;
                finished.clear();
                self.formulas_left = MAX_TYPESET_FORMULAS;
                self.definitions = render_piece(
                    &self.finished,
                    self.flavor,
                    &Definitions::new(),
                    &mut self.formulas_left,
                    &mut finished,
                );
            } else {
                for (label, def) in defined {
                    // The first definition of a label wins (CommonMark).
                    self.definitions.entry(label).or_insert(def);
                }
            }
        }
        let mut tail = String::new();
        let mut budget = self.formulas_left;
        render_piece(
            tail_source,
            self.flavor,
            &self.definitions,
            &mut budget,
            &mut tail,
        );
        let unchanged = !reset && finished.is_empty() && tail == self.tail_html;
        self.tail_html.clone_from(&tail);
        if reset {
            Patch::Reset { finished, tail }
        } else if unchanged {
            Patch::Unchanged
        } else {
            Patch::Append { finished, tail }
        }
    }
}
