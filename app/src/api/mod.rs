//! Server functions (mounted under `/rpc`), grouped by area. Each one parses
//! its input, resolves the caller and calls the matching service in
//! `crate::server::services`; no domain logic lives here.
pub mod auth;
