//! Serializable values shared by the server and the browser.
//!
//! These are the shapes of the JSON API and of server-function results. They
//! must never contain secrets (no password hashes, no raw API keys).
use serde::{Deserialize, Serialize};

/// The signed-in user as `GET /api/user` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDto {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub picture: Option<String>,
    /// `google` or `email` (`anonymous` later).
    pub provider: String,
}

impl UserDto {
    /// Up to two initials for the avatar placeholder.
    pub fn initials(&self) -> String {
        let source = if self.name.trim().is_empty() {
            self.email.clone().unwrap_or_default()
        } else {
            self.name.clone()
        };
        let mut out: String = source
            .split(|c: char| c.is_whitespace() || c == '.' || c == '@')
            .filter_map(|w| w.chars().next())
            .take(2)
            .collect::<String>()
            .to_uppercase();
        if out.is_empty() {
            out.push('?');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_from_name_or_email() {
        let mut u = UserDto {
            id: "1".into(),
            name: "ada lovelace".into(),
            email: Some("ada@example.com".into()),
            picture: None,
            provider: "email".into(),
        };
        assert_eq!(u.initials(), "AL");
        u.name = String::new();
        assert_eq!(u.initials(), "AE");
    }
}
