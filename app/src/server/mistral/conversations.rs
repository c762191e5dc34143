//! Mistral's Conversations API with built-in tools (`/work/shared/mistral-api.md`
//! §6): `POST /v1/conversations` with `model`, `inputs`, `instructions`,
//! `tools`, `stream: true` and `store: false` — the database stays the only
//! record of a conversation, and no agent is created or changed per request.
//!
//! Owns the request shape ([`ConversationRequest`], built from the same
//! [`ChatRequest`] a chat without tools sends) and the decoding of its event
//! stream (§6.4): `event:` lines, a `type` in every `data:`, no `[DONE]` —
//! the answer is complete at `conversation.response.done`; a body that ends
//! before it is an interruption. `message.output.delta` carries a string or
//! ONE chunk object (`text`, `thinking`, `tool_reference`, `tool_file`);
//! unknown event types and chunk types are skipped.
use super::client::{decode_events, Decoder, MistralClient, StreamEvent};
use super::errors::MistralError;
use super::sse::SseEvent;
use super::types::{ChatRequest, Content, ContentChunk, Message, ReasoningEffort};
use crate::server::config::Secret;
use crate::vocab::Tool;
use futures::Stream;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// One entry of `inputs`: a past or present turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputEntry {
    /// Always `message.input`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: &'static str,
    pub content: Content,
}

/// A built-in tool offered to the model: `{"type": "web_search"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolSpec {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// `completion_args` (the whitelist of §6.1), only what a chat sets.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CompletionArgs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub random_seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
}

impl CompletionArgs {
    fn is_empty(&self) -> bool {
        *self == CompletionArgs::default()
    }
}

/// `POST /v1/conversations` (start), streaming and not stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationRequest {
    pub model: String,
    pub inputs: Vec<InputEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    pub tools: Vec<ToolSpec>,
    #[serde(skip_serializing_if = "CompletionArgs::is_empty")]
    pub completion_args: CompletionArgs,
    pub stream: bool,
    pub store: bool,
}

/// Only the text of a content: reasoning traces and unknown chunks are not
/// replayed as conversation inputs.
fn text_only(content: &Content) -> Option<Content> {
    match content {
        Content::Text(t) => Some(Content::Text(t.clone())),
        Content::Chunks(chunks) => {
            let kept: Vec<ContentChunk> = chunks
                .iter()
                .filter(|c| {
                    matches!(
                        c,
                        ContentChunk::Text { .. }
                            | ContentChunk::ImageUrl { .. }
                            | ContentChunk::DocumentUrl { .. }
                    )
                })
                .cloned()
                .collect();
            match kept.as_slice() {
                [] => None,
                [ContentChunk::Text { text }] => Some(Content::Text(text.clone())),
                _ => Some(Content::Chunks(kept)),
            }
        }
    }
}

impl ConversationRequest {
    /// The conversation that asks what `chat` asks, with `tools`: system
    /// messages become `instructions`, the turns `message.input` entries.
    pub fn from_chat(chat: &ChatRequest, tools: &[Tool]) -> Self {
        let mut instructions: Vec<String> = vec![];
        let mut inputs = vec![];
        for m in &chat.messages {
            match m {
                Message::System { content } => {
                    if let Some(Content::Text(t)) = text_only(content) {
                        instructions.push(t);
                    }
                }
                Message::User { content } | Message::Assistant { content, .. } => {
                    if let Some(c) = content.as_ref().and_then(text_only) {
                        inputs.push(InputEntry {
                            kind: "message.input",
                            role: m.role(),
                            content: c,
                        });
                    }
                }
                Message::Tool { .. } => {}
            }
        }
        ConversationRequest {
            model: chat.model.clone(),
            inputs,
            instructions: (!instructions.is_empty()).then(|| instructions.join("\n\n")),
            tools: tools
                .iter()
                .map(|t| ToolSpec { kind: t.as_str() })
                .collect(),
            completion_args: CompletionArgs {
                temperature: chat.temperature,
                top_p: chat.top_p,
                max_tokens: chat.max_tokens,
                random_seed: chat.random_seed,
                reasoning_effort: chat.reasoning_effort,
            },
            stream: true,
            store: false,
        }
    }
}

impl MistralClient {
    /// A streamed conversation (see the module). Retries happen only until
    /// Mistral accepts the request. The stream yields `Delta`, `ToolStarted`,
    /// `ToolDone`, `Reference`, `File` and `Usage` events and ends with
    /// `Done`, or with one `Err`: `Interrupted` for a broken, stalled or
    /// truncated stream, `StreamError` for Mistral's own error event.
    pub async fn conversation_stream(
        &self,
        key: &Secret,
        req: &ConversationRequest,
    ) -> Result<impl Stream<Item = Result<StreamEvent, MistralError>> + Send + 'static, MistralError>
    {
        let mut req = req.clone();
        req.stream = true;
        let body = serde_json::to_vec(&req).map_err(|e| MistralError::InvalidResponse {
            detail: format!("request could not be encoded: {e}"),
        })?;
        let resp = self.stream_post(key, "/v1/conversations", body).await?;
        Ok(conversation_events(
            resp.bytes_stream(),
            self.idle_timeout(),
        ))
    }
}

/// Decodes a conversation SSE body (any byte-chunk stream).
pub fn conversation_events<S, B, E>(
    body: S,
    idle: std::time::Duration,
) -> impl Stream<Item = Result<StreamEvent, MistralError>> + Send + 'static
where
    S: Stream<Item = Result<B, E>> + Send + 'static,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    decode_events(body, idle, ConversationDecoder)
}

/// The fields of any conversation event this client reads.
#[derive(Deserialize)]
struct EventData {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    content: Option<serde_json::Value>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<serde_json::Value>,
    #[serde(default)]
    usage: Option<ConversationUsage>,
    #[serde(default)]
    message: Option<serde_json::Value>,
    #[serde(default)]
    code: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ConversationUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

/// The chunk objects a `message.output.delta` may carry.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OutputChunk {
    Text {
        #[serde(default)]
        text: String,
    },
    Thinking {
        #[serde(default)]
        thinking: Vec<serde_json::Value>,
    },
    ToolReference {
        #[serde(default)]
        title: String,
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        source: Option<String>,
    },
    ToolFile {
        #[serde(default)]
        file_id: String,
        #[serde(default)]
        file_name: Option<String>,
        #[serde(default)]
        file_type: Option<String>,
    },
    #[serde(other)]
    Other,
}

fn string_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

struct ConversationDecoder;

impl ConversationDecoder {
    fn content(
        &self,
        content: serde_json::Value,
        out: &mut VecDeque<Result<StreamEvent, MistralError>>,
    ) {
        let chunk = match content {
            serde_json::Value::String(text) => OutputChunk::Text { text },
            serde_json::Value::Null => return,
            v => match serde_json::from_value::<OutputChunk>(v) {
                Ok(c) => c,
                // A chunk shape this client does not know: skipped.
                Err(_) => return,
            },
        };
        match chunk {
            OutputChunk::Text { text } if !text.is_empty() => {
                out.push_back(Ok(StreamEvent::Delta {
                    text,
                    thinking: String::new(),
                }))
            }
            OutputChunk::Thinking { thinking } => {
                let text: String = thinking
                    .iter()
                    .filter_map(|c| c.get("text").and_then(|t| t.as_str()))
                    .collect();
                if !text.is_empty() {
                    out.push_back(Ok(StreamEvent::Delta {
                        text: String::new(),
                        thinking: text,
                    }));
                }
            }
            OutputChunk::ToolReference { title, url, source } => {
                // A reference without an address cannot be opened: not a source.
                if let Some(url) = url.filter(|u| !u.trim().is_empty()) {
                    out.push_back(Ok(StreamEvent::Reference { title, url, source }));
                }
            }
            OutputChunk::ToolFile {
                file_id,
                file_name,
                file_type,
            } if !file_id.is_empty() => out.push_back(Ok(StreamEvent::File {
                file_id,
                file_name: file_name.unwrap_or_default(),
                file_type: file_type.unwrap_or_default(),
            })),
            _ => {}
        }
    }
}

impl Decoder for ConversationDecoder {
    type Item = StreamEvent;

    fn decode(
        &mut self,
        ev: SseEvent,
        out: &mut VecDeque<Result<StreamEvent, MistralError>>,
    ) -> bool {
        let data: EventData = match serde_json::from_str(&ev.data) {
            Ok(d) => d,
            Err(e) => {
                out.push_back(Err(MistralError::Interrupted {
                    detail: format!("malformed event: {e}"),
                }));
                return false;
            }
        };
        // `type` in the data names the event; the `event:` line says the same.
        let kind = data.kind.clone().or(ev.event).unwrap_or_default();
        match kind.as_str() {
            "message.output.delta" => {
                if let Some(c) = data.content {
                    self.content(c, out);
                }
            }
            "tool.execution.started" => out.push_back(Ok(StreamEvent::ToolStarted {
                name: data.name.unwrap_or_default(),
                arguments: data.arguments.as_ref().map(string_of).unwrap_or_default(),
            })),
            "tool.execution.done" => out.push_back(Ok(StreamEvent::ToolDone {
                name: data.name.unwrap_or_default(),
            })),
            "conversation.response.done" => {
                if let Some(u) = data.usage {
                    out.push_back(Ok(StreamEvent::Usage {
                        prompt_tokens: u.prompt_tokens,
                        completion_tokens: u.completion_tokens,
                    }));
                }
                out.push_back(Ok(StreamEvent::Finish {
                    reason: "stop".into(),
                }));
                out.push_back(Ok(StreamEvent::Done));
                return false;
            }
            "conversation.response.error" => {
                out.push_back(Err(MistralError::StreamError {
                    message: data.message.as_ref().map(string_of).unwrap_or_default(),
                    code: data.code.as_ref().map(string_of),
                }));
                return false;
            }
            // started, tool deltas, handoffs, function calls, anything new.
            _ => {}
        }
        true
    }

    fn at_end(&self) -> Result<Option<StreamEvent>, String> {
        Err("stream ended without conversation.response.done".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::time::Duration;

    fn event(name: &str, data: &str) -> String {
        format!("event: {name}\ndata: {data}\n\n")
    }

    /// A web-search answer as Mistral streams it (§6.4).
    fn search_stream() -> String {
        [
            event("conversation.response.started", r#"{"type":"conversation.response.started","conversation_id":"conv_1"}"#),
            event("tool.execution.started", r#"{"type":"tool.execution.started","output_index":0,"id":"t1","name":"web_search","arguments":"{\"query\":\"tour de france\"}"}"#),
            event("tool.execution.done", r#"{"type":"tool.execution.done","output_index":0,"id":"t1","name":"web_search"}"#),
            event("message.output.delta", r#"{"type":"message.output.delta","output_index":1,"id":"m1","content_index":0,"role":"assistant","content":"Pogačar won"}"#),
            event("message.output.delta", r#"{"type":"message.output.delta","output_index":1,"id":"m1","content_index":1,"role":"assistant","content":{"type":"tool_reference","tool":"web_search","title":"Tour 2025","url":"https://example.org/tour","source":"brave"}}"#),
            event("message.output.delta", r#"{"type":"message.output.delta","output_index":1,"id":"m1","content_index":2,"role":"assistant","content":" — é.\n"}"#),
            event("conversation.response.done", r#"{"type":"conversation.response.done","usage":{"prompt_tokens":18,"total_tokens":25,"completion_tokens":7}}"#),
        ]
        .concat()
    }

    async fn decode(
        pieces: Vec<Result<Vec<u8>, String>>,
    ) -> Vec<Result<StreamEvent, MistralError>> {
        conversation_events(futures::stream::iter(pieces), Duration::from_secs(5))
            .collect()
            .await
    }

    fn delta(text: &str) -> Result<StreamEvent, MistralError> {
        Ok(StreamEvent::Delta {
            text: text.into(),
            thinking: String::new(),
        })
    }

    fn expected_search() -> Vec<Result<StreamEvent, MistralError>> {
        vec![
            Ok(StreamEvent::ToolStarted {
                name: "web_search".into(),
                arguments: "{\"query\":\"tour de france\"}".into(),
            }),
            Ok(StreamEvent::ToolDone {
                name: "web_search".into(),
            }),
            delta("Pogačar won"),
            Ok(StreamEvent::Reference {
                title: "Tour 2025".into(),
                url: "https://example.org/tour".into(),
                source: Some("brave".into()),
            }),
            delta(" — é.\n"),
            Ok(StreamEvent::Usage {
                prompt_tokens: 18,
                completion_tokens: 7,
            }),
            Ok(StreamEvent::Finish {
                reason: "stop".into(),
            }),
            Ok(StreamEvent::Done),
        ]
    }

    #[tokio::test]
    async fn decodes_tools_references_text_and_usage() {
        let out = decode(vec![Ok(search_stream().into_bytes())]).await;
        assert_eq!(out, expected_search());
    }

    #[tokio::test]
    async fn the_same_events_whatever_byte_the_stream_is_split_at() {
        let bytes = search_stream().into_bytes();
        for cut in 1..bytes.len() {
            let out = decode(vec![Ok(bytes[..cut].to_vec()), Ok(bytes[cut..].to_vec())]).await;
            assert_eq!(out, expected_search(), "split at byte {cut}");
        }
        // And one byte at a time (CRLF line ends too).
        let crlf = search_stream().replace('\n', "\r\n").into_bytes();
        let out = decode(crlf.iter().map(|b| Ok(vec![*b])).collect()).await;
        assert_eq!(out, expected_search());
    }

    #[tokio::test]
    async fn unknown_events_and_chunks_are_skipped() {
        let body = [
            event("agent.handoff.started", r#"{"type":"agent.handoff.started","id":"h","previous_agent_id":"a"}"#),
            event("something.new", r#"{"type":"something.new","x":[1,2]}"#),
            event("message.output.delta", r#"{"type":"message.output.delta","content":{"type":"brand_new_chunk","x":1}}"#),
            event("message.output.delta", r#"{"type":"message.output.delta","content":{"type":"thinking","thinking":[{"type":"text","text":"hm"}],"closed":true}}"#),
            event("message.output.delta", r#"{"type":"message.output.delta","content":{"type":"tool_reference","tool":"web_search","title":"No URL"}}"#),
            event("message.output.delta", r#"{"type":"message.output.delta","content":{"type":"text","text":"ok"}}"#),
            event("message.output.delta", r#"{"type":"message.output.delta","content":{"type":"tool_file","tool":"image_generation","file_id":"f-1","file_name":"image_generated_0","file_type":"png"}}"#),
            event("conversation.response.done", r#"{"type":"conversation.response.done"}"#),
        ]
        .concat();
        let out = decode(vec![Ok(body.into_bytes())]).await;
        assert_eq!(
            out,
            vec![
                Ok(StreamEvent::Delta {
                    text: String::new(),
                    thinking: "hm".into()
                }),
                delta("ok"),
                Ok(StreamEvent::File {
                    file_id: "f-1".into(),
                    file_name: "image_generated_0".into(),
                    file_type: "png".into()
                }),
                Ok(StreamEvent::Finish {
                    reason: "stop".into()
                }),
                Ok(StreamEvent::Done),
            ]
        );
    }

    #[tokio::test]
    async fn an_error_event_ends_the_stream_with_its_message() {
        let body = [
            event("message.output.delta", r#"{"type":"message.output.delta","content":"Part"}"#),
            event("conversation.response.error", r#"{"type":"conversation.response.error","message":"Content blocked by moderation","code":3501}"#),
            event("message.output.delta", r#"{"type":"message.output.delta","content":"never"}"#),
        ]
        .concat();
        let out = decode(vec![Ok(body.into_bytes())]).await;
        assert_eq!(
            out,
            vec![
                delta("Part"),
                Err(MistralError::StreamError {
                    message: "Content blocked by moderation".into(),
                    code: Some("3501".into())
                })
            ]
        );
        assert!(out[1]
            .as_ref()
            .unwrap_err()
            .user_message()
            .contains("Content blocked by moderation"));
    }

    #[tokio::test]
    async fn a_stream_without_its_done_event_is_interrupted() {
        let body = event(
            "message.output.delta",
            r#"{"type":"message.output.delta","content":"Half"}"#,
        );
        let out = decode(vec![Ok(body.clone().into_bytes())]).await;
        assert_eq!(out[0], delta("Half"));
        assert!(
            matches!(&out[1], Err(MistralError::Interrupted { detail }) if detail.contains("conversation.response.done")),
            "{out:?}"
        );
        assert_eq!(out.len(), 2);
        // A connection that breaks, and garbage data, interrupt too.
        let out = decode(vec![Ok(body.into_bytes()), Err("reset".into())]).await;
        assert!(matches!(out[1], Err(MistralError::Interrupted { .. })));
        let out = decode(vec![Ok(b"event: x\ndata: {nope\n\n".to_vec())]).await;
        assert!(matches!(out[0], Err(MistralError::Interrupted { .. })));
    }

    #[test]
    fn the_request_is_the_chat_as_a_stateless_conversation() {
        let mut chat = ChatRequest::new(
            "mistral-medium-latest",
            vec![
                Message::system("Be brief."),
                Message::user("Who won?"),
                Message::assistant_with_thinking("let me think", "Pogačar."),
                Message::user("And in 2024?"),
            ],
        );
        chat.temperature = Some(0.3);
        let req = ConversationRequest::from_chat(&chat, &[Tool::WebSearch, Tool::ImageGeneration]);
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "model": "mistral-medium-latest",
                "inputs": [
                    {"type": "message.input", "role": "user", "content": "Who won?"},
                    {"type": "message.input", "role": "assistant", "content": "Pogačar."},
                    {"type": "message.input", "role": "user", "content": "And in 2024?"}
                ],
                "instructions": "Be brief.",
                "tools": [{"type": "web_search"}, {"type": "image_generation"}],
                "completion_args": {"temperature": 0.3},
                "stream": true,
                "store": false
            })
        );
        // No system message, no arguments: neither field is sent.
        let bare = ConversationRequest::from_chat(
            &ChatRequest::new("m", vec![Message::user("hi")]),
            &[Tool::WebSearch],
        );
        let json = serde_json::to_value(&bare).unwrap();
        assert!(json.get("instructions").is_none() && json.get("completion_args").is_none());
    }
}
