//! Reusable views shared by several pages.
pub mod shell;
pub mod user_badge;
