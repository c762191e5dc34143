//! Thread server functions for the web UI: the sidebar list, one thread's
//! message pages, create/rename/configure, share links and deletion. All of
//! them call `crate::server::services::threads`, which scopes every query to
//! the caller.
use super::ApiError;
use crate::model::{ShareDto, ThreadDto, ThreadPage, ThreadWithMessages};
use leptos::prelude::*;

/// Threads per sidebar page and messages per thread page.
pub const THREAD_PAGE: u64 = 30;
pub const MESSAGE_PAGE: u64 = 40;

#[server(prefix = "/rpc", endpoint = "list_threads")]
pub async fn list_threads(
    before: Option<String>,
    search: Option<String>,
) -> Result<ThreadPage, ApiError> {
    use crate::server::services::threads as svc;
    let (state, me) = super::require_caller().await?;
    let query = svc::ThreadListQuery {
        limit: THREAD_PAGE,
        before: before.as_deref().map(svc::Cursor::parse).transpose()?,
        search: match search.as_deref() {
            Some(s) => svc::SearchText::parse(s)?,
            None => None,
        },
    };
    svc::list_threads(&state, me.id(), &query)
        .await
        .map_err(ApiError::from)
}

/// One page of a thread's messages, newest page first (chronological inside).
#[server(prefix = "/rpc", endpoint = "load_thread_page")]
pub async fn load_thread_page(
    id: String,
    before: Option<String>,
) -> Result<ThreadWithMessages, ApiError> {
    use crate::server::services::threads as svc;
    let (state, me) = super::require_caller().await?;
    let page = svc::MessagePageQuery {
        limit: MESSAGE_PAGE,
        before: before.as_deref().map(svc::Cursor::parse).transpose()?,
    };
    svc::get_thread(&state, me.id(), &id, Some(&page))
        .await
        .map_err(ApiError::from)
}

#[server(prefix = "/rpc", endpoint = "create_thread")]
pub async fn create_thread(name: Option<String>) -> Result<ThreadDto, ApiError> {
    use crate::server::services::threads as svc;
    let (state, me) = super::require_caller().await?;
    let new = svc::NewThread {
        name: svc::ThreadName::parse_new(name.as_deref())?,
        ..Default::default()
    };
    svc::create_thread(&state, me.id(), new)
        .await
        .map_err(ApiError::from)
}

#[server(prefix = "/rpc", endpoint = "rename_thread")]
pub async fn rename_thread(id: String, name: String) -> Result<ThreadDto, ApiError> {
    use crate::server::services::threads as svc;
    let (state, me) = super::require_caller().await?;
    let patch = svc::ThreadPatch {
        name: Some(svc::ThreadName::parse(&name)?),
        ..Default::default()
    };
    svc::update_thread(&state, me.id(), &id, patch)
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
    let patch = svc::ThreadPatch {
        context: Some(svc::ThreadContext::parse(&context)?),
        model: Some(match model.as_deref() {
            Some(m) => svc::ModelName::parse(m)?,
            None => None,
        }),
        ..Default::default()
    };
    svc::update_thread(&state, me.id(), &id, patch)
        .await
        .map_err(ApiError::from)
}

/// The thread's active share link, unchanged, or `None`.
#[server(prefix = "/rpc", endpoint = "thread_share")]
pub async fn thread_share(id: String) -> Result<Option<ShareLink>, ApiError> {
    use crate::server::services::threads as svc;
    let (state, me) = super::require_caller().await?;
    let share = svc::get_share(&state, me.id(), &id).await?;
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
    let share = svc::share_thread(&state, me.id(), &id, expires_at).await?;
    Ok(ShareLink {
        url: format!("{}/s/{}", state.config.public_url, share.share_code),
        share,
    })
}

#[server(prefix = "/rpc", endpoint = "unshare_thread")]
pub async fn unshare_thread(id: String) -> Result<(), ApiError> {
    use crate::server::services::threads as svc;
    let (state, me) = super::require_caller().await?;
    svc::unshare_thread(&state, me.id(), &id)
        .await
        .map_err(ApiError::from)
}

#[server(prefix = "/rpc", endpoint = "delete_thread")]
pub async fn delete_thread(id: String) -> Result<(), ApiError> {
    use crate::server::services::threads as svc;
    let (state, me) = super::require_caller().await?;
    svc::delete_thread(&state, me.id(), &id)
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
    svc::get_shared(&state, &code, Some(&page))
        .await
        .map_err(ApiError::from)
}
