//! The closed sets of values the database stores as strings. Each enum
//! serialises (JSON) and is stored (SQL, behind `ssr`) as exactly the string
//! today's rows hold, so no data migration is needed; an unknown string in a
//! row is a decoding error rather than a silent default.
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_kind {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $s:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        // Every stored string is its variant's name in lower case; said with
        // `rename_all` (not a per-variant rename) so the OpenAPI derive sees it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        #[cfg_attr(feature = "ssr", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum, utoipa::ToSchema))]
        #[cfg_attr(feature = "ssr", sea_orm(rs_type = "String", db_type = "Text"))]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[cfg_attr(feature = "ssr", sea_orm(string_value = $s))]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and serialised form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s,)+
                }
            }

            /// The value named `s` exactly (stored form), if any.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($s => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// "a, b or c": for error sentences.
            pub fn choices() -> String {
                let all: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                match all.split_last() {
                    Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                    _ => all.join(""),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or_else(|| format!("{}: use {}", $what, Self::choices()))
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

string_kind! {
    /// Where an answer is in its life. A user message is always `Done`.
    MessageStatus, "status" {
        /// Being written by a generation (in this process or another replica).
        Streaming = "streaming",
        Done = "done",
        /// Stopped by its owner; the partial answer is kept.
        Stopped = "stopped",
        /// Cut off by a deadline, a shutdown or a lost replica.
        Interrupted = "interrupted",
        /// The upstream refused or failed; `error` says why.
        Error = "error",
    }
}

impl MessageStatus {
    /// Whether no more text will arrive.
    pub fn is_final(self) -> bool {
        self != MessageStatus::Streaming
    }
    /// The sentence shown under an answer that did not end normally.
    pub fn notice(self) -> Option<&'static str> {
        match self {
            MessageStatus::Interrupted => Some("The answer was interrupted."),
            MessageStatus::Stopped => Some("Stopped."),
            _ => None,
        }
    }
}

string_kind! {
    /// Who wrote a message.
    Role, "role" {
        User = "user",
        Assistant = "assistant",
    }
}

string_kind! {
    /// How an account signs in.
    Provider, "provider" {
        Email = "email",
        Google = "google",
        /// A guest account (no credentials; see the guest-access issue).
        Guest = "guest",
    }
}

string_kind! {
    /// The colour theme: follow the system, or force light or dark.
    #[derive(Default)]
    Theme, "theme" {
        #[default]
        System = "system",
        Light = "light",
        Dark = "dark",
    }
}

impl Theme {
    /// A theme from a cookie or attribute: anything unknown follows the system.
    pub fn lenient(s: &str) -> Self {
        Self::parse(s).unwrap_or_default()
    }
}

/// A built-in tool an answer may use (Mistral's Conversations API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Tool {
    /// The model may search the web and cite what it found.
    WebSearch,
    /// The model may make images.
    ImageGeneration,
}

impl Tool {
    pub const ALL: &'static [Tool] = &[Tool::WebSearch, Tool::ImageGeneration];

    /// The name on the wire (ours and Mistral's `{"type": …}`).
    pub fn as_str(self) -> &'static str {
        match self {
            Tool::WebSearch => "web_search",
            Tool::ImageGeneration => "image_generation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.as_str() == s)
    }

    /// A list of tool names, checked: each known, none twice (a repeat is
    /// dropped), in a fixed order. The error is a sentence for `tools: …`.
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Vec<Tool>, String> {
        let mut out = vec![];
        for n in names {
            let t = Tool::parse(n.as_ref()).ok_or_else(|| {
                format!(
                    "unknown tool {:?} — use web_search or image_generation",
                    n.as_ref()
                )
            })?;
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out.sort();
        Ok(out)
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_lists_are_checked_and_deduplicated() {
        assert_eq!(
            Tool::parse_list(&["image_generation", "web_search", "image_generation"]),
            Ok(vec![Tool::WebSearch, Tool::ImageGeneration])
        );
        assert_eq!(Tool::parse_list::<&str>(&[]), Ok(vec![]));
        let err = Tool::parse_list(&["code_interpreter"]).unwrap_err();
        assert!(
            err.contains("code_interpreter") && err.contains("web_search"),
            "{err}"
        );
        for t in Tool::ALL {
            assert_eq!(serde_json::to_string(t).unwrap(), format!("\"{t}\""));
        }
    }

    #[test]
    fn strings_round_trip_through_json_and_parse() {
        for s in MessageStatus::ALL {
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<MessageStatus>(&json).unwrap(), *s);
            assert_eq!(MessageStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(Role::parse("assistant"), Some(Role::Assistant));
        assert_eq!(Role::parse("Assistant"), None);
        assert!(serde_json::from_str::<Theme>("\"blue\"").is_err());
    }

    #[test]
    fn each_string_is_the_variant_name_in_lower_case() {
        // The serde/OpenAPI form comes from `rename_all`, the stored form from
        // the literals: they must agree.
        for s in MessageStatus::ALL {
            assert_eq!(format!("{s:?}").to_lowercase(), s.as_str());
        }
        for r in Role::ALL {
            assert_eq!(format!("{r:?}").to_lowercase(), r.as_str());
        }
        for p in Provider::ALL {
            assert_eq!(format!("{p:?}").to_lowercase(), p.as_str());
        }
        for t in Theme::ALL {
            assert_eq!(format!("{t:?}").to_lowercase(), t.as_str());
        }
    }

    #[test]
    fn choices_read_as_a_sentence() {
        assert_eq!(Theme::choices(), "system, light or dark");
        assert_eq!(
            "blue".parse::<Theme>().unwrap_err(),
            "theme: use system, light or dark"
        );
        assert_eq!(Theme::lenient("blue"), Theme::System);
    }
}
