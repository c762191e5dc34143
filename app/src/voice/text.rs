//! What a voice says: an answer's markdown as plain spoken text, cut into
//! sentences — all at once for "read aloud", or as the text streams in a
//! call, so that the first sentence goes to speech while the rest is still
//! being written.

/// Private-use characters mark citations in stored text (see
/// `crate::markdown`); they are never spoken.
fn is_marker(c: char) -> bool {
    ('\u{E000}'..='\u{F8FF}').contains(&c)
}

/// The speakable text of `markdown`: code blocks, tables, images and raw
/// URLs are left out (a listener cannot use them), emphasis, heading and
/// list marks dropped, links read as their text. An unclosed code fence
/// hides everything after it, so the text of a growing answer only grows.
pub fn speech_text(markdown: &str) -> String {
    let mut out = String::new();
    let mut in_fence: Option<&str> = None;
    for line in markdown.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(fence) = in_fence {
            if trimmed.starts_with(fence) {
                in_fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = Some(&trimmed[..3]);
            continue;
        }
        if trimmed.starts_with('|') || trimmed.starts_with("$$") {
            continue;
        }
        let ends_line = line.ends_with('\n');
        let body = line.trim_end_matches(['\n', '\r']);
        let body = strip_block_marks(body.trim_start());
        let spoken = inline_text(body);
        let spoken = spoken.trim();
        if !spoken.is_empty() {
            out.push_str(spoken);
        }
        if ends_line {
            out.push('\n');
        }
    }
    // Blank lines from skipped blocks collapse to one paragraph break.
    let mut tidy = String::with_capacity(out.len());
    let mut newlines = 0;
    for c in out.chars() {
        if c == '\n' {
            newlines += 1;
            if newlines <= 2 {
                tidy.push(c);
            }
        } else {
            newlines = 0;
            tidy.push(c);
        }
    }
    tidy.trim_start_matches('\n').to_string()
}

/// Drops a heading's `#`s, a quote's `>`, a list item's bullet (numbers
/// are kept: "1." is spoken).
fn strip_block_marks(line: &str) -> &str {
    let mut s = line;
    loop {
        let before = s;
        s = s.trim_start_matches('>').trim_start();
        if let Some(rest) = s.strip_prefix("- ").or_else(|| s.strip_prefix("* ")) {
            s = rest;
        } else if let Some(rest) = s.strip_prefix("+ ") {
            s = rest;
        }
        if s.starts_with('#') {
            s = s.trim_start_matches('#').trim_start();
        }
        if s == before {
            return s;
        }
    }
}

/// Inline markdown as spoken text.
fn inline_text(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            _ if is_marker(c) => {}
            // `![alt](url)`: an image is not read.
            '!' if chars.get(i + 1) == Some(&'[') => {
                if let Some((_, end)) = link_at(&chars, i + 1) {
                    i = end;
                    continue;
                }
                out.push(c);
            }
            // `[text](url)` → text.
            '[' => {
                if let Some((text, end)) = link_at(&chars, i) {
                    out.push_str(&inline_text(&text));
                    i = end;
                    continue;
                }
                out.push(c);
            }
            '*' | '_' | '`' | '~' | '$' | '\\' => {
                // Emphasis, code and math marks; a `_` inside a word stays.
                let inside_word = c == '_'
                    && i > 0
                    && chars[i - 1].is_alphanumeric()
                    && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
                if inside_word {
                    out.push(c);
                }
            }
            _ => {
                // A bare URL is not read out.
                if (c == 'h') && starts_with(&chars, i, "http") {
                    let end = chars[i..]
                        .iter()
                        .position(|c| c.is_whitespace())
                        .map_or(chars.len(), |p| i + p);
                    let word: String = chars[i..end].iter().collect();
                    if word.starts_with("http://") || word.starts_with("https://") {
                        i = end;
                        continue;
                    }
                }
                out.push(c);
            }
        }
        i += 1;
    }
    // What was left out may leave double spaces.
    let mut tidy = String::with_capacity(out.len());
    for c in out.chars() {
        if !(c == ' ' && tidy.ends_with(' ')) {
            tidy.push(c);
        }
    }
    tidy
}

fn starts_with(chars: &[char], at: usize, s: &str) -> bool {
    s.chars()
        .enumerate()
        .all(|(k, c)| chars.get(at + k) == Some(&c))
}

/// `[text](url)` starting at `at` (the `[`): its text and the index after it.
fn link_at(chars: &[char], at: usize) -> Option<(String, usize)> {
    let close = chars[at + 1..].iter().position(|&c| c == ']')? + at + 1;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let end = chars[close + 2..].iter().position(|&c| c == ')')? + close + 2;
    Some((chars[at + 1..close].iter().collect(), end + 1))
}

/// A sentence shorter than this is joined to the next one (one TTS request
/// per "Yes." would sound choppy and cost a round trip each).
const MIN_SENTENCE_CHARS: usize = 20;
/// A sentence that goes on without punctuation is cut at a pause near here.
const MAX_SENTENCE_CHARS: usize = 240;

/// Words after which a full stop does not end a sentence.
const ABBREVIATIONS: [&str; 12] = [
    "e.g", "i.e", "mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "no", "fig",
];

/// Whether a sentence may end after `chars[..=at]` (a `.`, `!`, `?`, `…`,
/// or a line break), given what follows.
fn ends_sentence(chars: &[char], at: usize) -> bool {
    let c = chars[at];
    if c == '\n' {
        return true;
    }
    if !matches!(c, '.' | '!' | '?' | '…' | '。' | '！' | '？') {
        return false;
    }
    // Closing quotes and brackets belong to the sentence.
    let mut next = at + 1;
    while chars
        .get(next)
        .is_some_and(|c| matches!(c, '"' | '\'' | ')' | '”' | '’' | '»'))
    {
        next += 1;
    }
    match chars.get(next) {
        // Unknown yet: the text is still growing.
        None => false,
        Some(n) if !n.is_whitespace() && !matches!(c, '。' | '！' | '？') => false,
        _ => {
            if c == '.' {
                let word: String = chars[..at]
                    .iter()
                    .rev()
                    .take_while(|c| c.is_alphanumeric() || **c == '.')
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                let lower = word.to_lowercase();
                // "3." of a numbered list, an initial ("J."), an abbreviation.
                if lower.chars().all(|c| c.is_ascii_digit())
                    || lower.chars().count() == 1
                    || ABBREVIATIONS.contains(&lower.as_str())
                {
                    return false;
                }
            }
            true
        }
    }
}

/// Cuts the speakable text of a growing answer into sentences, each one
/// once: [`Sentences::push`] with the whole answer so far gives the
/// sentences completed since the last call; [`Sentences::finish`] the rest
/// when the answer is done.
#[derive(Debug, Default, Clone)]
pub struct Sentences {
    /// Characters of the speech text already handed out.
    taken: usize,
}

impl Sentences {
    pub fn new() -> Self {
        Self::default()
    }

    /// The sentences of `markdown` (the answer so far) completed since the
    /// last call.
    pub fn push(&mut self, markdown: &str) -> Vec<String> {
        self.cut(markdown, false)
    }

    /// Everything not handed out yet, the answer being complete.
    pub fn finish(&mut self, markdown: &str) -> Vec<String> {
        self.cut(markdown, true)
    }

    fn cut(&mut self, markdown: &str, done: bool) -> Vec<String> {
        let text: Vec<char> = speech_text(markdown).chars().collect();
        let mut out = vec![];
        if self.taken > text.len() {
            // The text shrank (an edit of what streamed): start again after it.
            self.taken = text.len();
            return out;
        }
        let mut start = self.taken;
        let mut i = start;
        while i < text.len() {
            let len = i + 1 - start;
            let boundary = ends_sentence(&text, i)
                || (len >= MAX_SENTENCE_CHARS && matches!(text[i], ',' | ';' | ':' | ' '));
            if boundary {
                let piece: String = text[start..=i].iter().collect();
                let spoken = piece.trim();
                let is_break = text[i] == '\n';
                if spoken.chars().count() >= MIN_SENTENCE_CHARS
                    || (is_break && !spoken.is_empty() && spoken.chars().count() >= 2)
                {
                    out.push(spoken.to_string());
                    start = i + 1;
                } else if spoken.is_empty() {
                    start = i + 1;
                }
            }
            i += 1;
        }
        if done {
            let rest: String = text[start..].iter().collect();
            let rest = rest.trim();
            if !rest.is_empty() {
                out.push(rest.to_string());
            }
            start = text.len();
        }
        self.taken = start;
        out
    }
}

/// All the sentences of a finished answer.
pub fn sentences(markdown: &str) -> Vec<String> {
    Sentences::new().finish(markdown)
}

/// Words of `s`, lower case, letters and digits only.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether a transcript is most likely the assistant's own voice picked up
/// by the microphone (echo cancellation is not perfect on every device):
/// most of its words are among the words just spoken.
pub fn is_echo(transcript: &str, just_spoken: &str) -> bool {
    let heard = words(transcript);
    if heard.len() < 3 {
        return false;
    }
    let spoken: std::collections::HashSet<String> = words(just_spoken).into_iter().collect();
    let matched = heard.iter().filter(|w| spoken.contains(*w)).count();
    matched * 10 >= heard.len() * 8
}

/// Where the time of one call turn went, in milliseconds from the end of
/// the person's speech.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct TurnTiming {
    pub transcript: Option<f64>,
    pub first_token: Option<f64>,
    pub first_audio: Option<f64>,
}

impl TurnTiming {
    /// "transcript 0.42 s · first token 0.90 s · first audio 1.61 s".
    pub fn readout(&self) -> String {
        let part = |name: &str, v: Option<f64>| {
            v.map(|ms| format!("{name} {:.2} s", ms / 1000.0))
                .unwrap_or_else(|| format!("{name} …"))
        };
        [
            part("transcript", self.transcript),
            part("first token", self.first_token),
            part("first audio", self.first_audio),
        ]
        .join(" · ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_what_a_listener_needs() {
        let md = "# Title\n\nHere is **bold** and `code` with a [link](https://x.example/a).\n\n```rust\nfn main() {}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- first item\n- second_item here\n\n![pic](/f.png) See https://example.com now.";
        let s = speech_text(md);
        assert_eq!(
            s,
            "Title\n\nHere is bold and code with a link.\n\nfirst item\nsecond_item here\n\nSee now."
        );
        assert!(!s.contains("fn main"));
    }

    #[test]
    fn an_open_code_fence_hides_what_follows_until_it_closes() {
        assert_eq!(speech_text("Look:\n```\nlet x = 1;"), "Look:\n");
        assert_eq!(
            speech_text("Look:\n```\nlet x = 1;\n```\nDone."),
            "Look:\nDone."
        );
    }

    #[test]
    fn citation_markers_are_not_spoken() {
        assert_eq!(speech_text("Paris\u{E001} is big."), "Paris is big.");
    }

    #[test]
    fn sentences_are_cut_once_as_the_text_grows() {
        let full = "The first sentence is here. The second one follows! Is this the third? Yes.";
        let mut cut = Sentences::new();
        let mut got = vec![];
        // Grow character by character, as a stream would.
        for end in 1..=full.len() {
            got.extend(cut.push(&full[..end]));
        }
        got.extend(cut.finish(full));
        assert_eq!(
            got,
            vec![
                "The first sentence is here.",
                "The second one follows!",
                "Is this the third? Yes."
            ]
        );
    }

    #[test]
    fn the_first_sentence_is_ready_before_the_answer_ends() {
        let mut cut = Sentences::new();
        assert!(cut.push("Hello there, this is the start").is_empty());
        assert_eq!(
            cut.push("Hello there, this is the start. And then"),
            vec!["Hello there, this is the start."]
        );
        assert!(cut
            .push("Hello there, this is the start. And then more")
            .is_empty());
    }

    #[test]
    fn abbreviations_numbers_and_initials_do_not_end_a_sentence() {
        let s = sentences("Bring fruit, e.g. apples and pears, to Dr. Smith at 3.5 km from J. Doe's house. Thanks a lot for that.");
        assert_eq!(
            s,
            vec![
                "Bring fruit, e.g. apples and pears, to Dr. Smith at 3.5 km from J. Doe's house.",
                "Thanks a lot for that."
            ]
        );
    }

    #[test]
    fn list_items_are_spoken_one_by_one_and_long_runs_are_cut() {
        let s = sentences("Options:\n- the red one\n- the blue one\n");
        assert_eq!(s, vec!["Options:", "the red one", "the blue one"]);
        let long = "word ".repeat(120);
        let parts = sentences(&long);
        assert!(parts.len() >= 2, "{parts:?}");
        assert!(parts
            .iter()
            .all(|p| p.chars().count() <= MAX_SENTENCE_CHARS));
    }

    #[test]
    fn an_echo_of_what_was_just_said_is_recognised() {
        let said = "The capital of France is Paris, a city of two million people.";
        assert!(is_echo("capital of France is Paris", said));
        assert!(!is_echo("What about Germany then?", said));
        assert!(!is_echo("Paris", said), "too short to tell");
    }

    #[test]
    fn the_latency_readout_names_each_step() {
        let t = TurnTiming {
            transcript: Some(420.0),
            first_token: Some(900.0),
            first_audio: None,
        };
        assert_eq!(
            t.readout(),
            "transcript 0.42 s · first token 0.90 s · first audio …"
        );
    }
}
