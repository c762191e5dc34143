//! Serde types for Mistral's chat-completions and models endpoints
//! (`/work/shared/mistral-api.md` §1.1–1.5 and §3).
//!
//! Owns the wire shapes only: requests are *strict* (every optional field is
//! skipped when unset, no OpenAI-only fields exist here, because Mistral answers
//! unknown fields with 422), responses are *loose* (unknown fields ignored,
//! missing fields defaulted). It must not do I/O, logging or error mapping —
//! that is `client.rs` / `errors.rs`.
use serde::{Deserialize, Deserializer, Serialize, Serializer};

// ---------------------------------------------------------------------------
// Content
// ---------------------------------------------------------------------------

/// A message's `content`: a plain string or a list of chunks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Chunks(Vec<ContentChunk>),
}

impl From<String> for Content {
    fn from(s: String) -> Self {
        Content::Text(s)
    }
}

impl From<&str> for Content {
    fn from(s: &str) -> Self {
        Content::Text(s.to_string())
    }
}

/// One element of a chunked `content` (discriminated by `type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentChunk {
    Text {
        #[serde(default)]
        text: String,
    },
    ImageUrl {
        image_url: ImageUrl,
    },
    DocumentUrl {
        document_url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        document_name: Option<String>,
    },
    File {
        file_id: String,
    },
    /// Citations; ids may be integers or strings.
    Reference {
        #[serde(default)]
        reference_ids: Vec<serde_json::Value>,
    },
    /// A reasoning trace. Its nested chunks are usually `text` (also
    /// `reference` / `tool_reference`, which decode as `Unknown` if unmodelled).
    Thinking {
        #[serde(default)]
        thinking: Vec<ContentChunk>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        closed: Option<bool>,
    },
    InputAudio {
        input_audio: String,
    },
    /// Any chunk type this client does not model. Never send it back: it
    /// serializes as `{"type":"unknown"}`, which Mistral rejects.
    #[serde(other)]
    Unknown,
}

impl ContentChunk {
    pub fn text(text: impl Into<String>) -> Self {
        ContentChunk::Text { text: text.into() }
    }
    pub fn image_url(url: impl Into<String>) -> Self {
        ContentChunk::ImageUrl {
            image_url: ImageUrl::Url(url.into()),
        }
    }
    /// A closed thinking chunk holding one text chunk (for replaying history).
    pub fn thinking(text: impl Into<String>) -> Self {
        ContentChunk::Thinking {
            thinking: vec![ContentChunk::text(text)],
            signature: None,
            closed: Some(true),
        }
    }
}

/// `image_url` is either a bare URL / data URI or `{url, detail?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ImageUrl {
    Url(String),
    Object {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/// A function call requested by the model (or replayed in history).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub function: FunctionCall,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    #[serde(default)]
    pub name: String,
    /// A JSON string in responses; an object is accepted too.
    #[serde(default)]
    pub arguments: serde_json::Value,
}

/// A chat message, discriminated by `role`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message {
    System {
        content: Content,
    },
    User {
        #[serde(default)]
        content: Option<Content>,
    },
    Assistant {
        #[serde(default)]
        content: Option<Content>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool_calls: Option<Vec<ToolCall>>,
        /// `true` makes the model continue this message (must be the last one).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        prefix: bool,
    },
    Tool {
        #[serde(default)]
        content: Option<Content>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool_call_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
}

impl Message {
    pub fn system(text: impl Into<String>) -> Self {
        Message::System {
            content: Content::Text(text.into()),
        }
    }
    pub fn user(text: impl Into<String>) -> Self {
        Message::User {
            content: Some(Content::Text(text.into())),
        }
    }
    /// A user turn with chunks (e.g. text plus images).
    pub fn user_chunks(chunks: Vec<ContentChunk>) -> Self {
        Message::User {
            content: Some(Content::Chunks(chunks)),
        }
    }
    pub fn assistant(text: impl Into<String>) -> Self {
        Message::Assistant {
            content: Some(Content::Text(text.into())),
            tool_calls: None,
            prefix: false,
        }
    }
    /// An assistant turn replayed with its reasoning trace (Mistral asks for
    /// the whole message, thinking included, in multi-turn reasoning).
    pub fn assistant_with_thinking(thinking: impl Into<String>, text: impl Into<String>) -> Self {
        let thinking = thinking.into();
        let text = text.into();
        if thinking.is_empty() {
            return Self::assistant(text);
        }
        Message::Assistant {
            content: Some(Content::Chunks(vec![
                ContentChunk::thinking(thinking),
                ContentChunk::text(text),
            ])),
            tool_calls: None,
            prefix: false,
        }
    }

    pub fn role(&self) -> &'static str {
        match self {
            Message::System { .. } => "system",
            Message::User { .. } => "user",
            Message::Assistant { .. } => "assistant",
            Message::Tool { .. } => "tool",
        }
    }

    pub fn content(&self) -> Option<&Content> {
        match self {
            Message::System { content } => Some(content),
            Message::User { content }
            | Message::Assistant { content, .. }
            | Message::Tool { content, .. } => content.as_ref(),
        }
    }
}

// ---------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------

/// `reasoning_effort` (§1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningEffort {
    None,
    Minimal,
    Low,
    Medium,
    High,
    Xhigh,
}

/// `prompt_mode` has three states on the wire (§1.4): omitted (the model's
/// default reasoning system prompt), `"reasoning"`, and an explicit `null`
/// (opt out of the default system prompt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PromptMode {
    /// Field omitted.
    #[default]
    Unset,
    /// Explicit JSON `null`.
    Null,
    /// `"reasoning"`.
    Reasoning,
}

impl PromptMode {
    pub fn is_unset(&self) -> bool {
        matches!(self, PromptMode::Unset)
    }
}

impl Serialize for PromptMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            // Only reached when the caller forgot `skip_serializing_if`.
            PromptMode::Unset | PromptMode::Null => s.serialize_none(),
            PromptMode::Reasoning => s.serialize_str("reasoning"),
        }
    }
}

impl<'de> Deserialize<'de> for PromptMode {
    /// Called only when the field is present (absent → `Default`, i.e. `Unset`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        match v.as_deref() {
            None => Ok(PromptMode::Null),
            Some("reasoning") => Ok(PromptMode::Reasoning),
            Some(other) => Err(serde::de::Error::custom(format!(
                "unknown prompt_mode {other:?}"
            ))),
        }
    }
}

/// `response_format` (JSON mode / structured output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<serde_json::Value>,
}

/// `POST /v1/chat/completions` body (§1.1). Only fields Mistral accepts exist
/// here; every optional one is omitted when `None`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    /// Set by the client (`chat` → false, `chat_stream` → true).
    #[serde(default)]
    pub stream: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
    #[serde(default, skip_serializing_if = "PromptMode::is_unset")]
    pub prompt_mode: PromptMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe_prompt: Option<bool>,
}

impl ChatRequest {
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        Self {
            model: model.into(),
            messages,
            ..Default::default()
        }
    }
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

/// Token counts. Live responses add more keys (`prompt_tokens_details`,
/// `service_tier`, …); they are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

/// The assistant message of a non-streaming response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ResponseMessage {
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default)]
    pub tool_calls: Option<Vec<ToolCall>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatChoice {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub message: ResponseMessage,
    /// `stop | length | model_length | error | tool_calls`.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// Non-streaming response (§1.3).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatResponse {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub object: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub created: Option<i64>,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub choices: Vec<ChatChoice>,
}

impl ChatResponse {
    /// Answer and reasoning text of the first choice.
    pub fn parts(&self) -> DeltaParts {
        self.choices
            .first()
            .and_then(|c| c.message.content.as_ref())
            .map(decode_content)
            .unwrap_or_default()
    }
    /// Answer text of the first choice (reasoning excluded).
    pub fn text(&self) -> String {
        self.parts().text
    }
    pub fn finish_reason(&self) -> Option<&str> {
        self.choices
            .first()
            .and_then(|c| c.finish_reason.as_deref())
    }
}

/// `choices[].delta` of a stream chunk.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Delta {
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default)]
    pub tool_calls: Option<Vec<ToolCall>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChunkChoice {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: Delta,
    /// `null | stop | length | error | tool_calls`.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// One `data:` event of a chat stream (§1.5). `usage` is on the last chunk.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatChunk {
    #[serde(default)]
    pub id: Option<String>,
    /// `"chat.completion.chunk"`; `"error"` for an error object sent in-stream.
    #[serde(default)]
    pub object: Option<String>,
    #[serde(default)]
    pub created: Option<i64>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// A delta flattened: answer text and reasoning text, kept apart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeltaParts {
    pub text: String,
    pub thinking: String,
}

impl DeltaParts {
    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.thinking.is_empty()
    }
}

fn collect_chunk(chunk: &ContentChunk, in_thinking: bool, out: &mut DeltaParts) {
    match chunk {
        ContentChunk::Text { text } => {
            if in_thinking {
                out.thinking.push_str(text);
            } else {
                out.text.push_str(text);
            }
        }
        ContentChunk::Thinking { thinking, .. } => {
            for inner in thinking {
                collect_chunk(inner, true, out);
            }
        }
        // Images, references, files… carry no text to show.
        _ => {}
    }
}

/// Flattens a `content` (string or chunk list) into answer and reasoning text.
pub fn decode_content(content: &Content) -> DeltaParts {
    let mut out = DeltaParts::default();
    match content {
        Content::Text(s) => out.text.push_str(s),
        Content::Chunks(chunks) => {
            for c in chunks {
                collect_chunk(c, false, &mut out);
            }
        }
    }
    out
}

/// Flattens a stream delta; both content shapes (string or list with
/// `thinking` / `text` chunks) give the same result.
pub fn decode_delta(delta: &Delta) -> DeltaParts {
    delta
        .content
        .as_ref()
        .map(decode_content)
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/// `capabilities` of a model card; every flag defaults to false (older
/// responses carry only the first six).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelCapabilities {
    pub completion_chat: bool,
    pub function_calling: bool,
    pub reasoning: bool,
    pub completion_fim: bool,
    pub fine_tuning: bool,
    pub vision: bool,
    pub ocr: bool,
    pub classification: bool,
    pub moderation: bool,
    pub audio: bool,
    pub audio_transcription: bool,
    pub audio_transcription_realtime: bool,
    pub audio_speech: bool,
    pub unified_resources: bool,
}

fn default_context_length() -> u64 {
    32768
}

/// One entry of `GET /v1/models` (base or fine-tuned card).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub id: String,
    #[serde(default)]
    pub object: Option<String>,
    #[serde(default)]
    pub created: Option<i64>,
    #[serde(default)]
    pub owned_by: Option<String>,
    #[serde(default)]
    pub capabilities: ModelCapabilities,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "default_context_length")]
    pub max_context_length: u64,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// RFC 3339 date-time after which the model is retired, if announced.
    #[serde(default)]
    pub deprecation: Option<String>,
    #[serde(default)]
    pub deprecation_replacement_model: Option<String>,
    #[serde(default)]
    pub default_model_temperature: Option<f64>,
    #[serde(default)]
    pub internal: bool,
    /// `"base"` or `"fine-tuned"`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub archived: bool,
}

impl ModelCard {
    pub fn is_deprecated(&self) -> bool {
        self.deprecation.is_some()
    }
}

/// `GET /v1/models` body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelList {
    #[serde(default)]
    pub object: Option<String>,
    #[serde(default)]
    pub data: Vec<ModelCard>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_skips_unset_fields_and_models_prompt_mode() {
        let mut r = ChatRequest::new(
            "mistral-small-latest",
            vec![Message::system("Be brief."), Message::user("Hi")],
        );
        r.stream = true;
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            json!({"model":"mistral-small-latest","stream":true,"messages":[
                {"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]})
        );
        r.prompt_mode = PromptMode::Null;
        r.reasoning_effort = Some(ReasoningEffort::High);
        r.max_tokens = Some(64);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["prompt_mode"], serde_json::Value::Null);
        assert!(v.as_object().unwrap().contains_key("prompt_mode"));
        assert_eq!(v["reasoning_effort"], "high");
        assert_eq!(v["max_tokens"], 64);
        r.prompt_mode = PromptMode::Reasoning;
        assert_eq!(
            serde_json::to_value(&r).unwrap()["prompt_mode"],
            "reasoning"
        );
        // Round trip keeps the three states apart.
        let back: ChatRequest = serde_json::from_value(json!({"model":"m","messages":[]})).unwrap();
        assert_eq!(back.prompt_mode, PromptMode::Unset);
        let back: ChatRequest =
            serde_json::from_value(json!({"model":"m","messages":[],"prompt_mode":null})).unwrap();
        assert_eq!(back.prompt_mode, PromptMode::Null);
    }

    #[test]
    fn assistant_history_replays_thinking_chunks() {
        let m = Message::assistant_with_thinking("hmm", "4");
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"role":"assistant","content":[
                {"type":"thinking","thinking":[{"type":"text","text":"hmm"}],"closed":true},
                {"type":"text","text":"4"}]})
        );
        assert_eq!(
            serde_json::to_value(Message::assistant_with_thinking("", "4")).unwrap(),
            json!({"role":"assistant","content":"4"})
        );
    }

    #[test]
    fn decodes_string_and_chunk_deltas() {
        let plain: ChatChunk = serde_json::from_str(
            r#"{"id":"5319bd","object":"chat.completion.chunk","created":1769088720,"model":"mistral-small-latest","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null,"logprobs":null}],"p":"abc"}"#,
        )
        .unwrap();
        assert_eq!(
            decode_delta(&plain.choices[0].delta),
            DeltaParts {
                text: "Hello".into(),
                thinking: String::new()
            }
        );
        let think: ChatChunk = serde_json::from_str(
            r#"{"id":"a4e2","object":"chat.completion.chunk","created":1,"model":"magistral-medium-2507","choices":[{"index":0,"delta":{"role":"assistant","content":[{"type":"thinking","thinking":[{"type":"text","text":"The user"}]}]},"finish_reason":null}]}"#,
        )
        .unwrap();
        assert_eq!(
            decode_delta(&think.choices[0].delta),
            DeltaParts {
                text: String::new(),
                thinking: "The user".into()
            }
        );
        // Transition chunk: closing thinking chunk and first text chunk together.
        let both: Delta = serde_json::from_value(json!({"content":[
            {"type":"thinking","thinking":[{"type":"text","text":" done."},{"type":"tool_reference","tool":"x"}],"closed":true},
            {"type":"text","text":"2 + 2"},
            {"type":"reference","reference_ids":[0,"a"]},
            {"type":"brand_new_chunk","x":1}]}))
        .unwrap();
        assert_eq!(
            decode_delta(&both),
            DeltaParts {
                text: "2 + 2".into(),
                thinking: " done.".into()
            }
        );
        let null: Delta = serde_json::from_value(json!({"content":null,"tool_calls":[
            {"id":"gSIMJiOkT","function":{"name":"weather","arguments":"{\"location\": \"SF\"}"}}]}))
        .unwrap();
        assert!(decode_delta(&null).is_empty());
        assert_eq!(null.tool_calls.unwrap()[0].function.name, "weather");
    }

    #[test]
    fn last_chunk_carries_usage_and_old_chunks_lack_object() {
        let c: ChatChunk = serde_json::from_str(
            r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":13,"total_tokens":21,"completion_tokens":8,"prompt_tokens_details":{"cached_tokens":0},"service_tier":"standard"}}"#,
        )
        .unwrap();
        assert_eq!(c.choices[0].finish_reason.as_deref(), Some("stop"));
        assert_eq!(
            c.usage,
            Some(Usage {
                prompt_tokens: 13,
                completion_tokens: 8,
                total_tokens: 21
            })
        );
        let old: ChatChunk = serde_json::from_str(
            r#"{"id":"x","model":"m","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}"#,
        )
        .unwrap();
        assert!(old.object.is_none() && old.usage.is_none());
    }

    #[test]
    fn non_streaming_reasoning_response() {
        let r: ChatResponse = serde_json::from_value(json!({
            "id":"bed9","object":"chat.completion","model":"mistral-large-latest","created":1764257531,
            "usage":{"prompt_tokens":11,"completion_tokens":268,"total_tokens":279},
            "choices":[{"index":0,"message":{"role":"assistant","tool_calls":null,"content":[
                {"type":"thinking","thinking":[{"type":"text","text":"Let me count"}],"closed":true},
                {"type":"text","text":"3"}]},"finish_reason":"stop","logprobs":null}]}))
        .unwrap();
        assert_eq!(r.text(), "3");
        assert_eq!(r.parts().thinking, "Let me count");
        assert_eq!(r.finish_reason(), Some("stop"));
        assert_eq!(r.usage.unwrap().total_tokens, 279);
    }

    #[test]
    fn model_cards_are_lenient() {
        let list: ModelList = serde_json::from_value(json!({"object":"list","data":[
            {"id":"mistral-small-2603","object":"model","created":1773600000,"owned_by":"mistralai",
             "capabilities":{"completion_chat":true,"function_calling":true,"reasoning":true,"vision":true,"brand_new":true},
             "name":"mistral-small-2603","max_context_length":262144,"aliases":["mistral-small-latest"],
             "deprecation":null,"default_model_temperature":0.3,"type":"base"},
            {"id":"open-mistral-7b","capabilities":{"completion_chat":true,"completion_fim":false,
             "function_calling":false,"fine_tuning":false,"vision":false,"classification":false},
             "deprecation":"2026-01-31T12:00:00Z"}]}))
        .unwrap();
        let small = &list.data[0];
        assert!(small.capabilities.reasoning && small.capabilities.vision);
        assert!(!small.capabilities.ocr);
        assert_eq!(small.max_context_length, 262144);
        assert!(!small.is_deprecated());
        let old = &list.data[1];
        assert_eq!(old.max_context_length, 32768);
        assert!(old.is_deprecated() && !old.capabilities.reasoning);
    }
}
