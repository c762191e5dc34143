//! Reusable views shared by several pages.
pub mod attach;
pub mod composer;
pub mod dialog;
pub mod fast_config;
pub mod guest;
pub mod message;
pub mod share_dialog;
pub mod shell;
pub mod sidebar;
pub mod stream_body;
pub mod toast;
pub mod user_badge;
pub mod voice;
