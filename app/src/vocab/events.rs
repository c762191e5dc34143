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
//! | `snapshot` | `{"text","thinking","status","tool","sources","files"}`: the whole answer so far; replaces what a reader shows |
//! | `delta` | `{"text","thinking"}`: to append |
//! | `usage` | `{"promptTokens","completionTokens"}` |
//! | `done` | `{"status","finishReason","error"}`: the last event |
//! | `tool` | `{"name","state"}`: a built-in tool (`web_search`, `image_generation`) `started` or `done` |
//! | `citation` | `{"index","title","url","source","at"}`: a source cited at `at` (characters into the text so far); a URL cited again keeps its `index` |
//! | `file` | an attachment (`{"id","name","mime","size","kind","url","width","height","prompt"}`): a generated image, stored |
//! | `html` | `{"reset","append","tail"}`: only with `?render=html` (the web UI) |
//!
//! `html` is the answer rendered by the server's markdown renderer, so the
//! browser needs none: `append` is HTML of newly finished blocks, added once
//! after the blocks already shown (after everything, when `reset`, which
//! replaces what is shown); `tail` is the unfinished end, replacing the
//! previous tail. It carries no `id:` (it is not a place in the log).
//!
//! Audio events of the next features are added here as variants; a reader
//! that does not know an event's name ignores it ([`StreamEvent::from_wire`] answers
//! `Ok(None)`), so older pages keep working while new events are added.
use super::kinds::MessageStatus;
use crate::model::{AttachmentDto, SourceDto};
use serde::{Deserialize, Serialize};

/// Where a built-in tool is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolState {
    Started,
    Done,
}

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
        /// The built-in tool running now, if any.
        #[serde(default)]
        tool: Option<String>,
        #[serde(default)]
        sources: Vec<SourceDto>,
        #[serde(default)]
        files: Vec<AttachmentDto>,
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
    /// A built-in tool started or finished.
    Tool { name: String, state: ToolState },
    /// A source cited at `at` characters into the text so far.
    Citation { source: SourceCited },
    /// A file the answer made (a generated image), stored.
    File { file: AttachmentDto },
    /// The answer as HTML, for readers that asked for it (see the table).
    Html {
        reset: bool,
        append: String,
        tail: String,
    },
}

/// The data of a `citation` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceCited {
    pub index: u32,
    pub title: String,
    pub url: String,
    #[serde(default)]
    pub source: Option<String>,
    /// Characters (Unicode scalar values) into the answer's text.
    pub at: u32,
}

/// The `data:` of an event: the same fields, untagged.
#[derive(Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
enum Data<'a> {
    Snapshot {
        text: &'a str,
        thinking: &'a str,
        status: MessageStatus,
        tool: Option<&'a str>,
        sources: &'a [SourceDto],
        files: &'a [AttachmentDto],
    },
    Tool {
        name: &'a str,
        state: ToolState,
    },
    Citation(&'a SourceCited),
    File(&'a AttachmentDto),
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
    /// Every event name, as a reader must listen for them (an
    /// `EventSource` dispatches only the names it was told).
    pub const NAMES: &'static [&'static str] = &[
        "snapshot", "delta", "usage", "tool", "citation", "file", "done", "html",
    ];

    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::Snapshot { .. } => "snapshot",
            StreamEvent::Delta { .. } => "delta",
            StreamEvent::Usage { .. } => "usage",
            StreamEvent::Done { .. } => "done",
            StreamEvent::Tool { .. } => "tool",
            StreamEvent::Citation { .. } => "citation",
            StreamEvent::File { .. } => "file",
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
                tool,
                sources,
                files,
            } => Data::Snapshot {
                text,
                thinking,
                status: *status,
                tool: tool.as_deref(),
                sources,
                files,
            },
            StreamEvent::Tool { name, state } => Data::Tool {
                name,
                state: *state,
            },
            StreamEvent::Citation { source } => Data::Citation(source),
            StreamEvent::File { file } => Data::File(file),
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
            #[serde(default)]
            tool: Option<String>,
            #[serde(default)]
            sources: Vec<SourceDto>,
            #[serde(default)]
            files: Vec<AttachmentDto>,
        }
        #[derive(Deserialize)]
        struct Tool {
            name: String,
            state: ToolState,
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
                    tool: d.tool,
                    sources: d.sources,
                    files: d.files,
                }
            }
            "tool" => {
                let d: Tool = parse(name, data)?;
                StreamEvent::Tool {
                    name: d.name,
                    state: d.state,
                }
            }
            "citation" => StreamEvent::Citation {
                source: parse(name, data)?,
            },
            "file" => StreamEvent::File {
                file: parse(name, data)?,
            },
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
                tool: None,
                sources: vec![],
                files: vec![],
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
            StreamEvent::Tool {
                name: "web_search".into(),
                state: ToolState::Started,
            },
            StreamEvent::Citation {
                source: SourceCited {
                    index: 2,
                    title: "Tour de France".into(),
                    url: "https://example.org/t".into(),
                    source: Some("brave".into()),
                    at: 17,
                },
            },
            StreamEvent::File {
                file: AttachmentDto {
                    id: "f1".into(),
                    name: "cat.png".into(),
                    mime: "image/png".into(),
                    size: 68,
                    kind: crate::model::AttachmentKind::Generated,
                    url: "/api/files/f1".into(),
                    width: Some(2),
                    height: Some(1),
                    prompt: Some("a cat".into()),
                    seen: None,
                },
            },
            StreamEvent::Snapshot {
                text: "See [1]".into(),
                thinking: "".into(),
                status: MessageStatus::Streaming,
                tool: Some("web_search".into()),
                sources: vec![SourceDto {
                    index: 1,
                    title: "T".into(),
                    url: "https://e.org".into(),
                    source: None,
                    at: vec![3, 7],
                }],
                files: vec![],
            },
        ]
    }

    #[test]
    fn every_event_round_trips_through_the_wire_form() {
        for ev in all() {
            assert!(
                StreamEvent::NAMES.contains(&ev.name()),
                "{} unlisted",
                ev.name()
            );
            let back = StreamEvent::from_wire(ev.name(), &ev.data_json()).unwrap();
            assert_eq!(back, Some(ev));
        }
    }

    #[test]
    fn the_wire_form_is_the_documented_one() {
        let [snap, delta, usage, done, html, tool, citation, file, snap2] =
            all().try_into().unwrap();
        assert_eq!(
            tool.data_json(),
            r#"{"name":"web_search","state":"started"}"#
        );
        assert_eq!(
            citation.data_json(),
            r#"{"index":2,"title":"Tour de France","url":"https://example.org/t","source":"brave","at":17}"#
        );
        assert_eq!(
            file.data_json(),
            r#"{"id":"f1","name":"cat.png","mime":"image/png","size":68,"kind":"generated","url":"/api/files/f1","width":2,"height":1,"prompt":"a cat"}"#
        );
        assert_eq!(
            snap2.data_json(),
            r#"{"text":"See [1]","thinking":"","status":"streaming","tool":"web_search","sources":[{"index":1,"title":"T","url":"https://e.org","at":[3,7]}],"files":[]}"#
        );
        assert_eq!(
            snap.data_json(),
            r#"{"text":"Hel","thinking":"","status":"streaming","tool":null,"sources":[],"files":[]}"#
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
        assert_eq!(StreamEvent::from_wire("audio", "{}"), Ok(None));
        assert!(StreamEvent::from_wire("tool", "{}").is_err());
        // A snapshot from an older server (no tool fields) still reads.
        assert!(matches!(
            StreamEvent::from_wire("snapshot", r#"{"text":"a","thinking":"","status":"done"}"#),
            Ok(Some(StreamEvent::Snapshot { .. }))
        ));
        assert!(StreamEvent::from_wire("delta", "{\"text\":1}").is_err());
        assert!(StreamEvent::from_wire("done", "{\"status\":\"odd\"}").is_err());
    }
}
