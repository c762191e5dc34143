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

/// Longest `?redirect=` target kept; anything longer goes home.
const MAX_REDIRECT_LEN: usize = 2048;

/// Keeps redirects on this site: the target, read the way a browser's URL
/// parser (WHATWG) reads it, must be a path on this origin; otherwise `/`.
///
/// The parser strips leading/trailing C0 controls and spaces, deletes every
/// ASCII tab and newline anywhere (so `/\t/evil.com` *is* `//evil.com`), and
/// treats `\` like `/` in http(s) URLs. So: strip like the parser, then accept
/// only `/` followed by something other than `/`, with no backslash, no
/// control character left, and no `.`/`..` segment (which could collapse the
/// path into `//host` for code that later reads the parsed path).
/// Percent-encoded bytes stay inert path data (`/%09/x` is a path).
pub fn safe_redirect(target: Option<String>) -> String {
    target
        .as_deref()
        .and_then(same_origin_path)
        .unwrap_or_else(|| "/".to_string())
}

fn same_origin_path(raw: &str) -> Option<String> {
    if raw.len() > MAX_REDIRECT_LEN {
        return None;
    }
    let is_c0_or_space = |c: char| c <= ' ';
    let cleaned: String = raw
        .trim_matches(is_c0_or_space)
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    // `//host` is scheme-relative: another origin.
    if !cleaned.starts_with('/') || cleaned.starts_with("//") {
        return None;
    }
    if cleaned.contains('\\') || cleaned.chars().any(|c| c.is_control()) {
        return None;
    }
    let path = cleaned.split(['?', '#']).next().unwrap_or_default();
    let dot_segment = path.split('/').any(|seg| {
        let seg = seg.to_ascii_lowercase().replace("%2e", ".");
        seg == "." || seg == ".."
    });
    if dot_segment {
        return None;
    }
    Some(cleaned)
}

/// What the network failing is called on screen.
pub const UNREACHABLE: &str = "Can't reach the server — check your connection";
/// The same for a message that was not sent (the composer keeps it).
pub const UNREACHABLE_SEND: &str = "Can't reach the server — your message is kept, retry";
/// Anything else that went wrong between the page and the server.
pub const GARBLED: &str = "The server's answer could not be read — please try again";

/// The sentence to show for a failed server function (see
/// [`ApiError`](crate::api::ApiError)): the server's own sentence, or a fixed
/// one for a network failure or an answer that is not ours. A "signed out"
/// failure also sends the browser to the login page, back here afterwards.
pub fn server_fn_message(e: &crate::api::ApiError) -> String {
    if e.is_signed_out() {
        go_to_login();
    }
    e.message.clone()
}

/// [`server_fn_message`] for a send: a network failure says the text is kept.
pub fn send_failure_message(e: &crate::api::ApiError) -> String {
    match e.kind {
        crate::api::ErrorKind::Network => UNREACHABLE_SEND.to_string(),
        _ => server_fn_message(e),
    }
}

/// `/login?redirect=<this page>` for a session that ended while the page was
/// open (browser only; during SSR the page guard already redirected).
pub fn go_to_login() {
    #[cfg(feature = "hydrate")]
    {
        let location = window().location();
        let here = format!(
            "{}{}",
            location.pathname().unwrap_or_default(),
            location.search().unwrap_or_default()
        );
        hard_navigate(&login_url(&here));
    }
}

/// The login page that returns to `here` afterwards.
pub fn login_url(here: &str) -> String {
    format!(
        "/login?redirect={}",
        url_component(&safe_redirect(Some(here.to_string())))
    )
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
    fn library_error_texts_never_reach_the_screen() {
        use crate::api::{ApiError, ErrorKind};
        use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
        let ours = ApiError::new(ErrorKind::BadInput, "Add your Mistral API key");
        assert_eq!(server_fn_message(&ours), "Add your Mistral API key");
        assert_eq!(send_failure_message(&ours), "Add your Mistral API key");
        let offline = ApiError::from_server_fn_error(ServerFnErrorErr::Request(
            "error reaching server to call server function: TypeError: Failed to fetch".into(),
        ));
        assert_eq!(offline.kind, ErrorKind::Network);
        assert_eq!(server_fn_message(&offline), UNREACHABLE);
        assert_eq!(send_failure_message(&offline), UNREACHABLE_SEND);
        // A proxy's error page instead of our JSON.
        let garbled = ApiError::de(leptos::server_fn::Bytes::from_static(
            b"<html>502 Bad Gateway</html>",
        ));
        assert!(!server_fn_message(&garbled).contains("html"));
    }

    #[test]
    fn the_login_page_returns_to_where_the_session_ended() {
        assert_eq!(
            login_url("/t/abc?x=1"),
            "/login?redirect=%2Ft%2Fabc%3Fx%3D1"
        );
        assert_eq!(login_url("//evil.com"), "/login?redirect=%2F");
    }

    #[test]
    fn redirects_stay_on_site() {
        assert_eq!(safe_redirect(Some("/t/123?x=1".into())), "/t/123?x=1");
        assert_eq!(safe_redirect(Some("/".into())), "/");
        assert_eq!(safe_redirect(Some("/settings#a".into())), "/settings#a");
        assert_eq!(safe_redirect(None), "/");
        // Percent-encoded bytes are path data, not syntax.
        assert_eq!(safe_redirect(Some("/%09/evil.com".into())), "/%09/evil.com");
        assert_eq!(
            safe_redirect(Some("/%2F%2Fevil.com".into())),
            "/%2F%2Fevil.com"
        );
        // What the URL parser strips, we strip; the result must still be a path.
        assert_eq!(safe_redirect(Some(" /x".into())), "/x");
        assert_eq!(safe_redirect(Some("/t/1\n".into())), "/t/1");
        assert_eq!(safe_redirect(Some("\u{0}/x".into())), "/x");
        for evil in [
            "//evil.com",
            "/\t/evil.com",
            "/\n/evil.com",
            "/\r\n/evil.com",
            "\t//evil.com",
            " //evil.com",
            "\\/evil.com",
            "/\\evil.com",
            "\\\\evil.com",
            "/x\\y",
            "https://evil.com",
            "https:evil.com",
            "javascript:alert(1)",
            "evil.com",
            "",
            "/x\u{0}//evil.com",
            "/..//evil.com",
            "/a/../..//evil.com",
            "/%2e%2E//evil.com",
            "/./x",
        ] {
            assert_eq!(safe_redirect(Some(evil.into())), "/", "{evil:?}");
        }
        assert_eq!(safe_redirect(Some(format!("/{}", "a".repeat(3000)))), "/");
    }
}
