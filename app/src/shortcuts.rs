//! Keyboard shortcuts: one table drives both the handler and the help dialog.
//!
//! Matching uses `KeyboardEvent.code` (physical keys) so shortcuts work on any
//! layout; Ctrl and ⌘ are the same; nothing fires during IME composition.
//! Plain letter keys only act when a message (not a text field) has focus.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    NewThread,
    SearchThreads,
    AccountSettings,
    ModelSettings,
    Help,
    Escape,
    FocusComposer,
    ToggleSearch,
    Dictate,
    VoiceCall,
    CopyLastAnswer,
    ToggleSidebar,
    PreviousMessage,
    NextMessage,
    EditMessage,
    RegenerateMessage,
    CopyMessage,
    PreviousVersion,
    NextVersion,
}

#[derive(Debug, Clone, Copy)]
pub struct Shortcut {
    /// How the help dialog shows it.
    pub keys: &'static str,
    pub description: &'static str,
    pub action: Action,
    code: &'static str,
    /// Ctrl (or ⌘).
    primary: bool,
    alt: bool,
    shift: bool,
    /// Only when a message has focus.
    on_message: bool,
}

// One row of the table; positional so the table below stays one line per shortcut.
#[allow(clippy::too_many_arguments)]
const fn sc(
    keys: &'static str,
    description: &'static str,
    action: Action,
    code: &'static str,
    primary: bool,
    alt: bool,
    shift: bool,
    on_message: bool,
) -> Shortcut {
    Shortcut {
        keys,
        description,
        action,
        code,
        primary,
        alt,
        shift,
        on_message,
    }
}

pub const SHORTCUTS: &[Shortcut] = &[
    sc(
        "Ctrl/⌘ + Alt + N",
        "New thread",
        Action::NewThread,
        "KeyN",
        true,
        true,
        false,
        false,
    ),
    sc(
        "Ctrl/⌘ + Alt + F",
        "Search threads",
        Action::SearchThreads,
        "KeyF",
        true,
        true,
        false,
        false,
    ),
    sc(
        "Ctrl/⌘ + Alt + P",
        "Account settings",
        Action::AccountSettings,
        "KeyP",
        true,
        true,
        false,
        false,
    ),
    sc(
        "Ctrl/⌘ + Alt + M",
        "Model settings",
        Action::ModelSettings,
        "KeyM",
        true,
        true,
        false,
        false,
    ),
    sc(
        "Ctrl/⌘ + /",
        "Show keyboard shortcuts",
        Action::Help,
        "Slash",
        true,
        false,
        false,
        false,
    ),
    sc(
        "Esc",
        "Stop generating / close dialog",
        Action::Escape,
        "Escape",
        false,
        false,
        false,
        false,
    ),
    sc(
        "Shift + Esc",
        "Focus the message box",
        Action::FocusComposer,
        "Escape",
        false,
        false,
        true,
        false,
    ),
    sc(
        "Ctrl/⌘ + Alt + S",
        "Search the web for the next message (on/off)",
        Action::ToggleSearch,
        "KeyS",
        true,
        true,
        false,
        false,
    ),
    sc(
        "Ctrl/⌘ + Alt + D",
        "Dictate into the message box",
        Action::Dictate,
        "KeyD",
        true,
        true,
        false,
        false,
    ),
    sc(
        "Ctrl/⌘ + Alt + V",
        "Start a voice call",
        Action::VoiceCall,
        "KeyV",
        true,
        true,
        false,
        false,
    ),
    sc(
        "Ctrl/⌘ + Shift + C",
        "Copy the last answer",
        Action::CopyLastAnswer,
        "KeyC",
        true,
        false,
        true,
        false,
    ),
    sc(
        "Ctrl/⌘ + Shift + S",
        "Show or hide the sidebar",
        Action::ToggleSidebar,
        "KeyS",
        true,
        false,
        true,
        false,
    ),
    sc(
        "Alt + ↑",
        "Focus the previous message",
        Action::PreviousMessage,
        "ArrowUp",
        false,
        true,
        false,
        false,
    ),
    sc(
        "Alt + ↓",
        "Focus the next message",
        Action::NextMessage,
        "ArrowDown",
        false,
        true,
        false,
        false,
    ),
    sc(
        "E",
        "Edit the focused message",
        Action::EditMessage,
        "KeyE",
        false,
        false,
        false,
        true,
    ),
    sc(
        "R",
        "Regenerate the focused answer",
        Action::RegenerateMessage,
        "KeyR",
        false,
        false,
        false,
        true,
    ),
    sc(
        "C",
        "Copy the focused message",
        Action::CopyMessage,
        "KeyC",
        false,
        false,
        false,
        true,
    ),
    sc(
        "←",
        "Previous version of the focused message",
        Action::PreviousVersion,
        "ArrowLeft",
        false,
        false,
        false,
        true,
    ),
    sc(
        "→",
        "Next version of the focused message",
        Action::NextVersion,
        "ArrowRight",
        false,
        false,
        false,
        true,
    ),
];

/// Keys of the composer and edit boxes, listed in the help dialog only.
pub const TEXT_KEYS: &[(&str, &str)] = &[
    ("Enter", "Send (or save an edit)"),
    ("Shift + Enter", "New line"),
    ("Esc (in an edit box)", "Cancel the edit"),
];

/// The action for a key press, if any.
pub fn match_key(
    code: &str,
    ctrl_or_meta: bool,
    alt: bool,
    shift: bool,
    composing: bool,
    message_focused: bool,
) -> Option<Action> {
    if composing {
        return None;
    }
    SHORTCUTS
        .iter()
        .find(|s| {
            s.code == code
                && s.primary == ctrl_or_meta
                && s.alt == alt
                && s.shift == shift
                && (!s.on_message || message_focused)
        })
        .map(|s| s.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_by_physical_key_and_modifiers() {
        assert_eq!(
            match_key("KeyN", true, true, false, false, false),
            Some(Action::NewThread)
        );
        assert_eq!(match_key("KeyN", true, false, false, false, false), None);
        assert_eq!(
            match_key("Escape", false, false, true, false, false),
            Some(Action::FocusComposer)
        );
        assert_eq!(
            match_key("Escape", false, false, false, false, false),
            Some(Action::Escape)
        );
        assert_eq!(
            match_key("KeyC", true, false, true, false, false),
            Some(Action::CopyLastAnswer)
        );
    }

    #[test]
    fn letters_need_a_focused_message_and_nothing_fires_while_composing() {
        assert_eq!(match_key("KeyE", false, false, false, false, false), None);
        assert_eq!(
            match_key("KeyE", false, false, false, false, true),
            Some(Action::EditMessage)
        );
        assert_eq!(match_key("KeyN", true, true, false, true, false), None);
    }

    #[test]
    fn every_shortcut_is_distinct() {
        for (i, a) in SHORTCUTS.iter().enumerate() {
            for b in &SHORTCUTS[i + 1..] {
                let same = a.code == b.code
                    && a.primary == b.primary
                    && a.alt == b.alt
                    && a.shift == b.shift
                    && a.on_message == b.on_message;
                assert!(!same, "{} and {} collide", a.keys, b.keys);
            }
        }
    }
}
