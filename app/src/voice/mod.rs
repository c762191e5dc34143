//! Voice in the browser: what a spoken answer says ([`text`]: markdown to
//! speakable sentences, cut as the answer streams), when the person speaks
//! ([`vad`]: an energy detector with an adaptive noise floor), and the
//! browser's microphone, recorder, camera and audio playback ([`media`],
//! hydrate only).
//!
//! It is in the main WASM module (see `components::voice` for why it is not
//! a lazily loaded chunk yet).
#[cfg(feature = "hydrate")]
pub mod media;
pub mod text;
pub mod vad;
