//! Static files of the built site, served from a site directory this test
//! writes itself: a fake hashed bundle with brotli and gzip siblings, a
//! hashed file without them, an unhashed public file, and a secret just
//! outside the site root. Checks the encoding chosen for each
//! `Accept-Encoding`, the caching headers (immutable only on hashed names),
//! `Vary`, HEAD, path traversal, and that the security headers still apply.
use crate::support::*;
use reqwest::header::HeaderMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HASH: &str = "AbCdEfGhIjKlMnOpQrSt-_";
const WASM_RAW: &[u8] = b"\0asm\x01\0\0\0 the raw module, long enough to be worth compressing";
/// Markers, not real compressed data: the server never decodes them, so the
/// body tells which file was sent.
const WASM_BR: &[u8] = b"brotli variant";
const WASM_GZ: &[u8] = b"gzip variant, a little longer";
const CSS: &[u8] = b"body { color: black }";
const FAVICON: &[u8] = b"<svg xmlns='http://www.w3.org/2000/svg'/>";
const SECRET: &str = "top-secret-outside-the-site-root";

struct Site {
    app: TestApp,
    _dir: TempDir,
}

fn wasm_path() -> String {
    format!("/pkg/mistralchat.{HASH}.wasm")
}

async fn site() -> Site {
    let dir = temp_dir();
    let root = dir.0.join("site");
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let wasm = pkg.join(format!("mistralchat.{HASH}.wasm"));
    std::fs::write(&wasm, WASM_RAW).unwrap();
    std::fs::write(pkg.join(format!("mistralchat.{HASH}.wasm.br")), WASM_BR).unwrap();
    std::fs::write(pkg.join(format!("mistralchat.{HASH}.wasm.gz")), WASM_GZ).unwrap();
    // Built without scripts/compress-site.sh: no siblings.
    std::fs::write(pkg.join(format!("mistralchat.{HASH}.css")), CSS).unwrap();
    std::fs::write(root.join("favicon.svg"), FAVICON).unwrap();
    std::fs::write(root.join("favicon.svg.br"), b"br svg").unwrap();
    std::fs::write(root.join("favicon.svg.gz"), b"gz svg").unwrap();
    std::fs::write(dir.0.join("secret.txt"), SECRET).unwrap();
    let app = TestApp::spawn_with_site(Backend::Sqlite, &root)
        .await
        .expect("SQLite always runs");
    Site { app, _dir: dir }
}

async fn get(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    accept: Option<&str>,
) -> (u16, HeaderMap, Vec<u8>) {
    let mut req = app.http.request(method, app.url(path));
    if let Some(a) = accept {
        req = req.header("accept-encoding", a);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("body").to_vec();
    (status, headers, body)
}

fn h<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn assert_security_headers(headers: &HeaderMap) {
    assert_eq!(h(headers, "x-content-type-options"), Some("nosniff"));
    assert_eq!(h(headers, "x-frame-options"), Some("DENY"));
    assert_eq!(
        h(headers, "content-security-policy"),
        Some(server::security_headers::NON_HTML_POLICY)
    );
}

#[tokio::test]
async fn brotli_is_sent_when_accepted_and_the_hashed_file_is_immutable() {
    let s = site().await;
    for accept in [
        "gzip, deflate, br",
        "br",
        "br, gzip",
        "gzip;q=0.5, br;q=0.9",
    ] {
        let (status, headers, body) =
            get(&s.app, reqwest::Method::GET, &wasm_path(), Some(accept)).await;
        assert_eq!(status, 200, "{accept}");
        assert_eq!(body, WASM_BR, "{accept}");
        assert_eq!(h(&headers, "content-encoding"), Some("br"), "{accept}");
        // The original type, so that the browser can compile while streaming.
        assert_eq!(h(&headers, "content-type"), Some("application/wasm"));
        assert_eq!(
            h(&headers, "content-length"),
            Some(WASM_BR.len().to_string().as_str())
        );
        assert_eq!(
            h(&headers, "cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(h(&headers, "vary"), Some("accept-encoding"));
        assert_security_headers(&headers);
    }
}

#[tokio::test]
async fn gzip_when_brotli_is_not_accepted_and_identity_otherwise() {
    let s = site().await;
    for accept in ["gzip", "gzip, deflate", "br;q=0, gzip"] {
        let (status, headers, body) =
            get(&s.app, reqwest::Method::GET, &wasm_path(), Some(accept)).await;
        assert_eq!(status, 200, "{accept}");
        assert_eq!(body, WASM_GZ, "{accept}");
        assert_eq!(h(&headers, "content-encoding"), Some("gzip"), "{accept}");
        assert_eq!(h(&headers, "content-type"), Some("application/wasm"));
        assert_eq!(h(&headers, "vary"), Some("accept-encoding"));
    }
    for accept in [
        None,
        Some("identity"),
        Some("deflate"),
        Some("br;q=0, gzip;q=0"),
    ] {
        let (status, headers, body) = get(&s.app, reqwest::Method::GET, &wasm_path(), accept).await;
        assert_eq!(status, 200, "{accept:?}");
        assert_eq!(body, WASM_RAW, "{accept:?}");
        assert_eq!(h(&headers, "content-encoding"), None, "{accept:?}");
        assert_eq!(h(&headers, "content-type"), Some("application/wasm"));
        assert_eq!(h(&headers, "vary"), Some("accept-encoding"));
        assert_eq!(
            h(&headers, "cache-control"),
            Some("public, max-age=31536000, immutable")
        );
    }
}

#[tokio::test]
async fn a_file_without_precompressed_versions_is_served_as_it_is() {
    let s = site().await;
    let path = format!("/pkg/mistralchat.{HASH}.css");
    let (status, headers, body) = get(&s.app, reqwest::Method::GET, &path, Some("br, gzip")).await;
    assert_eq!(status, 200);
    assert_eq!(body, CSS);
    assert_eq!(h(&headers, "content-encoding"), None);
    assert!(h(&headers, "content-type").is_some_and(|t| t.starts_with("text/css")));
    assert_eq!(
        h(&headers, "cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_security_headers(&headers);
}

#[tokio::test]
async fn unhashed_files_and_pages_are_not_cached_for_long() {
    let s = site().await;
    let (status, headers, body) =
        get(&s.app, reqwest::Method::GET, "/favicon.svg", Some("br")).await;
    assert_eq!(status, 200);
    assert_eq!(body, b"br svg");
    assert_eq!(h(&headers, "content-type"), Some("image/svg+xml"));
    assert_eq!(h(&headers, "cache-control"), Some("public, max-age=3600"));
    assert_eq!(h(&headers, "vary"), Some("accept-encoding"));
    assert_security_headers(&headers);

    // Pages are rendered per request and are not cached as files are.
    for page in ["/login", "/no/such/page"] {
        let (status, headers, body) = get(&s.app, reqwest::Method::GET, page, None).await;
        assert_eq!(status, if page == "/login" { 200 } else { 404 }, "{page}");
        assert!(String::from_utf8_lossy(&body).contains("<html"), "{page}");
        let cache = h(&headers, "cache-control").unwrap_or_default();
        assert!(
            !cache.contains("immutable") && !cache.contains("max-age"),
            "{page}: {cache}"
        );
        // (Compressed when accepted: see the next test.)
        assert_eq!(h(&headers, "content-encoding"), None, "{page}");
    }
    // A hashed-looking name that is not a file is the 404 page, not cached.
    let (status, headers, _) = get(
        &s.app,
        reqwest::Method::GET,
        &format!("/pkg/gone.{HASH}.js"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert!(h(&headers, "cache-control").is_none_or(|c| !c.contains("immutable")));
    // A directory is not a file.
    for dir in ["/pkg", "/pkg/"] {
        let (status, _, _) = get(&s.app, reqwest::Method::GET, dir, None).await;
        assert_eq!(status, 404, "{dir}");
    }
}

#[tokio::test]
async fn head_answers_with_the_headers_of_the_chosen_file_and_no_body() {
    let s = site().await;
    let (status, headers, body) = get(
        &s.app,
        reqwest::Method::HEAD,
        &wasm_path(),
        Some("br, gzip"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(h(&headers, "content-encoding"), Some("br"));
    assert_eq!(
        h(&headers, "content-length"),
        Some(WASM_BR.len().to_string().as_str())
    );
    assert_eq!(h(&headers, "content-type"), Some("application/wasm"));
    assert_eq!(
        h(&headers, "cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let (status, headers, body) = get(&s.app, reqwest::Method::HEAD, &wasm_path(), None).await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(
        h(&headers, "content-length"),
        Some(WASM_RAW.len().to_string().as_str())
    );
    // Other methods do not reach the files.
    let (status, _, body) = get(&s.app, reqwest::Method::DELETE, &wasm_path(), None).await;
    assert_ne!(status, 200);
    assert_ne!(body, WASM_RAW);
}

/// Sends `target` verbatim (an HTTP client would normalise `..` away) and
/// returns the status and the whole answer.
async fn raw_get(app: &TestApp, target: &str) -> (u16, String) {
    let host = app.addr.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(host).await.expect("connect");
    let req = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: br, gzip\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[tokio::test]
async fn paths_that_leave_the_site_root_find_nothing() {
    let s = site().await;
    // The secret is reachable by a plain file read: the test would fail
    // for the right reason if the server followed these paths.
    let (status, answer) = raw_get(&s.app, "/favicon.svg").await;
    assert_eq!(status, 200, "{answer}");
    for target in [
        "/../secret.txt",
        "/pkg/../../secret.txt",
        "/pkg/..%2f..%2fsecret.txt",
        "/pkg/%2e%2e/%2e%2e/secret.txt",
        "/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "//secret.txt",
    ] {
        let (status, answer) = raw_get(&s.app, target).await;
        assert!(
            status == 404 || status == 400,
            "{target}: status {status}\n{answer}"
        );
        assert!(!answer.contains(SECRET), "{target} leaked the file");
    }
}

#[tokio::test]
async fn pages_are_compressed_as_the_browser_accepts_and_the_api_is_not() {
    let s = site().await;
    let (status, headers, plain) = get(&s.app, reqwest::Method::GET, "/login", None).await;
    assert_eq!(status, 200);
    assert_eq!(h(&headers, "content-encoding"), None);
    assert!(plain.starts_with(b"<!DOCTYPE html>"), "identity page");

    let (status, headers, gz) = get(&s.app, reqwest::Method::GET, "/login", Some("gzip")).await;
    assert_eq!(status, 200);
    assert_eq!(h(&headers, "content-encoding"), Some("gzip"));
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "a gzip stream");
    assert!(gz.len() < plain.len(), "{} < {}", gz.len(), plain.len());

    let (status, headers, br) = get(
        &s.app,
        reqwest::Method::GET,
        "/login",
        Some("gzip, deflate, br"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(h(&headers, "content-encoding"), Some("br"));
    assert!(br.len() < plain.len() && !br.starts_with(b"<!DOCTYPE"));
    // The page still carries its policy.
    assert!(h(&headers, "content-security-policy").is_some_and(|p| p.contains("nonce-")));

    // JSON answers are sent as they are.
    let (status, headers, _) = get(
        &s.app,
        reqwest::Method::GET,
        "/api/openapi.json",
        Some("br, gzip"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(h(&headers, "content-encoding"), None);
}
