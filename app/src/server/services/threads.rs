//! Threads, their message trees and share codes.
//!
//! Every query that takes a thread, message or share id is scoped by the
//! caller's user id, so a foreign id behaves exactly like a missing one: the
//! one entry point for an id is [`find_owned`], which answers
//! `404 Thread not found` for both.
//!
//! Lists are keyset-paginated on the indexes the migration creates:
//! threads on `(user_id, updated_at, id)`, messages on `(thread_id,
//! created_at, id)`. A [`Cursor`] carries both the timestamp and the id of
//! the last row of a page, so pages stay exact when timestamps are equal.
//! [`thread_page_select`] and [`message_page_select`] are the queries that
//! serve those pages (tests and the benchmark EXPLAIN them).
use crate::model::{
    MessageDto, ShareDto, SharedThreadDto, SharedThreadView, SyncMessageDto, SyncRejection,
    SyncResult, ThreadDto, ThreadPage, ThreadWithMessages,
};
use crate::server::crypto::random_url_token;
use crate::server::db::now_ms;
use crate::server::entities::{attachments, messages, shares, threads};
use crate::server::services::files::{self, FileReader};
use crate::server::{AppError, AppResult, AppState, FieldResult};
use crate::vocab::{MessageId, MessageStatus, Role, ThreadId, UserId};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sea_orm::sea_query::{BinOper, Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, Set, SqlErr, TransactionTrait,
};
use std::collections::{HashMap, HashSet};

pub use crate::vocab::input::{ModelId, SearchText, ThreadContext, ThreadName};
use crate::vocab::limits::MAX_ID_LEN;
pub use crate::vocab::limits::{DEFAULT_THREAD_NAME, MAX_TEXT_CHARS};
pub const DEFAULT_THREAD_PAGE: u64 = 20;
pub const MAX_THREAD_PAGE: u64 = 100;
pub const DEFAULT_MESSAGE_PAGE: u64 = 50;
pub const MAX_MESSAGE_PAGE: u64 = 200;
pub const MAX_SYNC_BATCH: usize = 1000;
/// Bytes of randomness in a share code (192 bits, 32 URL-safe characters).
const SHARE_CODE_BYTES: usize = 24;
/// Rows per `INSERT` when syncing (16 columns each: far below every
/// backend's bound-parameter limit).
const INSERT_CHUNK: usize = 100;
/// Bytes of message text on one page of a shared thread (its older messages
/// come on the next page).
pub const MAX_SHARED_PAGE_TEXT: usize = 400_000;
/// Ids per `IN (…)` list.
pub(crate) const IN_CHUNK: usize = 500;
/// The `LIKE … ESCAPE` character used for name search (not `\`, whose
/// meaning inside string literals differs between backends).
const LIKE_ESCAPE: char = '!';

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// A client-supplied UUID, kept in canonical form (lower-case, hyphenated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uuid(String);

impl Uuid {
    /// `field` names the input in the error (`idThread`, `idMessage`, …).
    pub fn parse(raw: &str, field: &str) -> AppResult<Self> {
        uuid::Uuid::parse_str(raw.trim())
            .map(|u| Self(u.to_string()))
            .map_err(|_| AppError::bad_request(format!("{field}: must be a UUID")))
    }
    pub fn new_v4() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `%text%` with the LIKE wildcards and the escape character escaped.
fn like_pattern(q: &SearchText) -> String {
    let q = q.as_str();
    let mut p = String::with_capacity(q.len() + 2);
    p.push('%');
    for c in q.chars() {
        if c == '%' || c == '_' || c == LIKE_ESCAPE {
            p.push(LIKE_ESCAPE);
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// A share code as found in a link: URL-safe base64, 16 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareCode(String);

impl ShareCode {
    /// Anything that cannot be a code answers like an unknown code (404).
    pub fn parse(raw: &str) -> AppResult<Self> {
        let c = raw.trim();
        let ok = (16..=64).contains(&c.len())
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(c.to_string()))
        } else {
            Err(shared_not_found())
        }
    }
    fn generate() -> Self {
        Self(random_url_token(SHARE_CODE_BYTES))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A page size within `1..=max`; `default` when absent.
pub fn parse_limit(raw: Option<&str>, default: u64, max: u64) -> AppResult<u64> {
    match raw.map(str::trim) {
        None => Ok(default),
        Some(s) => s
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                AppError::bad_request(format!("limit: use a whole number from 1 to {max}"))
            }),
    }
}

/// A keyset position: the timestamp and id of the last row of a page.
/// Opaque to clients: URL-safe base64 of `"<millis>:<id>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub at: i64,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.at, self.id))
    }

    pub fn parse(raw: &str) -> AppResult<Self> {
        let bad = || {
            AppError::bad_request(
                "before: not a valid cursor — pass nextCursor from the previous page unchanged",
            )
        };
        if raw.len() > 200 {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (at, id) = text.split_once(':').ok_or_else(bad)?;
        let at = at.parse::<i64>().map_err(|_| bad())?;
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Err(bad());
        }
        Ok(Self {
            at,
            id: id.to_string(),
        })
    }
}

/// What a thread list asks for.
#[derive(Debug, Clone, Default)]
pub struct ThreadListQuery {
    pub limit: u64,
    pub before: Option<Cursor>,
    pub search: Option<SearchText>,
}

/// A page of messages: the `limit` newest ones older than `before`.
#[derive(Debug, Clone)]
pub struct MessagePageQuery {
    pub limit: u64,
    pub before: Option<Cursor>,
}

/// Fields of a new thread; absent ones get defaults.
#[derive(Debug, Clone, Default)]
pub struct NewThread {
    pub id: Option<Uuid>,
    pub name: Option<ThreadName>,
    pub context: Option<ThreadContext>,
    pub model: Option<ModelId>,
}

/// Changes to a thread; `None` leaves a field as it is. `model:
/// Some(None)` removes the model.
#[derive(Debug, Clone, Default)]
pub struct ThreadPatch {
    pub name: Option<ThreadName>,
    pub context: Option<ThreadContext>,
    pub model: Option<Option<ModelId>>,
}

impl NewThread {
    /// From the fields a client sends, the same for every entry point: a
    /// blank or missing name gets the default name, a blank model none.
    pub fn from_client(
        id: Option<&str>,
        name: Option<&str>,
        context: Option<&str>,
        model: Option<&str>,
    ) -> AppResult<Self> {
        Ok(Self {
            id: id.map(|s| Uuid::parse(s, "idThread")).transpose()?,
            name: name
                .map(ThreadName::parse_optional)
                .transpose()
                .field("name")?
                .flatten(),
            context: context
                .map(ThreadContext::parse)
                .transpose()
                .field("context")?,
            model: model
                .map(ModelId::parse)
                .transpose()
                .field("model")?
                .flatten(),
        })
    }
}

impl ThreadPatch {
    /// From the fields a client sends: a blank name is refused (a thread
    /// always has one), a blank model removes the thread's model.
    pub fn from_client(
        name: Option<&str>,
        context: Option<&str>,
        model: Option<&str>,
    ) -> AppResult<Self> {
        Ok(Self {
            name: name.map(ThreadName::parse).transpose().field("name")?,
            context: context
                .map(ThreadContext::parse)
                .transpose()
                .field("context")?,
            model: model.map(ModelId::parse).transpose().field("model")?,
        })
    }
}

fn thread_not_found() -> AppError {
    AppError::not_found("Thread")
}

fn shared_not_found() -> AppError {
    AppError::not_found("Shared thread")
}

pub fn thread_dto(t: &threads::Model, shared: bool) -> ThreadDto {
    ThreadDto {
        id: t.id.clone(),
        name: t.name.clone(),
        context: t.context.clone(),
        model: t.model.clone(),
        created_at: t.created_at,
        updated_at: t.updated_at,
        shared,
    }
}

/// The sources stored with a message (`messages.sources`, JSON); none when
/// the column is empty or unreadable.
pub fn stored_sources(m: &messages::Model) -> Vec<crate::model::SourceDto> {
    m.sources
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

pub fn message_dto(m: messages::Model) -> MessageDto {
    let sources = stored_sources(&m);
    MessageDto {
        id: m.id,
        id_thread: m.thread_id,
        parent_id: m.parent_id,
        role: m.role,
        text: m.text,
        thinking: m.thinking,
        status: m.status,
        model: m.model,
        created_at: m.created_at,
        updated_at: m.updated_at,
        finish_reason: m.finish_reason,
        prompt_tokens: m.prompt_tokens,
        completion_tokens: m.completion_tokens,
        error: m.error,
        html: None,
        sources,
        attachments: vec![],
        spoken: m.spoken.unwrap_or(false),
    }
}

/// The caller's thread `thread_id`, or `404 Thread not found` when it is
/// missing *or belongs to someone else*.
pub async fn find_owned<C: ConnectionTrait>(
    db: &C,
    user_id: &UserId,
    thread_id: &ThreadId,
) -> AppResult<threads::Model> {
    if !thread_id.is_plausible() {
        return Err(thread_not_found());
    }
    threads::Entity::find()
        .filter(threads::Column::Id.eq(thread_id))
        .filter(threads::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or_else(thread_not_found)
}

/// `(at, id) < (cursor.at, cursor.id)` written so that every backend turns
/// the `at <= …` part into an index range.
fn older_than<C: ColumnTrait>(at: C, id: C, c: &Cursor) -> Condition {
    Condition::all()
        .add(at.lte(c.at))
        .add(Condition::any().add(at.lt(c.at)).add(id.lt(c.id.as_str())))
}

/// `LOWER(name) LIKE LOWER('%…%') ESCAPE '!'`: lower() on both sides so the
/// comparison folds case the same way on every backend.
fn name_contains(q: &SearchText) -> Expr {
    Expr::expr(Func::lower(Expr::col((
        threads::Entity,
        threads::Column::Name,
    ))))
    .binary(
        BinOper::Like,
        Expr::Binary(
            Box::new(Func::lower(Expr::val(like_pattern(q))).into()),
            BinOper::Escape,
            Box::new(Expr::Constant(LIKE_ESCAPE.into())),
        ),
    )
}

/// The query behind one page of a user's threads, newest first. Fetches
/// `limit + 1` rows: the extra one only tells whether another page exists.
pub fn thread_page_select(
    user_id: &UserId,
    search: Option<&SearchText>,
    before: Option<&Cursor>,
    limit: u64,
) -> Select<threads::Entity> {
    threads::Entity::find()
        .filter(threads::Column::UserId.eq(user_id))
        .apply_if(search, |s, q| s.filter(name_contains(q)))
        .apply_if(before, |s, c| {
            s.filter(older_than(
                threads::Column::UpdatedAt,
                threads::Column::Id,
                c,
            ))
        })
        .order_by_desc(threads::Column::UpdatedAt)
        .order_by_desc(threads::Column::Id)
        .limit(limit + 1)
}

/// The query behind one page of a thread's messages, newest first (the
/// service returns them reversed, in chronological order). Fetches
/// `limit + 1` rows like [`thread_page_select`]. `thread_id` must come from
/// an owned thread ([`find_owned`]).
pub fn message_page_select(
    thread_id: &str,
    before: Option<&Cursor>,
    limit: u64,
) -> Select<messages::Entity> {
    messages::Entity::find()
        .filter(messages::Column::ThreadId.eq(thread_id))
        .apply_if(before, |s, c| {
            s.filter(older_than(
                messages::Column::CreatedAt,
                messages::Column::Id,
                c,
            ))
        })
        .order_by_desc(messages::Column::CreatedAt)
        .order_by_desc(messages::Column::Id)
        .limit(limit + 1)
}

/// Every message of a thread, oldest first.
fn all_messages_select(thread_id: &str) -> Select<messages::Entity> {
    messages::Entity::find()
        .filter(messages::Column::ThreadId.eq(thread_id))
        .order_by_asc(messages::Column::CreatedAt)
        .order_by_asc(messages::Column::Id)
}

fn active_share_condition(now: i64) -> Condition {
    Condition::all()
        .add(shares::Column::RevokedAt.is_null())
        .add(
            Condition::any()
                .add(shares::Column::ExpiresAt.is_null())
                .add(shares::Column::ExpiresAt.gt(now)),
        )
}

/// Which of `thread_ids` have an active share.
async fn shared_ids<C: ConnectionTrait>(
    db: &C,
    thread_ids: &[String],
    now: i64,
) -> AppResult<HashSet<String>> {
    let mut out = HashSet::new();
    for chunk in thread_ids.chunks(IN_CHUNK) {
        let ids: Vec<String> = shares::Entity::find()
            .select_only()
            .column(shares::Column::ThreadId)
            .filter(shares::Column::ThreadId.is_in(chunk.iter().cloned()))
            .filter(active_share_condition(now))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(ids);
    }
    Ok(out)
}

async fn active_share<C: ConnectionTrait>(
    db: &C,
    thread_id: &str,
    now: i64,
) -> AppResult<Option<shares::Model>> {
    Ok(shares::Entity::find()
        .filter(shares::Column::ThreadId.eq(thread_id))
        .filter(active_share_condition(now))
        .order_by_desc(shares::Column::CreatedAt)
        .order_by_desc(shares::Column::Id)
        .one(db)
        .await?)
}

async fn owned_dto<C: ConnectionTrait>(db: &C, t: &threads::Model) -> AppResult<ThreadDto> {
    let shared = active_share(db, &t.id, now_ms()).await?.is_some();
    Ok(thread_dto(t, shared))
}

/// One page of the caller's threads, most recently updated first.
pub async fn list_threads(
    state: &AppState,
    user_id: &UserId,
    query: &ThreadListQuery,
) -> AppResult<ThreadPage> {
    let limit = query.limit.clamp(1, MAX_THREAD_PAGE);
    let mut rows = thread_page_select(user_id, query.search.as_ref(), query.before.as_ref(), limit)
        .all(&state.db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = match rows.last() {
        Some(last) if more => Some(
            Cursor {
                at: last.updated_at,
                id: last.id.clone(),
            }
            .encode(),
        ),
        _ => None,
    };
    let ids: Vec<String> = rows.iter().map(|t| t.id.clone()).collect();
    let shared = shared_ids(&state.db, &ids, now_ms()).await?;
    Ok(ThreadPage {
        threads: rows
            .iter()
            .map(|t| thread_dto(t, shared.contains(&t.id)))
            .collect(),
        next_cursor,
    })
}

/// One owned thread with all its messages (`page: None`) or one page of
/// them, in chronological order either way.
pub async fn get_thread(
    state: &AppState,
    user_id: &UserId,
    thread_id: &ThreadId,
    page: Option<&MessagePageQuery>,
) -> AppResult<ThreadWithMessages> {
    let thread = find_owned(&state.db, user_id, thread_id).await?;
    let (rows, next_cursor) = match page {
        None => (all_messages_select(&thread.id).all(&state.db).await?, None),
        Some(p) => {
            let limit = p.limit.clamp(1, MAX_MESSAGE_PAGE);
            let mut rows = message_page_select(&thread.id, p.before.as_ref(), limit)
                .all(&state.db)
                .await?;
            let more = rows.len() as u64 > limit;
            rows.truncate(limit as usize);
            let next = match rows.last() {
                Some(oldest) if more => Some(
                    Cursor {
                        at: oldest.created_at,
                        id: oldest.id.clone(),
                    }
                    .encode(),
                ),
                _ => None,
            };
            rows.reverse();
            (rows, next)
        }
    };
    let mut messages: Vec<MessageDto> = rows.into_iter().map(message_dto).collect();
    files::fill_attachments(&state.db, &mut messages, &FileReader::Owner).await?;
    Ok(ThreadWithMessages {
        thread: owned_dto(&state.db, &thread).await?,
        messages,
        next_cursor,
    })
}

/// Parent links of every message of a thread: `(id, parent id, created at)`.
pub(crate) async fn message_links<C: ConnectionTrait>(
    db: &C,
    thread_id: &str,
) -> AppResult<Vec<(String, Option<String>, i64)>> {
    Ok(messages::Entity::find()
        .select_only()
        .column(messages::Column::Id)
        .column(messages::Column::ParentId)
        .column(messages::Column::CreatedAt)
        .filter(messages::Column::ThreadId.eq(thread_id))
        .into_tuple()
        .all(db)
        .await?)
}

/// The ids of the branch the owner sees by default (the newest version at
/// every fork, as the thread page shows it), root first.
fn default_branch(links: &[(String, Option<String>, i64)]) -> Vec<String> {
    use crate::components::message::{branch_ids, children_map};
    branch_ids(&children_map(links), &HashMap::new())
}

/// The ids from the root down to `leaf` (root first); empty when `leaf` is
/// not a message of these links.
pub(crate) fn branch_to(links: &[(String, Option<String>, i64)], leaf: &str) -> Vec<String> {
    let parent_of: HashMap<&str, Option<&str>> = links
        .iter()
        .map(|(id, p, _)| (id.as_str(), p.as_deref()))
        .collect();
    let mut ids = vec![];
    let mut next = Some(leaf);
    while let Some(id) = next {
        let Some(parent) = parent_of.get(id) else {
            break;
        };
        // A cycle (only possible through hand-edited rows) ends the walk.
        if ids.len() > links.len() {
            break;
        }
        ids.push(id.to_string());
        next = *parent;
    }
    ids.reverse();
    ids
}

/// What a share reader may see of a message: no reasoning, no error texts.
fn shared_message_dto(m: messages::Model) -> MessageDto {
    MessageDto {
        thinking: None,
        error: None,
        ..message_dto(m)
    }
}

/// The thread of the active share `code` and the ids of the branch it
/// shows (root to the share's message), root first; `404 Shared thread not
/// found` for unknown, revoked and expired codes. What a share reader may
/// see (messages here, their files in `services::files`) is this branch.
pub(crate) async fn shared_branch<C: ConnectionTrait>(
    db: &C,
    code: &ShareCode,
) -> AppResult<(threads::Model, Vec<String>)> {
    let share = shares::Entity::find()
        .filter(shares::Column::Code.eq(code.as_str()))
        .filter(active_share_condition(now_ms()))
        .one(db)
        .await?
        .ok_or_else(shared_not_found)?;
    let thread = threads::Entity::find_by_id(share.thread_id.clone())
        .one(db)
        .await?
        .ok_or_else(shared_not_found)?;
    let links = message_links(db, &thread.id).await?;
    let ids = match &share.upto_message_id {
        Some(leaf) => branch_to(&links, leaf),
        None => default_branch(&links),
    };
    Ok((thread, ids))
}

/// A shared thread for anyone holding an active code: no owner, no system
/// prompt, only the branch the owner shared (root to the share's message),
/// without reasoning or error texts, and nothing added after the share.
/// Unknown, revoked and expired codes all answer 404. `page` pages the
/// branch like [`get_thread`] (newest `limit` before the cursor).
pub async fn get_shared(
    state: &AppState,
    code: &ShareCode,
    page: Option<&MessagePageQuery>,
) -> AppResult<SharedThreadView> {
    let (thread, mut ids) = shared_branch(&state.db, code).await?;
    let mut next_cursor = None;
    if let Some(page) = page {
        if let Some(c) = &page.before {
            let pos = ids.iter().position(|id| *id == c.id).ok_or_else(|| {
                AppError::bad_request(
                    "before: not a valid cursor — pass nextCursor from the previous page unchanged",
                )
            })?;
            ids.truncate(pos);
        }
        let limit = page.limit as usize;
        if ids.len() > limit {
            ids.drain(..ids.len() - limit);
            next_cursor = Some(ids[0].clone());
        }
    }
    let mut rows = vec![];
    for chunk in ids.chunks(IN_CHUNK) {
        rows.extend(
            messages::Entity::find()
                .filter(messages::Column::ThreadId.eq(thread.id.as_str()))
                .filter(messages::Column::Id.is_in(chunk.iter().cloned()))
                .all(&state.db)
                .await?,
        );
    }
    let position: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    rows.sort_by_key(|m| position.get(m.id.as_str()).copied().unwrap_or(usize::MAX));
    if page.is_some() {
        // Anonymous readers render these pages: bound the markdown one
        // request renders, whatever the messages hold (always one message).
        let mut budget = MAX_SHARED_PAGE_TEXT;
        let mut keep = 0;
        for m in rows.iter().rev() {
            if keep > 0 && m.text.len() > budget {
                break;
            }
            budget = budget.saturating_sub(m.text.len());
            keep += 1;
        }
        if keep < rows.len() {
            rows.drain(..rows.len() - keep);
            next_cursor = rows.first().map(|m| m.id.clone());
        }
    }
    let next_cursor = match next_cursor {
        Some(first) => rows.iter().find(|m| m.id == first).map(|m| {
            Cursor {
                at: m.created_at,
                id: m.id.clone(),
            }
            .encode()
        }),
        None => None,
    };
    let mut messages: Vec<MessageDto> = rows
        .into_iter()
        // A failed answer has nothing to show once its error is hidden.
        .filter(|m| !(m.role == Role::Assistant && m.text.is_empty()))
        .map(shared_message_dto)
        .collect();
    files::fill_attachments(&state.db, &mut messages, &FileReader::Share(code)).await?;
    Ok(SharedThreadView {
        thread: SharedThreadDto {
            id: thread.id,
            name: thread.name,
            model: thread.model,
            created_at: thread.created_at,
            updated_at: thread.updated_at,
        },
        messages,
        next_cursor,
    })
}

fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

pub async fn create_thread(
    state: &AppState,
    user_id: &UserId,
    new: NewThread,
) -> AppResult<ThreadDto> {
    let taken = || AppError::Conflict("idThread: a thread with this id already exists".into());
    let id = new.id.unwrap_or_else(Uuid::new_v4);
    if threads::Entity::find_by_id(id.as_str().to_string())
        .one(&state.db)
        .await?
        .is_some()
    {
        return Err(taken());
    }
    let now = now_ms();
    let row = threads::Model {
        id: id.as_str().to_string(),
        user_id: user_id.to_string(),
        name: new
            .name
            .map(ThreadName::into_string)
            .unwrap_or_else(|| DEFAULT_THREAD_NAME.to_string()),
        context: new
            .context
            .map(ThreadContext::into_string)
            .unwrap_or_default(),
        model: new.model.map(ModelId::into_string),
        created_at: now,
        updated_at: now,
    };
    let am = threads::ActiveModel {
        id: Set(row.id.clone()),
        user_id: Set(row.user_id.clone()),
        name: Set(row.name.clone()),
        context: Set(row.context.clone()),
        model: Set(row.model.clone()),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
    };
    match threads::Entity::insert(am)
        .exec_without_returning(&state.db)
        .await
    {
        Ok(_) => Ok(thread_dto(&row, false)),
        // Two creates with the same id at once: the primary key decides.
        Err(e) if is_unique_violation(&e) => Err(taken()),
        Err(e) => Err(e.into()),
    }
}

/// Applies `patch` to an owned thread and bumps its `updatedAt`.
pub async fn update_thread(
    state: &AppState,
    user_id: &UserId,
    thread_id: &ThreadId,
    patch: ThreadPatch,
) -> AppResult<ThreadDto> {
    let mut thread = find_owned(&state.db, user_id, thread_id).await?;
    let mut update = threads::Entity::update_many()
        .filter(threads::Column::Id.eq(thread.id.as_str()))
        .filter(threads::Column::UserId.eq(user_id));
    if let Some(name) = patch.name {
        update = update.col_expr(threads::Column::Name, Expr::value(name.as_str()));
        thread.name = name.into_string();
    }
    if let Some(context) = patch.context {
        update = update.col_expr(threads::Column::Context, Expr::value(context.as_str()));
        thread.context = context.into_string();
    }
    if let Some(model) = patch.model {
        let model = model.map(ModelId::into_string);
        update = update.col_expr(threads::Column::Model, Expr::value(model.clone()));
        thread.model = model;
    }
    thread.updated_at = std::cmp::max(now_ms(), thread.updated_at);
    update
        .col_expr(threads::Column::UpdatedAt, Expr::value(thread.updated_at))
        .exec(&state.db)
        .await?;
    owned_dto(&state.db, &thread).await
}

/// What the owner's share dialog shows about a share.
async fn share_dto<C: ConnectionTrait>(db: &C, share: &shares::Model) -> AppResult<ShareDto> {
    let links = message_links(db, &share.thread_id).await?;
    let ids = match &share.upto_message_id {
        Some(leaf) => branch_to(&links, leaf),
        None => default_branch(&links),
    };
    let upto_at = ids
        .last()
        .and_then(|leaf| links.iter().find(|(id, _, _)| id == leaf))
        .map(|(_, _, at)| *at);
    Ok(ShareDto {
        share_code: share.code.clone(),
        expires_at: share.expires_at,
        upto_message_id: ids.last().cloned(),
        upto_at,
        message_count: ids.len() as u32,
    })
}

/// The thread's active share, if any, unchanged (what the share dialog
/// shows when it opens).
pub async fn get_share(
    state: &AppState,
    user_id: &UserId,
    thread_id: &ThreadId,
) -> AppResult<Option<ShareDto>> {
    let thread = find_owned(&state.db, user_id, thread_id).await?;
    match active_share(&state.db, &thread.id, now_ms()).await? {
        Some(share) => Ok(Some(share_dto(&state.db, &share).await?)),
        None => Ok(None),
    }
}

/// Shares the thread as the owner sees it now: a snapshot of the default
/// branch up to its newest message. An active share keeps its code and
/// moves its snapshot (and its expiry to `expires_at` when given); otherwise
/// a new code is made.
pub async fn share_thread(
    state: &AppState,
    user_id: &UserId,
    thread_id: &ThreadId,
    expires_at: Option<i64>,
) -> AppResult<ShareDto> {
    super::guests::refuse_guest_share(state, user_id).await?;
    let now = now_ms();
    if expires_at.is_some_and(|e| e <= now) {
        return Err(AppError::bad_request(
            "expiresAt: choose a time in the future (Unix milliseconds)",
        ));
    }
    let thread = find_owned(&state.db, user_id, thread_id).await?;
    let leaf = default_branch(&message_links(&state.db, &thread.id).await?)
        .last()
        .cloned();
    if let Some(mut share) = active_share(&state.db, &thread.id, now).await? {
        let mut update = shares::Entity::update_many()
            .col_expr(shares::Column::UptoMessageId, Expr::value(leaf.clone()))
            .filter(shares::Column::Id.eq(share.id.as_str()))
            .filter(shares::Column::ThreadId.eq(thread.id.as_str()));
        if let Some(e) = expires_at {
            update = update.col_expr(shares::Column::ExpiresAt, Expr::value(Some(e)));
            share.expires_at = Some(e);
        }
        update.exec(&state.db).await?;
        share.upto_message_id = leaf;
        return share_dto(&state.db, &share).await;
    }
    let share = shares::Model {
        id: Uuid::new_v4().0,
        thread_id: thread.id.clone(),
        code: ShareCode::generate().0,
        created_at: now,
        expires_at,
        revoked_at: None,
        upto_message_id: leaf,
    };
    shares::Entity::insert(shares::ActiveModel::from(share.clone()).reset_all())
        .exec_without_returning(&state.db)
        .await?;
    share_dto(&state.db, &share).await
}

/// Revokes every share of an owned thread.
pub async fn unshare_thread(
    state: &AppState,
    user_id: &UserId,
    thread_id: &ThreadId,
) -> AppResult<()> {
    let thread = find_owned(&state.db, user_id, thread_id).await?;
    shares::Entity::update_many()
        .col_expr(shares::Column::RevokedAt, Expr::value(Some(now_ms())))
        .filter(shares::Column::ThreadId.eq(thread.id.as_str()))
        .filter(shares::Column::RevokedAt.is_null())
        .exec(&state.db)
        .await?;
    Ok(())
}

/// A sync message that passed the checks that need no database.
struct Candidate {
    raw_id: String,
    id: String,
    thread_id: Option<String>,
    parent_id: Option<String>,
    role: Role,
    text: String,
    thinking: Option<String>,
    date: i64,
    files: Vec<SyncFile>,
}

/// An inline file of a synced message, checked: bytes matching their hash,
/// of a supported type, within the limit per file.
struct SyncFile {
    name: String,
    mime: &'static str,
    sha256: String,
    bytes: Vec<u8>,
}

fn check_sync_file(
    a: &crate::model::SyncAttachmentDto,
    max_bytes: u64,
) -> Result<SyncFile, String> {
    let name = &a.file_name;
    let b64 = a
        .data
        .data
        .split_once(";base64,")
        .filter(|(head, _)| head.starts_with("data:"))
        .map(|(_, b)| b)
        .ok_or_else(|| format!("attachments: {name}: data must be a base64 data: URI"))?;
    if (b64.len() as u64) / 4 * 3 > max_bytes + 3 {
        return Err(format!(
            "attachments: {name}: larger than the {} MB limit per file",
            max_bytes / crate::server::config::MB
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| format!("attachments: {name}: data is not valid base64"))?;
    if bytes.len() as u64 > max_bytes {
        return Err(format!(
            "attachments: {name}: larger than the {} MB limit per file",
            max_bytes / crate::server::config::MB
        ));
    }
    let sha256 = crate::server::crypto::sha256_hex(&bytes);
    if !sha256.eq_ignore_ascii_case(a.data.sha256.trim()) {
        return Err(format!(
            "attachments: {name}: sha256 does not match the bytes"
        ));
    }
    let (mime, _) = super::uploads::classify(&bytes).ok_or_else(|| {
        format!(
            "attachments: {name}: unsupported type — send {}",
            super::uploads::SUPPORTED
        )
    })?;
    Ok(SyncFile {
        name: name.clone(),
        mime,
        sha256,
        bytes,
    })
}

fn check_sync_message(m: SyncMessageDto, max_file_bytes: u64) -> Result<Candidate, SyncRejection> {
    let reject = |reason: String| SyncRejection {
        id_message: m.id_message.clone(),
        reason,
    };
    let id = Uuid::parse(&m.id_message, "idMessage").map_err(|e| reject(e.public_message()))?;
    let role = m.role.parse::<Role>().map_err(reject)?;
    if chars(&m.text) > MAX_TEXT_CHARS {
        return Err(reject(format!(
            "text: use at most {MAX_TEXT_CHARS} characters"
        )));
    }
    if m.thinking
        .as_deref()
        .is_some_and(|t| chars(t) > MAX_TEXT_CHARS)
    {
        return Err(reject(format!(
            "thinking: use at most {MAX_TEXT_CHARS} characters"
        )));
    }
    if m.date < 0 {
        return Err(reject("date: use Unix milliseconds".into()));
    }
    let parent_id = match m.parent_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) => Some(
            Some(MessageId::new(p))
                .filter(MessageId::is_plausible)
                .map(MessageId::into_string)
                .ok_or_else(|| reject("parentId: not a message of this thread".into()))?,
        ),
    };
    let files = m
        .attachments
        .iter()
        .map(|a| check_sync_file(a, max_file_bytes))
        .collect::<Result<Vec<_>, _>>()
        .map_err(reject)?;
    Ok(Candidate {
        files,
        thread_id: Some(ThreadId::new(&m.id_thread))
            .filter(ThreadId::is_plausible)
            .map(ThreadId::into_string),
        raw_id: m.id_message,
        id: id.0,
        parent_id,
        role,
        text: m.text,
        thinking: m.thinking,
        date: m.date,
    })
}

/// Stores the inline files of synced messages (once per content) as the
/// messages' attachments, within the caller's storage quota (413).
async fn store_sync_files<C: ConnectionTrait>(
    state: &AppState,
    user_id: &UserId,
    txn: &C,
    files_of: Vec<(String, Vec<SyncFile>)>,
) -> AppResult<()> {
    if files_of.iter().all(|(_, f)| f.is_empty()) {
        return Ok(());
    }
    let mut used = super::uploads::used_bytes(txn, user_id).await?;
    let quota = state.config.user_storage_quota_bytes;
    let now = now_ms();
    for (message_id, files) in files_of {
        for (i, f) in files.into_iter().enumerate() {
            used += f.bytes.len() as u64;
            if used > quota {
                return Err(AppError::PayloadTooLarge(
                    "attachments: these files do not fit in your storage quota".into(),
                ));
            }
            let dims = files::sniff(&f.bytes);
            let size = f.bytes.len() as i64;
            files::store_blob_owned(txn, f.bytes, f.sha256.clone()).await?;
            attachments::ActiveModel {
                id: Set(crate::vocab::FileId::generate().to_string()),
                user_id: Set(user_id.to_string()),
                message_id: Set(Some(message_id.clone())),
                blob_sha256: Set(f.sha256),
                kind: Set("upload".into()),
                filename: Set(files::clean_file_name(&f.name, f.mime)),
                mime: Set(f.mime.into()),
                size: Set(size),
                extracted_text: Set(None),
                created_at: Set(now + i as i64),
                width: Set(dims.width.and_then(|w| i32::try_from(w).ok())),
                height: Set(dims.height.and_then(|h| i32::try_from(h).ok())),
                prompt: Set(None),
                seen: Set(None),
            }
            .insert(txn)
            .await?;
        }
    }
    Ok(())
}

/// Uploads messages written offline into the caller's threads. Idempotent:
/// a message already in its thread is skipped; anything that cannot be
/// stored (foreign or missing thread, id used elsewhere, unknown parent,
/// bad field) is listed in `rejected` with the reason. Threads that got new
/// messages have their `updatedAt` bumped.
pub async fn sync_messages(
    state: &AppState,
    user_id: &UserId,
    batch: Vec<SyncMessageDto>,
) -> AppResult<SyncResult> {
    if batch.len() > MAX_SYNC_BATCH {
        return Err(AppError::bad_request(format!(
            "messages: send at most {MAX_SYNC_BATCH} messages per call"
        )));
    }
    let mut rejected = Vec::new();
    let mut candidates = Vec::with_capacity(batch.len());
    for m in batch {
        match check_sync_message(m, state.config.max_upload_bytes) {
            Ok(c) => candidates.push(c),
            Err(r) => rejected.push(r),
        }
    }

    // The caller's threads among those named.
    let thread_keys: Vec<String> = candidates
        .iter()
        .filter_map(|c| c.thread_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut owned = HashSet::new();
    for chunk in thread_keys.chunks(IN_CHUNK) {
        let ids: Vec<String> = threads::Entity::find()
            .select_only()
            .column(threads::Column::Id)
            .filter(threads::Column::UserId.eq(user_id))
            .filter(threads::Column::Id.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(&state.db)
            .await?;
        owned.extend(ids);
    }

    // Where the named message and parent ids already live.
    let known_keys: Vec<String> = candidates
        .iter()
        .flat_map(|c| std::iter::once(c.id.clone()).chain(c.parent_id.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut existing: HashMap<String, String> = HashMap::new();
    for chunk in known_keys.chunks(IN_CHUNK) {
        let rows: Vec<(String, String)> = messages::Entity::find()
            .select_only()
            .column(messages::Column::Id)
            .column(messages::Column::ThreadId)
            .filter(messages::Column::Id.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(&state.db)
            .await?;
        existing.extend(rows);
    }

    let mut skipped = 0u32;
    let mut in_batch: HashMap<String, String> = HashMap::new();
    let mut to_insert = Vec::new();
    let mut touched: HashSet<String> = HashSet::new();
    let mut files_of: Vec<(String, Vec<SyncFile>)> = Vec::new();
    for c in candidates {
        let reject = |reason: &str| SyncRejection {
            id_message: c.raw_id.clone(),
            reason: reason.to_string(),
        };
        let Some(thread_id) = c.thread_id.clone().filter(|t| owned.contains(t)) else {
            rejected.push(reject("thread not found"));
            continue;
        };
        match existing.get(&c.id).or_else(|| in_batch.get(&c.id)) {
            Some(t) if *t == thread_id => {
                skipped += 1;
                continue;
            }
            Some(_) => {
                rejected.push(reject("idMessage: already used by another thread"));
                continue;
            }
            None => {}
        }
        if let Some(p) = &c.parent_id {
            let parent_thread = existing.get(p).or_else(|| in_batch.get(p));
            if parent_thread != Some(&thread_id) {
                rejected.push(reject("parentId: not a message of this thread"));
                continue;
            }
        }
        in_batch.insert(c.id.clone(), thread_id.clone());
        touched.insert(thread_id.clone());
        let mut row = messages::Model::new_row(
            &thread_id,
            c.parent_id,
            c.role,
            c.text,
            MessageStatus::Done,
            c.date,
        );
        row.id = c.id;
        row.thinking = c.thinking;
        files_of.push((row.id.clone(), c.files));
        to_insert.push(row.into_insert());
    }

    let inserted = to_insert.len() as u32;
    if !to_insert.is_empty() {
        let txn = state.db.begin().await?;
        let mut rows = to_insert.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
            if let Err(e) = messages::Entity::insert_many(chunk)
                .exec_without_returning(&txn)
                .await
            {
                return Err(if is_unique_violation(&e) {
                    AppError::Conflict(
                        "idMessage: a message of this batch was saved at the same time — send the batch again"
                            .into(),
                    )
                } else {
                    e.into()
                });
            }
        }
        store_sync_files(state, user_id, &txn, files_of).await?;
        let touched: Vec<String> = touched.into_iter().collect();
        for chunk in touched.chunks(IN_CHUNK) {
            threads::Entity::update_many()
                .col_expr(threads::Column::UpdatedAt, Expr::value(now_ms()))
                .filter(threads::Column::UserId.eq(user_id))
                .filter(threads::Column::Id.is_in(chunk.iter().cloned()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
    }
    Ok(SyncResult {
        inserted,
        skipped,
        rejected,
    })
}

/// Deletes an owned thread with its messages, their attachments, the blobs
/// no other attachment references, and its shares — in one transaction.
pub async fn delete_thread(
    state: &AppState,
    user_id: &UserId,
    thread_id: &ThreadId,
) -> AppResult<()> {
    // Answers still being written in the thread stop first (once it is known
    // to be the caller's), outside the transaction so their last write is
    // not held up by it.
    find_owned(&state.db, user_id, thread_id).await?;
    state.hub.stop_for_thread(thread_id).await;
    let txn = state.db.begin().await?;
    let thread = find_owned(&txn, user_id, thread_id).await?;
    let message_ids = || {
        messages::Entity::find()
            .select_only()
            .column(messages::Column::Id)
            .filter(messages::Column::ThreadId.eq(thread.id.as_str()))
            .into_query()
    };
    let hashes: Vec<String> = attachments::Entity::find()
        .select_only()
        .column(attachments::Column::BlobSha256)
        .filter(attachments::Column::MessageId.in_subquery(message_ids()))
        .distinct()
        .into_tuple()
        .all(&txn)
        .await?;
    // Explicit child deletes keep this correct even where a backend's
    // cascade is disabled (e.g. SQLite without foreign_keys).
    attachments::Entity::delete_many()
        .filter(attachments::Column::MessageId.in_subquery(message_ids()))
        .exec(&txn)
        .await?;
    messages::Entity::delete_many()
        .filter(messages::Column::ThreadId.eq(thread.id.as_str()))
        .exec(&txn)
        .await?;
    shares::Entity::delete_many()
        .filter(shares::Column::ThreadId.eq(thread.id.as_str()))
        .exec(&txn)
        .await?;
    threads::Entity::delete_many()
        .filter(threads::Column::Id.eq(thread.id.as_str()))
        .filter(threads::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    super::blobs::delete_unreferenced(&txn, hashes).await?;
    txn.commit().await?;
    Ok(())
}

/// Deletes every thread of a user with its messages and shares (used by
/// account deletion inside its transaction).
pub async fn delete_all_for_user<C: ConnectionTrait>(db: &C, user_id: &UserId) -> AppResult<()> {
    let ids: Vec<String> = threads::Entity::find()
        .select_only()
        .column(threads::Column::Id)
        .filter(threads::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?;
    for chunk in ids.chunks(500) {
        shares::Entity::delete_many()
            .filter(shares::Column::ThreadId.is_in(chunk.iter().cloned()))
            .exec(db)
            .await?;
        messages::Entity::delete_many()
            .filter(messages::Column::ThreadId.is_in(chunk.iter().cloned()))
            .exec(db)
            .await?;
    }
    threads::Entity::delete_many()
        .filter(threads::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::DbBackend;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            at: 1_700_000_000_123,
            id: "0b7e2c7a-3b8e-4f7e-9d3a-1c2b3a4d5e6f".into(),
        };
        let s = c.encode();
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(Cursor::parse(&s).unwrap(), c);
        for bad in [
            "",
            "!!!",
            "bm9jb2xvbg",
            &URL_SAFE_NO_PAD.encode("x:id"),
            &URL_SAFE_NO_PAD.encode("12:"),
        ] {
            let e = Cursor::parse(bad).unwrap_err();
            assert!(e.public_message().starts_with("before:"), "{bad:?}");
        }
    }

    #[test]
    fn limits_name_the_field() {
        assert_eq!(parse_limit(None, 20, 100).unwrap(), 20);
        assert_eq!(parse_limit(Some("100"), 20, 100).unwrap(), 100);
        for bad in ["0", "101", "-1", "abc", ""] {
            let e = parse_limit(Some(bad), 20, 100).unwrap_err();
            assert!(e.public_message().starts_with("limit:"), "{bad:?}");
        }
        assert!(Uuid::parse("nope", "idThread")
            .unwrap_err()
            .public_message()
            .starts_with("idThread:"));
        assert_eq!(
            Uuid::parse("0B7E2C7A-3B8E-4F7E-9D3A-1C2B3A4D5E6F", "idThread")
                .unwrap()
                .as_str(),
            "0b7e2c7a-3b8e-4f7e-9d3a-1c2b3a4d5e6f"
        );
    }

    #[test]
    fn search_escapes_like_wildcards() {
        let q = SearchText::parse(" 50%_off! ").unwrap().unwrap();
        assert_eq!(like_pattern(&q), "%50!%!_off!!%");
        assert_eq!(SearchText::parse("   ").unwrap(), None);
        let sql = thread_page_select(&UserId::new("u"), Some(&q), None, 20)
            .build(DbBackend::Sqlite)
            .to_string();
        assert!(
            sql.contains(r#"LOWER("threads"."name") LIKE LOWER('%50!%!_off!!%') ESCAPE '!'"#),
            "{sql}"
        );
    }

    #[test]
    fn share_codes_are_long_and_url_safe() {
        let c = ShareCode::generate();
        assert!(c.as_str().len() >= 22);
        assert_eq!(ShareCode::parse(c.as_str()).unwrap(), c);
        assert!(ShareCode::parse("short").is_err());
        assert!(ShareCode::parse("has spaces in it, sixteen+").is_err());
    }
}
