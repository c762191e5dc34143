//! Voice in the browser: what a spoken answer says ([`text`]: markdown to
//! speakable sentences, cut as the answer streams), when the person speaks
//! ([`vad`]: an energy detector with an adaptive noise floor), and the
//! browser's microphone, recorder, camera and audio playback ([`media`],
//! hydrate only).
//!
//! Nothing here is reached from the chat page's first paint: the dictation
//! panel, the read-aloud player and the call view that use it are `#[lazy]`
//! functions, so `cargo leptos build --split` moves this code into chunks
//! fetched on first use.
#[cfg(feature = "hydrate")]
pub mod media;
pub mod text;
pub mod vad;
