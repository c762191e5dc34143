//! Test harness: `TestApp::spawn(backend)`, per-test databases, HTTP helpers
//! and a fake Google (tokeninfo + JWKS) that speaks the real wire format.
use app::server::config::Config;
use app::server::{db, AppState};
use app::vocab::StreamEvent;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use reqwest::header::HeaderMap;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MySql,
    Postgres,
}

impl Backend {
    fn env_var(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::MySql => "TEST_MYSQL_URL",
            Backend::Postgres => "TEST_POSTGRES_URL",
        }
    }
}

/// A database created for one test and dropped when the test ends (also on panic).
pub struct TestDb {
    pub url: String,
    backend: Backend,
    admin_url: String,
    name: String,
    _dir: Option<TempDir>,
}

pub struct TempDir(pub std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn temp_dir() -> TempDir {
    let p = std::env::temp_dir().join(format!(
        "mistralchat-test-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&p).expect("temp dir");
    TempDir(p)
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let host_part = match path_start {
        Some(i) => &base[..i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

/// Says on the terminal, past libtest's output capture (which only takes
/// `print!`/`eprint!`), that the current test did not run, so that a
/// backend that is not configured is never a silent "ok". libtest names the
/// test's thread after the test.
fn report_skip(why: &str) {
    use std::io::Write;
    let current = std::thread::current();
    let name = current.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {name} ({why})");
}

impl TestDb {
    /// `None` when the backend is not configured here (`SKIPPED <test>
    /// (<VAR> unset)` on stderr, visible in `cargo test` output); with
    /// `CI=true` a missing backend is a failure, never a skip.
    pub async fn create(backend: Backend) -> Option<TestDb> {
        if backend == Backend::Sqlite {
            let dir = temp_dir();
            let url = format!("sqlite://{}/test.db?mode=rwc", dir.0.display());
            return Some(TestDb {
                url,
                backend,
                admin_url: String::new(),
                name: String::new(),
                _dir: Some(dir),
            });
        }
        let var = backend.env_var();
        let Some(admin_url) = std::env::var(var).ok().filter(|v| !v.is_empty()) else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{var} is not set: with CI=true the {backend:?} tests must run");
            }
            report_skip(&format!("{var} unset"));
            return None;
        };
        let name = format!("mc_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{var}={admin_url} unreachable: {e}"));
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let _ = admin.close().await;
        Some(TestDb {
            url: replace_db_name(&admin_url, &name),
            backend,
            admin_url,
            name,
            _dir: None,
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.backend == Backend::Sqlite {
            return;
        }
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let backend = self.backend;
        // Drop runs inside the test's runtime: do the async cleanup on a
        // separate thread with its own runtime and wait for it.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let sql = if backend == Backend::Postgres {
                        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                    } else {
                        format!("DROP DATABASE IF EXISTS {name}")
                    };
                    let _ = admin.execute_unprepared(&sql).await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// A fake of Google's tokeninfo and JWKS endpoints.
#[derive(Clone, Default)]
pub struct FakeGoogle {
    /// access_token → tokeninfo JSON body.
    pub tokens: Arc<Mutex<HashMap<String, Value>>>,
    pub jwks_hits: Arc<Mutex<u32>>,
    pub base: String,
}

pub const GOOGLE_CLIENT_ID: &str = "1234-test.apps.googleusercontent.com";
pub const TEST_KID: &str = "test-key-1";
/// PKCS#1 DER private keys (the PEM files are the same keys, for humans).
pub const GOOGLE_KEY_PEM: &[u8] = include_bytes!("fixtures/google_rsa.der");
pub const ATTACKER_KEY_PEM: &[u8] = include_bytes!("fixtures/attacker_rsa.der");
const GOOGLE_JWKS: &str = include_str!("fixtures/google_jwks.json");

impl FakeGoogle {
    pub async fn start() -> FakeGoogle {
        let mut fake = FakeGoogle::default();
        async fn tokeninfo(
            State(f): State<FakeGoogle>,
            Query(q): Query<HashMap<String, String>>,
        ) -> axum::response::Response {
            use axum::response::IntoResponse;
            let tok = q.get("access_token").cloned().unwrap_or_default();
            match f.tokens.lock().unwrap().get(&tok) {
                Some(v) => Json(v.clone()).into_response(),
                None => (
                    axum::http::StatusCode::BAD_REQUEST,
                    Json(json!({"error": "invalid_token", "error_description": "Invalid Value"})),
                )
                    .into_response(),
            }
        }
        async fn certs(State(f): State<FakeGoogle>) -> axum::response::Response {
            use axum::response::IntoResponse;
            *f.jwks_hits.lock().unwrap() += 1;
            (
                [
                    ("content-type", "application/json"),
                    ("cache-control", "public, max-age=3600"),
                ],
                GOOGLE_JWKS,
            )
                .into_response()
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        fake.base = format!("http://{}", listener.local_addr().unwrap());
        let router = Router::new()
            .route("/tokeninfo", get(tokeninfo))
            .route("/oauth2/v3/certs", get(certs))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        fake
    }

    /// Registers an access token whose tokeninfo body is `body` (strings for
    /// numbers and booleans, as Google sends them).
    pub fn add_access_token(&self, token: &str, body: Value) {
        self.tokens.lock().unwrap().insert(token.to_string(), body);
    }

    pub fn tokeninfo_body(sub: &str, email: &str, aud: &str, verified: &str, exp_in: i64) -> Value {
        let exp = chrono::Utc::now().timestamp() + exp_in;
        json!({
            "azp": aud, "aud": aud, "sub": sub,
            "scope": "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
            "exp": exp.to_string(), "expires_in": exp_in.max(0).to_string(),
            "email": email, "email_verified": verified, "access_type": "online"
        })
    }

    /// Signs an ID token with `pem` (the fake Google key unless testing forgery).
    pub fn id_token(claims: &Value, der: &[u8], kid: &str) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(kid.to_string());
        let key = jsonwebtoken::EncodingKey::from_rsa_der(der);
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    pub fn id_claims(sub: &str, email: &str, aud: &str, exp_in: i64) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": "https://accounts.google.com", "azp": aud, "aud": aud, "sub": sub,
            "email": email, "email_verified": true, "name": "Gina Google",
            "picture": "https://lh3.googleusercontent.com/a/pic", "iat": now, "exp": now + exp_in
        })
    }
}

pub struct TestApp {
    pub addr: String,
    pub state: AppState,
    pub db: DatabaseConnection,
    pub google: FakeGoogle,
    pub mistral: testkit::mistral::FakeMistral,
    pub http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The server task; ends when its graceful shutdown is complete.
    serving: Option<tokio::task::JoinHandle<()>>,
    _db: TestDb,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
    /// The `access_token` value from `Set-Cookie`.
    pub fn cookie_token(&self) -> Option<String> {
        self.set_cookie()
            .and_then(|c| {
                c.strip_prefix("access_token=")
                    .map(|r| r.split(';').next().unwrap_or("").to_string())
            })
            .filter(|t| !t.is_empty())
    }
    pub fn set_cookie(&self) -> Option<String> {
        self.headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// How a request authenticates.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    Cookie(&'a str),
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let options = leptos::config::LeptosOptions::builder()
            .output_name("mistralchat")
            .build();
        Self::spawn_with_options(backend, tweak, options).await
    }

    /// The app serving the built site from `site_root` (a test's own
    /// directory of files) instead of `target/site`.
    pub async fn spawn_with_site(backend: Backend, site_root: &std::path::Path) -> Option<TestApp> {
        let options = leptos::config::LeptosOptions::builder()
            .output_name("mistralchat")
            .site_root(site_root.display().to_string())
            .build();
        Self::spawn_with_options(backend, |_| {}, options).await
    }

    pub async fn spawn_with_options(
        backend: Backend,
        tweak: impl FnOnce(&mut Config),
        options: leptos::config::LeptosOptions,
    ) -> Option<TestApp> {
        let test_db = TestDb::create(backend).await?;
        let google = FakeGoogle::start().await;
        let mistral = testkit::mistral::FakeMistral::start().await;
        let mut config = Config::for_tests(&test_db.url);
        config.mistral_api_base = mistral.base_url.clone();
        config.google_client_id = Some(GOOGLE_CLIENT_ID.into());
        config.google_tokeninfo_url = format!("{}/tokeninfo", google.base);
        config.google_jwks_url = format!("{}/oauth2/v3/certs", google.base);
        tweak(&mut config);
        let database = db::open(&test_db.url).await.expect("open test database");
        db::fit_upload_limit(&database, &mut config).await;
        let state = AppState::new(
            database.clone(),
            config,
            "test-secret-0123456789abcdef",
            options,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let serving = tokio::spawn(async move {
            let _ = server::startup::serve(listener, st, async move {
                let _ = rx.await;
            })
            .await;
        });
        Some(TestApp {
            addr,
            state,
            db: database,
            google,
            mistral,
            // A server that never finishes an answer fails the test (with
            // the request's URL) instead of stalling the whole run.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(90))
                .build()
                .unwrap(),
            shutdown: Some(tx),
            serving: Some(serving),
            _db: test_db,
        })
    }

    /// Barrier: shuts the server down gracefully and waits until it is done
    /// (connections closed, their tasks and everything they held dropped,
    /// generations stored), so "nothing else happened" can be asserted
    /// without a sleep.
    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(serving) = self.serving.take() {
            serving.await.expect("the server task ended cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.addr, path)
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        auth: Auth<'_>,
        extra: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.http.request(method, self.url(path));
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::send_request(req, auth).await
    }

    /// Sends with the given credentials and reads the answer.
    async fn send_request(mut req: reqwest::RequestBuilder, auth: Auth<'_>) -> Resp {
        match auth {
            Auth::None => {}
            Auth::Bearer(t) => req = req.bearer_auth(t),
            Auth::Cookie(t) => req = req.header("cookie", format!("access_token={t}")),
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let url = resp.url().clone();
        let text = resp
            .text()
            .await
            .unwrap_or_else(|e| panic!("reading the answer from {url}: {e}"));
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, auth: Auth<'_>) -> Resp {
        self.request(reqwest::Method::GET, path, None, auth, &[])
            .await
    }

    pub async fn post(&self, path: &str, body: Value, auth: Auth<'_>) -> Resp {
        self.request(reqwest::Method::POST, path, Some(body), auth, &[])
            .await
    }

    pub async fn delete(&self, path: &str, auth: Auth<'_>) -> Resp {
        self.request(reqwest::Method::DELETE, path, None, auth, &[])
            .await
    }

    /// Registers a fresh user and returns its raw token.
    pub async fn register(&self, email: &str) -> String {
        let r = self
            .post(
                "/api/auth/email/register",
                json!({"email": email, "password": "correct horse battery", "name": "Test User"}),
                Auth::None,
            )
            .await;
        assert_eq!(r.status, 201, "register {email}: {:?}", r.body);
        r.cookie_token().expect("session cookie")
    }

    /// Calls a server function without arguments, as the browser posts it.
    pub async fn rpc(&self, path: &str, auth: Auth<'_>) -> Resp {
        self.rpc_form(path, "", auth).await
    }

    /// Calls a server function with url-encoded arguments (`a=1&b=x`), as
    /// the browser posts it.
    pub async fn rpc_form(&self, path: &str, form: &str, auth: Auth<'_>) -> Resp {
        let req = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string());
        Self::send_request(req, auth).await
    }

    /// Signs in with the password [`TestApp::register`] uses; the new session token.
    pub async fn login(&self, email: &str) -> String {
        let r = self
            .post(
                "/api/auth/email/login",
                json!({"email": email, "password": "correct horse battery"}),
                Auth::None,
            )
            .await;
        assert_eq!(r.status, 200, "login {email}: {:?}", r.body);
        r.cookie_token().expect("session cookie")
    }

    pub async fn count(&self, table: &str) -> i64 {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count query")
            .expect("count row");
        row.try_get::<i64>("", "n").expect("count value")
    }
}

/// Defines one test per backend: `name::sqlite`, `name::mysql`, `name::postgres`.
macro_rules! db_test {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some($app) = $crate::support::TestApp::spawn($crate::support::Backend::Sqlite).await $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                if let Some($app) = $crate::support::TestApp::spawn($crate::support::Backend::MySql).await $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some($app) = $crate::support::TestApp::spawn($crate::support::Backend::Postgres).await $body
            }
        }
    };
}

/// Like `db_test!`, with the configuration changed first.
macro_rules! db_test_with {
    ($name:ident, |$c:ident| $tweak:block, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some($app) = $crate::support::TestApp::spawn_with($crate::support::Backend::Sqlite, |$c: &mut app::server::config::Config| $tweak).await $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                if let Some($app) = $crate::support::TestApp::spawn_with($crate::support::Backend::MySql, |$c: &mut app::server::config::Config| $tweak).await $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some($app) = $crate::support::TestApp::spawn_with($crate::support::Backend::Postgres, |$c: &mut app::server::config::Config| $tweak).await $body
            }
        }
    };
}

/// One server-sent event as the browser's `EventSource` dispatches it
/// (framed by [`testkit::sse::SseParser`], which follows the WHATWG rules).
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    /// The stream's last event id at this event (`None` while none was set).
    pub id: Option<String>,
    /// Whether this event's own block carried an `id:` line.
    pub has_id: bool,
    pub event: String,
    /// The data parsed as JSON (a string when it is not JSON).
    pub data: Value,
    /// The data as it arrived.
    pub raw: String,
}

impl Sse {
    /// The event in the shared vocabulary, read as the browser reads it
    /// (`StreamEvent::from_wire`); `None` for a name it does not know.
    /// Panics when the data does not match the event's shape.
    pub fn typed(&self) -> Option<StreamEvent> {
        StreamEvent::from_wire(&self.event, &self.raw)
            .unwrap_or_else(|e| panic!("malformed {} event {:?}: {e}", self.event, self.raw))
    }
}

/// A generation's stream read to its `done` event.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The text the reader shows at the end (snapshots replace, deltas append).
    pub text: String,
    pub thinking: String,
    /// The `done` event's data.
    pub done: Value,
    /// Every event, in order.
    pub events: Vec<Sse>,
}

impl Answer {
    /// Every event the vocabulary knows, typed, in order.
    pub fn typed(&self) -> Vec<StreamEvent> {
        self.events.iter().filter_map(Sse::typed).collect()
    }
}

/// Reads SSE events from a streaming response.
pub struct SseReader {
    resp: reqwest::Response,
    parser: testkit::sse::SseParser,
    ready: std::collections::VecDeque<testkit::sse::SseEvent>,
}

impl SseReader {
    pub async fn open(
        app: &TestApp,
        path: &str,
        token: &str,
        last_event_id: Option<&str>,
    ) -> (u16, Option<SseReader>) {
        let mut req = app.http.get(app.url(path)).bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let resp = req.send().await.expect("sse request");
        let status = resp.status().as_u16();
        if status != 200 {
            return (status, None);
        }
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        (
            status,
            Some(SseReader {
                resp,
                parser: testkit::sse::SseParser::new(),
                ready: Default::default(),
            }),
        )
    }

    /// The next dispatched event, or `None` when the stream ends (an event
    /// not terminated by a blank line is dropped then, as a browser does) or
    /// nothing arrives for 20 s.
    pub async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(ev) = self.ready.pop_front() {
                let id = Some(ev.last_event_id).filter(|id| !id.is_empty());
                let data = serde_json::from_str(&ev.data).unwrap_or(Value::String(ev.data.clone()));
                return Some(Sse {
                    id,
                    has_id: ev.has_id,
                    event: ev.event,
                    data,
                    raw: ev.data,
                });
            }
            match tokio::time::timeout(std::time::Duration::from_secs(20), self.resp.chunk()).await
            {
                Ok(Ok(Some(bytes))) => self.ready.extend(self.parser.push(&bytes)),
                _ => return None,
            }
        }
    }

    /// Reads the rest of the stream (at most 20 s of silence) and panics if
    /// anything follows, or if it ends inside an event a browser would drop.
    pub async fn assert_ends_cleanly(mut self) {
        if let Some(ev) = self.next().await {
            panic!("an event after the end: {ev:?}");
        }
        assert!(
            !self.parser.has_partial_event(),
            "the stream ended inside an event (no blank line after it)"
        );
    }

    /// Reads to the `done` event; returns (answer text, thinking, done data, events seen).
    pub async fn collect(&mut self) -> (String, String, Value, Vec<Sse>) {
        let a = self.answer().await;
        (a.text, a.thinking, a.done, a.events)
    }

    /// Reads to the `done` event (panics if the stream ends without one).
    pub async fn answer(&mut self) -> Answer {
        let (mut text, mut thinking, mut seen) = (String::new(), String::new(), vec![]);
        while let Some(ev) = self.next().await {
            seen.push(ev.clone());
            match ev.typed() {
                Some(StreamEvent::Delta {
                    text: t,
                    thinking: th,
                }) => {
                    text.push_str(&t);
                    thinking.push_str(&th);
                }
                Some(StreamEvent::Snapshot {
                    text: t,
                    thinking: th,
                    ..
                }) => {
                    text = t;
                    thinking = th;
                }
                Some(StreamEvent::Done { .. }) => {
                    return Answer {
                        text,
                        thinking,
                        done: ev.data,
                        events: seen,
                    }
                }
                _ => {}
            }
        }
        panic!("stream ended without a done event after {seen:?}");
    }
}

/// What `POST /api/chat` answered.
#[derive(Debug)]
pub struct Sent {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Sent {
    /// The `error` of a refused send.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }

    /// The new answer's id (panics unless the send was accepted).
    pub fn answer_id(&self) -> String {
        self.id_of("assistantMessage")
    }

    pub fn thread_id(&self) -> String {
        self.id_of("thread")
    }

    fn id_of(&self, key: &str) -> String {
        assert_eq!(self.status, 201, "send: {:?}", self.body);
        self.body[key]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no {key}.id in {:?}", self.body))
            .to_string()
    }
}

impl TestApp {
    /// `POST /api/chat` starting a new thread with `text`, as `token`'s user.
    pub async fn send(&self, token: &str, text: &str) -> Sent {
        self.send_body(token, json!({"text": text})).await
    }

    /// `POST /api/chat` with `text` in the existing thread `thread_id`.
    pub async fn send_in(&self, token: &str, thread_id: &str, text: &str) -> Sent {
        self.send_body(token, json!({"threadId": thread_id, "text": text}))
            .await
    }

    /// `POST /api/chat` with any body.
    pub async fn send_body(&self, token: &str, body: Value) -> Sent {
        let r = self.post("/api/chat", body, Auth::Bearer(token)).await;
        Sent {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }
    }

    /// Opens the answer's event stream as a first connection would, reads
    /// it to `done`, and checks that the stream then ends cleanly.
    pub async fn answer(&self, token: &str, answer_id: &str) -> Answer {
        let path = format!("/api/generations/{answer_id}/events");
        let (status, sse) = SseReader::open(self, &path, token, None).await;
        let mut sse = sse.unwrap_or_else(|| panic!("GET {path}: {status}"));
        let answer = sse.answer().await;
        sse.assert_ends_cleanly().await;
        answer
    }

    /// Barrier: returns once the fake Mistral has received `n` requests for
    /// which `pred` holds (at most ~10 s, then panics), so a test can act on
    /// "the upstream call is under way" instead of sleeping.
    pub async fn upstream_received(
        &self,
        n: usize,
        pred: impl Fn(&testkit::RecordedRequest) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let got = self.mistral.requests().iter().filter(|r| pred(r)).count();
            if got >= n {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the fake Mistral received {got} of {n} expected requests"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Barrier: returns once the hub has finished with the answer `answer_id`
    /// and any title request that follows it (at most ~20 s, then panics).
    /// After it, everything the answer was going to cause upstream has been
    /// sent, so "no further request" can be asserted without a sleep.
    pub async fn settled(&self, token: &str, answer_id: &str, thread_id: &str) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        while self
            .state
            .hub
            .get(&app::vocab::MessageId::new(answer_id))
            .is_some()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the answer {answer_id} is still being written"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // The title (if one was due) is registered before the send returns
        // and ends after its upstream call; this server function waits for it.
        let r = self
            .rpc_form(
                "/rpc/thread_title",
                &format!("thread_id={thread_id}"),
                Auth::Bearer(token),
            )
            .await;
        assert_eq!(r.status, 200, "thread_title: {:?}", r.body);
    }
}

/// A stored file of `user` (3 bytes, `text/plain`) on the blob `sha` (made
/// when missing, shared when present), attached to `message` or a draft.
pub async fn add_attachment(app: &TestApp, user: &str, message: Option<&str>, sha: &str) {
    use app::server::entities::{attachments, blobs};
    use sea_orm::{ActiveModelTrait, EntityTrait, Set};
    if blobs::Entity::find_by_id(sha.to_string())
        .one(&app.db)
        .await
        .unwrap()
        .is_none()
    {
        blobs::ActiveModel {
            sha256: Set(sha.to_string()),
            size: Set(3),
            mime: Set("text/plain".into()),
            data: Set(b"abc".to_vec()),
            created_at: Set(1),
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
    attachments::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        user_id: Set(user.to_string()),
        message_id: Set(message.map(str::to_string)),
        blob_sha256: Set(sha.to_string()),
        kind: Set("upload".into()),
        filename: Set("f.txt".into()),
        mime: Set("text/plain".into()),
        size: Set(3),
        extracted_text: Set(None),
        seen: Set(None),
        created_at: Set(app::server::db::now_ms()),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
}
