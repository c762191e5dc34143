//! The colour theme: `system` (follow `prefers-color-scheme`), `light` or
//! `dark`. The choice is saved per user on the server and mirrored in a
//! `theme` cookie so the server renders `<html data-theme>` right away,
//! without a flash of the wrong colours.

pub use crate::vocab::Theme;

pub const COOKIE: &str = "theme";

/// The theme for this request (server) or page (browser).
pub fn current_theme() -> Theme {
    #[cfg(feature = "ssr")]
    {
        crate::client::page_cookie(COOKIE)
            .map(|t| Theme::lenient(&t))
            .unwrap_or_default()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        leptos::prelude::document()
            .document_element()
            .and_then(|e| e.get_attribute("data-theme"))
            .map(|t| Theme::lenient(&t))
            .unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        Theme::System
    }
}

/// Applies a theme to the page and remembers it in the cookie.
pub fn apply_theme(theme: Theme) {
    let theme = theme.as_str();
    #[cfg(feature = "hydrate")]
    {
        if let Some(root) = leptos::prelude::document().document_element() {
            let _ = root.set_attribute("data-theme", theme);
        }
        crate::client::set_page_cookie(COOKIE, theme, 31_536_000);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = theme;
}
