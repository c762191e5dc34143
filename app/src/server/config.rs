//! The typed configuration every service reads, parsed once at startup.
//!
//! Owns parsing and validation of environment values; it must not read the
//! environment itself (the `server` binary passes a lookup function), so tests
//! can build a `Config` from a plain map. Secrets are wrapped in [`Secret`] so a
//! `{:?}` of the configuration never prints them.
use std::fmt;
use std::path::PathBuf;

/// A string that never shows up in logs or debug output.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    /// Public origin without trailing slash, e.g. `http://127.0.0.1:3000`.
    pub public_url: String,
    /// `APP_SECRET` if set; otherwise the server loads/creates `data/secret.key`.
    pub app_secret: Option<Secret>,
    pub data_dir: PathBuf,
    pub mistral_api_base: String,
    pub mistral_api_key: Option<Secret>,
    /// The server-wide key is only used when the operator opts in.
    pub allow_server_key: bool,
    pub google_client_id: Option<String>,
    pub google_tokeninfo_url: String,
    pub google_jwks_url: String,
    /// The operator's text-to-speech provider (`TTS_API_BASE`, with
    /// `TTS_API_KEY`): when both are set, `POST /api/tts` speaks through it
    /// (`/tts/generate`, `/tts/validate`) instead of Mistral. Set together or
    /// not at all.
    pub tts_api_base: Option<String>,
    pub tts_api_key: Option<Secret>,
    /// Largest recording `POST /api/transcribe` takes, bytes
    /// (`MAX_AUDIO_MB`, default 25).
    pub max_audio_bytes: u64,
    /// Longest text `POST /api/tts` reads aloud, characters
    /// (`MAX_TTS_CHARS`, default 4000).
    pub max_tts_chars: usize,
    /// The model that transcribes recordings (`TRANSCRIBE_MODEL`).
    pub transcribe_model: String,
    /// The model that reads answers aloud (`TTS_MODEL`).
    pub tts_model: String,
    pub log_format: LogFormat,
    pub session_ttl_days: i64,
    /// The cheap model that names new threads after their first exchange;
    /// `None` (`TITLE_MODEL=off`) keeps the first line of the question.
    pub title_model: Option<String>,
    /// Peers whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`: IPs or
    /// CIDR ranges, comma-separated). Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// `ALLOW_REGISTRATION=false` closes email sign-up (403).
    pub allow_registration: bool,
    /// A session unused for this long ends (`SESSION_IDLE_DAYS`, default 7),
    /// within its `session_ttl_days` lifetime.
    pub session_idle_days: i64,
    /// Generations one user may run at once (`MAX_GENERATIONS_PER_USER`, default 3).
    pub max_generations_per_user: usize,
    /// Generations the whole server runs at once (`MAX_GENERATIONS_TOTAL`, default 200).
    pub max_generations_total: usize,
    /// Event streams one user may hold open (`MAX_STREAMS_PER_USER`, default 20).
    pub max_streams_per_user: usize,
    /// Event streams the whole server holds open (`MAX_STREAMS_TOTAL`, default 2000).
    pub max_streams_total: usize,
    /// Answers per user per UTC day on the operator's key when
    /// `ALLOW_SERVER_KEY=true` (`SERVER_KEY_DAILY_REQUESTS`, default 0 = unlimited).
    pub server_key_daily_requests: u32,
    /// Longest a whole generation may take (`GENERATION_TIMEOUT_SECS`, default 1800).
    pub generation_timeout_secs: u64,
    /// Longest wait between two upstream events (`GENERATION_IDLE_TIMEOUT_SECS`,
    /// default 300: reasoning models can think quietly for minutes).
    pub generation_idle_timeout_secs: u64,
    /// Largest uploaded file, bytes (`MAX_UPLOAD_MB`, default 20).
    pub max_upload_bytes: u64,
    /// Most files sent with one message (`MAX_ATTACHMENTS`, default 10).
    pub max_attachments: usize,
    /// Most bytes of files sent with one message (`MAX_MESSAGE_FILES_MB`,
    /// default 50).
    pub max_message_files_bytes: u64,
    /// What one user may keep in uploaded files, bytes
    /// (`USER_STORAGE_QUOTA_MB`, default 1024).
    pub user_storage_quota_bytes: u64,
    /// The model that reads documents and images (`OCR_MODEL`).
    pub ocr_model: String,
    /// Guest access (`ALLOW_GUESTS`, default true): a visitor without an
    /// account chats as a guest, created on the first write.
    pub allow_guests: bool,
    /// Guests without a key of their own may use `MISTRAL_API_KEY`
    /// (`GUEST_SERVER_KEY`, default false), within the daily quotas below.
    pub guest_server_key: bool,
    /// Answers one guest may start per UTC day on the server's key
    /// (`GUEST_DAILY_MESSAGES`, default 20).
    pub guest_daily_messages: u32,
    /// Answers all guests from one address may start per UTC day on the
    /// server's key (`GUEST_IP_DAILY_MESSAGES`, default 50): clearing
    /// cookies does not reset it.
    pub guest_ip_daily_messages: u32,
    /// Guests one address may create per hour (`GUEST_CREATIONS_PER_IP_HOUR`,
    /// default 10).
    pub guest_creations_per_ip_hour: u32,
    /// A guest inactive this long is deleted with everything it owns
    /// (`GUEST_TTL_DAYS`, default 30).
    pub guest_ttl_days: i64,
}

/// An IP network (`10.0.0.0/8`, `::1/128`); a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<IpNet> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: std::net::IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        // An IPv4 peer seen through an IPv6 socket (`::ffff:a.b.c.d`).
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let bits = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
                u32::from(net) & bits == u32::from(ip) & bits
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let bits = u128::MAX.checked_shl(128 - self.prefix as u32).unwrap_or(0);
                u128::from(net) & bits == u128::from(ip) & bits
            }
            _ => false,
        }
    }
}

pub const DEFAULT_TITLE_MODEL: &str = "ministral-8b-latest";

/// A configuration error names the variable and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

/// One megabyte, as the limits count it.
pub const MB: u64 = 1024 * 1024;
/// The model that reads documents unless `OCR_MODEL` names another.
pub const DEFAULT_OCR_MODEL: &str = "mistral-ocr-latest";
/// The model that transcribes recordings unless `TRANSCRIBE_MODEL` names another.
pub const DEFAULT_TRANSCRIBE_MODEL: &str = "voxtral-mini-latest";
/// The model that reads answers aloud unless `TTS_MODEL` names another.
pub const DEFAULT_TTS_MODEL: &str = "voxtral-mini-tts-latest";

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/mistralchat.db?mode=rwc";

/// Checks that `value` is an absolute http(s) URL and returns it without a trailing slash.
pub fn parse_base_url(var: &'static str, value: &str) -> Result<String, ConfigError> {
    let parsed = reqwest::Url::parse(value.trim())
        .map_err(|e| err(var, format!("not a valid URL ({e}): {value:?}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(err(var, format!("must be an http(s) URL, got {value:?}")));
    }
    Ok(value.trim().trim_end_matches('/').to_string())
}

fn parse_database_url(value: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    let scheme = value.split(':').next().unwrap_or_default();
    if !value.contains(':') {
        return Err(err(
            "DATABASE_URL",
            format!("not a database URL: {value:?} (expected sqlite://, mysql:// or postgres://)"),
        ));
    }
    match scheme {
        "sqlite" | "mysql" | "mariadb" | "postgres" | "postgresql" => {}
        other => {
            return Err(err(
                "DATABASE_URL",
                format!("unknown scheme {other:?} (use sqlite://, mysql:// or postgres://)"),
            ))
        }
    }
    // sqlx speaks `mysql://` for MariaDB too.
    Ok(value.replacen("mariadb://", "mysql://", 1))
}

fn parse_count<T: std::str::FromStr + PartialOrd>(
    var: &'static str,
    value: Option<String>,
    default: T,
    range: std::ops::RangeInclusive<T>,
    what: &str,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<T>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| err(var, format!("expected {what}, got {v:?}"))),
    }
}

fn parse_bool(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(err(var, format!("expected true or false, got {value:?}"))),
    }
}

impl Config {
    /// Builds the configuration from a variable lookup (the process
    /// environment in production, a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let database_url = parse_database_url(
            &get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
        )?;
        let public_url = parse_base_url(
            "PUBLIC_URL",
            &get("PUBLIC_URL").unwrap_or_else(|| "http://127.0.0.1:3000".into()),
        )?;
        let app_secret = get("APP_SECRET").map(Secret::new);
        if let Some(s) = &app_secret {
            if s.expose().len() < 16 {
                return Err(err("APP_SECRET", "must be at least 16 characters long"));
            }
        }
        let log_format = match get("LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(err(
                    "LOG_FORMAT",
                    format!("expected text or json, got {other:?}"),
                ))
            }
        };
        let session_ttl_days = match get("SESSION_TTL_DAYS") {
            None => 30,
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .ok_or_else(|| {
                    err(
                        "SESSION_TTL_DAYS",
                        format!("expected a number of days (1-3650), got {v:?}"),
                    )
                })?,
        };
        let title_model = match get("TITLE_MODEL").map(|v| v.trim().to_string()) {
            None => Some(DEFAULT_TITLE_MODEL.to_string()),
            Some(v) if matches!(v.to_ascii_lowercase().as_str(), "off" | "none" | "false") => None,
            Some(v) => match crate::vocab::ModelId::parse(&v) {
                Ok(Some(m)) => Some(m.into_string()),
                Ok(None) => Some(DEFAULT_TITLE_MODEL.to_string()),
                Err(_) => {
                    return Err(err(
                        "TITLE_MODEL",
                        format!("expected a model id or off, got {v:?}"),
                    ))
                }
            },
        };
        let trusted_proxies = match get("TRUSTED_PROXIES") {
            None => vec![],
            Some(list) => list
                .split(',')
                .filter(|p| !p.trim().is_empty())
                .map(|p| {
                    IpNet::parse(p).ok_or_else(|| {
                        err(
                            "TRUSTED_PROXIES",
                            format!("not an IP address or CIDR range: {:?}", p.trim()),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let opt_url = |var: &'static str| -> Result<Option<String>, ConfigError> {
            get(var).map(|v| parse_base_url(var, &v)).transpose()
        };
        let model = |var: &'static str, default: &str| -> Result<String, ConfigError> {
            match get(var).map(|v| v.trim().to_string()) {
                None => Ok(default.to_string()),
                Some(v) => match crate::vocab::ModelId::parse(&v) {
                    Ok(Some(m)) => Ok(m.into_string()),
                    _ => Err(err(var, format!("expected a model id, got {v:?}"))),
                },
            }
        };
        // The provider is used only with both: one without the other is a
        // mistake to report, not a silent fallback to Mistral.
        let tts_api_base = opt_url("TTS_API_BASE")?;
        let tts_api_key = get("TTS_API_KEY").map(|k| Secret::new(k.trim()));
        match (&tts_api_base, &tts_api_key) {
            (Some(_), None) => return Err(err(
                "TTS_API_KEY",
                "must be set with TTS_API_BASE (or unset TTS_API_BASE to speak through Mistral)",
            )),
            (None, Some(_)) => {
                return Err(err(
                    "TTS_API_BASE",
                    "must be set with TTS_API_KEY (or unset TTS_API_KEY to speak through Mistral)",
                ))
            }
            _ => {}
        }
        let guest_server_key = parse_bool(
            "GUEST_SERVER_KEY",
            &get("GUEST_SERVER_KEY").unwrap_or_default(),
        )?;
        if guest_server_key && get("MISTRAL_API_KEY").is_none() {
            return Err(err(
                "GUEST_SERVER_KEY",
                "needs MISTRAL_API_KEY (the server's key guests would use)",
            ));
        }
        Ok(Config {
            database_url,
            public_url,
            app_secret,
            data_dir: PathBuf::from(get("DATA_DIR").unwrap_or_else(|| "data".into())),
            mistral_api_base: parse_base_url(
                "MISTRAL_API_BASE",
                &get("MISTRAL_API_BASE").unwrap_or_else(|| "https://api.mistral.ai".into()),
            )?,
            mistral_api_key: get("MISTRAL_API_KEY").map(Secret::new),
            allow_server_key: parse_bool(
                "ALLOW_SERVER_KEY",
                &get("ALLOW_SERVER_KEY").unwrap_or_default(),
            )?,
            google_client_id: get("GOOGLE_CLIENT_ID").map(|v| v.trim().to_string()),
            google_tokeninfo_url: parse_base_url(
                "GOOGLE_TOKENINFO_URL",
                &get("GOOGLE_TOKENINFO_URL")
                    .unwrap_or_else(|| "https://oauth2.googleapis.com/tokeninfo".into()),
            )?,
            google_jwks_url: parse_base_url(
                "GOOGLE_JWKS_URL",
                &get("GOOGLE_JWKS_URL")
                    .unwrap_or_else(|| "https://www.googleapis.com/oauth2/v3/certs".into()),
            )?,
            tts_api_base,
            tts_api_key,
            max_audio_bytes: parse_count::<u64>(
                "MAX_AUDIO_MB",
                get("MAX_AUDIO_MB"),
                25,
                1..=512,
                "a number of megabytes (1-512)",
            )? * MB,
            max_tts_chars: parse_count(
                "MAX_TTS_CHARS",
                get("MAX_TTS_CHARS"),
                4000,
                1..=100_000,
                "a number of characters (1-100000)",
            )?,
            transcribe_model: model("TRANSCRIBE_MODEL", DEFAULT_TRANSCRIBE_MODEL)?,
            tts_model: model("TTS_MODEL", DEFAULT_TTS_MODEL)?,
            log_format,
            session_ttl_days,
            title_model,
            trusted_proxies,
            allow_registration: parse_bool(
                "ALLOW_REGISTRATION",
                &get("ALLOW_REGISTRATION").unwrap_or_else(|| "true".into()),
            )?,
            session_idle_days: parse_count(
                "SESSION_IDLE_DAYS",
                get("SESSION_IDLE_DAYS"),
                7,
                1..=3650,
                "a number of days (1-3650)",
            )?,
            max_generations_per_user: parse_count(
                "MAX_GENERATIONS_PER_USER",
                get("MAX_GENERATIONS_PER_USER"),
                3,
                1..=1000,
                "a number (1-1000)",
            )?,
            max_generations_total: parse_count(
                "MAX_GENERATIONS_TOTAL",
                get("MAX_GENERATIONS_TOTAL"),
                200,
                1..=100_000,
                "a number (1-100000)",
            )?,
            max_streams_per_user: parse_count(
                "MAX_STREAMS_PER_USER",
                get("MAX_STREAMS_PER_USER"),
                20,
                1..=10_000,
                "a number (1-10000)",
            )?,
            max_streams_total: parse_count(
                "MAX_STREAMS_TOTAL",
                get("MAX_STREAMS_TOTAL"),
                2000,
                1..=1_000_000,
                "a number (1-1000000)",
            )?,
            server_key_daily_requests: parse_count(
                "SERVER_KEY_DAILY_REQUESTS",
                get("SERVER_KEY_DAILY_REQUESTS"),
                0,
                0..=10_000_000,
                "a number of answers per day (0 = unlimited)",
            )?,
            generation_timeout_secs: parse_count(
                "GENERATION_TIMEOUT_SECS",
                get("GENERATION_TIMEOUT_SECS"),
                1800,
                1..=86_400,
                "a number of seconds (1-86400)",
            )?,
            generation_idle_timeout_secs: parse_count(
                "GENERATION_IDLE_TIMEOUT_SECS",
                get("GENERATION_IDLE_TIMEOUT_SECS"),
                300,
                1..=86_400,
                "a number of seconds (1-86400)",
            )?,
            max_upload_bytes: parse_count::<u64>(
                "MAX_UPLOAD_MB",
                get("MAX_UPLOAD_MB"),
                20,
                1..=512,
                "a number of megabytes (1-512)",
            )? * MB,
            max_attachments: parse_count(
                "MAX_ATTACHMENTS",
                get("MAX_ATTACHMENTS"),
                10,
                1..=100,
                "a number of files (1-100)",
            )?,
            max_message_files_bytes: parse_count::<u64>(
                "MAX_MESSAGE_FILES_MB",
                get("MAX_MESSAGE_FILES_MB"),
                50,
                1..=10_000,
                "a number of megabytes (1-10000)",
            )? * MB,
            user_storage_quota_bytes: parse_count::<u64>(
                "USER_STORAGE_QUOTA_MB",
                get("USER_STORAGE_QUOTA_MB"),
                1024,
                1..=10_000_000,
                "a number of megabytes (1-10000000)",
            )? * MB,
            ocr_model: model("OCR_MODEL", DEFAULT_OCR_MODEL)?,
            allow_guests: parse_bool(
                "ALLOW_GUESTS",
                &get("ALLOW_GUESTS").unwrap_or_else(|| "true".into()),
            )?,
            guest_server_key,
            guest_daily_messages: parse_count(
                "GUEST_DAILY_MESSAGES",
                get("GUEST_DAILY_MESSAGES"),
                20,
                1..=1_000_000,
                "a number of answers per day (1-1000000)",
            )?,
            guest_ip_daily_messages: parse_count(
                "GUEST_IP_DAILY_MESSAGES",
                get("GUEST_IP_DAILY_MESSAGES"),
                50,
                1..=10_000_000,
                "a number of answers per day (1-10000000)",
            )?,
            guest_creations_per_ip_hour: parse_count(
                "GUEST_CREATIONS_PER_IP_HOUR",
                get("GUEST_CREATIONS_PER_IP_HOUR"),
                10,
                1..=100_000,
                "a number of guests per hour (1-100000)",
            )?,
            guest_ttl_days: parse_count(
                "GUEST_TTL_DAYS",
                get("GUEST_TTL_DAYS"),
                30,
                1..=3650,
                "a number of days (1-3650)",
            )?,
        })
    }

    /// Cookies get `Secure` whenever the public origin is https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// A config for tests: an explicit database and every upstream unset.
    pub fn for_tests(database_url: &str) -> Self {
        let mut c = Self::from_lookup(|_| None).unwrap_or_else(|e| panic!("default config: {e}"));
        c.database_url = database_url.to_string();
        c.app_secret = Some(Secret::new("test-secret-0123456789abcdef"));
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_documented_values() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(c.mistral_api_base, "https://api.mistral.ai");
        assert_eq!(
            c.google_tokeninfo_url,
            "https://oauth2.googleapis.com/tokeninfo"
        );
        assert_eq!(
            c.google_jwks_url,
            "https://www.googleapis.com/oauth2/v3/certs"
        );
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.session_ttl_days, 30);
        assert_eq!(c.title_model.as_deref(), Some(DEFAULT_TITLE_MODEL));
        assert!(!c.secure_cookies());
        assert!(c.trusted_proxies.is_empty());
        assert!(c.allow_registration);
        assert_eq!(c.session_idle_days, 7);
        assert_eq!(c.max_generations_per_user, 3);
        assert_eq!(c.server_key_daily_requests, 0);
        assert_eq!(c.max_upload_bytes, 20 * MB);
        assert_eq!(c.max_attachments, 10);
        assert_eq!(c.max_message_files_bytes, 50 * MB);
        assert_eq!(c.user_storage_quota_bytes, 1024 * MB);
        assert_eq!(c.ocr_model, DEFAULT_OCR_MODEL);
        assert_eq!(c.generation_idle_timeout_secs, 300);
        assert_eq!(c.max_audio_bytes, 25 * MB);
        assert_eq!(c.max_tts_chars, 4000);
        assert_eq!(c.transcribe_model, "voxtral-mini-latest");
        assert_eq!(c.tts_model, "voxtral-mini-tts-latest");
        assert!(c.tts_api_base.is_none() && c.tts_api_key.is_none());
        assert!(c.allow_guests);
        assert!(!c.guest_server_key);
        assert_eq!(c.guest_daily_messages, 20);
        assert_eq!(c.guest_ip_daily_messages, 50);
        assert_eq!(c.guest_creations_per_ip_hour, 10);
        assert_eq!(c.guest_ttl_days, 30);
    }

    #[test]
    fn guest_settings_parse_and_name_the_variable() {
        let c = cfg(&[
            ("ALLOW_GUESTS", "false"),
            ("GUEST_SERVER_KEY", "true"),
            ("MISTRAL_API_KEY", "sk-operator"),
            ("GUEST_DAILY_MESSAGES", "3"),
            ("GUEST_IP_DAILY_MESSAGES", "7"),
            ("GUEST_CREATIONS_PER_IP_HOUR", "2"),
            ("GUEST_TTL_DAYS", "9"),
        ])
        .unwrap();
        assert!(!c.allow_guests && c.guest_server_key);
        assert_eq!(
            (
                c.guest_daily_messages,
                c.guest_ip_daily_messages,
                c.guest_creations_per_ip_hour,
                c.guest_ttl_days
            ),
            (3, 7, 2, 9)
        );
        for (pairs, var) in [
            (vec![("GUEST_SERVER_KEY", "true")], "GUEST_SERVER_KEY"),
            (vec![("ALLOW_GUESTS", "perhaps")], "ALLOW_GUESTS"),
            (vec![("GUEST_DAILY_MESSAGES", "0")], "GUEST_DAILY_MESSAGES"),
            (
                vec![("GUEST_IP_DAILY_MESSAGES", "x")],
                "GUEST_IP_DAILY_MESSAGES",
            ),
            (
                vec![("GUEST_CREATIONS_PER_IP_HOUR", "-1")],
                "GUEST_CREATIONS_PER_IP_HOUR",
            ),
            (vec![("GUEST_TTL_DAYS", "0")], "GUEST_TTL_DAYS"),
        ] {
            assert_eq!(cfg(&pairs).unwrap_err().var, var, "{pairs:?}");
        }
    }

    #[test]
    fn voice_settings_parse_and_name_the_variable() {
        let c = cfg(&[
            ("TTS_API_BASE", "https://tts.example.com/"),
            ("TTS_API_KEY", "tts-operator-secret"),
            ("MAX_AUDIO_MB", "5"),
            ("MAX_TTS_CHARS", "300"),
            ("TRANSCRIBE_MODEL", "voxtral-small-latest"),
            ("TTS_MODEL", "voxtral-mini-tts-2603"),
        ])
        .unwrap();
        assert_eq!(c.tts_api_base.as_deref(), Some("https://tts.example.com"));
        assert_eq!(
            c.tts_api_key.as_ref().map(Secret::expose),
            Some("tts-operator-secret")
        );
        assert!(!format!("{c:?}").contains("tts-operator-secret"));
        assert_eq!(c.max_audio_bytes, 5 * MB);
        assert_eq!(c.max_tts_chars, 300);
        assert_eq!(c.transcribe_model, "voxtral-small-latest");
        assert_eq!(c.tts_model, "voxtral-mini-tts-2603");
        for (pairs, var) in [
            (
                vec![("TTS_API_BASE", "https://tts.example.com")],
                "TTS_API_KEY",
            ),
            (vec![("TTS_API_KEY", "k")], "TTS_API_BASE"),
            (
                vec![("TTS_API_BASE", "file:///etc"), ("TTS_API_KEY", "k")],
                "TTS_API_BASE",
            ),
            (vec![("MAX_AUDIO_MB", "0")], "MAX_AUDIO_MB"),
            (vec![("MAX_AUDIO_MB", "lots")], "MAX_AUDIO_MB"),
            (vec![("MAX_TTS_CHARS", "0")], "MAX_TTS_CHARS"),
            (vec![("TRANSCRIBE_MODEL", "two words")], "TRANSCRIBE_MODEL"),
            (vec![("TTS_MODEL", "a b")], "TTS_MODEL"),
        ] {
            assert_eq!(cfg(&pairs).unwrap_err().var, var, "{pairs:?}");
        }
    }

    #[test]
    fn bad_values_name_the_variable() {
        assert_eq!(
            cfg(&[("DATABASE_URL", "oracle://x")]).unwrap_err().var,
            "DATABASE_URL"
        );
        assert_eq!(
            cfg(&[("DATABASE_URL", "nonsense")]).unwrap_err().var,
            "DATABASE_URL"
        );
        assert_eq!(
            cfg(&[("MISTRAL_API_BASE", "not a url")]).unwrap_err().var,
            "MISTRAL_API_BASE"
        );
        assert_eq!(
            cfg(&[("PUBLIC_URL", "ftp://x")]).unwrap_err().var,
            "PUBLIC_URL"
        );
        assert_eq!(cfg(&[("LOG_FORMAT", "xml")]).unwrap_err().var, "LOG_FORMAT");
        assert_eq!(
            cfg(&[("APP_SECRET", "short")]).unwrap_err().var,
            "APP_SECRET"
        );
        assert_eq!(
            cfg(&[("GOOGLE_JWKS_URL", "::")]).unwrap_err().var,
            "GOOGLE_JWKS_URL"
        );
        assert_eq!(
            cfg(&[("TITLE_MODEL", "two words")]).unwrap_err().var,
            "TITLE_MODEL"
        );
        assert_eq!(cfg(&[("TITLE_MODEL", "off")]).unwrap().title_model, None);
        assert_eq!(
            cfg(&[("TITLE_MODEL", "mistral-small-latest")])
                .unwrap()
                .title_model
                .as_deref(),
            Some("mistral-small-latest")
        );
    }

    #[test]
    fn accepts_every_supported_database_and_https_cookies() {
        for url in [
            "mysql://root@127.0.0.1/test",
            "postgres://u@h/db",
            "sqlite::memory:",
        ] {
            let r = cfg(&[("DATABASE_URL", url)]);
            assert!(r.is_ok(), "{url}");
        }
        assert_eq!(
            cfg(&[("DATABASE_URL", "mariadb://root@h/db")])
                .unwrap()
                .database_url,
            "mysql://root@h/db"
        );
        let c = cfg(&[("PUBLIC_URL", "https://chat.example.com/")]).unwrap();
        assert_eq!(c.public_url, "https://chat.example.com");
        assert!(c.secure_cookies());
    }

    #[test]
    fn limits_and_proxies_parse() {
        let c = cfg(&[
            ("TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8,::1"),
            ("ALLOW_REGISTRATION", "false"),
            ("MAX_GENERATIONS_PER_USER", "5"),
        ])
        .unwrap();
        assert_eq!(c.trusted_proxies.len(), 3);
        assert!(!c.allow_registration);
        assert_eq!(c.max_generations_per_user, 5);
        let net = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.200.1.2".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(IpNet::parse("::1")
            .unwrap()
            .contains("::1".parse().unwrap()));
        assert!(IpNet::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        for (var, bad) in [
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("TRUSTED_PROXIES", "proxy.local"),
            ("MAX_GENERATIONS_PER_USER", "0"),
            ("SERVER_KEY_DAILY_REQUESTS", "-1"),
            ("GENERATION_IDLE_TIMEOUT_SECS", "soon"),
            ("ALLOW_REGISTRATION", "maybe"),
        ] {
            assert_eq!(cfg(&[(var, bad)]).unwrap_err().var, var, "{var}={bad}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let c = cfg(&[
            ("MISTRAL_API_KEY", "sk-very-secret"),
            ("APP_SECRET", "0123456789abcdefXYZ"),
        ])
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("sk-very-secret"));
        assert!(!dbg.contains("0123456789abcdefXYZ"));
    }
}
