//! The signed-in frame: sidebar (new chat, navigation, user) and main column.
//!
//! Pages render their content as children; the shell loads the current user
//! once. With `ALLOW_GUESTS=false`, protected pages are only served to
//! signed-in users (the server redirects others to `/login`), so a missing
//! user here means the session ended while the page was open: we send the
//! browser to sign in again. With guests allowed, a visitor or guest gets the
//! guest box, the "Sign in to keep your chats" banner, and the chat.
use crate::client::go_to_login;
use crate::components::dialog::Dialog;
use crate::components::guest::{load_session, GuestBadge, GuestBanner, MergeNotice, Session};
use crate::components::share_dialog::ShareDialog;
use crate::components::sidebar::{ThreadList, ThreadSidebarList};
use crate::components::toast::{ToastRegion, Toasts};
use crate::components::user_badge::UserBadge;
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

/// Layout route for every signed-in page; pages render in the `<Outlet/>`.
#[component]
pub fn AppShell() -> impl IntoView {
    let session = Resource::new(|| (), |_| load_session());
    provide_context(SessionResource(session));
    let (sidebar_open, set_sidebar_open) = signal(false);
    let threads = ThreadList::new();
    provide_context(threads);
    let quota = crate::components::guest::track_quota(session, threads);
    provide_context(Toasts::new());
    // The theme saved for this user wins over this browser's cookie (another
    // device, or a cookie that expired): checked once per page load.
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        if let Ok(s) = crate::api::settings::get_settings().await {
            if s.theme != crate::theme::current_theme() {
                crate::theme::apply_theme(s.theme);
            }
        }
    });
    // On phones and tablets the drawer closes once a link in it is followed.
    let close_on_link = move |ev: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let on_link = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|el| el.closest("a[href]").ok().flatten())
                .is_some();
            if on_link {
                set_sidebar_open.set(false);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    let help_open = RwSignal::new(false);
    let collapsed = RwSignal::new(false);
    let navigate = leptos_router::hooks::use_navigate();
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        use crate::shortcuts::{match_key, Action};
        let message_focused = focused_message().is_some();
        let Some(action) = match_key(
            &ev.code(),
            ev.ctrl_key() || ev.meta_key(),
            ev.alt_key(),
            ev.shift_key(),
            ev.is_composing(),
            message_focused,
        ) else {
            return;
        };
        match action {
            Action::Escape => {
                help_open.set(false);
                set_sidebar_open.set(false);
                return; // stopping a generation is the thread page's job
            }
            Action::NewThread => navigate("/", Default::default()),
            Action::AccountSettings => navigate("/settings/account", Default::default()),
            Action::ModelSettings => navigate("/settings/models", Default::default()),
            Action::SearchThreads => {
                collapsed.set(false);
                set_sidebar_open.set(true);
                focus_selector("#thread-search");
            }
            Action::Help => help_open.update(|o| *o = !*o),
            Action::FocusComposer => focus_selector("#composer-input"),
            Action::ToggleSearch => click_last("[data-testid='search-toggle']"),
            Action::Dictate => click_last("[data-testid='dictate']"),
            Action::VoiceCall => click_last("[data-testid='voice-call']"),
            Action::CopyLastAnswer => {
                click_last("[data-role='assistant'] [data-testid='copy-message']")
            }
            Action::ToggleSidebar => {
                if is_wide() {
                    collapsed.update(|c| *c = !*c);
                } else {
                    set_sidebar_open.update(|o| *o = !*o);
                }
            }
            Action::PreviousMessage => move_message_focus(-1),
            Action::NextMessage => move_message_focus(1),
            Action::EditMessage => click_in_focused("[data-testid='edit-message']"),
            Action::RegenerateMessage => click_in_focused("[data-testid='regenerate']"),
            Action::CopyMessage => click_in_focused("[data-testid='copy-message']"),
            Action::PreviousVersion => click_in_focused("[data-testid='version-prev']"),
            Action::NextVersion => click_in_focused("[data-testid='version-next']"),
        }
        ev.prevent_default();
    });
    on_cleanup(move || keys.remove());
    // On phones and tablets a swipe from the left edge opens the drawer and a
    // swipe to the left closes it.
    let touch_start = StoredValue::new(None::<(f64, f64)>);
    let on_touch_start = move |ev: leptos::ev::TouchEvent| {
        #[cfg(feature = "hydrate")]
        touch_start.set_value(
            (!is_wide())
                .then(|| ev.touches().get(0))
                .flatten()
                .map(|t| (t.client_x() as f64, t.client_y() as f64)),
        );
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, touch_start);
    };
    let on_touch_end = move |ev: leptos::ev::TouchEvent| {
        #[cfg(feature = "hydrate")]
        if let (Some((x0, y0)), Some(t)) = (touch_start.get_value(), ev.changed_touches().get(0)) {
            touch_start.set_value(None);
            let (dx, dy) = (t.client_x() as f64 - x0, t.client_y() as f64 - y0);
            if let Some(open) = swipe_action(x0, dx, dy, sidebar_open.get_untracked()) {
                set_sidebar_open.set(open);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    // On the window, where Chromium treats touch listeners as passive: they
    // never hold up scrolling (they do not prevent the default).
    let touch_listeners = [
        window_event_listener(leptos::ev::touchstart, on_touch_start),
        window_event_listener(leptos::ev::touchend, on_touch_end),
    ];
    on_cleanup(move || {
        for l in touch_listeners {
            l.remove();
        }
    });
    view! {
        <div class="app" class:sidebar-open=sidebar_open class:sidebar-collapsed=collapsed>
            <nav class="sidebar" aria-label="Threads and account" on:click=close_on_link>
                <div class="sidebar-top">
                    <a href="/" class="brand">"MistralChat"</a>
                    <button
                        type="button"
                        class="btn btn-icon sidebar-close"
                        aria-label="Close sidebar"
                        on:click=move |_| set_sidebar_open.set(false)
                    >
                        "×"
                    </button>
                </div>
                <A href="/" attr:class="btn btn-primary new-chat" attr:data-testid="new-chat">"New chat"</A>
                <ThreadSidebarList />
                <A href="/settings/account" attr:class="nav-link">"Settings"</A>
                // The shortcut help without a keyboard (phones, tablets).
                <button type="button" class="nav-link" data-testid="open-shortcuts"
                    aria-haspopup="dialog"
                    on:click=move |_| {
                        set_sidebar_open.set(false);
                        help_open.set(true);
                    }>
                    "Keyboard shortcuts"
                </button>
                <Suspense fallback=|| view! { <div class="skeleton skeleton-user"></div> }>
                    {move || Suspend::new(async move {
                        match session.await {
                            Ok(Session { user: Some(u), .. }) if u.provider != crate::vocab::Provider::Guest => {
                                view! { <UserBadge user=u /> }.into_any()
                            }
                            Ok(s) if s.is_guest() => {
                                crate::client::set_visitor(s.user.is_none());
                                view! { <GuestBadge session=s /> }.into_any()
                            }
                            Ok(_) => {
                                go_to_login();
                                view! { <p class="muted">"Signed out"</p> }.into_any()
                            }
                            Err(e) => view! {
                                <p class="form-error" role="alert">
                                    {crate::client::server_fn_message(&e)}
                                </p>
                            }
                            .into_any(),
                        }
                    })}
                </Suspense>
            </nav>
            <div class="scrim" on:click=move |_| set_sidebar_open.set(false)></div>
            <main class="main" id="main">
                <header class="topbar">
                    <button
                        type="button"
                        class="btn btn-icon sidebar-toggle"
                        aria-label="Open sidebar"
                        data-testid="sidebar-toggle"
                        on:click=move |_| {
                            if is_wide() {
                                collapsed.set(false);
                            } else {
                                set_sidebar_open.update(|o| *o = !*o);
                            }
                        }
                    >
                        "☰"
                    </button>
                </header>
                <MergeNotice />
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        session.await.ok().filter(Session::is_guest).map(|s| view! { <GuestBanner session=s quota /> })
                    })}
                </Suspense>
                <Outlet />
            </main>
            <ShareDialog />
            <ToastRegion />
            <Show when=move || help_open.get()>
                <ShortcutHelp on_close=Callback::new(move |_| help_open.set(false)) />
            </Show>
        </div>
    }
}

/// The shell's [`Session`] for components inside it (the share dialog).
#[derive(Clone, Copy)]
pub struct SessionResource(pub Resource<Result<Session, crate::api::ApiError>>);

/// Whether the page is for a guest or visitor (no account), once known.
pub fn on_guest_session() -> bool {
    use_context::<SessionResource>()
        .and_then(|r| r.0.get_untracked())
        .and_then(Result::ok)
        .is_some_and(|s| s.is_guest())
}

/// Where a drawer swipe may start: this close to the left edge (px).
const SWIPE_EDGE: f64 = 32.0;
/// How far a swipe must travel horizontally (px).
const SWIPE_MIN: f64 = 60.0;

/// What a finished touch gesture does to the drawer: `Some(true)` opens it
/// (a rightward swipe from the left edge), `Some(false)` closes it (a leftward
/// swipe while open); mostly vertical or short movements do nothing.
pub fn swipe_action(start_x: f64, dx: f64, dy: f64, open: bool) -> Option<bool> {
    if dx.abs() < SWIPE_MIN || dy.abs() > dx.abs() * 0.6 {
        return None;
    }
    match (open, dx > 0.0) {
        (false, true) if start_x <= SWIPE_EDGE => Some(true),
        (true, false) => Some(false),
        _ => None,
    }
}

/// The dialog listing every shortcut, from the same table the handler uses.
#[component]
fn ShortcutHelp(on_close: Callback<()>) -> impl IntoView {
    use crate::shortcuts::{SHORTCUTS, TEXT_KEYS};
    view! {
        <Dialog labelled_by="shortcuts-title" test_id="shortcut-help" on_close=on_close>
            <h2 id="shortcuts-title">"Keyboard shortcuts"</h2>
            <table class="shortcut-table">
                <tbody>
                    {SHORTCUTS.iter().map(|s| view! {
                        <tr><th scope="row"><kbd>{s.keys}</kbd></th><td>{s.description}</td></tr>
                    }).collect_view()}
                    {TEXT_KEYS.iter().map(|(k, d)| view! {
                        <tr><th scope="row"><kbd>{*k}</kbd></th><td>{*d}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            <div class="row">
                <button type="button" class="btn" on:click=move |_| on_close.run(())>"Close"</button>
            </div>
        </Dialog>
    }
}

#[cfg(feature = "hydrate")]
fn focused_message() -> Option<leptos::web_sys::Element> {
    document()
        .active_element()
        .filter(|e| e.get_attribute("data-testid").as_deref() == Some("message"))
}

#[cfg(not(feature = "hydrate"))]
fn focused_message() -> Option<()> {
    None
}

fn focus_selector(selector: &str) {
    #[cfg(feature = "hydrate")]
    {
        // After the current update: the drawer may be opening in this tick.
        let selector = selector.to_string();
        leptos::task::spawn_local(async move {
            use wasm_bindgen::JsCast;
            crate::components::sidebar::sleep_ms(30).await;
            if let Some(el) = document()
                .query_selector(&selector)
                .ok()
                .flatten()
                .and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok())
            {
                let _ = el.focus();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = selector;
}

fn click_last(selector: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Ok(list) = document().query_selector_all(selector) {
            if let Some(el) = list
                .item(list.length().saturating_sub(1))
                .and_then(|n| n.dyn_into::<leptos::web_sys::HtmlElement>().ok())
            {
                el.click();
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = selector;
}

fn click_in_focused(selector: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(el) = focused_message()
            .and_then(|m| m.query_selector(selector).ok().flatten())
            .and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok())
        {
            el.click();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = selector;
}

/// Alt+↑/↓: moves focus between the messages of the thread.
fn move_message_focus(step: i32) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Ok(list) = document().query_selector_all("[data-testid='message']") else {
            return;
        };
        let n = list.length() as i32;
        if n == 0 {
            return;
        }
        let active = document().active_element();
        let mut current = None;
        for i in 0..n {
            if let (Some(node), Some(a)) = (list.item(i as u32), active.as_ref()) {
                if node.is_same_node(Some(a.unchecked_ref())) {
                    current = Some(i);
                }
            }
        }
        let next = match current {
            Some(i) => (i + step).clamp(0, n - 1),
            None if step < 0 => n - 1,
            None => 0,
        };
        if let Some(el) = list
            .item(next as u32)
            .and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok())
        {
            let _ = el.focus();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = step;
}

/// Desktop widths show the sidebar as a column that can collapse.
fn is_wide() -> bool {
    #[cfg(feature = "hydrate")]
    {
        window()
            .inner_width()
            .ok()
            .and_then(|w| w.as_f64())
            .unwrap_or(0.0)
            >= 1024.0
    }
    #[cfg(not(feature = "hydrate"))]
    {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::swipe_action;

    #[test]
    fn swipes_open_and_close_the_drawer() {
        assert_eq!(swipe_action(5.0, 150.0, 10.0, false), Some(true));
        assert_eq!(
            swipe_action(200.0, 150.0, 10.0, false),
            None,
            "not from the edge"
        );
        assert_eq!(swipe_action(5.0, 30.0, 0.0, false), None, "too short");
        assert_eq!(
            swipe_action(5.0, 100.0, 90.0, false),
            None,
            "mostly vertical"
        );
        assert_eq!(swipe_action(300.0, -120.0, 5.0, true), Some(false));
        assert_eq!(swipe_action(5.0, 150.0, 0.0, true), None, "already open");
        assert_eq!(
            swipe_action(300.0, -120.0, 5.0, false),
            None,
            "already closed"
        );
    }
}
