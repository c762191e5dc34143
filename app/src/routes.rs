//! Who may open which page. The router in `lib.rs` declares the pages; this
//! module says which of them need an account, and the server's page guard
//! (`server::middleware::require_session_for_pages`) asks it before any page
//! renders. A server test walks the router's route list and checks that every
//! page is classified here, so a new page cannot be forgotten.

/// The sign-in page.
pub const LOGIN: &str = "/login";

/// Who may open a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The pages of the signed-in shell (`AppShell`). With `ALLOW_GUESTS=true`
    /// a visitor without an account sees them too (a guest account is made
    /// on the first write, never by a page view); with `false` others are
    /// sent to the sign-in page.
    SignedIn,
    /// The sign-in page: a signed-in visitor is sent on to the app (a guest
    /// is not: signing in is how it keeps its chats).
    SignedOut,
    /// Public pages (a shared thread), assets and unknown paths.
    Anyone,
}

/// The shell's pages: an exact path, or a prefix ending in `/`.
const SHELL: &[&str] = &["/", "/t/", "/settings", "/settings/"];

pub fn access(path: &str) -> Access {
    if path == LOGIN {
        return Access::SignedOut;
    }
    let in_shell = SHELL.iter().any(|p| {
        if *p != "/" && p.ends_with('/') {
            path.starts_with(p)
        } else {
            path == *p
        }
    });
    if in_shell {
        Access::SignedIn
    } else {
        Access::Anyone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_public_pages() {
        for p in ["/", "/t/123", "/settings", "/settings/account"] {
            assert_eq!(access(p), Access::SignedIn, "{p}");
        }
        assert_eq!(access("/login"), Access::SignedOut);
        for p in [
            "/s/abc",
            "/pkg/mistralchat.js",
            "/favicon.svg",
            "/tx",
            "/settingsx",
        ] {
            assert_eq!(access(p), Access::Anyone, "{p}");
        }
    }
}
