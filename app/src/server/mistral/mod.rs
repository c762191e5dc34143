//! The server-side Mistral API client (`/work/shared/mistral-api.md`).
//!
//! Owns the wire: `types` (serde shapes), `sse` (incremental event-stream
//! parser), `client` (HTTP, retries, streaming), `audio` (transcription,
//! speech and voices), `transport` (the connection
//! streamed answers use: ACKs at once, so a Nagle upstream cannot hold the
//! first token back) and `errors` (status → error →
//! sentence → [`crate::server::AppError`]). It must not know about users,
//! threads, the database or which key belongs to whom — services pass a
//! [`crate::server::config::Secret`] — and must never log a key.
pub mod audio;
pub mod client;
pub mod conversations;
pub mod errors;
pub mod files;
pub mod ocr;
pub mod sse;
pub mod transport;
pub mod types;

pub use client::{MistralClient, RetryPolicy, StreamEvent, Timeouts};
pub use conversations::ConversationRequest;
pub use errors::MistralError;
pub use sse::{SseEvent, SseParser};
pub use types::{
    decode_content, decode_delta, ChatChunk, ChatRequest, ChatResponse, Content, ContentChunk,
    Delta, DeltaParts, Message, ModelCapabilities, ModelCard, ModelList, PromptMode,
    ReasoningEffort, Usage,
};
