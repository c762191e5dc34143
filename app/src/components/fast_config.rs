//! The fast config: a thread's model and context (system prompt), in a panel
//! beside the chat on desktops and over it, with a backdrop, on smaller
//! screens. On the new-chat page there is no thread yet: the choice is kept
//! by the page and applied when the first message creates the thread. Esc,
//! the close button and (on small screens) the backdrop close it.
use crate::api::threads::configure_thread;
use crate::client::server_fn_message;
use crate::components::composer::ModelChoices;
use crate::components::sidebar::use_thread_list;
use crate::model::ThreadDto;
use leptos::prelude::*;

/// What a save produced: the chosen model (`None`: the default) and context,
/// and the stored thread when there is one.
#[derive(Clone, Debug)]
pub struct FastConfigSaved {
    pub model: Option<String>,
    pub context: String,
    pub thread: Option<ThreadDto>,
}

#[component]
pub fn FastConfig(
    /// The thread to configure; `None` on the new-chat page.
    thread_id: Option<String>,
    /// The model and context shown when the panel opens.
    model: Option<String>,
    context: String,
    choices: ModelChoices,
    on_close: Callback<()>,
    on_saved: Callback<FastConfigSaved>,
) -> impl IntoView {
    let list = use_thread_list();
    let draft = thread_id.is_none();
    let model = RwSignal::new(model.unwrap_or_default());
    let context = RwSignal::new(context);
    let msg = RwSignal::new(Option::<(bool, String)>::None);
    let id = StoredValue::new(thread_id);
    let panel = NodeRef::<leptos::html::Aside>::new();
    // Focus moves into the panel so that Esc and Tab act on it at once, and
    // back to what had it (the opening button) when it closes.
    crate::components::dialog::return_focus_on_close();
    #[cfg(feature = "hydrate")]
    {
        Effect::new(move |_| {
            if let Some(el) = panel.get() {
                let _ = el.focus();
            }
        });
    }
    // Esc anywhere closes the panel; inside it, Esc does nothing else (it
    // would also stop the answer being written).
    let esc = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" && !ev.shift_key() {
            on_close.run(());
        }
    });
    on_cleanup(move || esc.remove());
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" && !ev.shift_key() {
            ev.stop_propagation();
            on_close.run(());
        }
    };
    let options = Memo::new(move |_| {
        let mut ids: Vec<String> = choices.settings.with(|s| {
            s.as_ref()
                .map(|s| s.fast_models.clone())
                .unwrap_or_default()
        });
        for m in choices.models.get() {
            if m.chat && !ids.contains(&m.id) {
                ids.push(m.id);
            }
        }
        let cur = model.get();
        if !cur.is_empty() && !ids.contains(&cur) {
            ids.insert(0, cur);
        }
        ids
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let m = model.get_untracked();
        let m = (!m.is_empty()).then_some(m);
        let c = context.get_untracked();
        let Some(tid) = id.get_value() else {
            on_saved.run(FastConfigSaved {
                model: m,
                context: c,
                thread: None,
            });
            msg.set(Some((true, "Saved — your first message uses this.".into())));
            return;
        };
        leptos::task::spawn_local(async move {
            match configure_thread(tid, m.clone(), c.clone()).await {
                Ok(t) => {
                    list.replace(t.clone());
                    on_saved.run(FastConfigSaved {
                        model: m,
                        context: c,
                        thread: Some(t),
                    });
                    msg.set(Some((true, "Saved — the next answers use this.".into())));
                }
                Err(e) => msg.set(Some((false, server_fn_message(&e)))),
            }
        });
    };
    view! {
        <div class="fast-config-backdrop" data-testid="fast-config-backdrop" on:click=move |_| on_close.run(())></div>
        <aside class="fast-config" aria-labelledby="fast-config-title" data-testid="fast-config"
            tabindex="-1" node_ref=panel on:keydown=on_keydown>
            <div class="fast-config-head">
                <h2 id="fast-config-title">{if draft { "New chat settings" } else { "Thread settings" }}</h2>
                <button type="button" class="btn btn-icon" aria-label="Close thread settings" data-testid="fc-close" on:click=move |_| on_close.run(())>"×"</button>
            </div>
            // POST, never a GET to this page, should it be submitted before
            // hydration (its fields are unnamed: nothing would be sent).
            <form method="post" on:submit=save>
                <label for="fc-model">"Model"</label>
                <select id="fc-model" data-testid="fc-model" on:change=move |ev| model.set(event_target_value(&ev))>
                    <option value="" selected=move || model.get().is_empty()>"Default model"</option>
                    <For each=move || options.get() key=|m| m.clone() let:m>
                        <option value=m.clone() selected={ let m = m.clone(); move || model.get() == m }>{m.clone()}</option>
                    </For>
                </select>
                <label for="fc-context">"Context (system prompt)"</label>
                <textarea id="fc-context" data-testid="fc-context" rows="8" maxlength=crate::vocab::limits::MAX_CONTEXT_CHARS
                    placeholder="e.g. You are a concise assistant that answers in French."
                    prop:value=context on:input=move |ev| context.set(event_target_value(&ev))></textarea>
                <div class="row"><button type="submit" class="btn btn-primary" data-testid="fc-save">"Save"</button></div>
                {move || msg.get().map(|(ok, t)| view! { <p class=if ok { "form-ok" } else { "form-error" } role="status">{t}</p> })}
            </form>
        </aside>
    }
}

/// The button that opens and closes the panel (new chat and thread pages).
#[component]
pub fn FastConfigToggle(open: RwSignal<bool>) -> impl IntoView {
    view! {
        <button type="button" class="btn btn-ghost btn-small" data-testid="open-fast-config"
            aria-expanded=move || open.get().to_string()
            on:click=move |_| open.update(|o| *o = !*o)>
            "Model & context"
        </button>
    }
}
