//! Typed ids. Every id is a string (a UUID for rows this server creates), but
//! a user id, a thread id, a message id and a share id are different types,
//! so a service called with its arguments swapped does not compile.
//!
//! An id from a request is *not* checked for existence here (that is the
//! service's job, scoped by the caller), only put in the form rows are
//! looked up by: a UUID in canonical form (lower-case, hyphenated, on the
//! server), anything else trimmed. An id that cannot exist (empty, longer
//! than [`MAX_ID_LEN`]) is kept as it is and matches no row: ids cannot be
//! probed by their shape.
use super::limits::MAX_ID_LEN;
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// An id as a client or a row gives it (see the module docs).
            pub fn new(raw: impl AsRef<str>) -> Self {
                Self(canonical(raw.as_ref()))
            }

            /// A fresh random id (UUID v4).
            #[cfg(feature = "ssr")]
            pub fn generate() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            /// Whether a row could have this id (not empty, not too long).
            pub fn is_plausible(&self) -> bool {
                !self.0.is_empty() && self.0.len() <= MAX_ID_LEN
            }
        }

        string_newtype_basics!($name);

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        #[cfg(feature = "ssr")]
        impl From<&$name> for sea_orm::Value {
            fn from(id: &$name) -> Self {
                id.0.clone().into()
            }
        }

        #[cfg(feature = "ssr")]
        impl From<$name> for sea_orm::Value {
            fn from(id: $name) -> Self {
                id.0.into()
            }
        }
    };
}

id_type! {
    /// An account.
    UserId
}
id_type! {
    /// A conversation.
    ThreadId
}
id_type! {
    /// A message (a question or an answer; an answer's id is also its
    /// generation's id).
    MessageId
}
id_type! {
    /// A share link's row (not its code: the code is a secret, the id is not).
    ShareId
}
id_type! {
    /// A stored file of a message (an `attachments` row).
    FileId
}

/// The lookup form of an id (see the module docs).
fn canonical(raw: &str) -> String {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_ID_LEN {
        return raw.chars().take(MAX_ID_LEN + 1).collect();
    }
    #[cfg(feature = "ssr")]
    if let Ok(u) = uuid::Uuid::parse_str(raw) {
        return u.to_string();
    }
    raw.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_trimmed_and_too_long_ones_match_nothing() {
        assert_eq!(ThreadId::new("  abc ").as_str(), "abc");
        assert!(ThreadId::new("abc").is_plausible());
        assert!(!ThreadId::new("").is_plausible());
        let long = ThreadId::new("x".repeat(5000));
        assert!(!long.is_plausible());
        assert_eq!(long.as_str().len(), MAX_ID_LEN + 1);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn uuids_take_their_canonical_form() {
        assert_eq!(
            MessageId::new("6F9619FF-8B86-D011-B42D-00C04FC964FF").as_str(),
            "6f9619ff-8b86-d011-b42d-00c04fc964ff"
        );
        assert_eq!(
            UserId::new("6f9619ff8b86d011b42d00c04fc964ff").as_str(),
            "6f9619ff-8b86-d011-b42d-00c04fc964ff"
        );
    }

    #[test]
    fn ids_serialise_as_plain_strings() {
        let id = ShareId::new("s-1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"s-1\"");
        assert_eq!(serde_json::from_str::<ShareId>("\"s-1\"").unwrap(), id);
    }
}
