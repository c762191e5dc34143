//! Browser-side helpers for calling the JSON API (`/api/*`) with the session
//! cookie. On the server these are never called (event handlers do not run
//! during SSR); they compile to an error there so shared components build.
use serde::Serialize;

/// POSTs JSON and returns the parsed body, or the API's `{"error"}` sentence.
pub async fn post_json<B: Serialize>(url: &str, body: &B) -> Result<serde_json::Value, String> {
    #[cfg(feature = "hydrate")]
    {
        let req = gloo_net::http::Request::post(url)
            .json(body)
            .map_err(|e| e.to_string())?;
        let resp = req.send().await.map_err(|_| {
            "The server could not be reached — check your connection and try again".to_string()
        })?;
        let ok = resp.ok();
        let status = resp.status();
        let value: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
        if ok {
            Ok(value)
        } else {
            Err(value
                .get("error")
                .and_then(|e| e.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| format!("The server answered {status} — please try again")))
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (url, serde_json::to_value(body));
        Err("only available in the browser".into())
    }
}

/// Full navigation (so the server renders the next page with the new cookie).
pub fn hard_navigate(to: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().assign(to);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = to;
}

#[cfg(feature = "hydrate")]
use leptos::prelude::window;

/// Keeps redirects on this site: only absolute paths, never `//host`.
pub fn safe_redirect(target: Option<String>) -> String {
    match target {
        Some(t) if t.starts_with('/') && !t.starts_with("//") && !t.starts_with("/\\") => t,
        _ => "/".to_string(),
    }
}

/// Splits a server function error of the form `"STATUS|message"`.
pub fn server_fn_message(e: &leptos::prelude::ServerFnError) -> String {
    let raw = match e {
        leptos::prelude::ServerFnError::ServerError(m) => m.clone(),
        other => other.to_string(),
    };
    match raw.split_once('|') {
        Some((code, msg)) if code.chars().all(|c| c.is_ascii_digit()) => msg.to_string(),
        _ => raw,
    }
}

/// Percent-encodes `s` for use as one query value or path segment.
pub fn url_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Copies text to the clipboard (browser only).
pub fn copy_text(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        let clipboard = window().navigator().clipboard();
        let _ = clipboard.write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_site() {
        assert_eq!(safe_redirect(Some("/t/123?x=1".into())), "/t/123?x=1");
        assert_eq!(safe_redirect(Some("//evil.com".into())), "/");
        assert_eq!(safe_redirect(Some("https://evil.com".into())), "/");
        assert_eq!(safe_redirect(Some("/\\evil.com".into())), "/");
        assert_eq!(safe_redirect(None), "/");
    }
}
