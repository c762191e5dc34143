//! Every log line a request causes carries its request id (the `request`
//! span of `middleware::log_requests`), internal errors included, while the
//! client gets only the generic sentence — through `/api` and `/rpc` alike.
//!
//! The server binary runs as a process with its own logging set-up (JSON
//! lines, and a `warn` filter: the span must survive a filter that hides
//! info lines), so the test reads exactly what an operator's log shows.
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const GENERIC: &str = "Something went wrong on the server — please try again";

/// The server binary on a free port, its JSON log lines collected as they come.
struct Process {
    child: std::process::Child,
    base: String,
    dir: crate::support::TempDir,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Process {
    fn start(env: &[(&str, &str)]) -> Process {
        let dir = crate::support::temp_dir();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
        cmd.current_dir(&dir.0)
            .env_remove("DATABASE_URL")
            .env_remove("APP_SECRET")
            .env("DATA_DIR", dir.0.join("data"))
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn server");
        let lines = Arc::new(Mutex::new(vec![]));
        let stdout = child.stdout.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "server did not start");
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                child.stderr.take().unwrap().read_to_string(&mut err).ok();
                panic!("server exited early with {status}: {err}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Process {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
            lines,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers an account; its session cookie (`name=value`).
    async fn register(&self, http: &reqwest::Client, email: &str) -> String {
        let r = http
            .post(self.url("/api/auth/email/register"))
            .json(&json!({"email": email, "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|c| c.split(';').next())
            .expect("session cookie")
            .to_string()
    }

    /// Runs `sql` on the server's SQLite database behind its back.
    async fn sabotage(&self, sql: &str) {
        let db = Database::connect(format!(
            "sqlite://{}?mode=rw",
            self.dir.0.join("data/mistralchat.db").display()
        ))
        .await
        .unwrap();
        db.execute_unprepared(sql).await.unwrap();
        db.close().await.unwrap();
    }

    /// Log lines matching `pred`, waiting up to 15 s for at least one.
    async fn wait_for(&self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let found: Vec<Value> = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .filter(|v| pred(v))
                .cloned()
                .collect();
            if !found.is_empty() || Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn all_lines(&self) -> String {
        let lines = self.lines.lock().unwrap();
        lines.iter().map(|v| format!("{v}\n")).collect()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a JSON log line was written inside the request `id`'s span.
fn in_request(line: &Value, id: &str) -> bool {
    line["spans"]
        .as_array()
        .is_some_and(|spans| spans.iter().any(|s| s["request_id"] == id))
}

#[tokio::test]
async fn an_internal_error_is_logged_with_its_request_id_and_never_sent() {
    let server = Process::start(&[]);
    let http = reqwest::Client::new();
    let cookie = server.register(&http, "logs@example.com").await;
    // The settings table goes: reading settings fails inside the service.
    server.sabotage("DROP TABLE user_settings").await;

    let mut ids = vec![];
    for (path, rpc) in [("/api/settings", false), ("/rpc/get_settings", true)] {
        let req = if rpc {
            http.post(server.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
        } else {
            http.get(server.url(path))
        };
        let r = req.header("cookie", &cookie).send().await.unwrap();
        assert_eq!(r.status(), 500, "{path}");
        let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], GENERIC, "{path}: {body}");
        assert!(!body.to_string().contains("user_settings"), "{body}");
        if rpc {
            assert_eq!(body["kind"], "internal", "{body}");
        }
        ids.push((path, id));
    }
    assert_ne!(ids[0].1, ids[1].1);
    for (path, id) in &ids {
        let lines = server
            .wait_for(|l| l["fields"]["message"] == "internal error" && in_request(l, id))
            .await;
        assert_eq!(lines.len(), 1, "{path} {id}:\n{}", server.all_lines());
        let line = &lines[0];
        // The innermost span is the request's; the detail is on the line,
        // for the operator only.
        assert_eq!(line["span"]["name"], "request", "{line}");
        assert_eq!(line["span"]["request_id"], id.as_str(), "{line}");
        assert!(
            line["fields"]["error"]
                .as_str()
                .unwrap_or_default()
                .contains("user_settings"),
            "{line}"
        );
    }
}

/// The generation task outlives the send that started it: what it logs
/// still carries that send's request id.
#[tokio::test]
async fn work_spawned_by_a_request_logs_with_its_request_id() {
    // Only for its fake Mistral (a slow one): the server is the process.
    let fakes = crate::support::TestApp::spawn(crate::support::Backend::Sqlite)
        .await
        .unwrap();
    fakes.mistral.configure(|c| {
        c.reply = Some("word ".repeat(40));
        c.token_delay = Duration::from_millis(100);
    });
    let server = Process::start(&[("MISTRAL_API_BASE", fakes.mistral.base_url.as_str())]);
    let http = reqwest::Client::new();
    let cookie = server.register(&http, "spawned@example.com").await;
    let r = http
        .put(server.url("/api/settings/key"))
        .header("cookie", &cookie)
        .json(&json!({"apiKey": "sk-test-1234"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(server.url("/api/chat"))
        .header("cookie", &cookie)
        .json(&json!({"text": "Hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    // The rows go away under the running answer: its writes fail and it
    // says so in the log, from its own task, after the send has answered.
    server
        .sabotage("ALTER TABLE messages RENAME TO messages_gone")
        .await;
    let lines = server
        .wait_for(|l| {
            l["target"]
                .as_str()
                .is_some_and(|t| t.ends_with("services::generation"))
        })
        .await;
    assert!(!lines.is_empty(), "nothing logged:\n{}", server.all_lines());
    for line in &lines {
        assert!(in_request(line, &id), "{id}: {line}");
    }
}
