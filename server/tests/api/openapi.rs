//! The OpenAPI document (`GET /api/openapi.json`): served without a session,
//! equal to the committed snapshot (`openapi.json` beside this file; rewrite it
//! with `UPDATE_SNAPSHOTS=1`), internally consistent, and complete — every
//! route under `/api` is in it and everything in it is routed.
use crate::support::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const SNAPSHOT: &str = "tests/api/openapi.json";
const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

async fn served(app: &TestApp) -> (reqwest::StatusCode, String, String) {
    let r = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .expect("request");
    let status = r.status();
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, ctype, r.text().await.expect("body"))
}

/// The first lines where `want` and `got` differ, with a little context.
fn diff_hint(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let first = w
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(w.len().min(g.len()));
    let from = first.saturating_sub(3);
    let show = |lines: &[&str]| {
        lines
            .iter()
            .enumerate()
            .skip(from)
            .take(8)
            .map(|(i, l)| format!("{:>5} {l}", i + 1))
            .collect::<Vec<_>>()
            .join("\n")
    };
    // By content, so that one inserted line does not count as every later one.
    let added = g.iter().filter(|l| !w.contains(l)).count();
    let removed = w.iter().filter(|l| !g.contains(l)).count();
    format!(
        "first difference at line {} (about {added} lines added, {removed} removed; \
         snapshot {} lines, served {} lines)\n\
         --- snapshot ({SNAPSHOT})\n{}\n+++ served\n{}",
        first + 1,
        w.len(),
        g.len(),
        show(&w),
        show(&g)
    )
}

#[tokio::test]
async fn the_document_is_public_and_matches_the_snapshot() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (status, ctype, body) = served(&app).await;
    assert_eq!(status, 200, "{body}");
    assert!(ctype.starts_with("application/json"), "{ctype}");
    let doc: Value = serde_json::from_str(&body).expect("the document is JSON");
    assert!(
        doc["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3.1"),
        "OpenAPI 3.1: {}",
        doc["openapi"]
    );

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    let served_text = format!("{body}\n");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &served_text).expect("write the snapshot");
        eprintln!("UPDATE_SNAPSHOTS=1: rewrote {}", path.display());
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        want == served_text,
        "the API contract changed: /api/openapi.json differs from {SNAPSHOT}.\n\
         If the change is intended, rewrite the snapshot and commit it:\n  \
         UPDATE_SNAPSHOTS=1 cargo test -p server --test api -- openapi::\n{}",
        diff_hint(&want, &served_text)
    );
}

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(s)) => out.push(s),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

fn operations(doc: &Value) -> Vec<(String, &'static str, &Value)> {
    let mut out = vec![];
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((path.clone(), m, op));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_document_is_consistent() {
    let doc: Value = server::api::openapi::document().clone();
    // Every reference resolves.
    let mut all = vec![];
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external $ref {r}"));
        assert!(doc.pointer(pointer).is_some(), "unresolved $ref {r}");
    }
    let mut ids = BTreeSet::new();
    for (path, method, op) in operations(&doc) {
        let what = format!("{} {path}", method.to_uppercase());
        let id = op["operationId"].as_str().unwrap_or_default();
        assert!(
            ids.insert(id.to_string()),
            "{what}: duplicate operationId {id:?}"
        );
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{what}: no success status"
        );
        // Refusals are `{"error": …}` everywhere under /api.
        for (status, resp) in responses {
            if !status.starts_with('4') || !path.starts_with("/api/") {
                continue;
            }
            let text = resp.to_string();
            assert!(
                text.contains("#/components/schemas/ErrorBody")
                    || text.contains("#/components/responses/"),
                "{what} {status}: not an ErrorBody: {text}"
            );
        }
        // A route that needs a session says so and documents the 401.
        let secured = op["security"]
            .as_array()
            .is_some_and(|reqs| !reqs.is_empty());
        if secured {
            assert!(
                responses.contains_key("401"),
                "{what}: secured without a 401"
            );
        }
        if op.get("requestBody").is_some() {
            assert!(
                responses.contains_key("413"),
                "{what}: a body without a 413"
            );
            assert!(
                responses.contains_key("400"),
                "{what}: a body without a 400"
            );
        }
    }
    for scheme in ["bearer", "cookie"] {
        assert!(
            doc["components"]["securitySchemes"].get(scheme).is_some(),
            "security scheme {scheme}"
        );
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The literal first arguments of `.route(…)`, `.route_service(…)` and
/// `.nest(…)` calls in `source`.
fn registered_paths(source: &str) -> Vec<String> {
    let mut out = vec![];
    for call in [".route(", ".route_service(", ".nest(", ".nest_service("] {
        let mut rest = source;
        while let Some(i) = rest.find(call) {
            rest = &rest[i + call.len()..];
            let arg = rest.trim_start();
            if let Some(lit) = arg.strip_prefix('"') {
                if let Some(end) = lit.find('"') {
                    out.push(lit[..end].to_string());
                }
            }
        }
    }
    out
}

#[test]
fn the_route_scanner_finds_plain_axum_routes() {
    let src = r#"Router::new().route("/api/x", get(h))
        .route(
            "/api/y/{id}", post(h)).nest("/api/z", r).route(PATH, get(h))"#;
    assert_eq!(
        registered_paths(src),
        vec!["/api/x", "/api/y/{id}", "/api/z"]
    );
}

#[tokio::test]
async fn every_api_route_is_in_the_document_and_everything_in_it_is_routed() {
    let doc: Value = server::api::openapi::document().clone();
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();

    // A route added with plain axum (`.route("/api/…")` instead of
    // `utoipa_axum::routes!`) would be served but not described.
    let mut files = vec![];
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 5, "found the server's sources");
    let mut undocumented = vec![];
    for file in files {
        let source = std::fs::read_to_string(&file).expect("read source");
        for path in registered_paths(&source) {
            if path.starts_with("/api") && !documented.contains(&path) {
                undocumented.push(format!("{path} ({})", file.display()));
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "routes under /api that are not in /api/openapi.json (register them with \
         utoipa_axum::routes! and a #[utoipa::path] attribute): {undocumented:#?}"
    );
    for must in [
        "/api/thread",
        "/api/chat",
        "/api/generations/{id}/events",
        "/api/openapi.json",
    ] {
        assert!(documented.contains(must), "{must} is documented");
    }

    // Everything documented answers on its method (a route that does not
    // exist gets the page fallback's HTML 404, a wrong method a 405).
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let token = app.register("routes@example.com").await;
    let id = uuid::Uuid::new_v4().to_string();
    let mut ops = operations(&doc);
    // Last: they end the session the others use.
    ops.sort_by_key(|(path, _, _)| path == "/api/auth/delete" || path == "/api/auth/logout");
    for (path, method, _) in ops {
        let url = path.replace("{id}", &id);
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = app
            .http
            .request(method.clone(), app.url(&url))
            .bearer_auth(&token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let ctype = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_ne!(status, 405, "{method} {path} is documented but not routed");
        assert!(
            status != 404 || ctype.starts_with("application/json"),
            "{method} {path} is documented but not routed (404 {ctype})"
        );
        assert!(status < 500, "{method} {path}: {status}");
    }
}

/// What axum's extractors refuse before a handler runs was plain text,
/// which the document (and every client) does not expect: found by probing
/// past what the fuzzer generates (it only sends valid UTF-8 and unique
/// query parameters).
#[tokio::test]
async fn refusals_before_the_handler_are_json_too() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let token = app.register("plain@example.com").await;
    let cases = [
        (reqwest::Method::GET, "/api/generations/%FF/events", 400),
        (reqwest::Method::POST, "/api/generations/%FF/stop", 400),
        (reqwest::Method::GET, "/api/models?fresh=1&fresh=2", 400),
        (reqwest::Method::GET, "/api/thread?limit=1&limit=2", 400),
        (reqwest::Method::PATCH, "/api/settings", 405),
    ];
    for (method, path, want) in cases {
        let r = app
            .http
            .request(method.clone(), app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let ctype = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = r.text().await.unwrap_or_default();
        assert_eq!(status, want, "{method} {path}: {text}");
        assert!(
            ctype.starts_with("application/json"),
            "{method} {path}: {ctype} {text:?}"
        );
        let body: Value = serde_json::from_str(&text).expect("JSON body");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(!error.is_empty(), "{method} {path}: {body}");
    }
}

/// The stored kinds are documented with the strings they serialise to
/// (they were `Done`, `User`… while the API sends `done`, `user`…).
#[test]
fn documented_kinds_are_the_serialised_strings() {
    use app::vocab::{MessageStatus, Provider, Role, Theme};
    fn wire<T: serde::Serialize>(all: &[T]) -> Vec<Value> {
        all.iter()
            .map(|v| serde_json::to_value(v).unwrap())
            .collect()
    }
    let doc = server::api::openapi::document();
    for (name, want) in [
        ("MessageStatus", wire(MessageStatus::ALL)),
        ("Role", wire(Role::ALL)),
        ("Provider", wire(Provider::ALL)),
        ("Theme", wire(Theme::ALL)),
    ] {
        let got = doc["components"]["schemas"][name]["enum"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(got, want, "{name}: documented values differ from the wire");
    }
}

/// The limits the document states are the vocabulary's (`app::vocab::limits`),
/// which the handlers enforce: a limit changed in one place fails here until
/// the attribute follows.
#[test]
fn documented_limits_are_the_vocabulary_limits() {
    use app::server::services::threads::MAX_MESSAGE_PAGE;
    use app::vocab::limits::{MAX_DISPLAY_NAME_CHARS, MAX_MODEL_CHARS, MAX_NAME_CHARS};
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(SNAPSHOT).expect("the committed document"))
            .expect("JSON");
    let schemas = &doc["components"]["schemas"];
    let max_len = |schema: &str, field: &str| {
        schemas[schema]["properties"][field]["maxLength"]
            .as_u64()
            .unwrap_or_else(|| panic!("{schema}.{field} has no maxLength"))
    };
    for body in ["SendBody", "EditBody", "RegenerateBody"] {
        assert_eq!(
            max_len(body, "model"),
            MAX_MODEL_CHARS as u64,
            "{body}.model"
        );
    }
    assert_eq!(max_len("CreateData", "name"), MAX_NAME_CHARS as u64);
    assert_eq!(
        max_len("RegisterBody", "name"),
        MAX_DISPLAY_NAME_CHARS as u64
    );
    let limit = doc["paths"]["/api/thread"]["get"]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "limit"))
        .expect("the limit parameter");
    assert_eq!(limit["schema"]["maximum"].as_u64(), Some(MAX_MESSAGE_PAGE));
}
