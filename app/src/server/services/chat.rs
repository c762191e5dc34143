//! Chat: sending a message, regenerating an answer, editing a question, and
//! stopping a generation.
//!
//! Each operation stores the new rows (user message, assistant message in
//! state `streaming`) and starts a generation in the hub. The history sent
//! upstream is the branch from the root to the new message, with the thread's
//! context as the system message, trimmed from the oldest turns to fit the
//! model's context length. Every lookup is scoped to the caller.
//!
//! Before anything is stored, each operation takes a place in the hub (at
//! most `MAX_GENERATIONS_PER_USER` answers at once per user and
//! `MAX_GENERATIONS_TOTAL` on the server) and, when it answers with the
//! operator's key, a unit of the user's daily budget for that key.
use super::generation::{fit_column, Deadlines, GenerationJob, Slot, MODEL_CHARS};
use super::settings;
use super::threads::{
    branch_to, find_owned, message_dto, message_links, thread_dto, DEFAULT_THREAD_NAME,
};
use super::titles::{first_line_name, TitleJob};
use super::uploads::{self, Part, Vision};
use crate::model::{MessageDto, SendResultDto};
use crate::server::config::Secret;
use crate::server::db::now_ms;
use crate::server::entities::{attachments, messages, threads};
use crate::server::mistral::{ChatRequest, Message, PromptMode, ReasoningEffort, Timeouts};
use crate::server::{AppError, AppResult, AppState, FieldResult};
use crate::vocab::limits::is_reasoning_family;
use crate::vocab::{
    FileId, MessageId, MessageStatus, MessageText, ModelId, Role, ThreadId, Tool, UserId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use std::collections::HashMap;
use tokio::sync::oneshot;

pub use crate::vocab::limits::DEFAULT_MODEL;
use crate::vocab::limits::{estimate_tokens, ANSWER_BUDGET_TOKENS, FALLBACK_CONTEXT_TOKENS};
/// Longest branch read for a history (older turns are trimmed anyway).
const MAX_BRANCH: usize = 2_000;

/// What the composer sends, checked.
#[derive(Debug, Clone)]
pub struct SendInput {
    /// `None` starts a new thread.
    pub thread_id: Option<ThreadId>,
    /// The message the new one answers (the end of the visible branch);
    /// `None` continues after the newest message.
    pub parent_id: Option<MessageId>,
    pub text: MessageText,
    /// `None`: the thread's model, else the user's default.
    pub model: Option<ModelId>,
    pub think: bool,
    /// Built-in tools the model may use (none: a plain chat completion).
    pub tools: Vec<Tool>,
    /// Files sent with the message.
    pub files: Files,
    /// Said in a voice call (transcribed speech): stored as spoken, and
    /// the answer is asked for as speech.
    pub spoken: bool,
}

/// The files a question is sent with.
#[derive(Debug, Clone, Default)]
pub struct Files {
    /// The caller's file ids, in order; `None` (an edit) keeps the files of
    /// the question edited.
    pub ids: Option<Vec<FileId>>,
    /// Images go as their OCR text to a model that cannot see them (else
    /// such a send is refused with a sentence).
    pub images_as_text: bool,
}

/// The files a client named (`attachments`), and how images may go.
pub fn asked_files(ids: Option<&[String]>, images_as_text: bool) -> Files {
    Files {
        ids: ids.map(|ids| ids.iter().map(FileId::new).collect()),
        images_as_text,
    }
}

impl SendInput {
    /// From the fields a client sends (a JSON body or a server function's
    /// arguments): the same parsing for both entry points.
    pub fn from_client(
        thread_id: Option<&str>,
        parent_id: Option<&str>,
        text: &str,
        model: Option<&str>,
        think: bool,
        tools: Option<&[String]>,
    ) -> AppResult<Self> {
        Ok(Self {
            thread_id: thread_id.map(ThreadId::new),
            parent_id: parent_id.map(MessageId::new),
            text: MessageText::parse(text).field("text")?,
            model: asked_model(model)?,
            think,
            tools: asked_tools(tools)?,
            files: Files::default(),
            spoken: false,
        })
    }

    /// Marks the question as said in a voice call.
    pub fn spoken(mut self, spoken: bool) -> Self {
        self.spoken = spoken;
        self
    }

    /// With the files named by the client.
    pub fn with_files(mut self, files: Files) -> Self {
        self.files = files;
        self
    }
}

/// The tools a client asked for: absent means none; an unknown name is a
/// 400 naming the field.
pub fn asked_tools(raw: Option<&[String]>) -> AppResult<Vec<Tool>> {
    Tool::parse_list(raw.unwrap_or_default())
        .map_err(|e| AppError::bad_request(format!("tools: {e}")))
}

/// Refuses tools the model cannot use, when the catalogue says so (a model
/// not in the cached catalogue is tried: Mistral has the last word).
fn check_tools(state: &AppState, key: &Secret, model: &str, tools: &[Tool]) -> AppResult<()> {
    if tools.is_empty() {
        return Ok(());
    }
    match settings::cached_function_calling(state, key, model) {
        Some(false) => {
            let what = if tools.contains(&Tool::WebSearch) {
                "search the web"
            } else {
                "make images"
            };
            Err(AppError::bad_request(format!(
                "This model can't {what} — pick one with tools in Settings → Models"
            )))
        }
        _ => Ok(()),
    }
}

/// The model a client asked for: absent or blank means "none" (the thread's,
/// then the user's default applies).
pub fn asked_model(raw: Option<&str>) -> AppResult<Option<ModelId>> {
    Ok(raw
        .map(ModelId::parse)
        .transpose()
        .field("model")?
        .flatten())
}

/// A message of a thread the caller owns, with its thread.
pub async fn find_owned_message(
    state: &AppState,
    user_id: &UserId,
    message_id: &MessageId,
) -> AppResult<(messages::Model, threads::Model)> {
    let not_found = || AppError::not_found("Message");
    if !message_id.is_plausible() {
        return Err(not_found());
    }
    let msg = messages::Entity::find_by_id(message_id.as_str())
        .one(&state.db)
        .await?
        .ok_or_else(not_found)?;
    let thread = find_owned(&state.db, user_id, &ThreadId::new(&msg.thread_id))
        .await
        .map_err(|_| not_found())?;
    Ok((msg, thread))
}

/// The stored branch ending at `leaf` (root first): one query for the
/// thread's parent links, one for the rows of the branch.
async fn branch(
    state: &AppState,
    thread_id: &str,
    leaf: Option<&str>,
) -> AppResult<Vec<messages::Model>> {
    let Some(leaf) = leaf else {
        return Ok(vec![]);
    };
    let links = message_links(&state.db, thread_id).await?;
    let mut ids = branch_to(&links, leaf);
    // Older turns would be trimmed from the history anyway.
    ids.drain(..ids.len().saturating_sub(MAX_BRANCH));
    let mut rows = messages::Entity::find()
        .filter(messages::Column::ThreadId.eq(thread_id))
        .filter(messages::Column::Id.is_in(ids.clone()))
        .all(&state.db)
        .await?;
    let position: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    rows.sort_by_key(|m| position.get(m.id.as_str()).copied().unwrap_or(usize::MAX));
    Ok(rows)
}

/// The upstream messages for a branch: system context, then the turns,
/// dropping the oldest turns until the estimate fits `context_tokens`.
pub fn build_history(
    context: &str,
    turns: &[messages::Model],
    files: &HashMap<String, Vec<Part>>,
    context_tokens: u64,
) -> Vec<Message> {
    let no_files: Vec<Part> = vec![];
    let files_of = |m: &messages::Model| files.get(&m.id).unwrap_or(&no_files);
    let mut msgs: Vec<Message> = turns
        .iter()
        .filter(|m| !(m.role == Role::Assistant && m.text.is_empty()))
        .map(|m| match m.role {
            Role::Assistant => Message::assistant_with_thinking(
                m.thinking.clone().unwrap_or_default(),
                m.text.clone(),
            ),
            Role::User => match files_of(m).as_slice() {
                [] => Message::user(m.text.clone()),
                parts if parts.iter().all(|p| p.image.is_none()) => {
                    match uploads::user_content(&m.text, parts).pop() {
                        Some(crate::server::mistral::ContentChunk::Text { text }) => {
                            Message::user(text)
                        }
                        _ => Message::user(m.text.clone()),
                    }
                }
                parts => Message::user_chunks(uploads::user_content(&m.text, parts)),
            },
        })
        .collect();
    let mut sizes: Vec<u64> = turns
        .iter()
        .filter(|m| !(m.role == Role::Assistant && m.text.is_empty()))
        .map(|m| {
            estimate_tokens(&m.text)
                + m.thinking.as_deref().map(estimate_tokens).unwrap_or(0)
                + files_of(m).iter().map(Part::tokens).sum::<u64>()
        })
        .collect();
    let budget = context_tokens
        .saturating_sub(ANSWER_BUDGET_TOKENS)
        .max(1_000);
    let system = estimate_tokens(context);
    while msgs.len() > 1 && system + sizes.iter().sum::<u64>() > budget {
        msgs.remove(0);
        sizes.remove(0);
        // Never start on an assistant turn.
        while msgs.len() > 1 && msgs.first().is_some_and(|m| m.role() == "assistant") {
            msgs.remove(0);
            sizes.remove(0);
        }
    }
    if !context.trim().is_empty() {
        msgs.insert(0, Message::system(context.to_string()));
    }
    msgs
}

/// The caller's settings that chatting needs.
struct Prefs {
    key: Secret,
    /// The key is the operator's (the daily budget applies).
    server_key: bool,
    /// A guest on the operator's key (the guest quotas apply).
    guest: Option<super::guests::GuestUse>,
    default_model: Option<String>,
    default_context: String,
}

/// One read of the settings row: the key to answer with (an error when there
/// is none, before anything is stored) and the defaults for new threads.
async fn prefs(state: &AppState, user_id: &UserId) -> AppResult<Prefs> {
    let row = settings::row(state, user_id).await?;
    let picked = settings::pick_key(state, user_id, row.as_ref()).await?;
    // Refuse a spent budget before anything is stored.
    settings::check_budget(state, user_id, &picked).await?;
    let (default_model, default_context) = row
        .map(|r| (r.default_model, r.default_context.unwrap_or_default()))
        .unwrap_or_default();
    Ok(Prefs {
        key: picked.key,
        server_key: picked.server_key,
        guest: picked.guest,
        default_model,
        default_context,
    })
}

/// The model of an answer: asked for, else the thread's, else the default.
fn pick_model(asked: Option<ModelId>, thread: &threads::Model, prefs: &Prefs) -> String {
    asked
        .map(ModelId::into_string)
        .or_else(|| thread.model.clone().filter(|m| !m.is_empty()))
        .or_else(|| prefs.default_model.clone())
        .unwrap_or_else(|| DEFAULT_MODEL.to_string())
}

/// A place in the hub for one more answer of `user_id` (429/503 when full).
fn reserve(state: &AppState, user_id: &UserId) -> AppResult<Slot> {
    state.hub.reserve_generation(
        user_id,
        state.config.max_generations_per_user,
        state.config.max_generations_total,
    )
}

/// What the answer asks upstream: the chat, and the tools it may use.
struct Asked {
    request: ChatRequest,
    tools: Vec<Tool>,
}

/// What a send, regenerate or edit writes, in one transaction.
struct Writes {
    new_thread: Option<threads::Model>,
    question: Option<messages::Model>,
    answer: messages::Model,
    thread: threads::Model,
    /// The question's files and what the model gets of each.
    files: Vec<attachments::Model>,
    parts: Vec<Part>,
}

/// Starts generating `answer` (the upstream request goes out at once), then
/// stores the rows in one transaction while the model thinks: a send waits
/// for one commit, not for the commit and then the model. The generation
/// writes nothing until the rows are committed; if the commit fails it is
/// stopped and the error returned.
async fn store_and_start(
    state: &AppState,
    user_id: &UserId,
    permit: Slot,
    mut w: Writes,
    prefs: Prefs,
    asked: Asked,
    title: Option<TitleJob>,
) -> AppResult<SendResultDto> {
    let Asked { request, tools } = asked;
    check_tools(state, &prefs.key, &request.model, &tools)?;
    // Charged before the upstream call, given back if the rows are not stored.
    let charge = match prefs.server_key {
        true => Some(settings::charge_server_key(state, user_id, prefs.guest.as_ref()).await?),
        false => None,
    };
    let deadlines = Deadlines::from_config(&state.config);
    // The client waits a little longer between two reads than the
    // generation allows between two events (reasoning models can think
    // quietly for minutes): the generation's deadline, with its sentence,
    // speaks first; the client's is the backstop.
    let client = state.mistral.clone().with_timeouts(Timeouts {
        idle: deadlines.idle + std::time::Duration::from_secs(5),
        ..state.mistral.timeouts()
    });
    let (stored_tx, stored_rx) = oneshot::channel();
    let generation = state.hub.start(GenerationJob {
        message_id: MessageId::new(&w.answer.id),
        user_id: user_id.clone(),
        thread_id: ThreadId::new(&w.thread.id),
        permit,
        deadlines,
        key: prefs.key,
        request,
        tools,
        db: state.db.clone(),
        client,
        shutdown: state.shutdown.subscribe(),
        stored: Some(stored_rx),
        title,
    });
    w.thread.updated_at = w.answer.created_at.max(w.thread.updated_at + 1);
    let result: AppResult<()> = async {
        let txn = state.db.begin().await?;
        if let Some(t) = w.new_thread.clone() {
            threads::ActiveModel::from(t)
                .reset_all()
                .insert(&txn)
                .await?;
        } else {
            threads::Entity::update_many()
                .col_expr(threads::Column::UpdatedAt, Expr::value(w.thread.updated_at))
                .filter(threads::Column::Id.eq(w.thread.id.as_str()))
                .exec(&txn)
                .await?;
        }
        if let Some(q) = w.question.clone() {
            let qid = q.id.clone();
            q.into_insert().insert(&txn).await?;
            uploads::link(&txn, &qid, &w.files, &w.parts).await?;
        }
        w.answer.clone().into_insert().insert(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            let _ = stored_tx.send(());
            let mut user_message: Vec<MessageDto> =
                w.question.map(message_dto).into_iter().collect();
            if !w.files.is_empty() {
                super::files::fill_attachments(
                    &state.db,
                    &mut user_message,
                    &super::files::FileReader::Owner,
                )
                .await?;
            }
            Ok(SendResultDto {
                thread: thread_dto(&w.thread, false),
                user_message: user_message.pop(),
                assistant_message: message_dto(w.answer),
            })
        }
        Err(e) => {
            drop(stored_tx);
            generation.stop();
            if let Some(id) = charge {
                settings::refund_server_key(state, &id).await;
            }
            Err(e)
        }
    }
}

/// Added to the system message when the question was said in a voice call
/// (the answer is read aloud as it streams).
pub const SPOKEN_INSTRUCTION: &str = "This is a spoken conversation: the user is talking to you in a voice call and hears your answer read aloud as you write it. Answer the way a person speaks: short, natural sentences, the most useful sentence first, no markdown, lists, tables, code or URLs unless the user asks for them.";

/// The files of a question not stored yet (a send or an edit).
struct NewFiles<'a> {
    rows: &'a [attachments::Model],
    images_as_text: bool,
}

/// The upstream request for an answer to the branch `turns` (root first,
/// ending with the question), with the files of its questions: those sent
/// before exactly as they went then, the new question's fitted into what
/// the model's context leaves (and recorded in the returned parts).
async fn answer_request(
    state: &AppState,
    key: &Secret,
    thread: &threads::Model,
    turns: &[messages::Model],
    model: &str,
    think: bool,
    new_files: Option<NewFiles<'_>>,
) -> AppResult<(ChatRequest, Vec<Part>)> {
    let ctx_tokens =
        settings::cached_context_length(state, key, model).unwrap_or(FALLBACK_CONTEXT_TOKENS);
    let sees_images = settings::cached_vision(state, key, model).unwrap_or(true);
    let stored: Vec<String> = turns
        .iter()
        .filter(|m| m.role == Role::User)
        .map(|m| m.id.clone())
        .collect();
    let mut by_message: HashMap<String, Vec<attachments::Model>> = HashMap::new();
    for r in uploads::rows_of_messages(&state.db, &stored).await? {
        if let Some(m) = r.message_id.clone() {
            by_message.entry(m).or_default().push(r);
        }
    }
    let mut files: HashMap<String, Vec<Part>> = HashMap::new();
    for (message_id, rows) in by_message {
        let parts = uploads::parts_as_sent(state, key, &rows, sees_images).await?;
        files.insert(message_id, parts);
    }
    let mut new_parts = vec![];
    if let (Some(new), Some(question)) = (new_files, turns.last()) {
        if !new.rows.is_empty() {
            let vision = match (sees_images, new.images_as_text) {
                (true, _) => Vision::Sees,
                (false, true) => Vision::Ocr,
                (false, false) => Vision::Refuse,
            };
            let budget = ctx_tokens
                .saturating_sub(ANSWER_BUDGET_TOKENS)
                .saturating_sub(estimate_tokens(&thread.context))
                .saturating_sub(estimate_tokens(&question.text));
            new_parts =
                uploads::parts_for_send(state, key, model, new.rows, vision, budget).await?;
            files.insert(question.id.clone(), new_parts.clone());
        }
    }
    // A question said in a voice call is answered for the ear.
    let spoken = turns.last().is_some_and(|q| q.spoken == Some(true));
    let context = if spoken {
        format!("{}\n\n{SPOKEN_INSTRUCTION}", thread.context)
            .trim()
            .to_string()
    } else {
        thread.context.clone()
    };
    let mut request = ChatRequest::new(
        model.to_string(),
        build_history(&context, turns, &files, ctx_tokens),
    );
    if think {
        if is_reasoning_family(model) {
            request.prompt_mode = PromptMode::Reasoning;
        } else {
            request.reasoning_effort = Some(ReasoningEffort::High);
        }
    }
    Ok((request, new_parts))
}

/// A new streaming answer row to `parent`, created just after it.
fn answer_row(thread: &threads::Model, parent: &messages::Model, model: &str) -> messages::Model {
    let at = now_ms().max(parent.created_at + 1);
    let mut answer = messages::Model::new_row(
        &thread.id,
        Some(parent.id.clone()),
        Role::Assistant,
        String::new(),
        MessageStatus::Streaming,
        at,
    );
    answer.model = Some(fit_column(model, MODEL_CHARS));
    answer
}

pub async fn send(
    state: &AppState,
    user_id: &UserId,
    input: SendInput,
) -> AppResult<SendResultDto> {
    let text = input.text.into_string();
    let asked = input.model;
    let permit = reserve(state, user_id)?;
    // Fails before storing anything when there is no key to answer with.
    let prefs = prefs(state, user_id).await?;
    let files = match &input.files.ids {
        Some(ids) => uploads::for_message(state, user_id, ids).await?,
        None => vec![],
    };
    let now = now_ms();
    // The message answered: the one asked for (its thread must be the one
    // named, if any), else the newest of the thread; a new thread has none.
    let parent = match &input.parent_id {
        Some(pid) => Some(find_owned_message(state, user_id, pid).await?),
        None => None,
    };
    let (thread, new_thread) = match (&input.thread_id, &parent) {
        (Some(id), _) => (find_owned(&state.db, user_id, id).await?, false),
        // A parent without a thread id continues the parent's thread.
        (None, Some((_, t))) => (t.clone(), false),
        (None, None) => (
            threads::Model {
                id: uuid::Uuid::new_v4().to_string(),
                user_id: user_id.to_string(),
                name: first_line_name(&text),
                context: prefs.default_context.clone(),
                model: asked
                    .clone()
                    .map(ModelId::into_string)
                    .or(prefs.default_model.clone()),
                created_at: now,
                updated_at: now,
            },
            true,
        ),
    };
    let parent_id = match parent {
        Some((p, t)) if t.id == thread.id => Some(p.id),
        Some(_) => {
            return Err(AppError::bad_request(
                "parentId: not a message of this thread",
            ))
        }
        None if new_thread => None,
        None => messages::Entity::find()
            .filter(messages::Column::ThreadId.eq(thread.id.as_str()))
            .order_by_desc(messages::Column::CreatedAt)
            .order_by_desc(messages::Column::Id)
            .one(&state.db)
            .await?
            .map(|m| m.id),
    };
    let model = pick_model(asked, &thread, &prefs);
    let mut turns = branch(state, &thread.id, parent_id.as_deref()).await?;
    let question_at = turns.last().map_or(now, |p| now.max(p.created_at + 1));
    let mut question = messages::Model::new_row(
        &thread.id,
        parent_id,
        Role::User,
        text.clone(),
        MessageStatus::Done,
        question_at,
    );
    question.spoken = input.spoken.then_some(true);
    turns.push(question.clone());
    let new_files = NewFiles {
        rows: &files,
        images_as_text: input.files.images_as_text,
    };
    let (request, parts) = answer_request(
        state,
        &prefs.key,
        &thread,
        &turns,
        &model,
        input.think,
        Some(new_files),
    )
    .await?;
    let answer = answer_row(&thread, &question, &model);
    // A thread created empty and never named (the new-chat page makes one to
    // hold the model and context chosen before the first question) is named
    // by its first exchange like a thread the question creates.
    let first_exchange =
        new_thread || (question.parent_id.is_none() && thread.name == DEFAULT_THREAD_NAME);
    let title = match (&state.config.title_model, first_exchange) {
        (Some(title_model), true) => Some(TitleJob {
            thread_id: thread.id.clone(),
            first_name: thread.name.clone(),
            model: title_model.clone(),
            question: text,
        }),
        _ => None,
    };
    let writes = Writes {
        new_thread: new_thread.then(|| thread.clone()),
        question: Some(question),
        answer,
        thread,
        files,
        parts,
    };
    store_and_start(
        state,
        user_id,
        permit,
        writes,
        prefs,
        Asked {
            request,
            tools: input.tools,
        },
        title,
    )
    .await
}

/// A new answer to the same question: a sibling of `message_id`.
pub async fn regenerate(
    state: &AppState,
    user_id: &UserId,
    message_id: &MessageId,
    model: Option<ModelId>,
    think: bool,
    tools: Vec<Tool>,
) -> AppResult<SendResultDto> {
    let asked = model;
    let (old, thread) = find_owned_message(state, user_id, message_id).await?;
    if old.role != Role::Assistant {
        return Err(AppError::bad_request(
            "messageId: only answers can be regenerated",
        ));
    }
    let parent_id = old.parent_id.clone().ok_or_else(|| {
        AppError::bad_request("messageId: this answer has no question to answer again")
    })?;
    let permit = reserve(state, user_id)?;
    let prefs = prefs(state, user_id).await?;
    let model = asked
        .map(ModelId::into_string)
        .or(old.model.clone())
        .unwrap_or_else(|| pick_model(None, &thread, &prefs));
    let turns = branch(state, &thread.id, Some(&parent_id)).await?;
    let parent = turns
        .last()
        .filter(|p| p.id == parent_id)
        .cloned()
        .ok_or_else(|| AppError::not_found("Message"))?;
    let (request, _) =
        answer_request(state, &prefs.key, &thread, &turns, &model, think, None).await?;
    let writes = Writes {
        new_thread: None,
        question: None,
        answer: answer_row(&thread, &parent, &model),
        thread,
        files: vec![],
        parts: vec![],
    };
    let asked = Asked { request, tools };
    store_and_start(state, user_id, permit, writes, prefs, asked, None).await
}

/// An edited question: a new user sibling of `message_id` and a new answer.
#[allow(clippy::too_many_arguments)]
pub async fn edit(
    state: &AppState,
    user_id: &UserId,
    message_id: &MessageId,
    text: MessageText,
    model: Option<ModelId>,
    think: bool,
    tools: Vec<Tool>,
    files: Files,
) -> AppResult<SendResultDto> {
    let text = text.into_string();
    let asked = model;
    let (old, thread) = find_owned_message(state, user_id, message_id).await?;
    if old.role != Role::User {
        return Err(AppError::bad_request(
            "messageId: only your own messages can be edited",
        ));
    }
    let permit = reserve(state, user_id)?;
    let prefs = prefs(state, user_id).await?;
    // Without a list, the edited question keeps the files of the old one.
    let rows = match &files.ids {
        Some(ids) => uploads::for_message(state, user_id, ids).await?,
        None => uploads::rows_of_messages(&state.db, std::slice::from_ref(&old.id)).await?,
    };
    let model = pick_model(asked, &thread, &prefs);
    let mut turns = branch(state, &thread.id, old.parent_id.as_deref()).await?;
    let at = turns
        .last()
        .map_or(now_ms(), |p| now_ms().max(p.created_at + 1));
    let question = messages::Model::new_row(
        &thread.id,
        old.parent_id.clone(),
        Role::User,
        text,
        MessageStatus::Done,
        at.max(old.created_at + 1),
    );
    turns.push(question.clone());
    let new_files = NewFiles {
        rows: &rows,
        images_as_text: files.images_as_text,
    };
    let (request, parts) = answer_request(
        state,
        &prefs.key,
        &thread,
        &turns,
        &model,
        think,
        Some(new_files),
    )
    .await?;
    let writes = Writes {
        new_thread: None,
        answer: answer_row(&thread, &question, &model),
        question: Some(question),
        thread,
        files: rows,
        parts,
    };
    let asked = Asked { request, tools };
    store_and_start(state, user_id, permit, writes, prefs, asked, None).await
}

/// Stops a running generation of the caller; the partial answer is kept.
pub async fn stop(
    state: &AppState,
    user_id: &UserId,
    message_id: &MessageId,
) -> AppResult<MessageDto> {
    find_owned_message(state, user_id, message_id).await?;
    if let Some(g) = state.hub.get(message_id) {
        g.stop();
        // Wait briefly for the task to store the stopped answer.
        for _ in 0..50 {
            if state.hub.get(message_id).is_none() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let (msg, _) = find_owned_message(state, user_id, message_id).await?;
    Ok(message_dto(msg))
}
