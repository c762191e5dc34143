//! A server-sent events parser that follows the WHATWG "event stream
//! interpretation" rules, so that tests and benchmarks see exactly what a
//! browser's `EventSource` would dispatch — no more, no less.
//!
//! Owns framing only (bytes in, events out): lines end in CRLF, LF or a lone
//! CR (also when the CR and LF arrive in different chunks), a leading BOM is
//! dropped, `:` lines are comments, one space after the colon is removed,
//! `data:` lines are joined with `\n`, `id:` persists across events (and is
//! ignored when it holds NUL), `retry:` takes digits only, an event with no
//! data is not dispatched, and an event not ended by a blank line when the
//! stream ends is dropped. It must not interpret the data (JSON or not):
//! callers decide what an event means.

/// One dispatched event, as `EventSource` hands it to a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, or `message` when the block had none.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The stream's last event id when this event was dispatched (what
    /// `MessageEvent.lastEventId` shows and a reconnect sends as
    /// `Last-Event-ID`); it carries over from earlier events.
    pub last_event_id: String,
    /// Whether this event's own block had an `id:` field (a server that
    /// forgets one would otherwise hide behind the inherited id).
    pub has_id: bool,
}

/// Incremental parser: feed it chunks as they arrive, in order.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the current, not yet terminated line.
    line: Vec<u8>,
    /// The previous chunk ended in CR: an LF at the start of the next one
    /// belongs to that line end.
    after_cr: bool,
    /// Past the start of the stream (a UTF-8 BOM is skipped there).
    started: bool,
    data: String,
    has_data: bool,
    event: String,
    id_in_block: bool,
    last_event_id: String,
    retry_ms: Option<u64>,
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// The reconnection time the stream asked for with `retry:`, if any.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// Whether bytes or fields are waiting for a line end or a blank line:
    /// if the stream ends now, a browser drops them (a framing bug in the
    /// server when it meant to send an event).
    pub fn has_partial_event(&self) -> bool {
        !self.line.is_empty() || self.has_data || !self.event.is_empty()
    }

    /// Parses `chunk` and returns the events it completed.
    pub fn push(&mut self, mut chunk: &[u8]) -> Vec<SseEvent> {
        let out = Vec::new();
        if !self.started {
            // The BOM may itself arrive split; wait until 3 bytes or a
            // mismatch are seen.
            self.line.extend_from_slice(chunk);
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            if self.line.len() < BOM.len() && BOM.starts_with(&self.line) {
                return out;
            }
            let pending = std::mem::take(&mut self.line);
            let rest = pending.strip_prefix(BOM).unwrap_or(&pending);
            self.started = true;
            return self.push_lines(rest, out);
        }
        if chunk.is_empty() {
            return out;
        }
        if self.after_cr && chunk[0] == b'\n' {
            chunk = &chunk[1..];
        }
        self.after_cr = false;
        self.push_lines(chunk, out)
    }

    fn push_lines(&mut self, mut chunk: &[u8], mut out: Vec<SseEvent>) -> Vec<SseEvent> {
        while let Some(pos) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&chunk[..pos]);
            let line = std::mem::take(&mut self.line);
            if let Some(ev) = self.line_done(&line) {
                out.push(ev);
            }
            if chunk[pos] == b'\r' {
                match chunk.get(pos + 1) {
                    Some(b'\n') => chunk = &chunk[pos + 2..],
                    Some(_) => chunk = &chunk[pos + 1..],
                    None => {
                        self.after_cr = true;
                        chunk = &[];
                    }
                }
            } else {
                chunk = &chunk[pos + 1..];
            }
        }
        self.line.extend_from_slice(chunk);
        out
    }

    /// Processes one complete line; a blank line may dispatch an event.
    fn line_done(&mut self, raw: &[u8]) -> Option<SseEvent> {
        if raw.is_empty() {
            return self.dispatch();
        }
        // A line is complete, so decoding it on its own cannot cut a
        // multi-byte character (the stream is UTF-8; bad bytes become U+FFFD
        // as in the browser).
        let line = String::from_utf8_lossy(raw);
        if line.starts_with(':') {
            return None; // comment (keep-alive)
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            "id" if !value.contains('\0') => {
                self.last_event_id = value.to_string();
                self.id_in_block = true;
            }
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry_ms = value.parse().ok();
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = std::mem::take(&mut self.event);
        let has_id = std::mem::take(&mut self.id_in_block);
        let mut data = std::mem::take(&mut self.data);
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        data.pop(); // the `\n` after the last data line
        Some(SseEvent {
            event: if event.is_empty() {
                "message".to_string()
            } else {
                event
            },
            data,
            last_event_id: self.last_event_id.clone(),
            has_id,
        })
    }
}

/// Parses a whole stream at once (the trailing, unterminated event is dropped).
pub fn parse_all(bytes: &[u8]) -> Vec<SseEvent> {
    SseParser::new().push(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: &str, data: &str, id: &str, has_id: bool) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
            last_event_id: id.into(),
            has_id,
        }
    }

    #[test]
    fn every_line_ending_frames_events() {
        for text in [
            "event: a\ndata: 1\n\ndata: 2\n\n",
            "event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n",
            "event: a\rdata: 1\r\rdata: 2\r\r",
            "event: a\r\ndata: 1\n\rdata: 2\r\n\n",
        ] {
            assert_eq!(
                parse_all(text.as_bytes()),
                vec![ev("a", "1", "", false), ev("message", "2", "", false)],
                "{text:?}"
            );
        }
    }

    #[test]
    fn split_anywhere_gives_the_same_events() {
        let text = "\u{feff}id: 7\r\nevent: delta\r\ndata: {\"t\":\"é😀\"}\r\ndata:second\r\n\r\n: ping\r\n\r\ndata: x\r\r";
        let whole = parse_all(text.as_bytes());
        assert_eq!(
            whole,
            vec![
                ev("delta", "{\"t\":\"é😀\"}\nsecond", "7", true),
                ev("message", "x", "7", false)
            ]
        );
        let bytes = text.as_bytes();
        for cut in 0..=bytes.len() {
            for cut2 in cut..=bytes.len() {
                let mut p = SseParser::new();
                let mut got = p.push(&bytes[..cut]);
                got.extend(p.push(&bytes[cut..cut2]));
                got.extend(p.push(&bytes[cut2..]));
                assert_eq!(got, whole, "cut at {cut}/{cut2}");
            }
        }
    }

    #[test]
    fn fields_follow_the_rules() {
        let text = "data\n\n: comment\ndata:  two spaces\nretry: 1500\nretry: x\nid: a\0b\nunknown: z\n\nid\ndata: after\n\n";
        let mut p = SseParser::new();
        assert_eq!(
            p.push(text.as_bytes()),
            vec![
                ev("message", "", "", false),
                ev("message", " two spaces", "", false),
                ev("message", "after", "", true),
            ]
        );
        assert_eq!(p.retry_ms(), Some(1500));
    }

    #[test]
    fn an_unterminated_event_is_reported_as_partial() {
        let mut p = SseParser::new();
        assert_eq!(p.push(b"event: done\ndata: {}\n").len(), 0);
        assert!(p.has_partial_event());
        assert_eq!(p.push(b"\n").len(), 1);
        assert!(!p.has_partial_event());
        p.push(b": keep-alive\n\ndata: x");
        assert!(p.has_partial_event());
    }

    #[test]
    fn events_without_data_or_final_blank_line_are_not_dispatched() {
        assert_eq!(parse_all(b"event: done\n\nid: 3\n\n"), vec![]);
        // The id of an event without data still carries over.
        assert_eq!(
            parse_all(b"id: 3\n\ndata: x\n\ndata: unterminated\n"),
            vec![ev("message", "x", "3", false)]
        );
    }
}
