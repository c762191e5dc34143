//! Chat: sending a message, regenerating an answer, editing a question, and
//! stopping a generation.
//!
//! Each operation stores the new rows (user message, assistant message in
//! state `streaming`) and starts a generation in the hub. The history sent
//! upstream is the branch from the root to the new message, with the thread's
//! context as the system message, trimmed from the oldest turns to fit the
//! model's context length. Every lookup is scoped to the caller.
use super::generation::GenerationJob;
use super::settings;
use super::threads::{find_owned, message_dto, thread_dto};
use crate::model::{MessageDto, SendResultDto};
use crate::server::db::now_ms;
use crate::server::entities::{messages, threads};
use crate::server::mistral::{ChatRequest, Message, PromptMode, ReasoningEffort};
use crate::server::{AppError, AppResult, AppState};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

pub const DEFAULT_MODEL: &str = "mistral-small-latest";
pub const MAX_TEXT_CHARS: usize = 200_000;
/// Without a catalogue entry, assume a modest context window.
const FALLBACK_CONTEXT_TOKENS: u64 = 32_000;
/// Room left for the answer when trimming the history.
const ANSWER_BUDGET_TOKENS: u64 = 4_000;

/// What the composer sends.
#[derive(Debug, Clone, Default)]
pub struct SendInput {
    /// `None` starts a new thread.
    pub thread_id: Option<String>,
    /// The message the new one answers (the end of the visible branch);
    /// `None` continues after the newest message.
    pub parent_id: Option<String>,
    pub text: String,
    pub model: Option<String>,
    pub think: bool,
}

fn check_text(text: &str) -> AppResult<String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(AppError::bad_request("text: type a message first"));
    }
    if t.chars().count() > MAX_TEXT_CHARS {
        return Err(AppError::bad_request(format!(
            "text: use at most {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(t.to_string())
}

fn check_model(model: Option<String>) -> AppResult<Option<String>> {
    match model
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
    {
        Some(m) if m.chars().count() > 100 || m.chars().any(|c| c.is_whitespace()) => {
            Err(AppError::bad_request("model: not a valid model id"))
        }
        other => Ok(other),
    }
}

/// A message of a thread the caller owns, with its thread.
pub async fn find_owned_message(
    state: &AppState,
    user_id: &str,
    message_id: &str,
) -> AppResult<(messages::Model, threads::Model)> {
    let not_found = || AppError::not_found("Message");
    let msg = messages::Entity::find_by_id(message_id.to_string())
        .one(&state.db)
        .await?
        .ok_or_else(not_found)?;
    let thread = find_owned(&state.db, user_id, &msg.thread_id)
        .await
        .map_err(|_| not_found())?;
    Ok((msg, thread))
}

/// The branch ending at `leaf` (root first).
async fn branch(
    state: &AppState,
    thread_id: &str,
    leaf: Option<String>,
) -> AppResult<Vec<messages::Model>> {
    let mut out = vec![];
    let mut next = leaf;
    while let Some(id) = next {
        if out.len() >= 2_000 {
            break;
        }
        let Some(m) = messages::Entity::find_by_id(id)
            .filter(messages::Column::ThreadId.eq(thread_id))
            .one(&state.db)
            .await?
        else {
            break;
        };
        next = m.parent_id.clone();
        out.push(m);
    }
    out.reverse();
    Ok(out)
}

fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(3) + 4
}

/// The upstream messages for a branch: system context, then the turns,
/// dropping the oldest turns until the estimate fits `context_tokens`.
pub fn build_history(
    context: &str,
    turns: &[messages::Model],
    context_tokens: u64,
) -> Vec<Message> {
    let mut msgs: Vec<Message> = turns
        .iter()
        .filter(|m| !(m.role == "assistant" && m.text.is_empty()))
        .map(|m| match m.role.as_str() {
            "assistant" => Message::assistant_with_thinking(
                m.thinking.clone().unwrap_or_default(),
                m.text.clone(),
            ),
            _ => Message::user(m.text.clone()),
        })
        .collect();
    let mut sizes: Vec<u64> = turns
        .iter()
        .filter(|m| !(m.role == "assistant" && m.text.is_empty()))
        .map(|m| estimate_tokens(&m.text) + m.thinking.as_deref().map(estimate_tokens).unwrap_or(0))
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

async fn insert_message(
    state: &AppState,
    thread_id: &str,
    parent_id: Option<String>,
    role: &str,
    text: String,
    status: &str,
    model: Option<String>,
) -> AppResult<messages::Model> {
    let now = now_ms();
    Ok(messages::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        thread_id: Set(thread_id.to_string()),
        parent_id: Set(parent_id),
        role: Set(role.to_string()),
        text: Set(text),
        thinking: Set(None),
        status: Set(status.to_string()),
        model: Set(model),
        finish_reason: Set(None),
        prompt_tokens: Set(None),
        completion_tokens: Set(None),
        error: Set(None),
        sources: Set(None),
        thinking_ms: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?)
}

async fn touch_thread(state: &AppState, thread: &threads::Model) -> AppResult<threads::Model> {
    let now = now_ms().max(thread.updated_at + 1);
    threads::Entity::update_many()
        .col_expr(threads::Column::UpdatedAt, Expr::value(now))
        .filter(threads::Column::Id.eq(thread.id.as_str()))
        .exec(&state.db)
        .await?;
    let mut t = thread.clone();
    t.updated_at = now;
    Ok(t)
}

/// Stores the assistant row and starts generating an answer to `parent`.
async fn start_answer(
    state: &AppState,
    user_id: &str,
    thread: &threads::Model,
    parent: &messages::Model,
    model: String,
    think: bool,
) -> AppResult<messages::Model> {
    let key = settings::resolve_key(state, user_id).await?;
    let turns = branch(state, &thread.id, Some(parent.id.clone())).await?;
    let ctx_tokens =
        settings::cached_context_length(state, &key, &model).unwrap_or(FALLBACK_CONTEXT_TOKENS);
    let mut request = ChatRequest::new(
        model.clone(),
        build_history(&thread.context, &turns, ctx_tokens),
    );
    if think {
        if model.starts_with("magistral") {
            request.prompt_mode = PromptMode::Reasoning;
        } else {
            request.reasoning_effort = Some(ReasoningEffort::High);
        }
    }
    let assistant = insert_message(
        state,
        &thread.id,
        Some(parent.id.clone()),
        "assistant",
        String::new(),
        "streaming",
        Some(model),
    )
    .await?;
    state.hub.start(GenerationJob {
        message_id: assistant.id.clone(),
        user_id: user_id.to_string(),
        key,
        request,
        db: state.db.clone(),
        client: state.mistral.clone(),
        shutdown: state.shutdown.subscribe(),
    });
    Ok(assistant)
}

async fn pick_model(
    state: &AppState,
    user_id: &str,
    asked: Option<String>,
    thread: &threads::Model,
) -> AppResult<String> {
    if let Some(m) = check_model(asked)? {
        return Ok(m);
    }
    if let Some(m) = thread.model.clone().filter(|m| !m.is_empty()) {
        return Ok(m);
    }
    Ok(settings::get(state, user_id)
        .await?
        .default_model
        .unwrap_or_else(|| DEFAULT_MODEL.to_string()))
}

pub async fn send(state: &AppState, user_id: &str, input: SendInput) -> AppResult<SendResultDto> {
    let text = check_text(&input.text)?;
    // Fail before storing anything when there is no key to answer with.
    settings::resolve_key(state, user_id).await?;
    let thread = match &input.thread_id {
        Some(id) => find_owned(&state.db, user_id, id).await?,
        None => {
            let prefs = settings::get(state, user_id).await?;
            let name: String = text
                .lines()
                .next()
                .unwrap_or("New chat")
                .chars()
                .take(60)
                .collect();
            let now = now_ms();
            threads::ActiveModel {
                id: Set(uuid::Uuid::new_v4().to_string()),
                user_id: Set(user_id.to_string()),
                name: Set(if name.trim().is_empty() {
                    "New chat".into()
                } else {
                    name
                }),
                context: Set(prefs.default_context.clone()),
                model: Set(check_model(input.model.clone())?.or(prefs.default_model.clone())),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&state.db)
            .await?
        }
    };
    let parent_id = match input.parent_id {
        Some(pid) => {
            let (p, t) = find_owned_message(state, user_id, &pid).await?;
            if t.id != thread.id {
                return Err(AppError::bad_request(
                    "parentId: not a message of this thread",
                ));
            }
            Some(p.id)
        }
        None => messages::Entity::find()
            .filter(messages::Column::ThreadId.eq(thread.id.as_str()))
            .order_by_desc(messages::Column::CreatedAt)
            .order_by_desc(messages::Column::Id)
            .one(&state.db)
            .await?
            .map(|m| m.id),
    };
    let model = pick_model(state, user_id, input.model, &thread).await?;
    let user_msg = insert_message(state, &thread.id, parent_id, "user", text, "done", None).await?;
    let assistant = start_answer(state, user_id, &thread, &user_msg, model, input.think).await?;
    let thread = touch_thread(state, &thread).await?;
    Ok(SendResultDto {
        thread: thread_dto(&thread, false),
        user_message: Some(message_dto(user_msg)),
        assistant_message: message_dto(assistant),
    })
}

/// A new answer to the same question: a sibling of `message_id`.
pub async fn regenerate(
    state: &AppState,
    user_id: &str,
    message_id: &str,
    model: Option<String>,
    think: bool,
) -> AppResult<SendResultDto> {
    let (old, thread) = find_owned_message(state, user_id, message_id).await?;
    if old.role != "assistant" {
        return Err(AppError::bad_request(
            "messageId: only answers can be regenerated",
        ));
    }
    let parent_id = old.parent_id.clone().ok_or_else(|| {
        AppError::bad_request("messageId: this answer has no question to answer again")
    })?;
    let (parent, _) = find_owned_message(state, user_id, &parent_id).await?;
    let model = match check_model(model)? {
        Some(m) => m,
        None => old
            .model
            .clone()
            .unwrap_or(pick_model(state, user_id, None, &thread).await?),
    };
    let assistant = start_answer(state, user_id, &thread, &parent, model, think).await?;
    let thread = touch_thread(state, &thread).await?;
    Ok(SendResultDto {
        thread: thread_dto(&thread, false),
        user_message: None,
        assistant_message: message_dto(assistant),
    })
}

/// An edited question: a new user sibling of `message_id` and a new answer.
pub async fn edit(
    state: &AppState,
    user_id: &str,
    message_id: &str,
    text: &str,
    model: Option<String>,
    think: bool,
) -> AppResult<SendResultDto> {
    let text = check_text(text)?;
    let (old, thread) = find_owned_message(state, user_id, message_id).await?;
    if old.role != "user" {
        return Err(AppError::bad_request(
            "messageId: only your own messages can be edited",
        ));
    }
    settings::resolve_key(state, user_id).await?;
    let model = pick_model(state, user_id, model, &thread).await?;
    let user_msg = insert_message(
        state,
        &thread.id,
        old.parent_id.clone(),
        "user",
        text,
        "done",
        None,
    )
    .await?;
    let assistant = start_answer(state, user_id, &thread, &user_msg, model, think).await?;
    let thread = touch_thread(state, &thread).await?;
    Ok(SendResultDto {
        thread: thread_dto(&thread, false),
        user_message: Some(message_dto(user_msg)),
        assistant_message: message_dto(assistant),
    })
}

/// Stops a running generation of the caller; the partial answer is kept.
pub async fn stop(state: &AppState, user_id: &str, message_id: &str) -> AppResult<MessageDto> {
    let (msg, _) = find_owned_message(state, user_id, message_id).await?;
    if let Some(g) = state.hub.get(&msg.id) {
        g.stop();
        // Wait briefly for the task to store the stopped answer.
        for _ in 0..50 {
            if state.hub.get(&msg.id).is_none() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let (msg, _) = find_owned_message(state, user_id, message_id).await?;
    Ok(message_dto(msg))
}
