//! Guest accounts (issue 17): a visitor without an account chats as a guest,
//! a `users` row with provider `guest` and the same session cookie as any
//! user, so every ownership rule applies unchanged.
//!
//! What this module owns:
//! - creation ([`create`]): refused with 403 when `ALLOW_GUESTS=false` and
//!   limited per client address (`GUEST_CREATIONS_PER_IP_HOUR`, in the same
//!   trusted-proxy-aware limiter as sign-in). Entry points create a guest
//!   only on a write (`POST /api/auth/guest`, or the first write of a web
//!   page's server function); page views never do.
//! - the daily quotas of a guest on the operator's key (`GUEST_SERVER_KEY`):
//!   per guest and per address, counted from `server_key_uses` rows, so
//!   clearing cookies resets neither the rows nor the address part.
//! - moving a guest into an account ([`merge_into`]): on registration and
//!   sign-in from a guest session, or through a one-time claim link
//!   ([`create_claim`], [`redeem_claim`]). One transaction: threads (their
//!   messages and branches follow them), files, server-key uses and
//!   settings move; then the guest, its sessions and claims go. The
//!   account's own settings win; its Mistral key stays and the guest's is
//!   discarded (the caller is told).
//! - retention ([`delete_inactive`]): guests idle longer than
//!   `GUEST_TTL_DAYS` are deleted with everything they own.
//!
//! Concurrency: a merge and a deletion each first *claim* the guest row with
//! a conditional update (`provider = 'guest'`, and for deletion "still
//! inactive"), which locks it on MariaDB/PostgreSQL (SQLite has one writer);
//! whoever comes second finds nothing to claim and does nothing, so two
//! replicas never delete or merge the same guest twice.
//!
//! It must not decide anything about accounts that are not guests.
use crate::model::{GuestQuotaDto, MergedDto};
use crate::server::crypto::{new_access_token, sha256_hex};
use crate::server::db::now_ms;
use crate::server::entities::{
    access_tokens, attachments, guest_claims, messages, server_key_uses, threads, user_settings,
    users,
};
use crate::server::services::auth::{self, AuthUser, IssuedToken};
use crate::server::services::rate_limit::{Limit, Limited};
use crate::server::services::settings::{utc_midnight, DAY_MS};
use crate::server::{AppError, AppResult, AppState};
use crate::vocab::{Provider, UserId};
use axum::http::HeaderMap;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QuerySelect, Set, TransactionTrait,
};
use std::net::IpAddr;
use std::time::Duration;

/// The display name of every guest.
pub const GUEST_NAME: &str = "Guest";
/// How long a claim link works.
pub const CLAIM_TTL_MS: i64 = 15 * 60 * 1000;
/// `last_seen_at` of a guest is refreshed at most this often.
const ACTIVITY_GRANULARITY_MS: i64 = 3_600_000;
/// How often the server looks for inactive guests.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);
/// Guests deleted per pass at most (the next pass takes the rest).
const RETENTION_BATCH: u64 = 500;

/// A guest answering with the operator's key: whose address its quota is
/// also counted against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestUse {
    pub ip: Option<String>,
}

/// What a merge moved, and whether the guest's Mistral key was dropped
/// because the account has its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeOutcome {
    pub merged: MergedDto,
    pub guest_key_discarded: bool,
}

impl MergeOutcome {
    pub fn to_dto(self) -> crate::model::MergeResultDto {
        crate::model::MergeResultDto {
            merged: self.merged,
            guest_key_discarded: self.guest_key_discarded,
        }
    }

    /// The `Set-Cookie` value that lets the next page say what moved (two
    /// minutes; four numbers, not HttpOnly: the page reads and clears it).
    pub fn notice_cookie(self, state: &AppState) -> String {
        format!(
            "{}={}; SameSite=Lax; Path=/; Max-Age=120{}",
            crate::model::MERGE_NOTICE_COOKIE,
            self.to_dto().to_cookie_value(),
            if state.config.secure_cookies() {
                "; Secure"
            } else {
                ""
            }
        )
    }
}

fn guests_closed() -> AppError {
    AppError::Forbidden(
        "Guest access is off on this server — sign in or create an account to chat".into(),
    )
}

/// Creates a guest account and signs it in: 403 when guests are off, 429
/// past `GUEST_CREATIONS_PER_IP_HOUR` from `client_ip` (`None`: see
/// [`rate_limit::limited_address`](super::rate_limit::limited_address)).
#[tracing::instrument(skip_all)]
pub async fn create(state: &AppState, client_ip: Option<IpAddr>) -> AppResult<IssuedToken> {
    if !state.config.allow_guests {
        return Err(guests_closed());
    }
    if let Some(ip) = client_ip {
        let limit = Limit {
            max: state.config.guest_creations_per_ip_hour as usize,
            window: Duration::from_secs(3600),
        };
        // Counted whether or not the rest succeeds, like registrations.
        let _counted = state
            .login_limiter
            .try_acquire(&[(format!("guest-ip:{ip}"), limit)])
            .map_err(|Limited { retry_after_secs }| AppError::TooManyRequests {
                message: format!(
                    "Too many guest sessions from this address — try again in {} min, or sign in",
                    retry_after_secs.div_ceil(60)
                ),
                retry_after_secs,
            })?;
    }
    let now = now_ms();
    let id = uuid::Uuid::new_v4().to_string();
    users::ActiveModel {
        id: Set(id.clone()),
        email: Set(None),
        name: Set(GUEST_NAME.into()),
        picture: Set(None),
        provider: Set(Provider::Guest),
        google_sub: Set(None),
        password_hash: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        last_seen_at: Set(Some(now)),
        guest_ip: Set(client_ip.map(|ip| ip.to_string())),
    }
    .insert(&state.db)
    .await?;
    auth::issue_token(state, &UserId::new(&id)).await
}

/// Refreshes a guest's `last_seen_at` (at most hourly, so reads do not
/// become writes).
pub async fn record_activity(state: &AppState, user: &users::Model, now: i64) -> AppResult<()> {
    if user
        .last_seen_at
        .is_some_and(|seen| now - seen < ACTIVITY_GRANULARITY_MS)
    {
        return Ok(());
    }
    users::Entity::update_many()
        .col_expr(users::Column::LastSeenAt, Expr::value(now))
        .filter(users::Column::Id.eq(user.id.as_str()))
        .exec(&state.db)
        .await?;
    Ok(())
}

async fn guest_row(state: &AppState, user_id: &UserId) -> AppResult<Option<users::Model>> {
    Ok(users::Entity::find_by_id(user_id.as_str())
        .filter(users::Column::Provider.eq(Provider::Guest.as_str()))
        .one(&state.db)
        .await?)
}

/// Whether `user_id` is a guest.
pub async fn is_guest(state: &AppState, user_id: &UserId) -> AppResult<bool> {
    Ok(guest_row(state, user_id).await?.is_some())
}

/// `Some` for a guest: what its use of the operator's key is counted by.
pub async fn guest_use(state: &AppState, user_id: &UserId) -> AppResult<Option<GuestUse>> {
    Ok(guest_row(state, user_id)
        .await?
        .map(|u| GuestUse { ip: u.guest_ip }))
}

/// 403 for a guest: public links are for accounts (no anonymous pastebin on
/// someone's server).
pub async fn refuse_guest_share(state: &AppState, user_id: &UserId) -> AppResult<()> {
    if is_guest(state, user_id).await? {
        return Err(AppError::Forbidden(
            "Guests cannot share chats by link — sign up (your chats come with you) to share this one"
                .into(),
        ));
    }
    Ok(())
}

/// Today's answers on the operator's key: this guest's, and its address's
/// (every guest created from it).
async fn used_today(state: &AppState, user_id: &UserId, g: &GuestUse) -> AppResult<(u64, u64)> {
    let midnight = utc_midnight(now_ms());
    let mine = server_key_uses::Entity::find()
        .filter(server_key_uses::Column::UserId.eq(user_id))
        .filter(server_key_uses::Column::CreatedAt.gte(midnight))
        .count(&state.db)
        .await?;
    let address = match &g.ip {
        Some(ip) => {
            server_key_uses::Entity::find()
                .filter(server_key_uses::Column::ClientIp.eq(ip.as_str()))
                .filter(server_key_uses::Column::CreatedAt.gte(midnight))
                .count(&state.db)
                .await?
        }
        None => 0,
    };
    Ok((mine, address))
}

fn to_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What today's guest quotas leave (see [`GuestQuotaDto`]).
pub async fn quota(state: &AppState, user_id: &UserId, g: &GuestUse) -> AppResult<GuestQuotaDto> {
    let (used, address_used) = used_today(state, user_id, g).await?;
    let limit = state.config.guest_daily_messages;
    let address_limit = state.config.guest_ip_daily_messages;
    let remaining = (u64::from(limit).saturating_sub(used))
        .min(u64::from(address_limit).saturating_sub(address_used));
    Ok(GuestQuotaDto {
        remaining: to_u32(remaining),
        used: to_u32(used),
        limit,
        address_used: to_u32(address_used),
        address_limit,
    })
}

/// What today's guest quotas leave a visitor who has no guest yet: nothing
/// of their own used, their address's use counted (clearing cookies does not
/// reset it).
pub async fn visitor_quota(state: &AppState, ip: Option<IpAddr>) -> AppResult<GuestQuotaDto> {
    let g = GuestUse {
        ip: ip.map(|ip| ip.to_string()),
    };
    quota(state, &nobody(), &g).await
}

/// The id a visitor's reads are answered for: the nil UUID, which no user
/// has, so it owns nothing and nothing is counted against it.
pub fn nobody() -> UserId {
    UserId::new(uuid::Uuid::nil().to_string())
}

fn quota_spent(address: bool) -> AppError {
    let now = now_ms();
    let until_midnight = (utc_midnight(now) + DAY_MS - now).max(1000) / 1000;
    let whose = if address {
        "Guests on this network have used today's answers on the server's key"
    } else {
        "You have used today's guest answers on the server's key"
    };
    AppError::TooManyRequests {
        message: format!(
            "{whose} — add your own Mistral API key in Settings → Models, sign up, or try again after midnight UTC"
        ),
        retry_after_secs: u64::try_from(until_midnight).unwrap_or(3600),
    }
}

/// 429 when a guest has nothing left today (a cheap early check; the
/// charge in [`check_quota_after_charge`] is the one that holds under
/// concurrency).
pub async fn check_quota(state: &AppState, user_id: &UserId, g: &GuestUse) -> AppResult<()> {
    let (used, address_used) = used_today(state, user_id, g).await?;
    if used >= u64::from(state.config.guest_daily_messages) {
        return Err(quota_spent(false));
    }
    if g.ip.is_some() && address_used >= u64::from(state.config.guest_ip_daily_messages) {
        return Err(quota_spent(true));
    }
    Ok(())
}

/// After a use was written: 429 when it went past either quota (the caller
/// takes the use back). Written first, counted after, so racing requests can
/// both be refused but never both pass the last unit.
pub async fn check_quota_after_charge(
    state: &AppState,
    user_id: &UserId,
    g: &GuestUse,
) -> AppResult<()> {
    let (used, address_used) = used_today(state, user_id, g).await?;
    if used > u64::from(state.config.guest_daily_messages) {
        return Err(quota_spent(false));
    }
    if g.ip.is_some() && address_used > u64::from(state.config.guest_ip_daily_messages) {
        return Err(quota_spent(true));
    }
    Ok(())
}

/// Takes the guest row for this transaction (see the module doc): `false`
/// when it is no longer a guest, or `extra` does not hold any more.
async fn claim_guest(
    txn: &DatabaseTransaction,
    guest_id: &UserId,
    extra: Condition,
) -> AppResult<bool> {
    use sea_orm::sea_query::ExprTrait;
    let done = users::Entity::update_many()
        // Always a change, so MySQL counts the row as affected.
        .col_expr(
            users::Column::UpdatedAt,
            Expr::col(users::Column::UpdatedAt).add(1),
        )
        .filter(users::Column::Id.eq(guest_id.as_str()))
        .filter(users::Column::Provider.eq(Provider::Guest.as_str()))
        .filter(extra)
        .exec(txn)
        .await?;
    Ok(done.rows_affected > 0)
}

/// The ids of a user's threads.
async fn thread_ids<C: ConnectionTrait>(db: &C, user_id: &UserId) -> AppResult<Vec<String>> {
    Ok(threads::Entity::find()
        .select_only()
        .column(threads::Column::Id)
        .filter(threads::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?)
}

/// Moves the guest's settings to the account: the account's values win,
/// the ones it never set are copied. `true` when both had a Mistral key
/// (the guest's is dropped).
async fn merge_settings(
    txn: &DatabaseTransaction,
    guest_id: &UserId,
    account_id: &UserId,
) -> AppResult<bool> {
    let Some(g) = user_settings::Entity::find_by_id(guest_id.as_str())
        .one(txn)
        .await?
    else {
        return Ok(false);
    };
    let mine = user_settings::Entity::find_by_id(account_id.as_str())
        .one(txn)
        .await?;
    let mut discarded = false;
    match mine {
        None => {
            let mut row = user_settings::ActiveModel::from(g).reset_all();
            row.user_id = Set(account_id.to_string());
            row.updated_at = Set(now_ms());
            row.insert(txn).await?;
        }
        Some(a) => {
            let mut am = a.clone().into_active_model();
            match (&a.mistral_key_enc, &g.mistral_key_enc) {
                (Some(_), Some(_)) => discarded = true,
                (None, Some(_)) => {
                    am.mistral_key_enc = Set(g.mistral_key_enc.clone());
                    am.mistral_key_last4 = Set(g.mistral_key_last4.clone());
                }
                _ => {}
            }
            macro_rules! unset_takes_guest {
                ($($field:ident),+) => {$(
                    if a.$field.is_none() && g.$field.is_some() {
                        am.$field = Set(g.$field.clone());
                    }
                )+};
            }
            unset_takes_guest!(
                default_model,
                default_context,
                fast_models,
                theme,
                voice_id,
                voice_language,
                voice_speed,
                voice_silence_ms,
                voice_barge_in
            );
            am.updated_at = Set(now_ms());
            am.update(txn).await?;
        }
    }
    user_settings::Entity::delete_by_id(guest_id.as_str())
        .exec(txn)
        .await?;
    Ok(discarded)
}

/// Moves everything `guest_id` owns to `account_id` in one transaction and
/// deletes the guest with its sessions and claim codes. `claim` (a claim
/// code's row id) is used up in the same transaction. `None` when there is
/// no such guest any more (merged or deleted meanwhile): nothing changed.
#[tracing::instrument(skip_all)]
pub async fn merge_into(
    state: &AppState,
    guest_id: &UserId,
    account_id: &UserId,
    claim: Option<&str>,
) -> AppResult<Option<MergeOutcome>> {
    if guest_id == account_id {
        return Ok(None);
    }
    let txn = state.db.begin().await?;
    if !claim_guest(&txn, guest_id, Condition::all()).await? {
        return Ok(None);
    }
    let now = now_ms();
    if let Some(claim_id) = claim {
        let used = guest_claims::Entity::update_many()
            .col_expr(guest_claims::Column::UsedAt, Expr::value(now))
            .filter(guest_claims::Column::Id.eq(claim_id))
            .filter(guest_claims::Column::UsedAt.is_null())
            .filter(guest_claims::Column::ExpiresAt.gt(now))
            .exec(&txn)
            .await?;
        if used.rows_affected == 0 {
            return Err(claim_not_valid());
        }
    }
    let ids = thread_ids(&txn, guest_id).await?;
    let mut n_messages = 0;
    for chunk in ids.chunks(500) {
        n_messages += messages::Entity::find()
            .filter(messages::Column::ThreadId.is_in(chunk.iter().cloned()))
            .count(&txn)
            .await?;
    }
    // Thread and message ids are UUIDs the guest's rows already have:
    // moving the threads moves every message and branch with them.
    threads::Entity::update_many()
        .col_expr(threads::Column::UserId, Expr::value(account_id.as_str()))
        .filter(threads::Column::UserId.eq(guest_id.as_str()))
        .exec(&txn)
        .await?;
    let files = attachments::Entity::update_many()
        .col_expr(
            attachments::Column::UserId,
            Expr::value(account_id.as_str()),
        )
        .filter(attachments::Column::UserId.eq(guest_id.as_str()))
        .exec(&txn)
        .await?
        .rows_affected;
    // Today's answers on the server's key stay counted (they keep their
    // address, so the address quota is not reset by signing up either).
    server_key_uses::Entity::update_many()
        .col_expr(
            server_key_uses::Column::UserId,
            Expr::value(account_id.as_str()),
        )
        .filter(server_key_uses::Column::UserId.eq(guest_id.as_str()))
        .exec(&txn)
        .await?;
    let guest_key_discarded = merge_settings(&txn, guest_id, account_id).await?;
    delete_guest_rows(&txn, guest_id).await?;
    txn.commit().await?;
    tracing::info!(
        threads = ids.len(),
        messages = n_messages,
        files,
        "a guest was moved into an account"
    );
    Ok(Some(MergeOutcome {
        merged: MergedDto {
            threads: ids.len() as u64,
            messages: n_messages,
            files,
        },
        guest_key_discarded,
    }))
}

/// The guest's own rows once its data has moved or been deleted: sessions,
/// claim codes, the user row.
async fn delete_guest_rows(txn: &DatabaseTransaction, guest_id: &UserId) -> AppResult<()> {
    access_tokens::Entity::delete_many()
        .filter(access_tokens::Column::UserId.eq(guest_id.as_str()))
        .exec(txn)
        .await?;
    guest_claims::Entity::delete_many()
        .filter(guest_claims::Column::GuestId.eq(guest_id.as_str()))
        .exec(txn)
        .await?;
    users::Entity::delete_by_id(guest_id.as_str())
        .exec(txn)
        .await?;
    Ok(())
}

/// After a registration or sign-in made with a guest session (cookie or
/// Bearer token still presented): moves that guest into `account_id`.
/// `None` when the request carried no guest session.
pub async fn merge_presented_guest(
    state: &AppState,
    headers: &HeaderMap,
    account_id: &UserId,
) -> AppResult<Option<MergeOutcome>> {
    let Some(token) = auth::token_from_headers(headers) else {
        return Ok(None);
    };
    let guest = match auth::authenticate(state, &token).await {
        Ok(me) if me.is_guest() => me,
        Ok(_) | Err(AppError::Unauthorized(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    // Its answers stop before their rows change hands.
    state.hub.stop_for_user(guest.id()).await;
    merge_into(state, guest.id(), account_id, None).await
}

/// A claim link's code and until when it works.
#[derive(Debug, Clone)]
pub struct ClaimLink {
    pub code: String,
    pub expires_at: i64,
}

/// The address a claim code is redeemed at (a page route that signs in
/// first if needed, then redeems).
pub fn claim_url(state: &AppState, code: &str) -> String {
    format!("{}/auth/claim?code={code}", state.config.public_url)
}

/// A one-time code that hands this guest's chats to an account signed in
/// elsewhere (15 minutes; stored as SHA-256). Only a guest has one to give.
pub async fn create_claim(state: &AppState, me: &AuthUser) -> AppResult<ClaimLink> {
    if !me.is_guest() {
        return Err(AppError::Forbidden(
            "Only a guest session can hand its chats to an account — this one is an account already"
                .into(),
        ));
    }
    let code = new_access_token();
    let now = now_ms();
    let expires_at = now + CLAIM_TTL_MS;
    guest_claims::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        guest_id: Set(me.id().to_string()),
        code_hash: Set(sha256_hex(code.as_bytes())),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
    }
    .insert(&state.db)
    .await?;
    Ok(ClaimLink { code, expires_at })
}

fn claim_not_valid() -> AppError {
    AppError::NotFound(
        "This claim link is not valid — it was used already or never existed; ask the guest session for a new one"
            .into(),
    )
}

/// Moves the guest behind `code` into the signed-in account `me`: 403 for a
/// guest caller (sign in first), 404 for an unknown or used code, 410-like
/// 404 with its own sentence for an expired one.
#[tracing::instrument(skip_all)]
pub async fn redeem_claim(state: &AppState, me: &AuthUser, code: &str) -> AppResult<MergeOutcome> {
    if me.is_guest() {
        return Err(AppError::Forbidden(
            "Sign in to the account that should receive these chats, then open the claim link again"
                .into(),
        ));
    }
    let code = code.trim();
    if code.is_empty() || code.len() > 512 {
        return Err(claim_not_valid());
    }
    let row = guest_claims::Entity::find()
        .filter(guest_claims::Column::CodeHash.eq(sha256_hex(code.as_bytes())))
        .one(&state.db)
        .await?
        .ok_or_else(claim_not_valid)?;
    if row.used_at.is_some() {
        return Err(claim_not_valid());
    }
    if row.expires_at <= now_ms() {
        return Err(AppError::NotFound(
            "This claim link has expired (links work for 15 minutes) — make a new one in the guest session"
                .into(),
        ));
    }
    let guest_id = UserId::new(&row.guest_id);
    state.hub.stop_for_user(&guest_id).await;
    merge_into(state, &guest_id, me.id(), Some(&row.id))
        .await?
        .ok_or_else(claim_not_valid)
}

/// Deletes every guest inactive for `GUEST_TTL_DAYS` with everything it
/// owns (blobs no other attachment references too); returns how many.
/// Run periodically by the server; safe on several replicas at once.
#[tracing::instrument(skip_all)]
pub async fn delete_inactive(state: &AppState) -> AppResult<u64> {
    let cutoff = now_ms() - state.config.guest_ttl_days * DAY_MS;
    let ids: Vec<String> = users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .filter(users::Column::Provider.eq(Provider::Guest.as_str()))
        .filter(inactive_since(cutoff))
        .limit(RETENTION_BATCH)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut deleted = 0;
    for id in ids {
        if delete_guest(state, &UserId::new(&id), cutoff).await? {
            deleted += 1;
        }
    }
    if deleted > 0 {
        tracing::info!(deleted, "inactive guests deleted");
    }
    Ok(deleted)
}

/// Last seen (or, never seen, created) before `cutoff`.
fn inactive_since(cutoff: i64) -> Condition {
    Condition::any()
        .add(users::Column::LastSeenAt.lt(cutoff))
        .add(
            Condition::all()
                .add(users::Column::LastSeenAt.is_null())
                .add(users::Column::CreatedAt.lt(cutoff)),
        )
}

/// One guest, if it is still an inactive guest when claimed: `false` when
/// another replica took it first or it became active.
async fn delete_guest(state: &AppState, guest_id: &UserId, cutoff: i64) -> AppResult<bool> {
    let txn = state.db.begin().await?;
    if !claim_guest(&txn, guest_id, inactive_since(cutoff)).await? {
        return Ok(false);
    }
    let hashes: Vec<String> = attachments::Entity::find()
        .select_only()
        .column(attachments::Column::BlobSha256)
        .filter(attachments::Column::UserId.eq(guest_id.as_str()))
        .distinct()
        .into_tuple()
        .all(&txn)
        .await?;
    attachments::Entity::delete_many()
        .filter(attachments::Column::UserId.eq(guest_id.as_str()))
        .exec(&txn)
        .await?;
    user_settings::Entity::delete_many()
        .filter(user_settings::Column::UserId.eq(guest_id.as_str()))
        .exec(&txn)
        .await?;
    server_key_uses::Entity::delete_many()
        .filter(server_key_uses::Column::UserId.eq(guest_id.as_str()))
        .exec(&txn)
        .await?;
    super::threads::delete_all_for_user(&txn, guest_id).await?;
    delete_guest_rows(&txn, guest_id).await?;
    super::blobs::delete_unreferenced(&txn, hashes).await?;
    txn.commit().await?;
    Ok(true)
}
