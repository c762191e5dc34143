//! The signed-in frame: sidebar (new chat, navigation, user) and main column.
//!
//! Pages render their content as children; the shell loads the current user
//! once. Protected pages are only served to signed-in users (the server
//! redirects others to `/login`), so a missing user here means the session
//! ended while the page was open: we send the browser to sign in again.
use crate::api::auth::current_user;
use crate::client::hard_navigate;
use crate::components::share_dialog::ShareDialog;
use crate::components::sidebar::{ThreadList, ThreadSidebarList};
use crate::components::user_badge::UserBadge;
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

/// Layout route for every signed-in page; pages render in the `<Outlet/>`.
#[component]
pub fn AppShell() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let (sidebar_open, set_sidebar_open) = signal(false);
    provide_context(ThreadList::new());
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
    view! {
        <div class="app" class:sidebar-open=sidebar_open>
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
                <Suspense fallback=|| view! { <div class="skeleton skeleton-user"></div> }>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(u)) => view! { <UserBadge user=u /> }.into_any(),
                            Ok(None) => {
                                hard_navigate("/login");
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
                        on:click=move |_| set_sidebar_open.update(|o| *o = !*o)
                    >
                        "☰"
                    </button>
                </header>
                <Outlet />
            </main>
            <ShareDialog />
        </div>
    }
}
