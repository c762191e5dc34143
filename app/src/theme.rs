//! The colour theme: `system` (follow `prefers-color-scheme`), `light` or
//! `dark`. The choice is saved per user on the server and mirrored in a
//! `theme` cookie so the server renders `<html data-theme>` right away,
//! without a flash of the wrong colours.

pub const COOKIE: &str = "theme";

pub fn normalise(t: &str) -> &'static str {
    match t {
        "light" => "light",
        "dark" => "dark",
        _ => "system",
    }
}

/// The theme for this request (server) or page (browser).
pub fn current_theme() -> String {
    #[cfg(feature = "ssr")]
    {
        use leptos::prelude::use_context;
        let theme = use_context::<axum::http::request::Parts>()
            .and_then(|p| crate::server::services::auth::cookie_value(&p.headers, COOKIE));
        normalise(theme.as_deref().unwrap_or("system")).to_string()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        leptos::prelude::document()
            .document_element()
            .and_then(|e| e.get_attribute("data-theme"))
            .map(|t| normalise(&t).to_string())
            .unwrap_or_else(|| "system".into())
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        "system".into()
    }
}

/// Applies a theme to the page and remembers it in the cookie.
pub fn apply_theme(theme: &str) {
    let theme = normalise(theme);
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let doc = leptos::prelude::document();
        if let Some(root) = doc.document_element() {
            let _ = root.set_attribute("data-theme", theme);
        }
        if let Ok(html_doc) = doc.dyn_into::<web_sys::HtmlDocument>() {
            let _ = html_doc.set_cookie(&format!(
                "{COOKIE}={theme}; Path=/; Max-Age=31536000; SameSite=Lax"
            ));
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = theme;
}
