//! Thread and message page latency against the real router.
//!
//! ```text
//! cargo run -p bench --release --bin bench_threads -- [--db sqlite|postgres|both] [--requests N]
//! ```
//!
//! Seeds one user with 10,000 threads (plus a second user with 1,000, so the
//! `user_id` condition has something to filter) and one thread with 5,000
//! messages, serves the production router on 127.0.0.1:0, and measures p50/p99
//! of sequential requests for: the first and a deep (~400th) page of
//! `GET /api/thread`, and the newest and a deep (~90th) page of
//! `GET /api/thread?idThread=…&limit=50`. It then prints the query plans of
//! the exact queries behind those pages (`threads::thread_page_select`,
//! `threads::message_page_select`) and whether they use the indexes
//! `ix_threads_user_updated` / `ix_messages_thread_created`; the exit status is
//! 1 when a plan does not.
//!
//! SQLite runs on a temporary file. PostgreSQL needs `TEST_POSTGRES_URL`
//! (an admin URL, e.g. `postgres://postgres@127.0.0.1:5432/postgres`): a fresh
//! `mc_bench_<random>` database is created and dropped at the end.
use app::server::config::Config;
use app::server::entities::{messages, threads};
use app::server::services::{auth, threads as thread_service};
use app::server::{db, AppState};
use app::vocab::{MessageStatus, Role, UserId};
use sea_orm::{ConnectionTrait, Database, DbBackend, EntityTrait, QueryTrait, Set, Statement};
use serde_json::Value;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const THREADS: usize = 10_000;
const NOISE_THREADS: usize = 1_000;
const MESSAGES: usize = 5_000;
const THREAD_PAGE: u64 = 20;
const MESSAGE_PAGE: u64 = 50;
/// `GET /api/thread` page reached by following cursors (of 500).
const DEEP_THREAD_PAGE: usize = 400;
/// Message page reached by following cursors (of 100).
const DEEP_MESSAGE_PAGE: usize = 90;
const WARMUP: usize = 10;
const BATCH: usize = 500;

type BenchResult<T> = Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

struct Args {
    backends: Vec<Backend>,
    requests: usize,
}

fn parse_args() -> BenchResult<Args> {
    let mut backends = vec![Backend::Sqlite, Backend::Postgres];
    let mut requests = 200;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--db" => {
                backends = match it.next().as_deref() {
                    Some("sqlite") => vec![Backend::Sqlite],
                    Some("postgres") => vec![Backend::Postgres],
                    Some("both") => vec![Backend::Sqlite, Backend::Postgres],
                    other => {
                        return Err(format!(
                            "--db: expected sqlite, postgres or both, got {other:?}"
                        ))
                    }
                }
            }
            "--requests" => {
                requests = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--requests: expected a positive number")?;
            }
            "-h" | "--help" => {
                return Err(
                    "usage: bench_threads [--db sqlite|postgres|both] [--requests N]".into(),
                )
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(Args { backends, requests })
}

/// A database for one run, removed when dropped.
enum BenchDb {
    Sqlite {
        dir: std::path::PathBuf,
        url: String,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl BenchDb {
    fn url(&self) -> &str {
        match self {
            BenchDb::Sqlite { url, .. } | BenchDb::Postgres { url, .. } => url,
        }
    }

    async fn create(backend: Backend) -> BenchResult<Option<BenchDb>> {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("mc-bench-{tag}"));
                std::fs::create_dir_all(&dir).map_err(err)?;
                let url = format!("sqlite://{}/bench.db?mode=rwc", dir.display());
                Ok(Some(BenchDb::Sqlite { dir, url }))
            }
            Backend::Postgres => {
                let Some(admin_url) = std::env::var("TEST_POSTGRES_URL")
                    .ok()
                    .filter(|v| !v.is_empty())
                else {
                    return Ok(None);
                };
                let name = format!("mc_bench_{tag}");
                let admin = Database::connect(&admin_url).await.map_err(err)?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .map_err(err)?;
                let _ = admin.close().await;
                let url = replace_db_name(&admin_url, &name);
                Ok(Some(BenchDb::Postgres {
                    admin_url,
                    name,
                    url,
                }))
            }
        }
    }

    async fn remove(self) {
        match self {
            BenchDb::Sqlite { dir, .. } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            BenchDb::Postgres {
                admin_url, name, ..
            } => {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    let _ = admin.close().await;
                }
            }
        }
    }
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..i + scheme_end],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

struct Seeded {
    token: String,
    user_id: String,
    long_thread: String,
}

async fn insert_threads(
    state: &AppState,
    user_id: &str,
    n: usize,
    base: i64,
) -> BenchResult<Vec<String>> {
    let mut ids = Vec::with_capacity(n);
    for start in (0..n).step_by(BATCH) {
        let mut rows = Vec::with_capacity(BATCH);
        for i in start..(start + BATCH).min(n) {
            let id = uuid::Uuid::new_v4().to_string();
            // Pairs share a timestamp, so the id tie-break is exercised.
            let at = base + (i as i64 / 2) * 1_000;
            rows.push(threads::ActiveModel {
                id: Set(id.clone()),
                user_id: Set(user_id.to_string()),
                name: Set(format!("Conversation {i}")),
                context: Set(String::new()),
                model: Set(Some("mistral-medium-latest".into())),
                created_at: Set(at),
                updated_at: Set(at),
            });
            ids.push(id);
        }
        threads::Entity::insert_many(rows)
            .exec_without_returning(&state.db)
            .await
            .map_err(err)?;
    }
    Ok(ids)
}

async fn insert_messages(
    state: &AppState,
    thread_id: &str,
    n: usize,
    base: i64,
) -> BenchResult<()> {
    let text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(8);
    let mut parent: Option<String> = None;
    for start in (0..n).step_by(BATCH) {
        let mut rows = Vec::with_capacity(BATCH);
        for i in start..(start + BATCH).min(n) {
            let id = uuid::Uuid::new_v4().to_string();
            let at = base + (i as i64 / 2) * 10;
            rows.push(messages::ActiveModel {
                id: Set(id.clone()),
                thread_id: Set(thread_id.to_string()),
                parent_id: Set(parent.clone()),
                role: Set(if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                }),
                text: Set(text.clone()),
                thinking: Set(None),
                status: Set(MessageStatus::Done),
                model: Set(None),
                finish_reason: Set(Some("stop".into())),
                prompt_tokens: Set(Some(100)),
                completion_tokens: Set(Some(120)),
                error: Set(None),
                sources: Set(None),
                thinking_ms: Set(None),
                spoken: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
            });
            parent = Some(id);
        }
        messages::Entity::insert_many(rows)
            .exec_without_returning(&state.db)
            .await
            .map_err(err)?;
    }
    Ok(())
}

async fn seed(state: &AppState) -> BenchResult<Seeded> {
    let issued = auth::register(
        state,
        "bench@example.com",
        "correct horse battery",
        Some("Bench"),
    )
    .await
    .map_err(err)?;
    let me = auth::authenticate(state, &issued.token)
        .await
        .map_err(err)?;
    let noise = auth::register(state, "noise@example.com", "correct horse battery", None)
        .await
        .map_err(err)?;
    let noise_user = auth::authenticate(state, &noise.token).await.map_err(err)?;

    let base = 1_700_000_000_000;
    let ids = insert_threads(state, me.id().as_str(), THREADS, base).await?;
    let noise_ids = insert_threads(state, noise_user.id().as_str(), NOISE_THREADS, base).await?;
    // The long conversation sits in the middle of the list.
    let long_thread = ids[THREADS / 2].clone();
    insert_messages(state, &long_thread, MESSAGES, base).await?;
    insert_messages(state, &noise_ids[0], 1_000, base).await?;
    state.db.execute_unprepared("ANALYZE").await.map_err(err)?;
    Ok(Seeded {
        token: issued.token,
        user_id: me.id().to_string(),
        long_thread,
    })
}

/// Sequential HTTP requests with the caller's token, through the state's
/// own HTTP client (reqwest, with keep-alive).
struct Client {
    state: AppState,
    base: String,
    token: String,
}

impl Client {
    /// The body of a `200` response to `GET path`.
    async fn get_raw(&self, path: &str) -> BenchResult<Vec<u8>> {
        let resp = self
            .state
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(err)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(err)?.to_vec();
        if !status.is_success() {
            return Err(format!(
                "GET {path}: {status} {}",
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(body)
    }

    async fn get_json(&self, path: &str) -> BenchResult<Value> {
        serde_json::from_slice(&self.get_raw(path).await?).map_err(err)
    }

    /// The `before` cursor that yields page `page` (1-based) of `first`.
    async fn cursor_for_page(&self, first: &str, page: usize) -> BenchResult<String> {
        let mut cursor: Option<String> = None;
        for n in 1..page {
            let path = match &cursor {
                Some(c) => format!("{first}&before={c}"),
                None => first.to_string(),
            };
            let body = self.get_json(&path).await?;
            let next = body["nextCursor"]
                .as_str()
                .ok_or_else(|| format!("{first}: no page after page {n}"))?;
            cursor = Some(next.to_string());
        }
        cursor.ok_or_else(|| format!("{first}: page {page} is the first page"))
    }
}

struct Stats {
    p50: Duration,
    p99: Duration,
    bytes: usize,
    items: usize,
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

async fn measure(client: &Client, path: &str, list_key: &str, n: usize) -> BenchResult<Stats> {
    for _ in 0..WARMUP {
        client.get_raw(path).await?;
    }
    let mut samples = Vec::with_capacity(n);
    let mut bytes = 0;
    for _ in 0..n {
        let start = Instant::now();
        let body = client.get_raw(path).await?;
        samples.push(start.elapsed());
        bytes = body.len();
    }
    samples.sort();
    let items = client.get_json(path).await?[list_key]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default();
    Ok(Stats {
        p50: percentile(&samples, 50),
        p99: percentile(&samples, 99),
        bytes,
        items,
    })
}

/// The plan lines of `sql` on this backend.
async fn explain(state: &AppState, sql: &str) -> BenchResult<Vec<String>> {
    let backend = state.db.get_database_backend();
    let (query, column) = match backend {
        DbBackend::Sqlite => (format!("EXPLAIN QUERY PLAN {sql}"), "detail"),
        _ => (format!("EXPLAIN {sql}"), "QUERY PLAN"),
    };
    let rows = state
        .db
        .query_all_raw(Statement::from_string(backend, query))
        .await
        .map_err(err)?;
    rows.iter()
        .map(|r| r.try_get::<String>("", column).map_err(err))
        .collect()
}

/// True when the plan reads `table` through `index` without a full scan or
/// a separate sort.
fn plan_uses_index(backend: DbBackend, plan: &[String], table: &str, index: &str) -> bool {
    match backend {
        DbBackend::Sqlite => {
            let via_index = plan.iter().any(|d| {
                d.starts_with(&format!("SEARCH {table} USING INDEX {index} "))
                    || d.starts_with(&format!("SEARCH {table} USING COVERING INDEX {index} "))
            });
            via_index
                && !plan.iter().any(|d| d.starts_with(&format!("SCAN {table}")))
                && !plan.iter().any(|d| d.contains("TEMP B-TREE"))
        }
        _ => {
            let node = |l: &String| {
                l.trim_start()
                    .trim_start_matches("->")
                    .trim_start()
                    .to_string()
            };
            plan.iter()
                .any(|l| l.contains(&format!("using {index} on {table}")))
                && !plan.iter().any(|l| l.contains("Seq Scan"))
                && !plan
                    .iter()
                    .any(|l| node(l).starts_with("Sort") || node(l).starts_with("Incremental Sort"))
        }
    }
}

struct Row {
    what: &'static str,
    stats: Stats,
}

struct Report {
    backend: Backend,
    rows: Vec<Row>,
    plans_ok: bool,
}

async fn run(backend: Backend, requests: usize) -> BenchResult<Option<Report>> {
    let Some(bench_db) = BenchDb::create(backend).await? else {
        println!(
            "## {}: SKIPPED — TEST_POSTGRES_URL is not set",
            backend.label()
        );
        return Ok(None);
    };
    let result = run_on(backend, bench_db.url(), requests).await;
    bench_db.remove().await;
    result.map(Some)
}

async fn run_on(backend: Backend, url: &str, requests: usize) -> BenchResult<Report> {
    println!("## {}", backend.label());
    let database = db::open(url).await.map_err(err)?;
    let mut config = Config::from_lookup(|_| None).map_err(err)?;
    config.database_url = url.to_string();
    let options = leptos::config::LeptosOptions::builder()
        .output_name("mistralchat")
        .build();
    let state = AppState::new(
        database,
        config,
        "bench-secret-0123456789abcdef0123",
        options,
    );

    let started = Instant::now();
    let seeded = seed(&state).await?;
    println!(
        "seeded {THREADS} threads (+{NOISE_THREADS} of another user) and {MESSAGES} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(err)?;
    let addr = listener.local_addr().map_err(err)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server_state = state.clone();
    let server = tokio::spawn(async move {
        server::startup::serve(listener, server_state, async move {
            let _ = stopped.await;
        })
        .await
    });
    let client = Client {
        state: state.clone(),
        base: format!("http://{addr}"),
        token: seeded.token.clone(),
    };
    let outcome = measure_all(&client, &state, &seeded, requests).await;
    let _ = stop.send(());
    let _ = server.await;
    outcome.map(|(rows, plans_ok)| Report {
        backend,
        rows,
        plans_ok,
    })
}

async fn measure_all(
    client: &Client,
    state: &AppState,
    seeded: &Seeded,
    requests: usize,
) -> BenchResult<(Vec<Row>, bool)> {
    let list_first = format!("/api/thread?limit={THREAD_PAGE}");
    let list_cursor = client
        .cursor_for_page(&list_first, DEEP_THREAD_PAGE)
        .await?;
    let list_deep = format!("{list_first}&before={list_cursor}");
    let msgs_first = format!(
        "/api/thread?idThread={}&limit={MESSAGE_PAGE}",
        seeded.long_thread
    );
    let msgs_cursor = client
        .cursor_for_page(&msgs_first, DEEP_MESSAGE_PAGE)
        .await?;
    let msgs_deep = format!("{msgs_first}&before={msgs_cursor}");

    let cases: [(&'static str, &str, &str); 4] = [
        ("threads, first page (limit 20)", &list_first, "threads"),
        ("threads, page 400 (cursor)", &list_deep, "threads"),
        ("messages, newest page (limit 50)", &msgs_first, "messages"),
        ("messages, page 90 (cursor)", &msgs_deep, "messages"),
    ];
    let mut rows = Vec::new();
    println!();
    println!("| page | p50 | p99 | items | bytes |");
    println!("|---|---:|---:|---:|---:|");
    for (what, path, key) in cases {
        let stats = measure(client, path, key, requests).await?;
        println!(
            "| {what} | {:.2} ms | {:.2} ms | {} | {} |",
            ms(stats.p50),
            ms(stats.p99),
            stats.items,
            stats.bytes
        );
        rows.push(Row { what, stats });
    }

    let backend = state.db.get_database_backend();
    let list_before = thread_service::Cursor::parse(&list_cursor).map_err(err)?;
    let msgs_before = thread_service::Cursor::parse(&msgs_cursor).map_err(err)?;
    let plans = [
        (
            "threads, first page",
            thread_service::thread_page_select(
                &UserId::new(&seeded.user_id),
                None,
                None,
                THREAD_PAGE,
            )
            .build(backend),
            "threads",
            "ix_threads_user_updated",
        ),
        (
            "threads, page 400",
            thread_service::thread_page_select(
                &UserId::new(&seeded.user_id),
                None,
                Some(&list_before),
                THREAD_PAGE,
            )
            .build(backend),
            "threads",
            "ix_threads_user_updated",
        ),
        (
            "messages, newest page",
            thread_service::message_page_select(&seeded.long_thread, None, MESSAGE_PAGE)
                .build(backend),
            "messages",
            "ix_messages_thread_created",
        ),
        (
            "messages, page 90",
            thread_service::message_page_select(
                &seeded.long_thread,
                Some(&msgs_before),
                MESSAGE_PAGE,
            )
            .build(backend),
            "messages",
            "ix_messages_thread_created",
        ),
    ];
    let mut all_ok = true;
    for (what, stmt, table, index) in plans {
        let sql = stmt.to_string();
        let plan = explain(state, &sql).await?;
        let ok = plan_uses_index(backend, &plan, table, index);
        all_ok &= ok;
        println!();
        println!("### plan: {what}");
        println!("{sql}");
        for line in &plan {
            println!("    {line}");
        }
        if ok {
            println!("PLAN OK ({index})");
        } else {
            println!("PLAN USES FULL SCAN (expected {index})");
        }
    }
    println!();
    Ok((rows, all_ok))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "bench_threads: {} sequential requests per page after {WARMUP} warm-up requests",
        args.requests
    );
    let mut reports = Vec::new();
    let mut failed = false;
    for backend in args.backends {
        match run(backend, args.requests).await {
            Ok(Some(r)) => reports.push(r),
            Ok(None) => {}
            Err(e) => {
                eprintln!("{}: {e}", backend.label());
                failed = true;
            }
        }
    }
    println!("## Summary");
    println!();
    println!("| backend | page | p50 | p99 |");
    println!("|---|---|---:|---:|");
    for r in &reports {
        for row in &r.rows {
            println!(
                "| {} | {} | {:.2} ms | {:.2} ms |",
                r.backend.label(),
                row.what,
                ms(row.stats.p50),
                ms(row.stats.p99)
            );
        }
    }
    for r in &reports {
        println!(
            "{}: {}",
            r.backend.label(),
            if r.plans_ok {
                "PLAN OK"
            } else {
                "PLAN USES FULL SCAN"
            }
        );
        failed |= !r.plans_ok;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
