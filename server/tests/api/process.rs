//! The server binary as a process: bad configuration ends it with one line
//! and status 2; SIGTERM stops it cleanly with status 0.
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn server_in(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_server"));
    c.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("APP_SECRET")
        .env("DATA_DIR", dir.join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[test]
fn bad_configuration_is_one_line_and_exit_status_2() {
    for (var, value) in [
        ("DATABASE_URL", "oracle://db/x"),
        ("MISTRAL_API_BASE", "not a url"),
        ("LOG_FORMAT", "xml"),
        ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
    ] {
        let dir = crate::support::temp_dir();
        let out = server_in(&dir.0)
            .env(var, value)
            .output()
            .expect("run server");
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("mistralchat:"))
            .collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(lines[0].contains(var), "{stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
    }
}

#[test]
fn sigterm_stops_the_server_with_status_0_and_it_made_its_database_and_secret() {
    let dir = crate::support::temp_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = server_in(&dir.0)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .spawn()
        .expect("spawn server");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "server did not start");
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).ok();
            panic!("server exited early with {status}: {err}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "server ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    // The embedded database and the generated secret (owner-only) exist.
    assert!(dir.0.join("data/mistralchat.db").exists());
    let key = dir.0.join("data/secret.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(std::fs::read_to_string(&key).unwrap().len() >= 32);
}
