//! Server-only domain code (compiled with the `ssr` feature, never into the WASM).
//!
//! `services` hold every rule and every query; the axum handlers in the
//! `server` crate and the server functions in `crate::api` only parse input,
//! call a service and map its [`error::AppError`].
pub mod config;
pub mod crypto;
pub mod db;
pub mod entities;
pub mod error;
pub mod mistral;
pub mod services;
pub mod state;
pub mod tts;

pub use error::{AppError, AppResult, FieldResult};
pub use state::AppState;
