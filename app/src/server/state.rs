//! `AppState`: everything a request handler or server function needs, cheap to clone.
//!
//! Built once at startup by the `server` binary (or by the test harness) and
//! shared by the axum routes and, through Leptos context, the server functions.
use super::config::Config;
use super::crypto::SecretBox;
use super::mistral::MistralClient;
use super::services::generation::GenerationHub;
use super::services::google::GoogleVerifier;
use super::services::rate_limit::LoginLimiter;
use super::services::settings::CatalogueCache;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub secrets: SecretBox,
    pub http: reqwest::Client,
    pub google: GoogleVerifier,
    pub login_limiter: LoginLimiter,
    pub leptos_options: leptos::config::LeptosOptions,
    pub mistral: MistralClient,
    pub hub: GenerationHub,
    pub catalogue: CatalogueCache,
    /// Set to `true` when the server shuts down: live streams end, running
    /// generations store their partial answer as interrupted.
    pub shutdown: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    /// `app_secret` is the resolved secret (from `APP_SECRET` or `data/secret.key`).
    pub fn new(
        db: DatabaseConnection,
        config: Config,
        app_secret: &str,
        leptos_options: leptos::config::LeptosOptions,
    ) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .user_agent(crate::server::mistral::client::USER_AGENT)
            .build()
            .unwrap_or_default();
        let google = GoogleVerifier::new(
            http.clone(),
            config.google_client_id.clone(),
            config.google_tokeninfo_url.clone(),
            config.google_jwks_url.clone(),
        );
        let mistral = MistralClient::new(http.clone(), config.mistral_api_base.clone());
        Self {
            db,
            mistral,
            hub: GenerationHub::default(),
            catalogue: CatalogueCache::default(),
            shutdown: Arc::new(tokio::sync::watch::channel(false).0),
            secrets: SecretBox::new(app_secret),
            config: Arc::new(config),
            http,
            google,
            login_limiter: LoginLimiter::default(),
            leptos_options,
        }
    }
}

impl axum::extract::FromRef<AppState> for leptos::config::LeptosOptions {
    fn from_ref(s: &AppState) -> Self {
        s.leptos_options.clone()
    }
}
