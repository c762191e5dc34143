//! Chatting without an account (`ALLOW_GUESTS=true`): who the page is for,
//! the "Sign in to keep your chats" banner and sidebar box, the guest part of
//! Settings → Account (with the one-time claim link), and the notice after a
//! sign-in brought a guest's chats along.
//!
//! A visitor without a session and a guest (a server-side account made by
//! the visitor's first write) look the same here: neither has an account
//! yet, and the page does not need to know when one became the other.
use crate::api::auth::{current_user, login_config, LoginOptions};
use crate::api::ApiError;
use crate::model::{MergeResultDto, UserDto, MERGE_NOTICE_COOKIE};
use crate::vocab::Provider;
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_query_map};

/// The cookie that hides the banner; it expires after [`BANNER_QUIET_DAYS`],
/// and the banner comes back.
const BANNER_COOKIE: &str = "guest_banner";
const BANNER_QUIET_DAYS: u32 = 3;

/// Who the page is for, and what the server allows.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    /// `None`: a visitor without a session.
    pub user: Option<UserDto>,
    pub options: LoginOptions,
}

impl Session {
    /// Signed in to a real account (not a guest, not a visitor).
    pub fn is_account(&self) -> bool {
        self.user
            .as_ref()
            .is_some_and(|u| u.provider != Provider::Guest)
    }

    /// A guest, or a visitor who may chat as one.
    pub fn is_guest(&self) -> bool {
        match &self.user {
            Some(u) => u.provider == Provider::Guest,
            None => self.options.allow_guests,
        }
    }

    /// How long a guest's chats are kept, in words.
    pub fn kept_for(&self) -> String {
        match self.options.guest_ttl_days {
            1 => "1 day".to_string(),
            n => format!("{n} days"),
        }
    }
}

/// The current user and the server's sign-in options, in one answer.
pub async fn load_session() -> Result<Session, ApiError> {
    let user = current_user().await?;
    let options = login_config().await?;
    Ok(Session { user, options })
}

/// `/login` (or its register mode) that comes back to `here`.
pub fn sign_in_href(here: &str, register: bool) -> String {
    let login = crate::client::login_url(here);
    if register {
        login.replacen("/login?", "/login?mode=register&", 1)
    } else {
        login
    }
}

/// The address of this page, for the way back after signing in.
fn here() -> Memo<String> {
    let location = use_location();
    Memo::new(move |_| {
        let search = location.search.get();
        if search.is_empty() {
            location.pathname.get()
        } else {
            format!(
                "{}?{}",
                location.pathname.get(),
                search.trim_start_matches('?')
            )
        }
    })
}

/// "Create account" and "Sign in", back to this page afterwards.
#[component]
fn SignInLinks(#[prop(optional)] primary: bool) -> impl IntoView {
    let here = here();
    view! {
        <a class=if primary { "btn btn-primary" } else { "btn" } data-testid="guest-register"
            href=move || sign_in_href(&here.get(), true)>"Create account"</a>
        <a class="btn btn-ghost" data-testid="guest-sign-in"
            href=move || sign_in_href(&here.get(), false)>"Sign in"</a>
    }
}

/// The sidebar's account box for a guest or visitor.
#[component]
pub fn GuestBadge(session: Session) -> impl IntoView {
    view! {
        <div class="user-badge guest-badge" data-testid="guest-badge">
            <span class="avatar avatar-initials" aria-hidden="true">"G"</span>
            <div class="user-badge-text">
                <span class="user-name" data-testid="user-name">"Guest"</span>
                <span class="user-email">{format!("Chats kept {}", session.kept_for())}</span>
            </div>
        </div>
        <div class="row row-tight guest-actions">
            <SignInLinks />
        </div>
    }
}

/// What the server's key leaves a guest today, asked again whenever the
/// newest thread changes (a message was sent, an answer named the thread).
/// Made by the shell, outside any `<Suspense>`: a resource read inside one
/// would hold it on its fallback.
pub fn track_quota(
    session: Resource<Result<Session, ApiError>>,
    threads: crate::components::sidebar::ThreadList,
) -> ReadSignal<Option<crate::model::GuestQuotaDto>> {
    let quota = RwSignal::new(None);
    let newest = Memo::new(move |_| {
        threads.threads.with(|l| {
            l.first()
                .map(|t| (t.id.clone(), t.updated_at, t.name.clone()))
        })
    });
    Effect::new(move |_| {
        // Read, not only tracked: a memo that is never read is never
        // recomputed, and so never says it changed.
        let _newest = newest.get();
        let guest = session
            .get()
            .and_then(Result::ok)
            .is_some_and(|s| s.is_guest());
        if guest {
            leptos::task::spawn_local(async move {
                if let Ok(s) = crate::api::settings::get_settings().await {
                    quota.set(s.guest_quota);
                }
            });
        }
    });
    quota.read_only()
}

/// Whether the person hid the banner recently (the cookie is still there).
fn banner_hidden() -> bool {
    crate::client::page_cookie(BANNER_COOKIE).is_some()
}

/// "Sign in to keep your chats on all your devices", over the page for a
/// guest or visitor: how long chats are kept, what the server's key leaves
/// today, the two ways in. Dismissed, it stays away for a few days.
#[component]
pub fn GuestBanner(
    session: Session,
    /// What the server's key leaves today (see [`track_quota`]).
    quota: ReadSignal<Option<crate::model::GuestQuotaDto>>,
) -> impl IntoView {
    let hidden = RwSignal::new(banner_hidden());
    let dismiss = move |_| {
        crate::client::set_page_cookie(BANNER_COOKIE, "hidden", BANNER_QUIET_DAYS * 86_400);
        hidden.set(true);
    };
    let kept = session.kept_for();
    view! {
        <Show when=move || !hidden.get()>
            <aside class="guest-banner" aria-label="Guest session" data-testid="guest-banner">
                <p>
                    <strong>"Sign in to keep your chats on all your devices."</strong>
                    " "
                    <span class="muted">
                        {format!("As a guest, your chats stay on this server for {kept} after your last visit, in this browser only.")}
                    </span>
                    {move || quota.get().map(|q| view! {
                        " "
                        <span data-testid="guest-quota">
                            {format!(
                                "{} of {} free answers left today.",
                                q.remaining,
                                q.limit.min(q.address_limit)
                            )}
                        </span>
                    })}
                </p>
                <div class="row row-tight">
                    <SignInLinks primary=true />
                    <button type="button" class="btn btn-icon" aria-label="Dismiss"
                        data-testid="guest-banner-dismiss" on:click=dismiss>"×"</button>
                </div>
            </aside>
        </Show>
    }
}

/// What a sign-in from a guest session moved, or what went wrong with a
/// claim link: told once on the page the sign-in lands on.
#[component]
pub fn MergeNotice() -> impl IntoView {
    let query = use_query_map();
    let merged = crate::client::page_cookie(MERGE_NOTICE_COOKIE)
        .and_then(|v| MergeResultDto::from_cookie_value(&v))
        .and_then(|m| m.sentence());
    let claim_error = query.read_untracked().get("claim").map(|c| {
        match c.as_str() {
            "expired" => "That link has expired (they last 15 minutes) — ask for a new one in the guest browser's Settings → Account.",
            "invalid" => "That link was already used or is not valid — ask for a new one in the guest browser's Settings → Account.",
            "refused" => "That link was opened from another site, so nothing was moved — open it directly.",
            _ => "The guest chats could not be moved — try the link again.",
        }
        .to_string()
    });
    let error = claim_error.is_some();
    let text = RwSignal::new(merged.or(claim_error));
    // Told once: the cookie goes as soon as the page runs.
    Effect::new(move |_| crate::client::set_page_cookie(MERGE_NOTICE_COOKIE, "", 0));
    view! {
        {move || text.get().map(|t| view! {
            <div class=if error { "notice notice-error" } else { "notice" } role="status" data-testid="merge-notice">
                <p>{t}</p>
                <button type="button" class="btn btn-icon" aria-label="Dismiss"
                    on:click=move |_| text.set(None)>"×"</button>
            </div>
        })}
    }
}

/// Settings → Account for a guest or visitor: what being a guest means, the
/// way to an account, and (for a guest) a link that brings these chats into
/// an account signed in elsewhere.
#[component]
pub fn GuestAccount(session: Session) -> impl IntoView {
    use crate::api::auth::guest_claim_link;
    let is_guest = session.user.is_some();
    let link = RwSignal::new(Option::<crate::model::ClaimLinkDto>::None);
    let error = RwSignal::new(Option::<String>::None);
    let busy = RwSignal::new(false);
    let copied = RwSignal::new(false);
    let get_link = move |_| {
        busy.set(true);
        copied.set(false);
        leptos::task::spawn_local(async move {
            match guest_claim_link().await {
                Ok(l) => {
                    link.set(Some(l));
                    error.set(None);
                }
                Err(e) => error.set(Some(crate::client::server_fn_message(&e))),
            }
            busy.set(false);
        });
    };
    let copy = move |_| {
        if let Some(l) = link.get_untracked() {
            crate::client::copy_text(&l.url);
            copied.set(true);
        }
    };
    view! {
        <div class="guest-account" data-testid="guest-account">
            <h2>"Guest session"</h2>
            <p class="muted">
                {format!(
                    "You are chatting without an account. Your chats, files and settings are kept on this server for {} after your last visit, and only this browser can open them.",
                    session.kept_for()
                )}
            </p>
            <p>"Create an account or sign in: everything you did as a guest comes with you."</p>
            <div class="row">
                <SignInLinks primary=true />
            </div>
            <Show when=move || is_guest>
                <h2>"Signed in in another browser?"</h2>
                <p class="muted">
                    "Get a one-time link and open it where you are signed in: these chats move into that account. The link works once, for 15 minutes."
                </p>
                {move || match link.get() {
                    Some(l) => {
                        let until = crate::time::clock(l.expires_at);
                        view! {
                            <label for="claim-url">"Link"</label>
                            <div class="row row-tight">
                                <input id="claim-url" data-testid="claim-url" type="text" readonly=true prop:value=l.url.clone() />
                                <button type="button" class="btn" on:click=copy>
                                    {move || if copied.get() { "Copied" } else { "Copy" }}
                                </button>
                            </div>
                            <p class="hint">{format!("Valid until {until}.")}</p>
                        }
                        .into_any()
                    }
                    None => view! {
                        <button type="button" class="btn" data-testid="claim-link" disabled=busy on:click=get_link>
                            "Get a link"
                        </button>
                    }
                    .into_any(),
                }}
                {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            </Show>
        </div>
    }
}

/// The share dialog's body for a guest: why there is no link, and the way
/// to an account (the chat comes along).
#[component]
pub fn GuestCannotShare() -> impl IntoView {
    view! {
        <p data-testid="guest-share-note">
            "Guests cannot share chats by link: a public page needs an account behind it. Create an account or sign in — this chat comes with you — and share it from there."
        </p>
        <div class="row">
            <SignInLinks primary=true />
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(provider: Option<Provider>, allow_guests: bool) -> Session {
        Session {
            user: provider.map(|provider| UserDto {
                id: "u".into(),
                name: "n".into(),
                email: None,
                picture: None,
                provider,
            }),
            options: LoginOptions {
                google_client_id: None,
                allow_registration: true,
                allow_guests,
                guest_ttl_days: 30,
            },
        }
    }

    #[test]
    fn who_the_page_is_for() {
        let account = session(Some(Provider::Email), true);
        assert!(account.is_account() && !account.is_guest());
        let guest = session(Some(Provider::Guest), true);
        assert!(!guest.is_account() && guest.is_guest());
        let visitor = session(None, true);
        assert!(!visitor.is_account() && visitor.is_guest());
        let locked_out = session(None, false);
        assert!(!locked_out.is_account() && !locked_out.is_guest());
        assert_eq!(visitor.kept_for(), "30 days");
    }

    #[test]
    fn sign_in_links_come_back_here() {
        assert_eq!(sign_in_href("/t/1", false), "/login?redirect=%2Ft%2F1");
        assert_eq!(
            sign_in_href("/t/1", true),
            "/login?mode=register&redirect=%2Ft%2F1"
        );
    }
}
