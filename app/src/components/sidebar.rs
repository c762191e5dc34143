//! The thread sidebar: New chat, search, threads grouped by date with lazy
//! loading, and each thread's menu (rename inline, share, delete).
//!
//! The list lives in [`ThreadList`], provided as context by the shell, so
//! pages that create or change threads update it without a reload. It is
//! loaded in the browser only: date groups depend on the viewer's time zone,
//! and the server renders a skeleton instead.
use crate::api::threads::{delete_thread, list_threads, rename_thread};
use crate::client::server_fn_message;
use crate::components::toast::use_toasts;
use crate::model::ThreadDto;
use crate::time::{group_label, local_offset_minutes, now_ms};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

/// The sidebar's threads and paging state.
#[derive(Clone, Copy)]
pub struct ThreadList {
    pub threads: RwSignal<Vec<ThreadDto>>,
    pub next: RwSignal<Option<String>>,
    pub loading: RwSignal<bool>,
    pub loaded_once: RwSignal<bool>,
    pub search: RwSignal<String>,
    pub error: RwSignal<Option<String>>,
    /// Bumped on each new query so late answers of an old one are dropped.
    generation: RwSignal<u64>,
    /// The thread whose share dialog is open.
    pub sharing: RwSignal<Option<ThreadDto>>,
}

impl ThreadList {
    pub fn new() -> Self {
        Self {
            threads: RwSignal::new(vec![]),
            next: RwSignal::new(None),
            loading: RwSignal::new(false),
            loaded_once: RwSignal::new(false),
            search: RwSignal::new(String::new()),
            error: RwSignal::new(None),
            generation: RwSignal::new(0),
            sharing: RwSignal::new(None),
        }
    }

    /// Loads the first page again (after a search change, or to refresh).
    pub fn reload(self) {
        self.generation.update(|g| *g += 1);
        self.threads.set(vec![]);
        self.next.set(None);
        self.fetch(None);
    }

    /// Loads the next page, if any and not already loading.
    pub fn load_more(self) {
        if self.loading.get_untracked() {
            return;
        }
        if let Some(cursor) = self.next.get_untracked() {
            self.fetch(Some(cursor));
        }
    }

    fn fetch(self, before: Option<String>) {
        let generation = self.generation.get_untracked();
        let search = self.search.get_untracked();
        let search = (!search.trim().is_empty()).then(|| search.trim().to_string());
        self.loading.set(true);
        leptos::task::spawn_local(async move {
            let result = list_threads(before, search).await;
            if self.generation.get_untracked() != generation {
                return;
            }
            match result {
                Ok(page) => {
                    self.threads.update(|list| {
                        for t in page.threads {
                            if !list.iter().any(|x| x.id == t.id) {
                                list.push(t);
                            }
                        }
                    });
                    self.next.set(page.next_cursor);
                    self.error.set(None);
                }
                Err(e) => self.error.set(Some(server_fn_message(&e))),
            }
            self.loading.set(false);
            self.loaded_once.set(true);
        });
    }

    /// Puts a created or changed thread at the top (most recently updated).
    pub fn upsert(self, t: ThreadDto) {
        self.threads.update(|list| {
            list.retain(|x| x.id != t.id);
            list.insert(0, t);
        });
    }

    pub fn replace(self, t: ThreadDto) {
        self.threads.update(|list| {
            if let Some(x) = list.iter_mut().find(|x| x.id == t.id) {
                *x = t;
            }
        });
    }

    pub fn remove(self, id: &str) {
        self.threads.update(|list| list.retain(|x| x.id != id));
    }
}

impl Default for ThreadList {
    fn default() -> Self {
        Self::new()
    }
}

pub fn use_thread_list() -> ThreadList {
    use_context::<ThreadList>().unwrap_or_default()
}

/// Threads grouped under their date headings, in list order.
fn grouped(threads: &[ThreadDto]) -> Vec<(String, Vec<ThreadDto>)> {
    let now = now_ms();
    let offset = local_offset_minutes();
    let mut groups: Vec<(String, Vec<ThreadDto>)> = vec![];
    for t in threads {
        let label = group_label(t.updated_at, now, offset);
        match groups.last_mut() {
            Some((l, items)) if *l == label => items.push(t.clone()),
            _ => groups.push((label, vec![t.clone()])),
        }
    }
    groups
}

#[component]
pub fn ThreadSidebarList() -> impl IntoView {
    let list = use_thread_list();
    // Client-only first load (see the module comment).
    Effect::new(move |prev: Option<()>| {
        if prev.is_none() {
            list.reload();
        }
    });
    // Searching is server-side, debounced.
    let pending_search = RwSignal::new(0u32);
    let on_search = move |ev: leptos::ev::Event| {
        list.search.set(event_target_value(&ev));
        pending_search.update(|n| *n += 1);
        let ticket = pending_search.get_untracked();
        leptos::task::spawn_local(async move {
            sleep_ms(250).await;
            if pending_search.get_untracked() == ticket {
                list.reload();
            }
        });
    };
    let on_scroll = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            if let Some(el) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            {
                let remaining = el.scroll_height() - el.scroll_top() - el.client_height();
                if remaining < 300 {
                    list.load_more();
                }
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    view! {
        <div class="thread-search">
            <label for="thread-search" class="visually-hidden">"Search threads"</label>
            <input
                id="thread-search"
                data-testid="thread-search"
                type="search"
                placeholder="Search threads"
                autocomplete="off"
                prop:value=move || list.search.get()
                on:input=on_search
            />
        </div>
        <div class="thread-list" data-testid="thread-list" on:scroll=on_scroll>
            {move || {
                if !list.loaded_once.get() {
                    return view! {
                        <div class="skeleton skeleton-row"></div>
                        <div class="skeleton skeleton-row"></div>
                        <div class="skeleton skeleton-row"></div>
                    }
                    .into_any();
                }
                let threads = list.threads.get();
                if threads.is_empty() {
                    let msg = if list.search.get().trim().is_empty() {
                        "No conversations yet."
                    } else {
                        "No thread matches this search."
                    };
                    return view! { <p class="muted thread-empty">{msg}</p> }.into_any();
                }
                grouped(&threads)
                    .into_iter()
                    .map(|(label, items)| {
                        view! {
                            <section class="thread-group" aria-label=label.clone()>
                                <h2 class="thread-group-title">{label.clone()}</h2>
                                <ul>
                                    {items
                                        .into_iter()
                                        .map(|t| view! { <ThreadItem thread=t /> })
                                        .collect_view()}
                                </ul>
                            </section>
                        }
                    })
                    .collect_view()
                    .into_any()
            }}
            <Show when=move || list.loading.get() && list.loaded_once.get()>
                <div class="skeleton skeleton-row" aria-label="Loading more threads"></div>
            </Show>
            {move || list.error.get().map(|e| view! {
                <p class="form-error" role="alert">{e} " "
                    <button type="button" class="link-button" on:click=move |_| list.reload()>"Retry"</button>
                </p>
            })}
        </div>
    }
}

#[component]
fn ThreadItem(thread: ThreadDto) -> impl IntoView {
    let list = use_thread_list();
    let toasts = use_toasts();
    let params = use_params_map();
    let id = thread.id.clone();
    let is_active = {
        let id = id.clone();
        Memo::new(move |_| params.read().get("id").as_deref() == Some(id.as_str()))
    };
    let (menu_open, set_menu_open) = signal(false);
    let (renaming, set_renaming) = signal(false);
    let (confirm_delete, set_confirm_delete) = signal(false);
    let (draft, set_draft) = signal(thread.name.clone());
    let href = format!("/t/{}", thread.id);
    let name = thread.name.clone();
    let shared = thread.shared;

    let commit_rename = {
        let id = id.clone();
        let old = thread.name.clone();
        move || {
            set_renaming.set(false);
            let new_name = draft.get_untracked().trim().to_string();
            if new_name.is_empty() || new_name == old {
                set_draft.set(old.clone());
                return;
            }
            let id = id.clone();
            let old_name = old.clone();
            leptos::task::spawn_local(async move {
                match rename_thread(id, new_name).await {
                    Ok(t) => list.replace(t),
                    Err(e) => {
                        set_draft.set(old_name);
                        toasts.error("Could not rename the thread", &server_fn_message(&e))
                    }
                }
            });
        }
    };
    let commit_rename_key = commit_rename.clone();
    let do_delete = {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            set_confirm_delete.set(false);
            leptos::task::spawn_local(async move {
                match delete_thread(id.clone()).await {
                    Ok(()) => {
                        list.remove(&id);
                        let here = params.get_untracked().get("id");
                        if here.as_deref() == Some(id.as_str()) {
                            let navigate = leptos_router::hooks::use_navigate();
                            navigate("/", Default::default());
                        }
                    }
                    Err(e) => toasts.error("Could not delete the thread", &server_fn_message(&e)),
                }
            });
        }
    };
    let thread_for_share = thread.clone();
    view! {
        <li class="thread-item" class:active=is_active data-testid="thread-item">
            <Show
                when=move || renaming.get()
                fallback={
                    let href = href.clone();
                    let name = name.clone();
                    move || {
                        let name = name.clone();
                        view! {
                            <A href=href.clone() attr:class="thread-link" attr:aria-current=move || is_active.get().then_some("page")>
                                <span class="thread-name">{name}</span>
                                {shared.then(|| view! { <span class="badge" title="Shared by link">"shared"</span> })}
                            </A>
                        }
                    }
                }
            >
                <input
                    class="thread-rename"
                    data-testid="thread-rename-input"
                    aria-label="Thread name"
                    maxlength="200"
                    prop:value=draft
                    on:input=move |ev| set_draft.set(event_target_value(&ev))
                    on:keydown={
                        let commit = commit_rename_key.clone();
                        move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
                            "Enter" => { ev.prevent_default(); commit(); }
                            "Escape" => { set_renaming.set(false); }
                            _ => {}
                        }
                    }
                    on:blur={
                        let commit = commit_rename.clone();
                        move |_| if renaming.get_untracked() { commit() }
                    }
                    autofocus=true
                />
            </Show>
            <button
                type="button"
                class="btn btn-icon thread-menu-button"
                aria-label="Thread actions"
                aria-haspopup="menu"
                aria-expanded=move || menu_open.get().to_string()
                data-testid="thread-menu"
                on:click=move |_| set_menu_open.update(|o| *o = !*o)
            >
                "⋯"
            </button>
            <Show when=move || menu_open.get()>
                <div class="menu" role="menu">
                    <button type="button" role="menuitem" data-testid="thread-rename"
                        on:click=move |_| { set_menu_open.set(false); set_renaming.set(true); focus_rename(); }>
                        "Rename"
                    </button>
                    <button type="button" role="menuitem" data-testid="thread-share"
                        on:click={
                            let t = thread_for_share.clone();
                            move |_| { set_menu_open.set(false); list.sharing.set(Some(t.clone())); }
                        }>
                        "Share"
                    </button>
                    <button type="button" role="menuitem" class="danger" data-testid="thread-delete"
                        on:click=move |_| { set_menu_open.set(false); set_confirm_delete.set(true); }>
                        "Delete"
                    </button>
                </div>
            </Show>
            <Show when=move || confirm_delete.get()>
                <div class="confirm-inline" role="alertdialog" aria-label="Delete this thread?">
                    <span>"Delete this thread?"</span>
                    <button type="button" class="btn btn-ghost" on:click=move |_| set_confirm_delete.set(false)>"Cancel"</button>
                    <button type="button" class="btn btn-danger" data-testid="thread-delete-confirm" on:click=do_delete.clone()>"Delete"</button>
                </div>
            </Show>
        </li>
    }
}

fn focus_rename() {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async {
        sleep_ms(0).await;
        use wasm_bindgen::JsCast;
        if let Some(el) = document()
            .query_selector("[data-testid='thread-rename-input']")
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
        {
            let _ = el.focus();
            el.select();
        }
    });
}

/// Waits `ms` milliseconds in the browser (no-op on the server).
pub async fn sleep_ms(ms: u32) {
    #[cfg(feature = "hydrate")]
    {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            let _ =
                window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ms;
}
