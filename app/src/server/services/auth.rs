//! Accounts and sessions: registration, password and Google sign-in, access
//! tokens, sign-out and account deletion.
//!
//! Tokens are 256-bit random values handed to the client once; only their
//! SHA-256 is stored, with an expiry. Every protected entry point resolves the
//! caller through [`authenticate`], the one code path for header and cookie
//! tokens. Password hashing (argon2id) runs on a few dedicated threads so it
//! never stalls the async executor and its memory stays bounded.
use crate::model::UserDto;
use crate::server::crypto::{new_access_token, sha256_hex};
use crate::server::db::now_ms;
use crate::server::entities::{access_tokens, attachments, user_settings, users};
use crate::server::services::google::GoogleIdentity;
use crate::server::{AppError, AppResult, AppState};
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::http::HeaderMap;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set, TransactionTrait,
};
use std::sync::OnceLock;

pub const COOKIE_NAME: &str = "access_token";
/// `last_used_at` is refreshed at most this often, so reads don't become writes.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

/// An email address, trimmed and lower-cased, that looks like one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> AppResult<Self> {
        let e = raw.trim().to_lowercase();
        let valid = e.len() <= 254
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
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: users::Model,
    pub token_hash: String,
}

impl AuthUser {
    pub fn id(&self) -> &str {
        &self.user.id
    }
}

pub fn to_dto(u: &users::Model) -> UserDto {
    UserDto {
        id: u.id.clone(),
        name: u.name.clone(),
        email: u.email.clone(),
        picture: u.picture.clone(),
        provider: u.provider.clone(),
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
/// different threads left a block behind in each).
fn hash_threads() -> Option<&'static std::sync::mpsc::Sender<HashJob>> {
    static TX: OnceLock<Option<std::sync::mpsc::Sender<HashJob>>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<HashJob>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .min(4);
        let mut started = 0;
        for i in 0..n {
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
        (started > 0).then_some(tx)
    })
    .as_ref()
}

/// Runs `f` on a hashing thread; `None` if none could be started.
async fn on_hash_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: HashJob = Box::new(move || {
        let _ = tx.send(f());
    });
    hash_threads()?.send(job).ok()?;
    rx.await.ok()
}

async fn hash_password(password: Password) -> AppResult<String> {
    on_hash_thread(move || hash_phc(password.0.as_bytes()).map_err(AppError::internal))
        .await
        .ok_or_else(|| AppError::internal("no password hashing thread"))?
}

/// A valid hash of a random password, verified against when the account does
/// not exist so both paths take about the same time.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_phc(new_access_token().as_bytes()).unwrap_or_default())
}

async fn verify_password(password: String, hash: Option<String>) -> bool {
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
    .unwrap_or(false)
}

/// Creates a token row for `user_id` and returns the raw token.
pub async fn issue_token(state: &AppState, user_id: &str) -> AppResult<IssuedToken> {
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
    })
}

pub async fn register(
    state: &AppState,
    email: &str,
    password: &str,
    name: Option<&str>,
) -> AppResult<IssuedToken> {
    let email = Email::parse(email)?;
    let password = Password::parse(password)?;
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.chars().count() > 200) {
        return Err(AppError::bad_request("name: use at most 200 characters"));
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
        provider: Set("email".into()),
        google_sub: Set(None),
        password_hash: Set(Some(hash)),
        created_at: Set(now),
        updated_at: Set(now),
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
    issue_token(state, &id).await
}

fn invalid_login() -> AppError {
    AppError::Unauthorized("Invalid email or password".into())
}

pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    client_ip: Option<&str>,
) -> AppResult<IssuedToken> {
    let email_key = format!("email:{}", email.trim().to_lowercase());
    let mut keys = vec![email_key.clone()];
    if let Some(ip) = client_ip {
        keys.push(format!("ip:{ip}"));
    }
    if let Some(wait) = state.login_limiter.check(&keys) {
        return Err(AppError::TooManyRequests {
            message: format!(
                "Too many failed sign-in attempts — try again in {} min",
                wait.div_ceil(60)
            ),
            retry_after_secs: wait,
        });
    }
    let user = match Email::parse(email) {
        Ok(e) => {
            users::Entity::find()
                .filter(users::Column::Email.eq(e.as_str()))
                .one(&state.db)
                .await?
        }
        Err(_) => None,
    };
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = verify_password(password.to_string(), hash).await;
    match (ok, user) {
        (true, Some(u)) => {
            state.login_limiter.clear(&email_key);
            issue_token(state, &u.id).await
        }
        _ => {
            state.login_limiter.record_failure(&keys);
            Err(invalid_login())
        }
    }
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
    let display: String = display.chars().take(200).collect();
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
                provider: Set("google".into()),
                google_sub: Set(Some(who.sub.clone())),
                password_hash: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&state.db)
            .await?;
            id
        }
    };
    issue_token(state, &user_id).await
}

/// The raw token from `Authorization: Bearer …` or, failing that, the cookie.
pub fn token_from_headers(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        if v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") {
            return Some(v[7..].trim().to_string()).filter(|t| !t.is_empty());
        }
    }
    cookie_value(headers, COOKIE_NAME)
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
    if row.expires_at <= now {
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
    Ok(AuthUser {
        user,
        token_hash: hash,
    })
}

pub async fn authenticate_headers(state: &AppState, headers: &HeaderMap) -> AppResult<AuthUser> {
    let token = token_from_headers(headers).ok_or_else(AppError::unauthorized)?;
    authenticate(state, &token).await
}

/// Deletes the presented token (other sessions stay signed in).
pub async fn logout(state: &AppState, token: &str) -> AppResult<()> {
    access_tokens::Entity::delete_many()
        .filter(access_tokens::Column::TokenHash.eq(sha256_hex(token.as_bytes())))
        .exec(&state.db)
        .await?;
    Ok(())
}

/// Deletes the account and everything it owns in one transaction. Rows that
/// reference the user cascade; blobs are shared by content hash, so only those
/// no other attachment references are removed.
pub async fn delete_account(state: &AppState, user_id: &str) -> AppResult<()> {
    // Running answers stop before their rows go.
    state.hub.stop_for_user(user_id).await;
    let user_id = user_id.to_string();
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
                users::Entity::delete_by_id(user_id.clone())
                    .exec(txn)
                    .await?;
                crate::server::services::blobs::delete_unreferenced(txn, hashes).await?;
                Ok(())
            })
        })
        .await?;
    Ok(())
}

/// `Set-Cookie` value for a new session.
pub fn session_cookie(state: &AppState, issued: &IssuedToken) -> String {
    format!(
        "{COOKIE_NAME}={}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{}",
        issued.token,
        issued.max_age_secs,
        if state.config.secure_cookies() {
            "; Secure"
        } else {
            ""
        }
    )
}

/// `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(state: &AppState) -> String {
    format!(
        "{COOKIE_NAME}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{}",
        if state.config.secure_cookies() {
            "; Secure"
        } else {
            ""
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        h.insert("authorization", "Basic xyz".parse().unwrap());
        assert_eq!(token_from_headers(&h).as_deref(), Some("fromcookie"));
    }
}
