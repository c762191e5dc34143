//! Checked input values. Each is built only by its `parse`, which applies the
//! limits of [`super::limits`]; services take these types, so no entry point
//! (JSON handler, server function, form route) can hand a service an
//! unchecked string, and both entry points refuse the same inputs with the
//! same sentence.
//!
//! Blank values mean one thing everywhere: a blank optional value (model,
//! search, the name of a new thread) is "none"/"the default", never an error;
//! a blank required value (a message, a rename) is an error.
//!
//! An [`InputError`] is a sentence without the field's name; the entry point
//! names the field the way its caller spelled it (`model`, `defaultModel`).
use super::limits::{
    MAX_CONTEXT_CHARS, MAX_MODEL_CHARS, MAX_NAME_CHARS, MAX_QUERY_CHARS, MAX_TEXT_CHARS,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a value was refused: a sentence saying what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl InputError {
    fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// `"<field>: <sentence>"`, the form every 400 of the API uses.
    pub fn at(&self, field: &str) -> String {
        format!("{field}: {}", self.0)
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

macro_rules! text_value {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        string_newtype_basics!($name);

        // Deserialising checks like `parse`: a DTO field of this type cannot
        // hold an unchecked value either.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                $name::parse_required(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_value! {
    /// A model id as Mistral names models: trimmed, 1 to 100 characters, no
    /// spaces or control characters.
    ModelId
}

impl ModelId {
    /// A blank value is "no model" (`None`): the thread's, then the user's
    /// default applies.
    pub fn parse(raw: &str) -> Result<Option<Self>, InputError> {
        let m = raw.trim();
        if m.is_empty() {
            return Ok(None);
        }
        if chars(m) > MAX_MODEL_CHARS || m.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InputError::new(format!(
                "use a model id of at most {MAX_MODEL_CHARS} characters, without spaces"
            )));
        }
        Ok(Some(Self(m.to_string())))
    }

    /// Where a model must be named (a list entry).
    pub fn parse_required(raw: &str) -> Result<Self, InputError> {
        Self::parse(raw)?.ok_or_else(|| InputError::new("name a model"))
    }

    /// A model id the server itself chose or stored (trusted).
    pub fn trusted(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// Whether this model reasons through `prompt_mode` (see
    /// [`super::limits::is_reasoning_family`]).
    pub fn is_reasoning_family(&self) -> bool {
        super::limits::is_reasoning_family(&self.0)
    }
}

text_value! {
    /// The text of a message a person sends: NUL removed (never meant, and
    /// PostgreSQL refuses it), trimmed, 1 to 200,000 characters.
    MessageText
}

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        Self::parse_required(raw)
    }
    fn parse_required(raw: &str) -> Result<Self, InputError> {
        let text = raw.replace('\0', "");
        let t = text.trim();
        if t.is_empty() {
            return Err(InputError::new("type a message first"));
        }
        if chars(t) > MAX_TEXT_CHARS {
            return Err(InputError::new(format!(
                "use at most {MAX_TEXT_CHARS} characters"
            )));
        }
        Ok(Self(t.to_string()))
    }
}

text_value! {
    /// A thread name: trimmed, 1 to 200 characters.
    ThreadName
}

impl ThreadName {
    /// A rename: a blank name is an error.
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        Self::parse_required(raw)
    }
    fn parse_required(raw: &str) -> Result<Self, InputError> {
        Self::parse_optional(raw)?.ok_or_else(|| InputError::new("enter a name"))
    }
    /// A new thread's name: blank means "the default name" (`None`).
    pub fn parse_optional(raw: &str) -> Result<Option<Self>, InputError> {
        let n = raw.trim();
        if n.is_empty() {
            return Ok(None);
        }
        if chars(n) > MAX_NAME_CHARS {
            return Err(InputError::new(format!(
                "use at most {MAX_NAME_CHARS} characters"
            )));
        }
        Ok(Some(Self(n.to_string())))
    }
    /// A name the server made (the default, a generated title).
    pub fn trusted(s: impl Into<String>) -> Self {
        Self(s.into())
    }
}

text_value! {
    /// A thread's context (system prompt), or the default context of the
    /// settings: up to 32,000 characters, kept verbatim (blank = none).
    ThreadContext
}

impl ThreadContext {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        Self::parse_required(raw)
    }
    fn parse_required(raw: &str) -> Result<Self, InputError> {
        if chars(raw) > MAX_CONTEXT_CHARS {
            return Err(InputError::new(format!(
                "use at most {MAX_CONTEXT_CHARS} characters"
            )));
        }
        Ok(Self(raw.replace('\0', "")))
    }
}

text_value! {
    /// A case-insensitive piece of a thread name to look for.
    SearchText
}

impl SearchText {
    /// A blank query is "no filter" (`None`).
    pub fn parse(raw: &str) -> Result<Option<Self>, InputError> {
        let q = raw.trim();
        if q.is_empty() {
            return Ok(None);
        }
        if chars(q) > MAX_QUERY_CHARS {
            return Err(InputError::new(format!(
                "use at most {MAX_QUERY_CHARS} characters"
            )));
        }
        Ok(Some(Self(q.to_string())))
    }
    fn parse_required(raw: &str) -> Result<Self, InputError> {
        Self::parse(raw)?.ok_or_else(|| InputError::new("type something to look for"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids() {
        assert_eq!(ModelId::parse("  ").unwrap(), None);
        assert_eq!(
            ModelId::parse(" mistral-small-latest ")
                .unwrap()
                .unwrap()
                .as_str(),
            "mistral-small-latest"
        );
        assert!(ModelId::parse("two words").is_err());
        assert!(ModelId::parse(&"x".repeat(MAX_MODEL_CHARS)).is_ok());
        assert!(ModelId::parse(&"x".repeat(MAX_MODEL_CHARS + 1)).is_err());
        assert_eq!(
            ModelId::parse("a\u{7}").unwrap_err().at("defaultModel"),
            "defaultModel: use a model id of at most 100 characters, without spaces"
        );
        assert!(ModelId::trusted("magistral-medium-latest").is_reasoning_family());
    }

    #[test]
    fn message_texts() {
        assert_eq!(MessageText::parse("  hi\0 ").unwrap().as_str(), "hi");
        assert_eq!(
            MessageText::parse(" \0 ").unwrap_err().at("text"),
            "text: type a message first"
        );
        assert!(MessageText::parse(&"é".repeat(MAX_TEXT_CHARS)).is_ok());
        assert!(MessageText::parse(&"é".repeat(MAX_TEXT_CHARS + 1)).is_err());
    }

    #[test]
    fn names_contexts_and_searches() {
        assert!(ThreadName::parse(" ").is_err());
        assert_eq!(ThreadName::parse_optional(" ").unwrap(), None);
        assert_eq!(ThreadName::parse(" Trip ").unwrap().as_str(), "Trip");
        assert!(ThreadName::parse(&"n".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert_eq!(
            ThreadContext::parse("  keep  ").unwrap().as_str(),
            "  keep  "
        );
        assert!(ThreadContext::parse(&"c".repeat(MAX_CONTEXT_CHARS + 1)).is_err());
        assert_eq!(SearchText::parse("").unwrap(), None);
        assert!(SearchText::parse(&"q".repeat(MAX_QUERY_CHARS + 1)).is_err());
    }

    #[test]
    fn deserialising_applies_the_same_rules() {
        assert!(serde_json::from_str::<ModelId>("\"a b\"").is_err());
        assert!(serde_json::from_str::<ThreadName>("\"  \"").is_err());
        assert_eq!(
            serde_json::from_str::<MessageText>("\" hi \"")
                .unwrap()
                .as_str(),
            "hi"
        );
    }
}
