//! Thread server functions for the web UI: the sidebar list, one thread's
//! message pages, create/rename/configure, share links and deletion. All of
//! them call `crate::server::services::threads`, which scopes every query to
//! the caller.
use super::ApiError;
use crate::model::{ShareDto, ThreadDto, ThreadPage, ThreadWithMessages};
#[cfg(feature = "ssr")]
use crate::vocab::ThreadId;
use leptos::prelude::*;

/// The messages with their HTML ([`crate::model::MessageDto::rendered`]: the browser has
/// no markdown renderer) — except, while the server renders a page, those of
/// the branch on screen: their HTML is in the page already, and sending it
/// again in the hydration data would double the page. The others (other
/// versions, shown when the reader switches) need it.
#[cfg(feature = "ssr")]
fn for_the_page(messages: Vec<crate::model::MessageDto>) -> Vec<crate::model::MessageDto> {
    let rendering_page = use_context::<axum::http::request::Parts>()
        .is_some_and(|parts| !parts.uri.path().starts_with("/rpc/"));
    let on_screen: std::collections::HashSet<String> = if rendering_page {
        crate::components::message::active_branch(&messages)
            .into_iter()
            .map(|m| m.id)
            .collect()
    } else {
        Default::default()
    };
    messages
        .into_iter()
        .map(|m| {
            if on_screen.contains(&m.id) {
                m
            } else {
                m.rendered()
            }
        })
        .collect()
}

/// Threads per sidebar page and messages per thread page.
pub const THREAD_PAGE: u64 = 30;
pub const MESSAGE_PAGE: u64 = 40;

#[server(prefix = "/rpc", endpoint = "list_threads")]
pub async fn list_threads(
    before: Option<String>,
    search: Option<String>,
) -> Result<ThreadPage, ApiError> {
    use crate::server::services::threads as svc;
    let (state, me) = match super::caller_or_visitor().await? {
        (state, super::Reader::User(me)) => (state, me),
        // A visitor has no threads yet.
        (_, super::Reader::Visitor { .. }) => return Ok(ThreadPage::default()),
    };
    let query = svc::ThreadListQuery {
        limit: THREAD_PAGE,
        before: before.as_deref().map(svc::Cursor::parse).transpose()?,
        search: {
            use crate::server::FieldResult;
            search
                .as_deref()
                .map(svc::SearchText::parse)
                .transpose()
                .field("q")?
                .flatten()
        },
    };
    svc::list_threads(&state, me.id(), &query)
        .await
        .map_err(ApiError::from)
}

/// One page of a thread's messages, newest page first (chronological inside),
/// with their HTML (the browser has no markdown renderer).
#[server(prefix = "/rpc", endpoint = "load_thread_page")]
pub async fn load_thread_page(
    id: String,
    before: Option<String>,
) -> Result<ThreadWithMessages, ApiError> {
    use crate::server::services::threads as svc;
    let (state, me) = match super::caller_or_visitor().await? {
        (state, super::Reader::User(me)) => (state, me),
        // A visitor owns no thread (a guest whose chats were deleted, too).
        (_, super::Reader::Visitor { .. }) => {
            return Err(crate::server::AppError::not_found("Thread").into())
        }
    };
    let page = svc::MessagePageQuery {
        limit: MESSAGE_PAGE,
        before: before.as_deref().map(svc::Cursor::parse).transpose()?,
    };
    let mut page = svc::get_thread(&state, me.id(), &ThreadId::new(&id), Some(&page)).await?;
    page.messages = for_the_page(page.messages);
    Ok(page)
}

#[server(prefix = "/rpc", endpoint = "create_thread")]
pub async fn create_thread(name: Option<String>) -> Result<ThreadDto, ApiError> {
    use crate::server::services::threads as svc;
    let new = svc::NewThread::from_client(None, name.as_deref(), None, None)?;
    let (state, me) = super::require_caller_or_guest().await?;
    svc::create_thread(&state, me.id(), new)
        .await
        .map_err(ApiError::from)
}

#[server(prefix = "/rpc", endpoint = "rename_thread")]
pub async fn rename_thread(id: String, name: String) -> Result<ThreadDto, ApiError> {
    use crate::server::services::threads as svc;
    let (state, me) = super::require_caller().await?;
    let patch = svc::ThreadPatch::from_client(Some(&name), None, None)?;
    svc::update_thread(&state, me.id(), &ThreadId::new(&id), patch)
        .await
        .map_err(ApiError::from)
}

/// The thread's fast config: model and context (system prompt).
#[server(prefix = "/rpc", endpoint = "configure_thread")]
pub async fn configure_thread(
    id: String,
    model: Option<String>,
    context: String,
) -> Result<ThreadDto, ApiError> {
    use crate::server::services::threads as svc;
    let (state, me) = super::require_caller().await?;
    // No model = remove the thread's model, like a blank one.
    let patch =
        svc::ThreadPatch::from_client(None, Some(&context), Some(model.as_deref().unwrap_or("")))?;
    svc::update_thread(&state, me.id(), &ThreadId::new(&id), patch)
        .await
        .map_err(ApiError::from)
}

/// The thread's active share link, unchanged, or `None`.
#[server(prefix = "/rpc", endpoint = "thread_share")]
pub async fn thread_share(id: String) -> Result<Option<ShareLink>, ApiError> {
    use crate::server::services::threads as svc;
    let (state, me) = super::require_caller().await?;
    let share = svc::get_share(&state, me.id(), &ThreadId::new(&id)).await?;
    Ok(share.map(|share| ShareLink {
        url: format!("{}/s/{}", state.config.public_url, share.share_code),
        share,
    }))
}

/// Shares the thread as it is now: a new link, or the active link moved to
/// include the newest messages.
#[server(prefix = "/rpc", endpoint = "share_thread")]
pub async fn share_thread(id: String, expires_at: Option<i64>) -> Result<ShareLink, ApiError> {
    use crate::server::services::threads as svc;
    let (state, me) = super::require_caller().await?;
    let share = svc::share_thread(&state, me.id(), &ThreadId::new(&id), expires_at).await?;
    Ok(ShareLink {
        url: format!("{}/s/{}", state.config.public_url, share.share_code),
        share,
    })
}

#[server(prefix = "/rpc", endpoint = "unshare_thread")]
pub async fn unshare_thread(id: String) -> Result<(), ApiError> {
    use crate::server::services::threads as svc;
    let (state, me) = super::require_caller().await?;
    svc::unshare_thread(&state, me.id(), &ThreadId::new(&id))
        .await
        .map_err(ApiError::from)
}

#[server(prefix = "/rpc", endpoint = "delete_thread")]
pub async fn delete_thread(id: String) -> Result<(), ApiError> {
    use crate::server::services::threads as svc;
    let (state, me) = super::require_caller().await?;
    svc::delete_thread(&state, me.id(), &ThreadId::new(&id))
        .await
        .map_err(ApiError::from)
}

/// A share code with its public link.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShareLink {
    pub url: String,
    pub share: ShareDto,
}

/// Messages per page of the share page.
pub const SHARED_PAGE: u64 = 50;

/// A shared thread by its code, one page (`before`: the cursor of the
/// previous page); no account needed.
#[server(prefix = "/rpc", endpoint = "shared_thread")]
pub async fn shared_thread(
    code: String,
    before: Option<String>,
) -> Result<crate::model::SharedThreadView, ApiError> {
    use crate::server::services::threads as svc;
    let state = super::state()?;
    let code = svc::ShareCode::parse(&code)?;
    let page = svc::MessagePageQuery {
        limit: SHARED_PAGE,
        before: before.as_deref().map(svc::Cursor::parse).transpose()?,
    };
    let mut view = svc::get_shared(&state, &code, Some(&page)).await?;
    view.messages = for_the_page(view.messages);
    Ok(view)
}
