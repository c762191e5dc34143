//! Size limits and defaults, each defined once. The input newtypes in
//! [`super::input`] apply them; the UI reads them for its own hints.

/// The name of a thread nobody named yet.
pub const DEFAULT_THREAD_NAME: &str = "New chat";
/// The model used when neither the request, the thread nor the user's
/// settings name one.
pub const DEFAULT_MODEL: &str = "mistral-small-latest";
/// Characters of a thread name.
pub const MAX_NAME_CHARS: usize = 200;
/// Characters of a thread's context (its system prompt), and of the default
/// context in the settings.
pub const MAX_CONTEXT_CHARS: usize = 32_000;
/// Characters of a person's display name.
pub const MAX_DISPLAY_NAME_CHARS: usize = 200;
/// Characters of a model id (the `model` columns are `VARCHAR(100)`).
pub const MAX_MODEL_CHARS: usize = 100;
/// Characters of a message's text (and of its reasoning).
pub const MAX_TEXT_CHARS: usize = 200_000;
/// Characters of a thread-name search.
pub const MAX_QUERY_CHARS: usize = 200;
/// Models in the "fast models" list of the settings.
pub const MAX_FAST_MODELS: usize = 20;
/// Characters of a stored finish reason (`messages.finish_reason`).
pub const MAX_FINISH_REASON_CHARS: usize = 32;
/// Ids longer than this cannot exist (ids are UUIDs): they match nothing.
pub const MAX_ID_LEN: usize = 64;

/// Model families that reason when asked through `prompt_mode: reasoning`
/// (the others take `reasoning_effort`), and that can think even when the
/// catalogue does not say so.
pub fn is_reasoning_family(model: &str) -> bool {
    model.starts_with("magistral")
}

/// Room left for the answer when a history is fitted to a model's context.
pub const ANSWER_BUDGET_TOKENS: u64 = 4_000;
/// A model's context when the catalogue does not say.
pub const FALLBACK_CONTEXT_TOKENS: u64 = 32_000;

/// The tokens a text costs, estimated (about three characters a token, plus
/// a message's overhead): the server fits histories and files with it, the
/// composer's meter shows the same figure.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(3) + 4
}

/// The tokens an image costs a vision model, estimated: 16×16-pixel patches
/// of the image scaled to fit 1024×1024 (1,000 when its size is unknown).
pub fn image_tokens(width: Option<u32>, height: Option<u32>) -> u64 {
    match (width, height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => {
            let scale = (1024.0 / w.max(h) as f64).min(1.0);
            let side = |px: u32| ((px as f64 * scale) / 16.0).ceil().max(1.0) as u64;
            side(w) * side(h) + side(h)
        }
        _ => 1_000,
    }
}
