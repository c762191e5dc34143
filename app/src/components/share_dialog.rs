//! The share dialog: create or show a thread's public link, copy it, choose an
//! optional expiry, revoke it. A link is a snapshot: it shows the thread up to
//! the newest message at the time of sharing, and "Update link" moves it.
use crate::api::threads::{share_thread, thread_share, unshare_thread, ShareLink};
use crate::client::server_fn_message;
use crate::components::dialog::Dialog;
use crate::components::sidebar::use_thread_list;
use crate::model::ThreadDto;
use leptos::prelude::*;

const EXPIRY_CHOICES: [(&str, i64); 4] =
    [("Never", 0), ("1 day", 1), ("7 days", 7), ("30 days", 30)];

#[component]
pub fn ShareDialog() -> impl IntoView {
    let list = use_thread_list();
    view! {
        {move || list.sharing.get().map(|t| view! {
            <Suspense fallback=|| ()>{Suspend::new(share_dialog_for(t))}</Suspense>
        })}
    }
}

/// The dialog's code is a lazily loaded WASM chunk (`cargo leptos build
/// --split`): it is fetched the first time a share dialog opens, not with the
/// chat page.
#[lazy]
fn share_dialog_for(thread: ThreadDto) -> AnyView {
    view! { <ShareDialogFor thread /> }.into_any()
}

#[component]
fn ShareDialogFor(thread: ThreadDto) -> impl IntoView {
    let list = use_thread_list();
    let link = RwSignal::new(Option::<ShareLink>::None);
    let error = RwSignal::new(Option::<String>::None);
    let busy = RwSignal::new(false);
    let copied = RwSignal::new(false);
    let expiry_days = RwSignal::new(0i64);
    let id = thread.id.clone();

    // An already shared thread shows its active link (unchanged) right away.
    if thread.shared {
        let id = id.clone();
        busy.set(true);
        leptos::task::spawn_local(async move {
            match thread_share(id).await {
                Ok(l) => link.set(l),
                Err(e) => error.set(Some(server_fn_message(&e))),
            }
            busy.set(false);
        });
    }

    let close = move || list.sharing.set(None);
    let mark_shared = {
        let thread = thread.clone();
        move |shared: bool| {
            let mut t = thread.clone();
            t.shared = shared;
            list.replace(t);
        }
    };
    let create = {
        let id = id.clone();
        let mark_shared = mark_shared.clone();
        move |_| {
            let id = id.clone();
            let days = expiry_days.get_untracked();
            let expires = (days > 0).then(|| crate::time::now_ms() + days * 24 * 3600 * 1000);
            let mark_shared = mark_shared.clone();
            busy.set(true);
            leptos::task::spawn_local(async move {
                match share_thread(id, expires).await {
                    Ok(l) => {
                        link.set(Some(l));
                        mark_shared(true);
                        error.set(None);
                    }
                    Err(e) => error.set(Some(server_fn_message(&e))),
                }
                busy.set(false);
            });
        }
    };
    let update = {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            busy.set(true);
            leptos::task::spawn_local(async move {
                match share_thread(id, None).await {
                    Ok(l) => {
                        link.set(Some(l));
                        error.set(None);
                    }
                    Err(e) => error.set(Some(server_fn_message(&e))),
                }
                busy.set(false);
            });
        }
    };
    let revoke = {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            let mark_shared = mark_shared.clone();
            busy.set(true);
            leptos::task::spawn_local(async move {
                match unshare_thread(id).await {
                    Ok(()) => {
                        link.set(None);
                        mark_shared(false);
                    }
                    Err(e) => error.set(Some(server_fn_message(&e))),
                }
                busy.set(false);
            });
        }
    };
    let copy = move |_| {
        if let Some(l) = link.get_untracked() {
            crate::client::copy_text(&l.url);
            copied.set(true);
        }
    };
    if crate::components::shell::on_guest_session() {
        return view! {
            <Dialog labelled_by="share-title" test_id="share-dialog" on_close=Callback::new(move |_| close())>
                <h2 id="share-title">"Share “" {thread.name.clone()} "”"</h2>
                <crate::components::guest::GuestCannotShare />
            </Dialog>
        }
        .into_any();
    }
    view! {
        <Dialog labelled_by="share-title" test_id="share-dialog" on_close=Callback::new(move |_| close())>
            <h2 id="share-title">"Share “" {thread.name.clone()} "”"</h2>
            <p class="muted">"Anyone with the link can read this conversation as it is now: the versions you see, without reasoning or error messages. They cannot see your other threads, your email or the thread's context."</p>
            {move || match link.get() {
                Some(l) => view! {
                    <label for="share-url">"Link"</label>
                    <div class="row row-tight">
                        <input id="share-url" data-testid="share-url" type="text" readonly=true prop:value=l.url.clone() />
                        <button type="button" class="btn" data-testid="share-copy" on:click=copy>
                            {move || if copied.get() { "Copied" } else { "Copy" }}
                        </button>
                    </div>
                    <p class="hint" data-testid="share-snapshot">{snapshot_sentence(&l)}</p>
                    <p class="hint">
                        {match l.share.expires_at {
                            Some(_) => "This link expires automatically.",
                            None => "This link does not expire.",
                        }}
                    </p>
                    <div class="row">
                        <button type="button" class="btn btn-danger" data-testid="share-revoke" disabled=busy on:click=revoke.clone()>"Revoke link"</button>
                        <button type="button" class="btn" data-testid="share-update" disabled=busy on:click=update.clone()>"Update link"</button>
                        <button type="button" class="btn" on:click=move |_| close()>"Done"</button>
                    </div>
                }
                .into_any(),
                None => view! {
                    <label for="share-expiry">"Link expires"</label>
                    <select
                        id="share-expiry"
                        on:change=move |ev| expiry_days.set(event_target_value(&ev).parse().unwrap_or(0))
                    >
                        {EXPIRY_CHOICES
                            .iter()
                            .map(|(label, days)| view! { <option value=days.to_string()>{*label}</option> })
                            .collect_view()}
                    </select>
                    <div class="row">
                        <button type="button" class="btn btn-ghost" on:click=move |_| close()>"Cancel"</button>
                        <button type="button" class="btn btn-primary" data-testid="share-create" disabled=busy on:click=create.clone()>"Create link"</button>
                    </div>
                }
                .into_any(),
            }}
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
        </Dialog>
    }
    .into_any()
}

/// What the link shows, in words: how many messages, up to when.
fn snapshot_sentence(l: &ShareLink) -> String {
    let n = l.share.message_count;
    let messages = if n == 1 {
        "1 message".to_string()
    } else {
        format!("{n} messages")
    };
    match l.share.upto_at {
        Some(at) => format!(
            "Shows {messages}, up to {}. Messages added later stay private until you update the link.",
            crate::time::relative(at, crate::time::now_ms())
        ),
        None => "Shows no messages yet. Messages added later stay private until you update the link.".to_string(),
    }
}
