//! Accounts and sessions: registration, password and Google sign-in, access
//! tokens, sign-out and account deletion.
//!
//! Tokens are 256-bit random values handed to the client once; only their
//! SHA-256 is stored, with an expiry (`SESSION_TTL_DAYS`) and an idle timeout
//! (`SESSION_IDLE_DAYS`: a token unused that long stops working and is purged
//! by [`purge_expired`], which the server runs hourly). Every protected entry
//! point resolves the caller through [`authenticate`], the one code path for
//! header and cookie tokens; when an `Authorization` header is present the
//! cookie is never consulted. Password hashing (argon2id) runs on a few
//! dedicated threads behind a bounded queue ([`MAX_HASH_JOBS`]), so it never
//! stalls the async executor, its memory stays bounded, and a flood is refused
//! with 503 instead of queueing without end. Sign-in attempts are counted in
//! [`rate_limit`](super::rate_limit) *before* any hashing.
use crate::model::UserDto;
use crate::server::crypto::{new_access_token, sha256_hex};
use crate::server::db::now_ms;
use crate::server::entities::{access_tokens, attachments, user_settings, users};
use crate::server::services::google::GoogleIdentity;
use crate::server::services::rate_limit::{
    Limit, Limited, Reservation, GOOGLE_PER_IP, LOGIN_PER_EMAIL, LOGIN_PER_IP, REGISTER_PER_IP,
};
use crate::server::{AppError, AppResult, AppState};
use crate::vocab::limits::MAX_DISPLAY_NAME_CHARS;
use crate::vocab::{Provider, UserId};
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::http::HeaderMap;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set, TransactionTrait,
};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// The session cookie on plain http, and the name the reference project's
/// clients send: always accepted.
pub const COOKIE_NAME: &str = "access_token";
/// The session cookie when `PUBLIC_URL` is https. The `__Host-` prefix makes
/// browsers refuse it unless it is `Secure`, `Path=/` and has no `Domain`, so a
/// sibling subdomain cannot plant or overwrite it.
pub const HOST_COOKIE_NAME: &str = "__Host-access_token";
/// Longest email address (RFC 5321 path limit); longer input is refused with
/// 400 before anything else happens.
pub const MAX_EMAIL_LEN: usize = 254;
/// Password hashes queued or running at once, over all hashing threads. One
/// hash takes tens of milliseconds, so a full queue is about a second of
/// work; beyond it requests get 503 at once instead of joining the queue.
pub const MAX_HASH_JOBS: usize = 64;
/// `last_used_at` is refreshed at most this often, so reads don't become writes.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

/// An email address, trimmed and lower-cased, that looks like one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> AppResult<Self> {
        if raw.trim().len() > MAX_EMAIL_LEN {
            return Err(AppError::bad_request("email: use at most 254 characters"));
        }
        let e = raw.trim().to_lowercase();
        let valid = e.len() <= MAX_EMAIL_LEN
            && !e.chars().any(|c| c.is_whitespace() || c.is_control())
            && match e.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !domain.contains("..")
                }
                None => false,
            };
        if valid {
            Ok(Self(e))
        } else {
            Err(AppError::bad_request("email: enter a valid email address"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password of 8 to 1024 characters.
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> AppResult<Self> {
        let n = raw.chars().count();
        if n < 8 {
            return Err(AppError::bad_request("password: use at least 8 characters"));
        }
        if n > 1024 {
            return Err(AppError::bad_request(
                "password: use at most 1024 characters",
            ));
        }
        Ok(Self(raw.to_string()))
    }
}

/// A freshly issued token: the only moment the raw value exists server-side.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub max_age_secs: i64,
    /// Whose session it is.
    pub user_id: UserId,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: users::Model,
    pub token_hash: String,
    id: UserId,
}

impl AuthUser {
    pub fn id(&self) -> &UserId {
        &self.id
    }
    /// A guest account (provider `guest`).
    pub fn is_guest(&self) -> bool {
        self.user.provider == Provider::Guest
    }
}

pub fn to_dto(u: &users::Model) -> UserDto {
    UserDto {
        id: u.id.clone(),
        name: u.name.clone(),
        email: u.email.clone(),
        picture: u.picture.clone(),
        provider: u.provider,
    }
}

fn argon2_params() -> Params {
    // OWASP-recommended argon2id parameters: 19 MiB, 2 passes, 1 lane.
    Params::new(19_456, 2, 1, None).unwrap_or_default()
}

thread_local! {
    /// Argon2's working memory, allocated once per hashing thread and reused
    /// (allocating 19 MiB per hash left freed blocks behind in the allocator:
    /// hundreds of MiB of RSS after a burst of sign-ups).
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Argon2 of `password` with this thread's reused memory.
fn argon2_into(
    a: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        let n = params.block_count();
        if blocks.len() != n {
            blocks.clear();
            blocks.resize(n, argon2::Block::default());
            blocks.shrink_to_fit();
        }
        a.hash_password_into_with_memory(password, salt, out, &mut blocks[..])
    })
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) for `password`.
fn hash_phc(password: &[u8]) -> argon2::password_hash::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buf)?;
    let params = argon2_params();
    let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        Ok(argon2_into(&a, &params, password, salt_bytes, out)?)
    })?;
    Ok(PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    }
    .to_string())
}

/// Whether `password` matches a PHC string (any argon2 variant and
/// parameters it names); the comparison is constant-time.
fn verify_phc(password: &[u8], phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let (Ok(alg), Ok(params)) = (Algorithm::try_from(hash.algorithm), Params::try_from(&hash))
    else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let a = Argon2::new(alg, version, params.clone());
    Output::init_with(expected.len(), |out| {
        Ok(argon2_into(&a, &params, password, salt_bytes, out)?)
    })
    .is_ok_and(|computed| computed == expected)
}

/// Work for the hashing threads.
type HashJob = Box<dyn FnOnce() + Send>;

/// Argon2 needs a 19 MiB block per hash. Hashes run on a few dedicated
/// threads (one per core, at most 4), not on the blocking pool: a burst of
/// sign-ups or sign-in attempts then queues instead of running hundreds at
/// once, and memory stays at one reused block per thread (the allocator keeps
/// a freed block in the arena of the thread that used it, so hashing on many
/// different threads left a block behind in each). The queue itself is
/// bounded by `max_jobs`.
struct HashPool {
    tx: std::sync::mpsc::Sender<HashJob>,
    /// Jobs queued or running.
    jobs: Arc<AtomicUsize>,
    max_jobs: usize,
}

/// Why a job did not run.
#[derive(Debug, PartialEq, Eq)]
enum HashPoolError {
    Busy,
    Stopped,
}

/// Decrements the job count when the job has run (or was dropped unrun).
struct JobSlot(Arc<AtomicUsize>);
impl Drop for JobSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HashPool {
    fn start(threads: usize, max_jobs: usize) -> Option<HashPool> {
        let (tx, rx) = std::sync::mpsc::channel::<HashJob>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let mut started = 0;
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                });
            if spawned.is_ok() {
                started += 1;
            }
        }
        (started > 0).then(|| HashPool {
            tx,
            jobs: Arc::new(AtomicUsize::new(0)),
            max_jobs,
        })
    }

    /// Runs `f` on a hashing thread, or refuses at once when `max_jobs` are
    /// already queued or running.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashPoolError> {
        // Take a slot only if one is free (never over-count under contention).
        let max = self.max_jobs;
        if self
            .jobs
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .is_err()
        {
            return Err(HashPoolError::Busy);
        }
        let slot = JobSlot(self.jobs.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move || {
            let _slot = slot;
            let _ = tx.send(f());
        });
        self.tx.send(job).map_err(|_| HashPoolError::Stopped)?;
        rx.await.map_err(|_| HashPoolError::Stopped)
    }
}

fn hash_pool() -> Option<&'static HashPool> {
    static POOL: OnceLock<Option<HashPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .min(4);
        HashPool::start(n, MAX_HASH_JOBS)
    })
    .as_ref()
}

fn server_busy() -> AppError {
    AppError::Unavailable {
        message: "The server is busy — please try again in a few seconds".into(),
        retry_after_secs: 5,
    }
}

/// Runs `f` on a hashing thread: 503 when the queue is full.
async fn on_hash_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    let pool = hash_pool().ok_or_else(|| AppError::internal("no password hashing thread"))?;
    pool.run(f).await.map_err(|e| match e {
        HashPoolError::Busy => server_busy(),
        HashPoolError::Stopped => AppError::internal("password hashing thread stopped"),
    })
}

async fn hash_password(password: Password) -> AppResult<String> {
    on_hash_thread(move || hash_phc(password.0.as_bytes()).map_err(AppError::internal)).await?
}

/// A valid hash of a random password, verified against when the account does
/// not exist so both paths take about the same time.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_phc(new_access_token().as_bytes()).unwrap_or_default())
}

async fn verify_password(password: String, hash: Option<String>) -> AppResult<bool> {
    on_hash_thread(move || {
        let (hash, real) = match hash {
            Some(h) => (h, true),
            None => (dummy_hash().to_string(), false),
        };
        // Always hashed, so an unknown email costs the same time as a wrong password.
        let matches = verify_phc(password.as_bytes(), &hash);
        matches && real
    })
    .await
}

/// Creates a token row for `user_id` and returns the raw token.
pub async fn issue_token(state: &AppState, user_id: &UserId) -> AppResult<IssuedToken> {
    let token = new_access_token();
    let now = now_ms();
    let ttl_ms = state.config.session_ttl_days * 24 * 3600 * 1000;
    access_tokens::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        user_id: Set(user_id.to_string()),
        token_hash: Set(sha256_hex(token.as_bytes())),
        created_at: Set(now),
        expires_at: Set(now + ttl_ms),
        last_used_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    Ok(IssuedToken {
        token,
        max_age_secs: ttl_ms / 1000,
        user_id: user_id.clone(),
    })
}

/// Takes one slot of each `(key, limit)`, or says how long to wait.
fn reserve(state: &AppState, keys: &[(String, Limit)], what: &str) -> AppResult<Reservation> {
    state
        .login_limiter
        .try_acquire(keys)
        .map_err(|Limited { retry_after_secs }| AppError::TooManyRequests {
            message: format!(
                "{what} — try again in {} min",
                retry_after_secs.div_ceil(60)
            ),
            retry_after_secs,
        })
}

/// Registration with no client address (tools and benchmarks).
pub async fn register(
    state: &AppState,
    email: &str,
    password: &str,
    name: Option<&str>,
) -> AppResult<IssuedToken> {
    register_from(state, email, password, name, None).await
}

/// Creates an email account and signs it in. Refused with 403 when
/// `ALLOW_REGISTRATION=false`, with 429 past [`REGISTER_PER_IP`] attempts
/// from `client_ip`.
pub async fn register_from(
    state: &AppState,
    email: &str,
    password: &str,
    name: Option<&str>,
    client_ip: Option<IpAddr>,
) -> AppResult<IssuedToken> {
    if !state.config.allow_registration {
        return Err(AppError::Forbidden(
            "Registration is closed on this server — ask its operator for an account".into(),
        ));
    }
    let email = Email::parse(email)?;
    let password = Password::parse(password)?;
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.chars().count() > MAX_DISPLAY_NAME_CHARS) {
        return Err(AppError::bad_request(format!(
            "name: use at most {MAX_DISPLAY_NAME_CHARS} characters"
        )));
    }
    if let Some(ip) = client_ip {
        // Counted whether or not it succeeds: a 409 tells whether an email
        // has an account, so probing is limited too.
        let _counted = reserve(
            state,
            &[(format!("register-ip:{ip}"), REGISTER_PER_IP)],
            "Too many sign-ups from this address",
        )?;
    }
    let exists = users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(&state.db)
        .await?;
    if exists.is_some() {
        return Err(AppError::Conflict(
            "email: an account with this email already exists — sign in instead".into(),
        ));
    }
    let hash = hash_password(password).await?;
    let now = now_ms();
    let id = uuid::Uuid::new_v4().to_string();
    let display = name.map(str::to_string).unwrap_or_else(|| {
        email
            .as_str()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_string()
    });
    let inserted = users::ActiveModel {
        id: Set(id.clone()),
        email: Set(Some(email.as_str().to_string())),
        name: Set(display),
        picture: Set(None),
        provider: Set(Provider::Email),
        google_sub: Set(None),
        password_hash: Set(Some(hash)),
        created_at: Set(now),
        updated_at: Set(now),
        last_seen_at: Set(None),
        guest_ip: Set(None),
    }
    .insert(&state.db)
    .await;
    if let Err(e) = inserted {
        // Two concurrent registrations: the unique index decides.
        let again = users::Entity::find()
            .filter(users::Column::Email.eq(email.as_str()))
            .one(&state.db)
            .await?;
        return Err(if again.is_some() {
            AppError::Conflict(
                "email: an account with this email already exists — sign in instead".into(),
            )
        } else {
            e.into()
        });
    }
    issue_token(state, &UserId::new(&id)).await
}

fn invalid_login() -> AppError {
    AppError::Unauthorized("Invalid email or password".into())
}

/// Password sign-in. The attempt takes its slot in the limiter (per
/// normalised email and per client address) *before* the password is hashed,
/// so concurrent guesses cannot all slip past the check; a success gives the
/// slot back and forgets the account's failures.
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    client_ip: Option<IpAddr>,
) -> AppResult<IssuedToken> {
    if email.trim().len() > MAX_EMAIL_LEN {
        return Err(AppError::bad_request("email: use at most 254 characters"));
    }
    let parsed = Email::parse(email).ok();
    let email_key = format!(
        "email:{}",
        parsed
            .as_ref()
            .map(|e| e.as_str().to_string())
            .unwrap_or_else(|| email.trim().to_lowercase())
    );
    let mut keys = vec![(email_key.clone(), LOGIN_PER_EMAIL)];
    if let Some(ip) = client_ip {
        keys.push((format!("ip:{ip}"), LOGIN_PER_IP));
    }
    let reservation = reserve(state, &keys, "Too many failed sign-in attempts")?;
    // No account can have a malformed address: a failure, without hashing.
    let Some(email) = parsed else {
        return Err(invalid_login());
    };
    let outcome = async {
        let user = users::Entity::find()
            .filter(users::Column::Email.eq(email.as_str()))
            .one(&state.db)
            .await?;
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let ok = verify_password(password.to_string(), hash).await?;
        Ok::<_, AppError>(user.filter(|_| ok))
    }
    .await;
    match outcome {
        Ok(Some(u)) => {
            state.login_limiter.refund(reservation);
            state.login_limiter.clear(&email_key);
            issue_token(state, &UserId::new(&u.id)).await
        }
        // The reservation stays: it is the recorded failure.
        Ok(None) => Err(invalid_login()),
        // Not the caller's failure (busy, database): give the slot back.
        Err(e) => {
            state.login_limiter.refund(reservation);
            Err(e)
        }
    }
}

/// Counts a Google sign-in attempt from `client_ip` (before Google is asked):
/// 429 past [`GOOGLE_PER_IP`].
pub fn limit_google_sign_in(state: &AppState, client_ip: IpAddr) -> AppResult<()> {
    let _counted = reserve(
        state,
        &[(format!("google-ip:{client_ip}"), GOOGLE_PER_IP)],
        "Too many Google sign-ins from this address",
    )?;
    Ok(())
}

/// Google sign-in from what a client sent: an ID token when there is one
/// (verified here against Google's published keys), else an OAuth access
/// token (checked with Google's tokeninfo). Refused with 501 when Google
/// sign-in is not configured, and limited per client address (`None`: see
/// [`rate_limit::limited_address`](super::rate_limit::limited_address))
/// before Google is asked anything.
#[tracing::instrument(skip_all)]
pub async fn sign_in_with_google(
    state: &AppState,
    id_token: Option<&str>,
    access_token: Option<&str>,
    client_ip: Option<IpAddr>,
) -> AppResult<IssuedToken> {
    if !state.google.enabled() {
        return Err(AppError::NotImplemented(
            "Google sign-in is not configured on this server (set GOOGLE_CLIENT_ID)".into(),
        ));
    }
    if let Some(ip) = client_ip {
        limit_google_sign_in(state, ip)?;
    }
    let who = match (
        id_token.filter(|t| !t.is_empty()),
        access_token.filter(|t| !t.is_empty()),
    ) {
        (Some(t), _) => state.google.verify_id_token(t).await?,
        (None, Some(t)) => state.google.verify_access_token(t).await?,
        (None, None) => {
            return Err(AppError::bad_request(
                "access_token: send either access_token or id_token",
            ))
        }
    };
    google_sign_in(state, who).await
}

/// Finds or creates the account for a verified Google identity (by `sub`),
/// refreshing its name and picture, and issues a token.
pub async fn google_sign_in(state: &AppState, who: GoogleIdentity) -> AppResult<IssuedToken> {
    let now = now_ms();
    let email = Email::parse(&who.email)
        .ok()
        .map(|e| e.as_str().to_string());
    let existing = users::Entity::find()
        .filter(users::Column::GoogleSub.eq(who.sub.as_str()))
        .one(&state.db)
        .await?;
    let display = who
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| who.email.split('@').next().unwrap_or_default().to_string());
    let display: String = display.chars().take(MAX_DISPLAY_NAME_CHARS).collect();
    let picture = who
        .picture
        .clone()
        .filter(|p| p.starts_with("https://") && p.len() <= 1024);
    let user_id = match existing {
        Some(u) => {
            let mut am: users::ActiveModel = u.clone().into();
            am.name = Set(display);
            if picture.is_some() {
                am.picture = Set(picture);
            }
            am.updated_at = Set(now);
            am.update(&state.db).await?;
            u.id
        }
        None => {
            // The email column is unique: a Google account whose email already
            // belongs to a password account gets its own account without an
            // email rather than being merged into it (no takeover by email).
            let email_taken = match &email {
                Some(e) => users::Entity::find()
                    .filter(users::Column::Email.eq(e.as_str()))
                    .one(&state.db)
                    .await?
                    .is_some(),
                None => false,
            };
            let id = uuid::Uuid::new_v4().to_string();
            users::ActiveModel {
                id: Set(id.clone()),
                email: Set(if email_taken { None } else { email }),
                name: Set(display),
                picture: Set(picture),
                provider: Set(Provider::Google),
                google_sub: Set(Some(who.sub.clone())),
                password_hash: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                last_seen_at: Set(None),
                guest_ip: Set(None),
            }
            .insert(&state.db)
            .await?;
            id
        }
    };
    issue_token(state, &UserId::new(&user_id)).await
}

/// What a request's `Authorization` header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizationHeader {
    Absent,
    /// Exactly one header of the form `Bearer <non-empty token>`.
    Bearer(String),
    /// Any other scheme, an empty token, several headers, or non-ASCII bytes.
    Invalid,
}

pub fn authorization_header(headers: &HeaderMap) -> AuthorizationHeader {
    let mut all = headers.get_all(axum::http::header::AUTHORIZATION).iter();
    let Some(first) = all.next() else {
        return AuthorizationHeader::Absent;
    };
    if all.next().is_some() {
        return AuthorizationHeader::Invalid;
    }
    let Ok(v) = first.to_str() else {
        return AuthorizationHeader::Invalid;
    };
    let v = v.trim();
    match v.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => {
            let token = v[7..].trim();
            if token.is_empty() {
                AuthorizationHeader::Invalid
            } else {
                AuthorizationHeader::Bearer(token.to_string())
            }
        }
        _ => AuthorizationHeader::Invalid,
    }
}

/// The raw token from `Authorization: Bearer …`, or from the session cookie
/// when there is no `Authorization` header at all. A header that is present
/// but not a usable Bearer token means no token: the cookie is never the
/// fallback, so the CSRF exemption for header-authenticated requests
/// ([`AuthorizationHeader::Bearer`]) can never apply to a cookie session.
pub fn token_from_headers(headers: &HeaderMap) -> Option<String> {
    match authorization_header(headers) {
        AuthorizationHeader::Bearer(t) => Some(t),
        AuthorizationHeader::Invalid => None,
        AuthorizationHeader::Absent => {
            cookie_value(headers, HOST_COOKIE_NAME).or_else(|| cookie_value(headers, COOKIE_NAME))
        }
    }
}

/// Every session token a request presents, for sign-out: the Bearer token,
/// or (without an `Authorization` header) both cookies, since a browser may
/// hold the `__Host-` one and the old one.
pub fn presented_tokens(headers: &HeaderMap) -> Vec<String> {
    match authorization_header(headers) {
        AuthorizationHeader::Bearer(t) => vec![t],
        AuthorizationHeader::Invalid => vec![],
        AuthorizationHeader::Absent => {
            let mut tokens: Vec<String> = vec![];
            for name in [HOST_COOKIE_NAME, COOKIE_NAME] {
                if let Some(t) = cookie_value(headers, name) {
                    if !tokens.contains(&t) {
                        tokens.push(t);
                    }
                }
            }
            tokens
        }
    }
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Resolves a raw token to its user: unknown, expired or orphaned tokens fail.
pub async fn authenticate(state: &AppState, token: &str) -> AppResult<AuthUser> {
    if token.len() > 512 {
        return Err(AppError::unauthorized());
    }
    let hash = sha256_hex(token.as_bytes());
    let now = now_ms();
    let row = access_tokens::Entity::find()
        .filter(access_tokens::Column::TokenHash.eq(hash.as_str()))
        .one(&state.db)
        .await?
        .ok_or_else(AppError::unauthorized)?;
    if row.expires_at <= now || row.last_used_at < idle_cutoff(state, now) {
        return Err(AppError::unauthorized());
    }
    let user = users::Entity::find_by_id(row.user_id.clone())
        .one(&state.db)
        .await?
        .ok_or_else(AppError::unauthorized)?;
    if now - row.last_used_at > LAST_USED_GRANULARITY_MS {
        access_tokens::Entity::update_many()
            .col_expr(access_tokens::Column::LastUsedAt, Expr::value(now))
            .filter(access_tokens::Column::Id.eq(row.id.as_str()))
            .exec(&state.db)
            .await?;
    }
    if user.provider == Provider::Guest {
        super::guests::record_activity(state, &user, now).await?;
    }
    Ok(AuthUser {
        id: UserId::new(&user.id),
        user,
        token_hash: hash,
    })
}

pub async fn authenticate_headers(state: &AppState, headers: &HeaderMap) -> AppResult<AuthUser> {
    let token = token_from_headers(headers).ok_or_else(AppError::unauthorized)?;
    authenticate(state, &token).await
}

/// Tokens last used before this instant have been idle too long.
fn idle_cutoff(state: &AppState, now: i64) -> i64 {
    now - state.config.session_idle_days * 24 * 3600 * 1000
}

/// Deletes the presented token (other sessions stay signed in).
pub async fn logout(state: &AppState, token: &str) -> AppResult<()> {
    access_tokens::Entity::delete_many()
        .filter(access_tokens::Column::TokenHash.eq(sha256_hex(token.as_bytes())))
        .exec(&state.db)
        .await?;
    Ok(())
}

/// Signs `user_id` out everywhere: deletes every token of the account.
pub async fn logout_all(state: &AppState, user_id: &UserId) -> AppResult<u64> {
    let done = access_tokens::Entity::delete_many()
        .filter(access_tokens::Column::UserId.eq(user_id))
        .exec(&state.db)
        .await?;
    Ok(done.rows_affected)
}

/// Deletes tokens past their lifetime or idle longer than
/// `SESSION_IDLE_DAYS`; returns how many. Run periodically by the server.
pub async fn purge_expired(state: &AppState) -> AppResult<u64> {
    use sea_orm::Condition;
    let now = now_ms();
    let done = access_tokens::Entity::delete_many()
        .filter(
            Condition::any()
                .add(access_tokens::Column::ExpiresAt.lte(now))
                .add(access_tokens::Column::LastUsedAt.lt(idle_cutoff(state, now))),
        )
        .exec(&state.db)
        .await?;
    Ok(done.rows_affected)
}

/// Whether `typed` confirms deleting `user`'s account: their email for a
/// password account, `DELETE` otherwise (see
/// [`crate::api::auth::expected_confirmation`]); case and surrounding space
/// do not matter. Every entry point asks for it: the settings page's server
/// function and `DELETE /api/auth/delete` (`{"confirm": …}` or `?confirm=`).
pub fn check_delete_confirmation(user: &users::Model, typed: &str) -> AppResult<()> {
    let expected = crate::api::auth::expected_confirmation(&user.provider, user.email.as_deref());
    if typed.trim().to_lowercase() == expected.to_lowercase() {
        Ok(())
    } else {
        Err(AppError::bad_request(format!(
            "confirm: type {expected} to confirm deleting the account"
        )))
    }
}

/// Deletes the account and everything it owns in one transaction, once
/// `confirmation` is what [`check_delete_confirmation`] expects. Rows that
/// reference the user cascade; blobs are shared by content hash, so only those
/// no other attachment references are removed.
#[tracing::instrument(skip_all)]
pub async fn delete_account(
    state: &AppState,
    user_id: &UserId,
    confirmation: &str,
) -> AppResult<()> {
    let user = users::Entity::find_by_id(user_id.as_str())
        .one(&state.db)
        .await?
        .ok_or_else(AppError::unauthorized)?;
    check_delete_confirmation(&user, confirmation)?;
    // Running answers stop before their rows go.
    state.hub.stop_for_user(user_id).await;
    let user_id = user_id.clone();
    state
        .db
        .transaction::<_, (), AppError>(|txn| {
            Box::pin(async move {
                let hashes: Vec<String> = attachments::Entity::find()
                    .select_only()
                    .column(attachments::Column::BlobSha256)
                    .filter(attachments::Column::UserId.eq(user_id.as_str()))
                    .distinct()
                    .into_tuple()
                    .all(txn)
                    .await?;
                // Explicit child deletes keep this correct even where a backend's
                // cascade is disabled (e.g. SQLite without foreign_keys).
                attachments::Entity::delete_many()
                    .filter(attachments::Column::UserId.eq(user_id.as_str()))
                    .exec(txn)
                    .await?;
                user_settings::Entity::delete_many()
                    .filter(user_settings::Column::UserId.eq(user_id.as_str()))
                    .exec(txn)
                    .await?;
                access_tokens::Entity::delete_many()
                    .filter(access_tokens::Column::UserId.eq(user_id.as_str()))
                    .exec(txn)
                    .await?;
                crate::server::services::threads::delete_all_for_user(txn, &user_id).await?;
                users::Entity::delete_by_id(user_id.to_string())
                    .exec(txn)
                    .await?;
                crate::server::services::blobs::delete_unreferenced(txn, hashes).await?;
                Ok(())
            })
        })
        .await?;
    Ok(())
}

/// The session cookie's name: `__Host-access_token` behind https.
pub fn cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies() {
        HOST_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

/// `Set-Cookie` value for a new session (never a `Domain`: host-only).
pub fn session_cookie(state: &AppState, issued: &IssuedToken) -> String {
    format!(
        "{}={}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{}",
        cookie_name(state),
        issued.token,
        issued.max_age_secs,
        if state.config.secure_cookies() {
            "; Secure"
        } else {
            ""
        }
    )
}

/// `Set-Cookie` values that remove the session cookie (behind https also the
/// old `access_token` name a browser may still hold).
pub fn clear_cookies(state: &AppState) -> Vec<String> {
    let secure = state.config.secure_cookies();
    let mut names = vec![cookie_name(state)];
    if secure {
        names.push(COOKIE_NAME);
    }
    names
        .into_iter()
        .map(|name| {
            format!(
                "{name}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{}",
                if secure { "; Secure" } else { "" }
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletion_needs_the_email_or_delete_typed() {
        let user = |provider: Provider, email: Option<&str>| users::Model {
            id: "u".into(),
            email: email.map(str::to_string),
            name: "n".into(),
            picture: None,
            provider,
            google_sub: None,
            password_hash: None,
            created_at: 0,
            updated_at: 0,
            last_seen_at: None,
            guest_ip: None,
        };
        let pw = user(Provider::Email, Some("me@example.com"));
        assert!(check_delete_confirmation(&pw, " Me@Example.com ").is_ok());
        for wrong in ["", "DELETE", "you@example.com", "me@example.co"] {
            let e = check_delete_confirmation(&pw, wrong).unwrap_err();
            assert!(matches!(e, AppError::BadRequest(_)), "{wrong}");
            assert!(e.to_string().contains("me@example.com"), "{e}");
        }
        let google = user(Provider::Google, Some("g@example.com"));
        assert!(check_delete_confirmation(&google, "delete").is_ok());
        assert!(check_delete_confirmation(&google, "g@example.com").is_err());
    }

    #[test]
    fn password_hashes_verify_and_match_the_stock_argon2() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let phc = hash_phc(b"correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_phc(b"correct horse battery", &phc));
        assert!(!verify_phc(b"correct horse batterY", &phc));
        assert!(!verify_phc(b"correct horse battery", "not a hash"));
        // Our hashes verify with the stock implementation, and stock hashes
        // (also with other parameters) verify with ours.
        let stock = Argon2::default();
        assert!(stock
            .verify_password(b"correct horse battery", &PasswordHash::new(&phc).unwrap())
            .is_ok());
        let other = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(8_192, 3, 1, None).unwrap(),
        );
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let theirs = other.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(verify_phc(b"pw", &theirs));
        assert!(!verify_phc(b"pW", &theirs));
        // The same thread hashes again with its reused memory.
        assert!(verify_phc(b"correct horse battery", &phc));
    }

    #[test]
    fn email_is_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        let long = format!("{}@example.com", "a".repeat(243));
        assert_eq!(long.len(), 255);
        assert!(Email::parse(&long).unwrap_err().to_string().contains("254"));
        assert!(Email::parse(&long[1..]).is_ok());
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.com",
            "a@b",
            "a b@c.com",
            "a@@b.com",
            "a@b..com",
            "a@.b.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn password_length_bounds() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"x".repeat(1024)).is_ok());
        assert!(Password::parse(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn bearer_header_wins_over_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            "cookie",
            "a=b; access_token=fromcookie; c=d".parse().unwrap(),
        );
        assert_eq!(token_from_headers(&h).as_deref(), Some("fromcookie"));
        h.insert("authorization", "Bearer fromheader".parse().unwrap());
        assert_eq!(token_from_headers(&h).as_deref(), Some("fromheader"));
    }

    #[test]
    fn an_authorization_header_that_is_not_a_bearer_token_disables_the_cookie() {
        for value in [
            "Basic xyz",
            "Bearer ",
            "Bearer    ",
            "bearer",
            "Token abc",
            "",
        ] {
            let mut h = HeaderMap::new();
            h.insert("cookie", "access_token=fromcookie".parse().unwrap());
            h.insert("authorization", value.parse().unwrap());
            assert_eq!(token_from_headers(&h), None, "{value:?}");
            assert_ne!(
                authorization_header(&h),
                AuthorizationHeader::Absent,
                "{value:?}"
            );
        }
        let mut h = HeaderMap::new();
        h.append("authorization", "Bearer a".parse().unwrap());
        h.append("authorization", "Bearer b".parse().unwrap());
        assert_eq!(authorization_header(&h), AuthorizationHeader::Invalid);
        let mut h = HeaderMap::new();
        h.insert("authorization", "BEARER  tok ".parse().unwrap());
        assert_eq!(
            authorization_header(&h),
            AuthorizationHeader::Bearer("tok".into())
        );
    }

    #[test]
    fn the_host_cookie_is_preferred_and_the_old_name_still_accepted() {
        let mut h = HeaderMap::new();
        h.insert("cookie", "access_token=old".parse().unwrap());
        assert_eq!(token_from_headers(&h).as_deref(), Some("old"));
        h.insert(
            "cookie",
            "access_token=old; __Host-access_token=new".parse().unwrap(),
        );
        assert_eq!(token_from_headers(&h).as_deref(), Some("new"));
        assert_eq!(presented_tokens(&h), vec!["new".to_string(), "old".into()]);
    }

    #[test]
    fn a_full_hash_queue_refuses_at_once_and_recovers() {
        let pool = HashPool::start(1, 2).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
            let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
            // Two jobs that block until released fill the pool (one running, one queued).
            let mut held = Vec::new();
            for _ in 0..2 {
                let rx = release_rx.clone();
                held.push(pool.run(move || {
                    let _ = rx.lock().unwrap().recv();
                    7
                }));
            }
            let mut held: Vec<_> = held.into_iter().map(Box::pin).collect();
            // Poll each once so it takes its slot and is sent to the thread.
            for f in held.iter_mut() {
                assert!(futures::poll!(f.as_mut()).is_pending());
            }
            assert_eq!(pool.run(|| 1).await, Err(HashPoolError::Busy));
            release_tx.send(()).unwrap();
            release_tx.send(()).unwrap();
            for f in held {
                assert_eq!(f.await, Ok(7));
            }
            assert_eq!(pool.jobs.load(Ordering::SeqCst), 0);
            assert_eq!(pool.run(|| 2).await, Ok(2));
        });
    }
}
