//! Browser security headers on every response: the Content-Security-Policy
//! (with a fresh nonce per HTML page), `X-Content-Type-Options`,
//! `Referrer-Policy`, `Permissions-Policy`, `X-Frame-Options` and, behind
//! https, `Strict-Transport-Security`.
//!
//! The policy is the second line of defence behind the markdown renderer's
//! escaping: if hostile markup ever reaches the DOM (through `inner_html` on a
//! message body or the public share page), the browser still refuses to run
//! inline script or event-handler attributes, load plugins, rewrite `<base>`
//! or post forms elsewhere.
//!
//! The nonce is minted here, before routing, and handed to the Leptos render
//! as a request extension (`app::shell` provides it to the renderer), so the
//! hydration script, the serialized-resource scripts and the header always
//! carry the same value. This module owns the policy text; it must not decide
//! anything about sessions or routing.
use app::server::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use leptos::nonce::Nonce;

/// Where Google Identity Services loads its script, its button iframe, its
/// stylesheet and its credential calls from (as Google documents for sites
/// with a CSP). Only allowed when `GOOGLE_CLIENT_ID` is configured.
const GOOGLE_SCRIPT: &str = "https://accounts.google.com/gsi/client";
const GOOGLE_STYLE: &str = "https://accounts.google.com/gsi/style";
const GOOGLE_GSI: &str = "https://accounts.google.com/gsi/";

/// Non-HTML responses (JSON, event streams, static files) never run script:
/// should one be opened as a document, it may load nothing and not be framed.
pub const NON_HTML_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Stored files (`api::file_routes`): [`NON_HTML_POLICY`] plus `sandbox`, so
/// a file opened as a document runs in an opaque origin even if a browser
/// ignored its type. The only policy a handler may set itself: it is
/// strictly stronger than the default.
pub const FILE_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

/// Powerful features this app does not use are switched off for the page
/// and every frame; the microphone (dictation, calls) and the camera (video
/// calls) stay available to this origin only, never to a frame.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(self), display-capture=(), \
     geolocation=(), gyroscope=(), magnetometer=(), microphone=(self), midi=(), payment=(), \
     usb=()";

/// One year, subdomains included: sent only when `PUBLIC_URL` is https, as a
/// plain-http deployment would otherwise lock its users out.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// The policy for an HTML page rendered with `nonce`.
///
/// - `script-src`: this origin's files plus the one nonced inline module
///   script that starts hydration (and the nonced data scripts Leptos streams
///   for resolved resources). No `'unsafe-inline'`, no `'unsafe-eval'`;
///   `'wasm-unsafe-eval'` only lets the page compile its WebAssembly.
/// - `style-src 'self'`: stylesheets from this origin only, no `<style>`.
/// - `style-src-attr 'unsafe-inline'`: the TeX typesetter writes presentation
///   styles as MathML attributes (`\color`, negative spaces like `\!`, row
///   spacing in `\\[2pt]`, `\boxed` borders), and those arrive in message
///   HTML. Style *attributes* cannot run script or load anything: the
///   renderer's MathML allowlist already refuses `url(` in them and
///   `img-src`/`font-src` would block a load anyway.
/// - `img-src data: blob:` / `media-src blob:`: pasted images and recorded
///   audio are previewed from blobs, inline images may come as data URLs.
pub fn page_policy(nonce: &str, google_sign_in: bool) -> String {
    let (g_script, g_style, g_frame, g_connect) = if google_sign_in {
        (
            format!(" {GOOGLE_SCRIPT}"),
            format!(" {GOOGLE_STYLE}"),
            format!(" {GOOGLE_GSI}"),
            format!(" {GOOGLE_GSI}"),
        )
    } else {
        Default::default()
    };
    format!(
        "default-src 'self'; \
         script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'{g_script}; \
         style-src 'self'{g_style}; \
         style-src-attr 'unsafe-inline'; \
         img-src 'self' data: blob:; \
         font-src 'self'; \
         connect-src 'self'{g_connect}; \
         frame-src 'self'{g_frame}; \
         media-src 'self' blob:; \
         object-src 'none'; \
         base-uri 'none'; \
         frame-ancestors 'none'; \
         form-action 'self'"
    )
}

/// Whether a response is a document the browser will render as HTML.
fn is_html(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/html")
        })
}

/// Mints the page nonce, runs the request, then stamps the headers. Headers a
/// handler set itself are replaced (but for [`FILE_POLICY`], which only adds
/// to the default): no route may weaken the policy.
pub async fn add_security_headers(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let nonce = Nonce::new();
    req.extensions_mut().insert(nonce.clone());
    let mut resp = next.run(req).await;

    let google_sign_in = state
        .config
        .google_client_id
        .as_deref()
        .is_some_and(|id| !id.trim().is_empty());
    let file_policy = resp
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .is_some_and(|p| p == FILE_POLICY);
    let policy = if file_policy {
        HeaderValue::from_static(FILE_POLICY)
    } else if is_html(&resp) {
        HeaderValue::from_str(&page_policy(&nonce, google_sign_in))
            // The nonce is base64url, always a valid header value; should
            // that ever change, the strict policy still protects the page
            // (it just won't hydrate), which is the safe failure.
            .unwrap_or(HeaderValue::from_static(NON_HTML_POLICY))
    } else {
        HeaderValue::from_static(NON_HTML_POLICY)
    };
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    headers.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if state.config.secure_cookies() {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directive<'a>(policy: &'a str, name: &str) -> Option<&'a str> {
        policy
            .split(';')
            .map(str::trim)
            .find(|d| d.split_whitespace().next() == Some(name))
    }

    #[test]
    fn page_policy_allows_only_this_origin_and_the_nonce_for_scripts() {
        let p = page_policy("abc123_-", false);
        let script = directive(&p, "script-src").unwrap();
        assert_eq!(
            script,
            "script-src 'self' 'nonce-abc123_-' 'wasm-unsafe-eval'"
        );
        for d in p.split(';').map(str::trim) {
            assert!(!d.contains("'unsafe-eval'"), "{d}");
            if d.contains("'unsafe-inline'") {
                assert!(
                    d.starts_with("style-src-attr "),
                    "only style attributes: {d}"
                );
            }
        }
        assert!(!script.contains("unsafe-inline"), "{p}");
        assert!(!p.contains("accounts.google.com"), "{p}");
        for d in [
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "img-src 'self' data: blob:",
            "connect-src 'self'",
            "style-src 'self'",
        ] {
            assert!(p.split("; ").any(|x| x == d), "{d} missing from {p}");
        }
    }

    #[test]
    fn google_hosts_only_with_google_sign_in() {
        let p = page_policy("n", true);
        assert!(directive(&p, "script-src")
            .unwrap()
            .ends_with(" https://accounts.google.com/gsi/client"));
        assert!(directive(&p, "frame-src")
            .unwrap()
            .contains("https://accounts.google.com/gsi/"));
        assert!(directive(&p, "connect-src")
            .unwrap()
            .contains("https://accounts.google.com/gsi/"));
        assert!(directive(&p, "style-src")
            .unwrap()
            .contains("https://accounts.google.com/gsi/style"));
    }
}
