//! `/t/:id`: one conversation. Opens on its newest messages and loads older
//! pages when the reader scrolls to the top, keeping the scroll position.
use crate::api::threads::load_thread_page;
use crate::client::server_fn_message;
use crate::components::message::{active_branch, MessageView};
use crate::model::{MessageDto, ThreadDto};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ThreadPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let first_page = Resource::new(move || id.get(), |id| load_thread_page(id, None));
    view! {
        <Suspense fallback=|| view! {
            <div class="thread-view"><div class="skeleton skeleton-block"></div><div class="skeleton skeleton-block"></div></div>
        }>
            {move || Suspend::new(async move {
                match first_page.await {
                    Ok(page) => view! {
                        <ThreadView thread=page.thread messages=page.messages older=page.next_cursor />
                    }
                    .into_any(),
                    Err(e) => view! {
                        <Title text="Not found" />
                        <section class="center-page">
                            <h1>"This thread is not available"</h1>
                            <p class="muted">{server_fn_message(&e)} " — " <a href="/">"start a new chat"</a></p>
                        </section>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ThreadView(thread: ThreadDto, messages: Vec<MessageDto>, older: Option<String>) -> impl IntoView {
    let messages = RwSignal::new(messages);
    let older = RwSignal::new(older);
    let loading = RwSignal::new(false);
    let error = RwSignal::new(Option::<String>::None);
    let scroller = NodeRef::<leptos::html::Div>::new();
    let thread_id = thread.id.clone();

    // Start at the bottom (the newest message).
    Effect::new(move |prev: Option<()>| {
        if prev.is_none() {
            if let Some(el) = scroller.get() {
                el.set_scroll_top(el.scroll_height());
            }
        }
    });

    let load_older = {
        let thread_id = thread_id.clone();
        move || {
            let Some(cursor) = older.get_untracked() else { return };
            if loading.get_untracked() {
                return;
            }
            loading.set(true);
            let thread_id = thread_id.clone();
            leptos::task::spawn_local(async move {
                let before_height = scroller.get_untracked().map(|el| el.scroll_height()).unwrap_or(0);
                match load_thread_page(thread_id, Some(cursor)).await {
                    Ok(page) => {
                        messages.update(|list| {
                            let mut merged = page.messages;
                            merged.retain(|m| !list.iter().any(|x| x.id == m.id));
                            merged.append(list);
                            *list = merged;
                        });
                        older.set(page.next_cursor);
                        // Keep what the reader was looking at in place.
                        crate::components::sidebar::sleep_ms(0).await;
                        if let Some(el) = scroller.get_untracked() {
                            let grown = el.scroll_height() - before_height;
                            el.set_scroll_top(el.scroll_top() + grown);
                        }
                    }
                    Err(e) => error.set(Some(server_fn_message(&e))),
                }
                loading.set(false);
            });
        }
    };
    let load_older_scroll = load_older.clone();
    let on_scroll = move |_| {
        if let Some(el) = scroller.get_untracked() {
            if el.scroll_top() < 200 {
                load_older_scroll();
            }
        }
    };
    let branch = Memo::new(move |_| active_branch(&messages.get()));
    view! {
        <Title text=thread.name.clone() />
        <div class="thread-view" node_ref=scroller on:scroll=on_scroll data-testid="thread-view">
            <h1 class="thread-title">{thread.name.clone()}</h1>
            <Show when=move || older.get().is_some()>
                <button type="button" class="btn btn-ghost load-older" data-testid="load-older"
                    disabled=loading on:click={ let f = load_older.clone(); move |_| f() }>
                    {move || if loading.get() { "Loading…" } else { "Load earlier messages" }}
                </button>
            </Show>
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            <div class="messages" aria-live="polite">
                <For each=move || branch.get() key=|m| (m.id.clone(), m.updated_at) let:m>
                    <MessageView message=m />
                </For>
            </div>
            <Show when=move || branch.get().is_empty()>
                <p class="muted empty-thread">"No messages yet."</p>
            </Show>
        </div>
    }
}
