//! Cross-cutting request handling: logging, CSRF defence, page guards, panics.
use app::server::services::auth;
use app::server::{AppError, AppState};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::time::Instant;
use tracing::Instrument;

/// The path as it may appear in logs: a share link (`/s/CODE`) is a
/// password for its thread, so it is written as `/s/:code` (and a shared
/// file's `/api/shared/CODE/…` as `/api/shared/:code/…`). (Share codes
/// otherwise travel only in query strings and bodies, which are never logged.)
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    if path.starts_with("/s/") {
        std::borrow::Cow::Borrowed("/s/:code")
    } else if let Some(rest) = path.strip_prefix("/api/shared/") {
        // A shared thread's file: `/api/shared/CODE/files/ID`.
        let tail = rest.split_once('/').map_or("", |(_, tail)| tail);
        std::borrow::Cow::Owned(format!("/api/shared/:code/{tail}"))
    } else {
        std::borrow::Cow::Borrowed(path)
    }
}

/// One log line per request: id, method, path (never the query string, which
/// may carry share codes; share links redacted by [`loggable_path`]), status
/// and latency. Headers are never logged, so tokens and keys cannot leak
/// through here.
///
/// Everything the request causes runs inside a `request` span holding its
/// id, so every log line it leads to carries the id: the handler's, the
/// services' (an internal error logged by `AppError`), and work spawned for
/// it (the generation task of a send is spawned `in_current_span`).
pub async fn log_requests(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = loggable_path(req.uri().path()).into_owned();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    // At ERROR level so no log filter can disable it: a span filtered out
    // would leave the lines inside it (an internal error) without the id.
    let span = tracing::error_span!("request", request_id = %id);
    let resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status().as_u16();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if path.starts_with("/pkg/") {
            tracing::debug!(%method, %path, status, latency_ms = ms, "request");
        } else {
            tracing::info!(%method, %path, status, latency_ms = format!("{ms:.1}"), "request");
        }
    });
    resp
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a state-changing request comes from a page of another site.
///
/// Requests carrying a non-empty `Bearer` token are not ambient-credential
/// requests (a foreign page cannot add that header without a CORS preflight
/// we never grant) and are authenticated by that token alone, so they are
/// exempt. Every other request is checked, whatever other `Authorization`
/// header it has: `Sec-Fetch-Site` when the browser sends it, else `Origin`
/// against `PUBLIC_URL` or the request's own host.
pub fn is_cross_site(headers: &HeaderMap, public_url: &str) -> bool {
    if matches!(
        auth::authorization_header(headers),
        auth::AuthorizationHeader::Bearer(_)
    ) {
        return false;
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let origin = origin.trim_end_matches('/');
        if origin.eq_ignore_ascii_case(public_url) {
            return false;
        }
        if let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) {
            let same = origin
                .split_once("://")
                .is_some_and(|(_, h)| h.eq_ignore_ascii_case(host));
            return !same;
        }
        return true;
    }
    false
}

/// CSRF defence for the JSON API, the server functions (which default to
/// form-encoded POSTs that browsers send cross-site without a preflight) and
/// the login page's form routes (`/auth/*`: a cross-site post there would
/// sign the visitor into the attacker's account — login CSRF).
pub async fn refuse_cross_site_writes(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let guarded =
        path.starts_with("/api/") || path.starts_with("/rpc/") || path.starts_with("/auth/");
    if guarded && is_write(req.method()) && is_cross_site(req.headers(), &state.config.public_url) {
        tracing::warn!(path, "refused a cross-site write");
        return AppError::Forbidden(
            "Cross-site request refused — use MistralChat from its own address".into(),
        )
        .into_response();
    }
    next.run(req).await
}

/// Sends visitors without a valid session to `/login?redirect=…` before any
/// private page renders when `ALLOW_GUESTS=false` (with guests allowed, a
/// visitor sees the chat), and signed-in users (not guests) away from
/// `/login`.
pub async fn require_session_for_pages(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    if req.method() != Method::GET {
        return next.run(req).await;
    }
    let access = app::routes::access(&path);
    let needs = access == app::routes::Access::SignedIn;
    let is_login = access == app::routes::Access::SignedOut;
    if !needs && !is_login {
        return next.run(req).await;
    }
    // A guest counts as signed out here: the chat pages are open to it
    // (as to any visitor when guests are allowed), and the sign-in page
    // stays one click away.
    let session = match auth::token_from_headers(req.headers()) {
        Some(t) => auth::authenticate(&state, &t).await.ok(),
        None => None,
    };
    let is_guest = session.as_ref().is_some_and(|me| me.is_guest());
    let signed_in = session.is_some() && !is_guest;
    // Visitors without an account see the chat when guests are allowed (a
    // guest account is created on their first write, never by a page view).
    if needs && !signed_in && !is_guest && !state.config.allow_guests {
        let target = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let location = format!("/login?redirect={}", urlencode(&target));
        return Redirect::to(&location).into_response();
    }
    if is_login && signed_in {
        let target = req.uri().query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "redirect")
                .map(|(_, v)| urldecode(v))
        });
        return Redirect::to(&app::client::safe_redirect(target)).into_response();
    }
    next.run(req).await
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub fn urldecode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A panic inside a handler becomes a 500 for that request only.
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let detail = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    tracing::error!(panic = %detail, "handler panicked");
    let body =
        serde_json::json!({"error": "Something went wrong on the server — please try again"});
    Response::builder()
        .status(StatusCode::INTERNAL_SERVER_ERROR)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        m
    }

    #[test]
    fn cross_site_detection() {
        let p = "http://127.0.0.1:3000";
        assert!(!is_cross_site(&h(&[]), p));
        assert!(!is_cross_site(&h(&[("sec-fetch-site", "same-origin")]), p));
        assert!(is_cross_site(&h(&[("sec-fetch-site", "cross-site")]), p));
        assert!(is_cross_site(&h(&[("sec-fetch-site", "same-site")]), p));
        assert!(!is_cross_site(
            &h(&[("origin", "http://127.0.0.1:3000")]),
            p
        ));
        assert!(is_cross_site(&h(&[("origin", "https://evil.example")]), p));
        assert!(!is_cross_site(
            &h(&[
                ("origin", "http://localhost:3000"),
                ("host", "localhost:3000")
            ]),
            p
        ));
        assert!(!is_cross_site(
            &h(&[
                ("origin", "https://evil.example"),
                ("authorization", "Bearer x")
            ]),
            p
        ));
        // Only a usable Bearer token earns the exemption.
        for value in ["Basic x", "Bearer ", "Bearer", "Token x"] {
            assert!(
                is_cross_site(
                    &h(&[("origin", "https://evil.example"), ("authorization", value)]),
                    p
                ),
                "{value:?}"
            );
            assert!(is_cross_site(
                &h(&[("sec-fetch-site", "cross-site"), ("authorization", value)]),
                p
            ));
        }
    }

    #[test]
    fn share_codes_never_reach_the_log() {
        assert_eq!(loggable_path("/s/AbC123xyz"), "/s/:code");
        assert_eq!(loggable_path("/s/AbC123xyz/more"), "/s/:code");
        assert_eq!(loggable_path("/t/123"), "/t/123");
        assert_eq!(loggable_path("/api/thread"), "/api/thread");
        assert_eq!(
            loggable_path("/api/shared/AbC123xyz/files/f-1"),
            "/api/shared/:code/files/f-1"
        );
        assert_eq!(loggable_path("/api/shared/AbC123xyz"), "/api/shared/:code/");
        assert_eq!(loggable_path("/settings"), "/settings");
    }

    #[test]
    fn login_redirects_after_decoding_stay_on_site() {
        for (query, expected) in [
            ("%2Ft%2F1", "/t/1"),
            ("%2F%09%2Fevil.com", "/"),
            ("%2F%0A%2Fevil.com", "/"),
            ("%5C%2Fevil.com", "/"),
            ("%2F%2Fevil.com", "/"),
            ("https%3Aevil.com", "/"),
        ] {
            assert_eq!(
                app::client::safe_redirect(Some(urldecode(query))),
                expected,
                "{query}"
            );
        }
    }

    #[test]
    fn url_coding_round_trips() {
        let s = "/t/abc?x=1&y=a b";
        assert_eq!(urldecode(&urlencode(s)), s);
        assert_eq!(urldecode("%2Ft%2F1"), "/t/1");
        assert_eq!(urldecode("100%"), "100%");
    }

    #[test]
    fn every_page_of_the_router_is_classified() {
        use app::routes::{access, Access};
        let routes = leptos_axum::generate_route_list(app::App);
        assert!(routes.len() >= 6, "the router's pages: {routes:?}");
        for route in routes {
            // A concrete path for the pattern (`/t/{id}` -> `/t/x`).
            let path: String = route
                .path()
                .split('/')
                .map(|seg| {
                    if seg.starts_with([':', '*', '{']) {
                        "x"
                    } else {
                        seg
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let path = if path.is_empty() {
                "/".to_string()
            } else {
                path
            };
            let expected = match path.as_str() {
                "/login" => Access::SignedOut,
                p if p.starts_with("/s/") => Access::Anyone,
                _ => Access::SignedIn,
            };
            assert_eq!(access(&path), expected, "{path} (from {})", route.path());
        }
    }
}
