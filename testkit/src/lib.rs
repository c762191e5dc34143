//! Test code that is not part of the product: local fakes of upstream
//! services speaking their real wire formats over real HTTP on 127.0.0.1
//! (for integration tests, browser tests through `fake_upstreams`, and the
//! `bench` crate), and a WHATWG server-sent events parser for anything that
//! reads an event stream the way a browser does.
//!
//! Owns only fake behaviour and test-side parsing. It must never be a normal
//! dependency of `server` or `app` (check `cargo tree -p server -e normal`),
//! must never call the real services, and speaks raw JSON rather than the
//! product's types so that it stays an independent witness of the wire format.
pub mod mistral;
pub mod pdf;
pub mod sse;

pub use mistral::{FakeFailure, FakeMistral, FakeMistralConfig, Nagle, RecordedRequest};
pub use sse::{SseEvent, SseParser};
