//! Every log line a request causes carries its request id (the `request`
//! span of `middleware::log_requests`), internal errors included, while the
//! client gets only the generic sentence — through `/api` and `/rpc` alike.
//!
//! The server binary runs as a process with its own logging set-up (JSON
//! lines, and a `warn` filter: the span must survive a filter that hides
//! info lines), so the test reads exactly what an operator's log shows.
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const GENERIC: &str = "Something went wrong on the server — please try again";

#[tokio::test]
async fn an_internal_error_is_logged_with_its_request_id_and_never_sent() {
    let dir = crate::support::temp_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(&dir.0)
        .env_remove("DATABASE_URL")
        .env_remove("APP_SECRET")
        .env("DATA_DIR", dir.0.join("data"))
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
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
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/api/auth/email/register"))
        .json(&json!({"email": "logs@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_string();
    // The settings table goes: reading settings fails inside the service.
    let db = Database::connect(format!(
        "sqlite://{}?mode=rw",
        dir.0.join("data/mistralchat.db").display()
    ))
    .await
    .unwrap();
    db.execute_unprepared("DROP TABLE user_settings")
        .await
        .unwrap();
    db.close().await.unwrap();

    let mut ids = vec![];
    for (path, rpc) in [("/api/settings", false), ("/rpc/get_settings", true)] {
        let req = if rpc {
            http.post(format!("{base}{path}"))
                .header("content-type", "application/x-www-form-urlencoded")
        } else {
            http.get(format!("{base}{path}"))
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

    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    let errors: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "internal error")
        .collect();
    assert_eq!(errors.len(), 2, "{log}");
    for ((path, id), line) in ids.iter().zip(&errors) {
        // The id is on the line (its span), and so is the detail, for the
        // operator only.
        assert_eq!(line["span"]["request_id"], id.as_str(), "{path}: {line}");
        assert_eq!(line["span"]["name"], "request", "{line}");
        assert!(
            line["fields"]["error"]
                .as_str()
                .unwrap_or_default()
                .contains("user_settings"),
            "{line}"
        );
    }
    assert_ne!(ids[0].1, ids[1].1);
}
