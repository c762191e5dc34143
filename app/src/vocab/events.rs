//! [`StreamEvent`]: everything a generation emits, in one type shared by the
//! hub (which logs and broadcasts it), the SSE route (which writes it), the
//! browser (which reads it) and the tests and benchmarks (which check it).
//!
//! On the wire each event is one SSE event whose `event:` field is
//! [`StreamEvent::name`] and whose `data:` is the JSON of its fields
//! (camelCase), and whose `id:` is its place in the generation's log:
//!
//! | event | data |
//! |---|---|
//! | `snapshot` | `{"text","thinking","status"}`: the whole answer so far; replaces what a reader shows |
//! | `delta` | `{"text","thinking"}`: to append |
//! | `usage` | `{"promptTokens","completionTokens"}` |
//! | `done` | `{"status","finishReason","error"}`: the last event |
//! | `html` | `{"reset","append","tail"}`: only with `?render=html` (the web UI) |
//!
//! `html` is the answer rendered by the server's markdown renderer, so the
//! browser needs none: `append` is HTML of newly finished blocks, added once
//! after the blocks already shown (after everything, when `reset`, which
//! replaces what is shown); `tail` is the unfinished end, replacing the
//! previous tail. It carries no `id:` (it is not a place in the log).
//!
//! The tool, citation, file and audio events of the next features are added
//! here as variants (`tool`, `citation`, `file`, `audio`); a reader that does
//! not know an event's name ignores it ([`StreamEvent::from_wire`] answers
//! `Ok(None)`), so older pages keep working while new events are added.
use super::kinds::MessageStatus;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "event",
    content = "data",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum StreamEvent {
    /// The answer so far, whole.
    Snapshot {
        text: String,
        thinking: String,
        status: MessageStatus,
    },
    /// More of the answer (`text`) and/or of its reasoning (`thinking`).
    Delta { text: String, thinking: String },
    /// Token counts, as the upstream reported them.
    Usage {
        prompt_tokens: u64,
        completion_tokens: u64,
    },
    /// The answer ended: how, and why if it failed.
    Done {
        status: MessageStatus,
        #[serde(default)]
        finish_reason: Option<String>,
        #[serde(default)]
        error: Option<String>,
    },
    /// The answer as HTML, for readers that asked for it (see the table).
    Html {
        reset: bool,
        append: String,
        tail: String,
    },
}

/// The `data:` of an event: the same fields, untagged.
#[derive(Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
enum Data<'a> {
    Snapshot {
        text: &'a str,
        thinking: &'a str,
        status: MessageStatus,
    },
    Delta {
        text: &'a str,
        thinking: &'a str,
    },
    Usage {
        prompt_tokens: u64,
        completion_tokens: u64,
    },
    Done {
        status: MessageStatus,
        finish_reason: Option<&'a str>,
        error: Option<&'a str>,
    },
    Html {
        reset: bool,
        append: &'a str,
        tail: &'a str,
    },
}

impl StreamEvent {
    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::Snapshot { .. } => "snapshot",
            StreamEvent::Delta { .. } => "delta",
            StreamEvent::Usage { .. } => "usage",
            StreamEvent::Done { .. } => "done",
            StreamEvent::Html { .. } => "html",
        }
    }

    /// Whether this is the last event of a generation.
    pub fn is_done(&self) -> bool {
        matches!(self, StreamEvent::Done { .. })
    }

    /// The SSE `data:` (JSON, one line).
    pub fn data_json(&self) -> String {
        let data = match self {
            StreamEvent::Snapshot {
                text,
                thinking,
                status,
            } => Data::Snapshot {
                text,
                thinking,
                status: *status,
            },
            StreamEvent::Delta { text, thinking } => Data::Delta { text, thinking },
            StreamEvent::Usage {
                prompt_tokens,
                completion_tokens,
            } => Data::Usage {
                prompt_tokens: *prompt_tokens,
                completion_tokens: *completion_tokens,
            },
            StreamEvent::Done {
                status,
                finish_reason,
                error,
            } => Data::Done {
                status: *status,
                finish_reason: finish_reason.as_deref(),
                error: error.as_deref(),
            },
            StreamEvent::Html {
                reset,
                append,
                tail,
            } => Data::Html {
                reset: *reset,
                append,
                tail,
            },
        };
        // Plain strings and numbers: serialising cannot fail.
        serde_json::to_string(&data).unwrap_or_else(|_| "{}".into())
    }

    /// The event an SSE `event:` name and `data:` describe; `Ok(None)` for a
    /// name this build does not know (a newer server), `Err` for a known
    /// name with malformed data.
    pub fn from_wire(name: &str, data: &str) -> Result<Option<Self>, String> {
        // One typed parse of the data per name (no intermediate JSON value).
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Snapshot {
            text: String,
            thinking: String,
            status: MessageStatus,
        }
        #[derive(Deserialize)]
        struct Delta {
            text: String,
            thinking: String,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Usage {
            prompt_tokens: u64,
            completion_tokens: u64,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Done {
            status: MessageStatus,
            #[serde(default)]
            finish_reason: Option<String>,
            #[serde(default)]
            error: Option<String>,
        }
        #[derive(Deserialize)]
        struct Html {
            reset: bool,
            append: String,
            tail: String,
        }
        fn parse<'a, T: Deserialize<'a>>(name: &str, data: &'a str) -> Result<T, String> {
            serde_json::from_str(data).map_err(|e| format!("{name}: {e}"))
        }
        Ok(Some(match name {
            "snapshot" => {
                let d: Snapshot = parse(name, data)?;
                StreamEvent::Snapshot {
                    text: d.text,
                    thinking: d.thinking,
                    status: d.status,
                }
            }
            "delta" => {
                let d: Delta = parse(name, data)?;
                StreamEvent::Delta {
                    text: d.text,
                    thinking: d.thinking,
                }
            }
            "usage" => {
                let d: Usage = parse(name, data)?;
                StreamEvent::Usage {
                    prompt_tokens: d.prompt_tokens,
                    completion_tokens: d.completion_tokens,
                }
            }
            "done" => {
                let d: Done = parse(name, data)?;
                StreamEvent::Done {
                    status: d.status,
                    finish_reason: d.finish_reason,
                    error: d.error,
                }
            }
            "html" => {
                let d: Html = parse(name, data)?;
                StreamEvent::Html {
                    reset: d.reset,
                    append: d.append,
                    tail: d.tail,
                }
            }
            _ => return Ok(None),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<StreamEvent> {
        vec![
            StreamEvent::Snapshot {
                text: "Hel".into(),
                thinking: "".into(),
                status: MessageStatus::Streaming,
            },
            StreamEvent::Delta {
                text: "lo \"x\"\n".into(),
                thinking: "hm".into(),
            },
            StreamEvent::Usage {
                prompt_tokens: 12,
                completion_tokens: 34,
            },
            StreamEvent::Done {
                status: MessageStatus::Error,
                finish_reason: None,
                error: Some("Mistral refused the key".into()),
            },
            StreamEvent::Html {
                reset: false,
                append: "<p>a &amp; b</p>".into(),
                tail: "<p>c</p>".into(),
            },
        ]
    }

    #[test]
    fn every_event_round_trips_through_the_wire_form() {
        for ev in all() {
            let back = StreamEvent::from_wire(ev.name(), &ev.data_json()).unwrap();
            assert_eq!(back, Some(ev));
        }
    }

    #[test]
    fn the_wire_form_is_the_documented_one() {
        let [snap, delta, usage, done, html] = all().try_into().unwrap();
        assert_eq!(
            snap.data_json(),
            r#"{"text":"Hel","thinking":"","status":"streaming"}"#
        );
        assert_eq!(
            delta.data_json(),
            r#"{"text":"lo \"x\"\n","thinking":"hm"}"#
        );
        assert_eq!(
            usage.data_json(),
            r#"{"promptTokens":12,"completionTokens":34}"#
        );
        assert_eq!(
            done.data_json(),
            r#"{"status":"error","finishReason":null,"error":"Mistral refused the key"}"#
        );
        assert_eq!(
            html.data_json(),
            r#"{"reset":false,"append":"<p>a &amp; b</p>","tail":"<p>c</p>"}"#
        );
    }

    #[test]
    fn unknown_names_are_skipped_and_bad_data_is_an_error() {
        assert_eq!(StreamEvent::from_wire("tool", "{}"), Ok(None));
        assert!(StreamEvent::from_wire("delta", "{\"text\":1}").is_err());
        assert!(StreamEvent::from_wire("done", "{\"status\":\"odd\"}").is_err());
    }
}
