//! Startup and shutdown: configuration → logging → secret → database →
//! listener → serve until SIGINT/SIGTERM, then drain with a deadline. While
//! serving, a background task purges expired and idle sessions hourly.
use app::server::config::{Config, LogFormat};
use app::server::{db, AppState};
use axum::serve::ListenerExt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::net::TcpListener;

/// A startup failure, printed as one line by `main`.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Config(#[from] app::server::config::ConfigError),
    #[error("DATABASE_URL: {0}")]
    Database(#[from] db::DbInitError),
    #[error("APP_SECRET: {0}")]
    Secret(String),
    #[error("Leptos.toml / LEPTOS_*: {0}")]
    Leptos(String),
    #[error("LEPTOS_SITE_ADDR: cannot listen on {0}: {1}")]
    Bind(SocketAddr, String),
    #[error("server error: {0}")]
    Serve(String),
}

/// How long in-flight requests get after a shutdown signal.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// How often expired and idle session tokens are deleted.
pub const SESSION_PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// Runs `job` every `every` (first after one period) until the server shuts
/// down: the one loop behind the session purge and the guest retention.
fn spawn_periodic<F, Fut>(state: AppState, every: Duration, job: F) -> tokio::task::JoinHandle<()>
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut shutdown = state.shutdown.subscribe();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.wait_for(|stopping| *stopping) => return,
            }
            job(state.clone()).await;
        }
    })
}

/// Deletes expired and idle tokens every `every` (first after one period:
/// tokens are already refused when expired, the purge only keeps the table
/// small) until the server shuts down.
pub fn spawn_session_purge(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    spawn_periodic(state, every, |state| async move {
        match app::server::services::auth::purge_expired(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "deleted expired and idle sessions"),
            Err(e) => tracing::warn!(error = %e, "session purge failed; retrying next hour"),
        }
        // Uploads never sent within a day go too (each upload also
        // sweeps, so a busy server never waits for this).
        let now = app::server::db::now_ms();
        match app::server::services::uploads::sweep_unsent(&state.db, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "removed uploads never sent"),
            Err(e) => tracing::warn!(error = %e, "upload sweep failed; retrying next hour"),
        }
    })
}

/// Deletes guests inactive for `GUEST_TTL_DAYS` every `every` (first after
/// one period) until the server shuts down. Every replica runs it: each
/// guest is claimed by one conditional update, so replicas never delete the
/// same guest twice (see `services::guests`).
pub fn spawn_guest_retention(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    spawn_periodic(state, every, |state| async move {
        if let Err(e) = app::server::services::guests::delete_inactive(&state).await {
            tracing::warn!(error = %e, "guest retention failed; retrying next hour");
        }
    })
}

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn,hyper=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// `APP_SECRET`, or the secret in `DATA_DIR/secret.key`, created once (0600).
pub fn resolve_secret(config: &Config) -> Result<String, StartupError> {
    if let Some(s) = &config.app_secret {
        return Ok(s.expose().to_string());
    }
    load_or_create_secret(&config.data_dir.join("secret.key"))
}

pub fn load_or_create_secret(path: &Path) -> Result<String, StartupError> {
    let fail = |what: &str, e: std::io::Error| {
        StartupError::Secret(format!("{what} {}: {e}", path.display()))
    };
    match std::fs::read_to_string(path) {
        Ok(s) if s.trim().len() >= 32 => return Ok(s.trim().to_string()),
        Ok(_) => {
            return Err(StartupError::Secret(format!(
                "{} is too short; delete it to have a new one generated (stored API keys will need re-entering)",
                path.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail("cannot read", e)),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail("cannot create directory for", e))?;
    }
    let secret = app::server::crypto::random_url_token(48);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    let mut f = opts.open(path).map_err(|e| fail("cannot create", e))?;
    f.write_all(secret.as_bytes())
        .map_err(|e| fail("cannot write", e))?;
    tracing::info!(path = %path.display(), "generated a new application secret");
    Ok(secret)
}

/// Reads `Leptos.toml` (with `LEPTOS_*` overrides); falls back to built-in
/// defaults plus the environment when the file is absent.
pub fn leptos_options() -> Result<leptos::config::LeptosOptions, StartupError> {
    let file = Path::new("Leptos.toml");
    let conf = leptos::config::get_configuration(file.exists().then_some("Leptos.toml"))
        .map_err(|e| StartupError::Leptos(e.to_string()))?;
    Ok(conf.leptos_options)
}

/// Everything `main` does, returning a printable error instead of panicking.
pub async fn run_from_env() -> Result<(), StartupError> {
    let _ = dotenvy::dotenv();
    let mut config = Config::from_lookup(|k| std::env::var(k).ok())?;
    init_logging(config.log_format);
    let secret = resolve_secret(&config)?;
    let leptos_options = crate::static_files::check_site(leptos_options()?);
    let addr: SocketAddr = leptos_options.site_addr;
    let db = db::open(&config.database_url).await?;
    db::fit_upload_limit(&db, &mut config).await;
    let state = AppState::new(db, config, &secret, leptos_options);
    app::server::services::generation_recovery(&state).await;
    // Before the port opens: a SIGTERM sent as soon as the port answers
    // (while the router is still being built) must shut down gracefully,
    // not kill the process.
    let shutdown = shutdown_signal();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| StartupError::Bind(addr, e.to_string()))?;
    tracing::info!("MistralChat listening on http://{addr}");
    serve(listener, state, shutdown).await
}

/// Serves until `shutdown` resolves, then stops accepting and gives in-flight
/// requests [`DRAIN_DEADLINE`] to finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartupError> {
    let shutdown_state = state.clone();
    spawn_session_purge(state.clone(), SESSION_PURGE_INTERVAL);
    spawn_guest_retention(
        state.clone(),
        app::server::services::guests::RETENTION_INTERVAL,
    );
    let router = crate::routes::router(state);
    // Small SSE writes must not wait for Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = rx.await;
    });
    let mut handle = tokio::spawn(async move { server.await });
    tokio::select! {
        res = &mut handle => {
            return res.map_err(|e| StartupError::Serve(e.to_string()))?
                .map_err(|e| StartupError::Serve(e.to_string()));
        }
        _ = shutdown => {}
    }
    tracing::info!("shutting down: draining in-flight requests");
    // End live SSE streams and let running generations store their answers.
    let _ = shutdown_state.shutdown.send(true);
    let _ = tx.send(());
    match tokio::time::timeout(DRAIN_DEADLINE, handle).await {
        Ok(_) => tracing::info!("shutdown complete"),
        Err(_) => tracing::warn!("drain deadline reached; closing remaining connections"),
    }
    // Give generation tasks a moment to write their final rows.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while shutdown_state.hub.live_count() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM. The SIGTERM handler is installed when
/// this is called, not when the future is first polled.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            _ = term => {},
        }
    }
}
