//! SeaORM entities, one module per table created by the `migration` crate.
//!
//! Entities are plain row shapes: no business rules here. Identifiers are UUID
//! strings and timestamps Unix milliseconds (see `migration::types`).
pub mod access_tokens;
pub mod attachments;
pub mod blobs;
pub mod guest_claims;
pub mod messages;
pub mod ocr_results;
pub mod server_key_uses;
pub mod shares;
pub mod threads;
pub mod user_settings;
pub mod users;
