//! The project's vocabulary: the values every layer shares — the server's
//! services, the JSON handlers, the server functions, the browser, the tests
//! and the benchmarks.
//!
//! - [`limits`]: every size limit and default, defined once.
//! - [`ids`]: typed ids (`UserId`, `ThreadId`, `MessageId`, `ShareId`), so a
//!   swapped `(user_id, message_id)` does not compile.
//! - [`kinds`]: the closed sets stored as strings (message status, role,
//!   sign-in provider, theme), with the exact strings of today's rows.
//! - [`input`]: checked input values (`ModelId`, `MessageText`,
//!   `ThreadName`, `ThreadContext`, …): built only by a constructor that
//!   applies the limits, so a service never sees an unchecked string.
//! - [`events`]: [`StreamEvent`], everything the generation hub emits.
//!
//! This module compiles into the WASM too: it holds no I/O and no server
//! types (the SeaORM conversions are behind the `ssr` feature).
/// What every string newtype of the vocabulary has: `as_str`,
/// `into_string`, `Display` and `AsRef<str>` (the inner field is `.0`).
macro_rules! string_newtype_basics {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

pub mod events;
pub mod ids;
pub mod input;
pub mod kinds;
pub mod limits;

pub use events::StreamEvent;
pub use ids::{FileId, MessageId, ShareId, ThreadId, UserId};
pub use input::{InputError, MessageText, ModelId, SearchText, ThreadContext, ThreadName};
pub use kinds::{MessageStatus, Provider, Role, Theme, Tool};
