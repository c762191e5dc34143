//! Local fakes of upstream services, speaking their real wire formats over
//! real HTTP on 127.0.0.1, for integration tests, browser tests and
//! benchmarks (`src/bin/fake_upstreams.rs`).
//!
//! Owns only fake behaviour; it must never be wired into the production
//! router or reached by production code paths, and must never call the real
//! services.
pub mod mistral;

pub use mistral::{FakeFailure, FakeMistral, FakeMistralConfig, RecordedRequest};
