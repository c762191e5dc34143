//! The thread's fast config: its model and context (system prompt), in a
//! panel beside the chat on desktops and over it on smaller screens.
use crate::api::threads::configure_thread;
use crate::client::server_fn_message;
use crate::components::composer::ModelChoices;
use crate::components::sidebar::use_thread_list;
use crate::model::ThreadDto;
use leptos::prelude::*;

#[component]
pub fn FastConfig(
    thread: ThreadDto,
    choices: ModelChoices,
    on_close: Callback<()>,
    on_saved: Callback<ThreadDto>,
) -> impl IntoView {
    let list = use_thread_list();
    let model = RwSignal::new(thread.model.clone().unwrap_or_default());
    let context = RwSignal::new(thread.context.clone());
    let msg = RwSignal::new(Option::<(bool, String)>::None);
    let id = StoredValue::new(thread.id.clone());
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
        let c = context.get_untracked();
        leptos::task::spawn_local(async move {
            match configure_thread(id.get_value(), (!m.is_empty()).then_some(m), c).await {
                Ok(t) => {
                    list.replace(t.clone());
                    on_saved.run(t);
                    msg.set(Some((true, "Saved — the next answers use this.".into())));
                }
                Err(e) => msg.set(Some((false, server_fn_message(&e)))),
            }
        });
    };
    view! {
        <aside class="fast-config" aria-labelledby="fast-config-title" data-testid="fast-config">
            <div class="fast-config-head">
                <h2 id="fast-config-title">"Thread settings"</h2>
                <button type="button" class="btn btn-icon" aria-label="Close thread settings" on:click=move |_| on_close.run(())>"×"</button>
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
                <textarea id="fc-context" data-testid="fc-context" rows="8" maxlength="32000"
                    placeholder="e.g. You are a concise assistant that answers in French."
                    prop:value=context on:input=move |ev| context.set(event_target_value(&ev))></textarea>
                <div class="row"><button type="submit" class="btn btn-primary" data-testid="fc-save">"Save"</button></div>
                {move || msg.get().map(|(ok, t)| view! { <p class=if ok { "form-ok" } else { "form-error" } role="status">{t}</p> })}
            </form>
        </aside>
    }
}
