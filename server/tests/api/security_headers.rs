//! Security headers on every kind of response: server-rendered pages (login,
//! a signed-in page, the public share page, the 404 page), JSON API answers,
//! static files. The page CSP carries a fresh nonce per response and every
//! inline `<script>` Leptos writes carries that same nonce; Google's hosts
//! appear only when Google sign-in is configured; HSTS only behind https.
use crate::support::*;
use app::server::AppState;
use base64::Engine as _;
use serde_json::json;

fn header<'a>(r: &'a Resp, name: &str) -> &'a str {
    r.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header (status {})", r.status))
        .to_str()
        .expect("ASCII header")
}

fn directive<'a>(policy: &'a str, name: &str) -> Option<&'a str> {
    policy
        .split(';')
        .map(str::trim)
        .find(|d| d.split_whitespace().next() == Some(name))
}

/// The headers every response gets, whatever its type.
fn assert_common_headers(r: &Resp) {
    assert_eq!(header(r, "x-content-type-options"), "nosniff");
    assert_eq!(
        header(r, "referrer-policy"),
        "strict-origin-when-cross-origin"
    );
    assert_eq!(header(r, "x-frame-options"), "DENY");
    let permissions = header(r, "permissions-policy");
    for feature in [
        "microphone=(self)",
        "camera=(self)",
        "geolocation=()",
        "payment=()",
    ] {
        assert!(
            permissions.split(", ").any(|f| f == feature),
            "{feature} missing: {permissions}"
        );
    }
    assert!(
        r.headers.get("strict-transport-security").is_none(),
        "no HSTS on plain http"
    );
}

/// Checks an HTML page's policy and returns its nonce: present in
/// `script-src`, at least 128 random bits, on every `<script` tag.
fn assert_page_policy(r: &Resp) -> String {
    assert!(
        header(r, "content-type").starts_with("text/html"),
        "an HTML page"
    );
    assert_common_headers(r);
    let policy = header(r, "content-security-policy");
    let script = directive(policy, "script-src").unwrap_or_else(|| panic!("{policy}"));
    let mut sources = script.split_whitespace().skip(1);
    assert_eq!(sources.next(), Some("'self'"), "{script}");
    let nonce = sources
        .next()
        .and_then(|s| s.strip_prefix("'nonce-"))
        .and_then(|s| s.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no nonce in {script}"))
        .to_string();
    assert_eq!(sources.next(), Some("'wasm-unsafe-eval'"), "{script}");
    assert!(
        !script.contains("unsafe-inline") && !script.contains("'unsafe-eval'"),
        "{script}"
    );
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&nonce)
        .unwrap_or_else(|e| panic!("nonce {nonce} is not base64url: {e}"));
    assert!(bytes.len() >= 16, "at least 128 bits: {nonce}");
    for expected in [
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "style-src-attr 'unsafe-inline'",
    ] {
        assert!(
            policy.split("; ").any(|d| d == expected),
            "{expected} missing from {policy}"
        );
    }
    // Only style attributes may be inline (MathML presentation styles).
    for d in policy.split(';').map(str::trim) {
        if d.contains("'unsafe-inline'") {
            assert!(d.starts_with("style-src-attr "), "{d}");
        }
    }

    let html = r.body.as_str().expect("HTML body");
    let scripts = start_tags(html, "<script");
    assert!(
        scripts.iter().any(|s| s.contains("type=\"module\"")),
        "the hydration module script is inline: {scripts:?}"
    );
    let with_nonce = format!("nonce=\"{nonce}\"");
    for tag in &scripts {
        // An external script is allowed by 'self' (or Google's host); every
        // inline one needs the nonce, and ours all carry it anyway.
        assert!(
            tag.contains(&with_nonce) || tag.contains(" src=\"/"),
            "script without the page nonce: {tag}"
        );
    }
    nonce
}

/// Every start tag of the page that begins with `open` (up to its `>`).
fn start_tags<'a>(html: &'a str, open: &str) -> Vec<&'a str> {
    html.match_indices(open)
        .map(|(i, _)| &html[i..i + html[i..].find('>').expect("tag ends")])
        .collect()
}

/// The app's JS and WASM are not preloaded from the `<head>`: the inline
/// module script requests them from a task queued by `requestAnimationFrame`,
/// i.e. after the server's HTML has been painted (app/src/hydration.rs).
fn assert_wasm_starts_after_the_first_paint(r: &Resp) {
    let html = r.body.as_str().expect("HTML body");
    let links = start_tags(html, "<link");
    for link in &links {
        assert!(
            !(link.contains("preload") && link.contains("/pkg/mistralchat")),
            "the app's bundle is preloaded before the first paint: {link}"
        );
    }
    let module = html
        .match_indices("<script type=\"module\"")
        .map(|(i, _)| &html[i..i + html[i..].find("</script>").expect("script ends")])
        .next()
        .expect("the hydration script");
    assert!(
        module.contains("requestAnimationFrame(() => setTimeout(start, 0))"),
        "{module}"
    );
    assert!(
        module.contains("\"/pkg/mistralchat") && module.contains(".wasm\")"),
        "{module}"
    );
}

fn assert_api_policy(r: &Resp) {
    assert_common_headers(r);
    assert_eq!(
        header(r, "content-security-policy"),
        "default-src 'none'; frame-ancestors 'none'"
    );
}

async fn shared_thread_code(app: &TestApp, token: &str) -> String {
    let r = app
        .post(
            "/api/thread",
            json!({"action": "create", "data": {"name": "Shared under CSP"}}),
            Auth::Bearer(token),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let thread = r.body["thread"]["id"].as_str().unwrap().to_string();
    let (q, a) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    let r = app
        .post(
            "/api/thread",
            json!({"action": "sync", "messages": [
                {"idMessage": q, "idThread": thread, "role": "user", "text": "Show me *markdown*", "date": 1_000},
                {"idMessage": a, "idThread": thread, "parentId": q, "role": "assistant",
                 "text": "Here: $x^2$ and `code`", "date": 2_000},
            ]}),
            Auth::Bearer(token),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .post(
            "/api/thread",
            json!({"action": "share", "idThread": thread}),
            Auth::Bearer(token),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["shareCode"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn pages_carry_the_csp_with_a_fresh_nonce_on_every_script() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();

    let login = app.get("/login", Auth::None).await;
    assert_eq!(login.status, 200);
    let first = assert_page_policy(&login);
    let again = assert_page_policy(&app.get("/login", Auth::None).await);
    assert_ne!(first, again, "a new nonce for every response");

    let missing_share = app.get("/s/no-such-share-code", Auth::None).await;
    assert_eq!(missing_share.status, 404);
    assert_page_policy(&missing_share);
    let fallback = app.get("/no/such/page", Auth::None).await;
    assert_eq!(fallback.status, 404);
    assert_page_policy(&fallback);

    let token = app.register("csp@example.com").await;
    let home = app.get("/", Auth::Cookie(&token)).await;
    assert_eq!(home.status, 200);
    assert_page_policy(&home);
    assert_wasm_starts_after_the_first_paint(&home);
    let settings = app.get("/settings/account", Auth::Cookie(&token)).await;
    assert_eq!(settings.status, 200);
    assert_page_policy(&settings);

    // The share page renders asynchronously: its resolved data travels in
    // inline scripts, which must carry the nonce too.
    let code = shared_thread_code(&app, &token).await;
    let share = app.get(&format!("/s/{code}"), Auth::None).await;
    assert_eq!(share.status, 200);
    let html = share.body.as_str().unwrap();
    assert!(html.contains("Shared under CSP"), "the share page rendered");
    let nonce = assert_page_policy(&share);
    assert!(
        html.matches(&format!("<script nonce=\"{nonce}\"")).count() >= 1,
        "resource data scripts carry the nonce"
    );
}

#[tokio::test]
async fn api_answers_get_a_policy_that_allows_nothing() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let token = app.register("api-csp@example.com").await;
    let ok = app.get("/api/user", Auth::Bearer(&token)).await;
    assert_eq!(ok.status, 200);
    assert!(header(&ok, "content-type").starts_with("application/json"));
    assert_api_policy(&ok);
    let unauthorised = app.get("/api/user", Auth::None).await;
    assert_eq!(unauthorised.status, 401);
    assert_api_policy(&unauthorised);
    let health = app.get("/healthz", Auth::None).await;
    assert_api_policy(&health);
}

#[tokio::test]
async fn static_files_get_the_headers() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    // The harness has no built site; serve one from a temporary site root
    // through the same router.
    let site = temp_dir();
    std::fs::write(
        site.0.join("favicon.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
    )
    .unwrap();
    let options = leptos::config::LeptosOptions::builder()
        .output_name("mistralchat")
        .site_root(site.0.display().to_string())
        .build();
    let state = AppState::new(
        app.db.clone(),
        (*app.state.config).clone(),
        "test-secret-0123456789abcdef",
        options,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::startup::serve(
        listener,
        state,
        std::future::pending(),
    ));

    let resp = app
        .http
        .get(format!("http://{addr}/favicon.svg"))
        .send()
        .await
        .unwrap();
    let r = Resp {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: json!(null),
    };
    assert_eq!(r.status, 200);
    assert!(header(&r, "content-type").starts_with("image/svg+xml"));
    // An SVG opened on its own is a document: its script must not run.
    assert_api_policy(&r);
}

#[tokio::test]
async fn google_hosts_are_allowed_only_with_google_sign_in() {
    let with_google = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let r = with_google.get("/login", Auth::None).await;
    let policy = header(&r, "content-security-policy");
    assert!(
        directive(policy, "script-src")
            .unwrap()
            .split_whitespace()
            .any(|s| s == "https://accounts.google.com/gsi/client"),
        "{policy}"
    );
    for name in ["frame-src", "connect-src"] {
        assert!(
            directive(policy, name)
                .unwrap_or_else(|| panic!("{name}: {policy}"))
                .split_whitespace()
                .any(|s| s == "https://accounts.google.com/gsi/"),
            "{name}: {policy}"
        );
    }
    assert!(
        directive(policy, "style-src")
            .unwrap()
            .split_whitespace()
            .any(|s| s == "https://accounts.google.com/gsi/style"),
        "{policy}"
    );
    assert!(
        r.body
            .as_str()
            .unwrap()
            .contains("https://accounts.google.com/gsi/client"),
        "the login page loads Google's script"
    );

    let without = TestApp::spawn_with(Backend::Sqlite, |c| c.google_client_id = None)
        .await
        .unwrap();
    let r = without.get("/login", Auth::None).await;
    assert_page_policy(&r);
    let policy = header(&r, "content-security-policy");
    assert!(!policy.contains("google"), "{policy}");
}

#[tokio::test]
async fn hsts_only_when_the_public_url_is_https() {
    let plain = TestApp::spawn(Backend::Sqlite).await.unwrap();
    for path in ["/login", "/healthz"] {
        let r = plain.get(path, Auth::None).await;
        assert!(
            r.headers.get("strict-transport-security").is_none(),
            "{path}"
        );
    }

    let https = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.public_url = "https://chat.example.com".into()
    })
    .await
    .unwrap();
    for path in ["/login", "/healthz", "/api/user"] {
        let r = https.get(path, Auth::None).await;
        assert_eq!(
            header(&r, "strict-transport-security"),
            "max-age=31536000; includeSubDomains",
            "{path}"
        );
    }
}
