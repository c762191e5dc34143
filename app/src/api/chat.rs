//! Chat server functions: send, regenerate, edit, stop. The answer itself is
//! streamed by `GET /api/generations/{id}/events` (see `crate::stream`).
//! Messages come back with their HTML ([`MessageDto::rendered`]): the
//! browser has no markdown renderer.
// A server function's arguments are its wire fields (the browser posts
// them as a form), so send and edit take one argument per field; the macro
// copies no item attribute onto the browser's stub, hence the module-wide allow.
#![allow(clippy::too_many_arguments)]
use super::ApiError;
use crate::model::{MessageDto, SendResultDto};
use leptos::prelude::*;

#[server(prefix = "/rpc", endpoint = "send_message")]
pub async fn send_message(
    thread_id: Option<String>,
    parent_id: Option<String>,
    text: String,
    model: Option<String>,
    think: bool,
    #[server(default)] tools: Vec<String>,
    #[server(default)] attachments: Vec<String>,
    #[server(default)] images_as_text: bool,
    #[server(default)] spoken: bool,
) -> Result<SendResultDto, ApiError> {
    use crate::server::services::chat;
    let input = chat::SendInput::from_client(
        thread_id.as_deref(),
        parent_id.as_deref(),
        &text,
        model.as_deref(),
        think,
        Some(&tools),
    )?
    .with_files(chat::asked_files(Some(&attachments), images_as_text))
    .spoken(spoken);
    // A visitor's first message creates their guest account.
    let (state, me) = super::require_caller_or_guest().await?;
    chat::send(&state, me.id(), input)
        .await
        .map(SendResultDto::rendered)
        .map_err(ApiError::from)
}

#[server(prefix = "/rpc", endpoint = "regenerate_message")]
pub async fn regenerate_message(
    message_id: String,
    model: Option<String>,
    think: bool,
    #[server(default)] tools: Vec<String>,
) -> Result<SendResultDto, ApiError> {
    use crate::server::services::chat;
    use crate::vocab::MessageId;
    let (state, me) = super::require_caller().await?;
    let model = chat::asked_model(model.as_deref())?;
    let tools = chat::asked_tools(Some(&tools))?;
    chat::regenerate(
        &state,
        me.id(),
        &MessageId::new(&message_id),
        model,
        think,
        tools,
    )
    .await
    .map(SendResultDto::rendered)
    .map_err(ApiError::from)
}

#[server(prefix = "/rpc", endpoint = "edit_message")]
pub async fn edit_message(
    message_id: String,
    text: String,
    model: Option<String>,
    think: bool,
    #[server(default)] tools: Vec<String>,
    #[server(default)] attachments: Option<Vec<String>>,
    #[server(default)] images_as_text: bool,
) -> Result<SendResultDto, ApiError> {
    use crate::server::services::chat;
    use crate::server::FieldResult;
    use crate::vocab::{MessageId, MessageText};
    let (state, me) = super::require_caller().await?;
    let text = MessageText::parse(&text).field("text")?;
    let model = chat::asked_model(model.as_deref())?;
    let tools = chat::asked_tools(Some(&tools))?;
    chat::edit(
        &state,
        me.id(),
        &MessageId::new(&message_id),
        text,
        model,
        think,
        tools,
        chat::asked_files(attachments.as_deref(), images_as_text),
    )
    .await
    .map(SendResultDto::rendered)
    .map_err(ApiError::from)
}

#[server(prefix = "/rpc", endpoint = "stop_generation")]
pub async fn stop_generation(message_id: String) -> Result<MessageDto, ApiError> {
    let (state, me) = super::require_caller().await?;
    crate::server::services::chat::stop(&state, me.id(), &crate::vocab::MessageId::new(&message_id))
        .await
        .map_err(ApiError::from)
}

/// The thread's name once the title of its first exchange is written (returns
/// at once when no title is being written).
#[server(prefix = "/rpc", endpoint = "thread_title")]
pub async fn thread_title(thread_id: String) -> Result<String, ApiError> {
    let (state, me) = super::require_caller().await?;
    crate::server::services::titles::wait_for_title(
        &state,
        me.id(),
        &crate::vocab::ThreadId::new(&thread_id),
    )
    .await
    .map_err(ApiError::from)
}
