//! An incremental Server-Sent-Events parser (WHATWG event-stream rules, as
//! Mistral's SDK applies them — `/work/shared/mistral-api.md` §1.5).
//!
//! Owns framing only: bytes in, complete events out, buffering across any
//! split (inside a field, a JSON document, a CRLF pair or a UTF-8 character).
//! It must not interpret the `data` payload (no JSON here), do I/O or log —
//! the client decides what `[DONE]` or a malformed chunk means.

/// One dispatched event. `data` lines are joined with `\n`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    /// The `data: [DONE]` sentinel that ends a Mistral chat stream.
    pub fn is_done(&self) -> bool {
        self.data == "[DONE]"
    }
}

/// Feed it bytes with [`SseParser::push`] as they arrive; call
/// [`SseParser::finish`] once the stream ends.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the current, not yet terminated line.
    line: Vec<u8>,
    /// The previous byte was `\r`: a following `\n` belongs to the same break.
    after_cr: bool,
    /// No line has been completed yet (a leading BOM is stripped from it).
    started: bool,
    data: String,
    has_data: bool,
    event: Option<String>,
    id: Option<String>,
}

const BOM: &str = "\u{feff}";

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes `bytes` and returns every event completed by them.
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if bytes[0] == b'\n' {
                    bytes = &bytes[1..];
                    continue;
                }
            }
            match bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) => {
                    self.line.extend_from_slice(&bytes[..i]);
                    self.after_cr = bytes[i] == b'\r';
                    bytes = &bytes[i + 1..];
                    self.end_line(&mut out);
                }
                None => {
                    self.line.extend_from_slice(bytes);
                    bytes = &[];
                }
            }
        }
        out
    }

    /// Bytes held for the event being received (its unfinished line and
    /// data so far): the caller caps this against an endless event.
    pub fn pending_bytes(&self) -> usize {
        self.line.len() + self.data.len()
    }

    /// Ends the stream: an unterminated last line and an event without its
    /// closing blank line are dispatched too.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            self.end_line(&mut out);
        }
        self.dispatch(&mut out);
        self.after_cr = false;
        out
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let raw = std::mem::take(&mut self.line);
        // CR and LF never occur inside a multi-byte UTF-8 sequence, so a
        // complete line is complete UTF-8 unless the server sent garbage.
        let text = String::from_utf8_lossy(&raw);
        let mut line: &str = &text;
        if !self.started {
            self.started = true;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            return; // comment / keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            _ => {} // `retry` and unknown fields are ignored
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.has_data {
            out.push(SseEvent {
                event: self.event.take(),
                id: self.id.take(),
                data: std::mem::take(&mut self.data),
            });
        } else {
            self.event = None;
            self.id = None;
        }
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = concat!(
        "data: {\"id\":\"5319bd\",\"object\":\"chat.completion.chunk\",\"created\":1769088720,\"model\":\"mistral-small-latest\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null,\"logprobs\":null}]}\n\n",
        "data: {\"id\":\"5319bd\",\"object\":\"chat.completion.chunk\",\"created\":1769088720,\"model\":\"mistral-small-latest\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Grüße 😀\"},\"finish_reason\":null,\"logprobs\":null}]}\n\n",
        "data: {\"id\":\"5319bd\",\"object\":\"chat.completion.chunk\",\"created\":1769088720,\"model\":\"mistral-small-latest\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"stop\",\"logprobs\":null}],\"usage\":{\"prompt_tokens\":13,\"total_tokens\":21,\"completion_tokens\":8}}\n\n",
        "data: [DONE]\n\n",
    );

    fn all_at_once(bytes: &[u8]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut ev = p.push(bytes);
        ev.extend(p.finish());
        ev
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn realistic_stream_gives_three_chunks_and_done() {
        let ev = all_at_once(STREAM.as_bytes());
        assert_eq!(ev.len(), 4);
        assert!(ev[1].data.contains("Grüße 😀"));
        assert!(ev[3].is_done());
        assert!(ev.iter().all(|e| e.event.is_none() && e.id.is_none()));
        for e in &ev[..3] {
            let v: serde_json::Value = serde_json::from_str(&e.data).unwrap();
            assert_eq!(v["object"], "chat.completion.chunk");
        }
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let bytes = STREAM.as_bytes();
        let expected = all_at_once(bytes);
        for i in 0..=bytes.len() {
            let mut p = SseParser::new();
            let mut ev = p.push(&bytes[..i]);
            ev.extend(p.push(&bytes[i..]));
            ev.extend(p.finish());
            assert_eq!(ev, expected, "split at {i}");
        }
        // Three-way splits around every position too.
        for i in 0..bytes.len() {
            let j = (i + 7).min(bytes.len());
            let mut p = SseParser::new();
            let mut ev = p.push(&bytes[..i]);
            ev.extend(p.push(&bytes[i..j]));
            ev.extend(p.push(&bytes[j..]));
            ev.extend(p.finish());
            assert_eq!(ev, expected, "split at {i},{j}");
        }
        // One byte at a time: events come out as soon as their blank line does.
        let mut p = SseParser::new();
        let mut ev = Vec::new();
        for b in bytes {
            ev.extend(p.push(std::slice::from_ref(b)));
        }
        assert_eq!(ev, expected);
        assert!(p.finish().is_empty());
    }

    #[test]
    fn crlf_and_cr_line_endings() {
        let lf = all_at_once(STREAM.as_bytes());
        let crlf = STREAM.replace('\n', "\r\n");
        let cr = STREAM.replace('\n', "\r");
        assert_eq!(all_at_once(crlf.as_bytes()), lf);
        assert_eq!(all_at_once(cr.as_bytes()), lf);
        // A CRLF split between its two bytes is still one line break.
        let b = crlf.as_bytes();
        for i in 0..=b.len() {
            let mut p = SseParser::new();
            let mut ev = p.push(&b[..i]);
            ev.extend(p.push(&b[i..]));
            ev.extend(p.finish());
            assert_eq!(ev, lf, "crlf split at {i}");
        }
    }

    #[test]
    fn comments_fields_and_multiline_data() {
        let src = ": keep-alive\n\n\u{feff}ignored?\nevent: message.delta\nid: 7\nretry: 100\ndata:first\ndata: second\n: between\ndata:\n\n";
        let ev = all_at_once(src.as_bytes());
        // BOM only counts at the very start, so the line above is a field
        // named "\u{feff}ignored?" and is ignored.
        assert_eq!(
            ev,
            vec![SseEvent {
                event: Some("message.delta".into()),
                id: Some("7".into()),
                data: "first\nsecond\n".into(),
            }]
        );
        // Event/id without data dispatch nothing and do not leak forward.
        let ev = all_at_once(b"event: ping\nid: 1\n\ndata: x\n\n");
        assert_eq!(
            ev,
            vec![SseEvent {
                event: None,
                id: None,
                data: "x".into()
            }]
        );
        // A leading BOM is stripped.
        let ev = all_at_once("\u{feff}data: y\n\n".as_bytes());
        assert_eq!(data(&ev), vec!["y"]);
    }

    #[test]
    fn stream_without_done_or_final_blank_line() {
        let cut = STREAM.replace("data: [DONE]\n\n", "");
        let ev = all_at_once(cut.as_bytes());
        assert_eq!(ev.len(), 3);
        assert!(!ev.iter().any(SseEvent::is_done));
        // Last event without its blank line (and without a line break at all).
        let mut p = SseParser::new();
        assert_eq!(data(&p.push(b"data: a\n\ndata: b")), vec!["a"]);
        assert_eq!(data(&p.finish()), vec!["b"]);
        let mut p = SseParser::new();
        assert!(p.push(b"data: [DONE]\n").is_empty());
        assert!(p.finish()[0].is_done());
    }

    #[test]
    fn pending_bytes_count_the_unfinished_event() {
        let mut p = SseParser::new();
        assert!(p.push(b"data: abc\ndata: de").is_empty());
        assert_eq!(p.pending_bytes(), "abc".len() + "data: de".len());
        assert_eq!(data(&p.push(b"\n\n")), vec!["abc\nde"]);
        assert_eq!(p.pending_bytes(), 0);
    }

    #[test]
    fn multibyte_utf8_split_anywhere() {
        let src = "data: {\"content\":\"é漢😀\"}\n\n";
        let b = src.as_bytes();
        for i in 0..=b.len() {
            for j in i..=b.len() {
                let mut p = SseParser::new();
                let mut ev = p.push(&b[..i]);
                ev.extend(p.push(&b[i..j]));
                ev.extend(p.push(&b[j..]));
                assert_eq!(data(&ev), vec!["{\"content\":\"é漢😀\"}"], "split {i},{j}");
            }
        }
    }
}
