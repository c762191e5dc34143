//! `/settings/models`: the Mistral API key (write-only; checked with Mistral
//! when saved, with "Save anyway" after a refusal), "Check key", the model
//! catalogue with capabilities (the model features viewer), the fast list
//! (favourites, reorderable), the default model and the default context for
//! new threads. The fast list and the defaults save themselves as they change
//! (the context after a pause in typing), with a small "Saved" status: there
//! is no Save button to forget.
use crate::api::settings::{
    get_settings, list_models, save_api_key, save_preferences, KEY_REFUSED,
};
use crate::client::server_fn_message;
use crate::model::{ModelInfoDto, SettingsDto};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ModelSettingsPage() -> impl IntoView {
    let settings = Resource::new(|| (), |_| get_settings());
    view! {
        <Title text="Models" />
        <section class="settings" aria-labelledby="models-title">
            <SettingsTabs current="models" />
            <h1 id="models-title">"Models"</h1>
            <Suspense fallback=|| view! { <div class="skeleton skeleton-block"></div> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(s) => view! { <ModelSettings initial=s /> }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{server_fn_message(&e)}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Account | Models | Appearance.
#[component]
pub fn SettingsTabs(current: &'static str) -> impl IntoView {
    let tab = move |id: &'static str, label: &'static str| {
        view! {
            // `data-text`: the CSS reserves the label's bold width, so the
            // tabs keep their size when the current one changes.
            <a href=format!("/settings/{id}") class="tab" data-text=label aria-current=(current == id).then_some("page")>{label}</a>
        }
    };
    view! {
        <nav class="tabs" aria-label="Settings sections">
            {tab("account", "Account")}
            {tab("models", "Models")}
            {tab("voice", "Voice")}
            {tab("appearance", "Appearance")}
        </nav>
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "✓"
    } else {
        "—"
    }
}

/// How long typing in the default context waits before it is saved.
const CONTEXT_SAVE_DELAY: std::time::Duration = std::time::Duration::from_millis(800);

/// Where the autosaved preferences stand, shown beside them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SaveState {
    Idle,
    Saving,
    Saved,
}

#[component]
fn ModelSettings(initial: SettingsDto) -> impl IntoView {
    let settings = RwSignal::new(initial.clone());
    let key_input = RwSignal::new(String::new());
    let key_msg = RwSignal::new(Option::<(bool, String)>::None);
    // The key Mistral just refused, for "Save anyway".
    let refused_key = RwSignal::new(Option::<String>::None);
    let models = RwSignal::new(Vec::<ModelInfoDto>::new());
    let fast = RwSignal::new(initial.fast_models.clone());
    let default_model = RwSignal::new(initial.default_model.clone().unwrap_or_default());
    let default_context = RwSignal::new(initial.default_context.clone());
    let save_state = RwSignal::new(SaveState::Idle);
    let prefs_error = RwSignal::new(Option::<String>::None);
    // Autosave: one request at a time, each carrying the whole current state;
    // a change made meanwhile sends it once more when the request returns,
    // so the last change always wins.
    let in_flight = RwSignal::new(false);
    let again = RwSignal::new(false);
    // Bumped by every keystroke in the context; a delayed save runs only if
    // no newer keystroke came.
    let context_edits = RwSignal::new(0u64);
    let to_add = RwSignal::new(String::new());

    let load_models = move |fresh: bool| {
        leptos::task::spawn_local(async move {
            match list_models(fresh).await {
                Ok(list) => {
                    if fresh {
                        key_msg.set(Some((
                            true,
                            format!("The key works — {} models available.", list.len()),
                        )));
                    }
                    models.set(list);
                }
                Err(e) => {
                    if fresh {
                        key_msg.set(Some((false, server_fn_message(&e))));
                    }
                }
            }
        });
    };
    Effect::new(move |prev: Option<()>| {
        if prev.is_none()
            && (settings.get_untracked().has_key || settings.get_untracked().server_key_available)
        {
            load_models(false);
        }
    });
    let store_key = move |k: String, force: bool| {
        key_msg.set(None);
        refused_key.set(None);
        leptos::task::spawn_local(async move {
            match save_api_key(Some(k.clone()), force).await {
                Ok(saved) => {
                    settings.set(saved.settings);
                    key_input.set(String::new());
                    if saved.checked {
                        load_models(true);
                    } else {
                        key_msg.set(Some((
                            true,
                            if force {
                                "Key saved without checking it with Mistral.".into()
                            } else {
                                "Key saved, but Mistral could not be reached to check it — try “Check key” later.".into()
                            },
                        )));
                        load_models(false);
                    }
                }
                Err(e) => {
                    let msg = server_fn_message(&e);
                    if msg == KEY_REFUSED {
                        refused_key.set(Some(k));
                    }
                    key_msg.set(Some((false, msg)));
                }
            }
        });
    };
    let save_key = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        store_key(key_input.get_untracked(), false);
    };
    let remove_key = move |_| {
        refused_key.set(None);
        leptos::task::spawn_local(async move {
            match save_api_key(None, false).await {
                Ok(saved) => {
                    settings.set(saved.settings);
                    models.set(vec![]);
                    key_msg.set(Some((true, "Key removed.".into())));
                }
                Err(e) => key_msg.set(Some((false, server_fn_message(&e)))),
            }
        });
    };
    let persist = move || {
        if in_flight.get_untracked() {
            again.set(true);
            return;
        }
        in_flight.set(true);
        save_state.set(SaveState::Saving);
        leptos::task::spawn_local(async move {
            loop {
                again.set(false);
                let dm = default_model.get_untracked();
                let result = save_preferences(
                    (!dm.is_empty()).then_some(dm),
                    default_context.get_untracked(),
                    fast.get_untracked(),
                )
                .await;
                if again.get_untracked() {
                    continue;
                }
                match result {
                    Ok(s) => {
                        settings.set(s);
                        prefs_error.set(None);
                        save_state.set(SaveState::Saved);
                    }
                    Err(e) => {
                        prefs_error.set(Some(server_fn_message(&e)));
                        save_state.set(SaveState::Idle);
                    }
                }
                break;
            }
            in_flight.set(false);
        });
    };
    let change_fast = move |f: &mut dyn FnMut(&mut Vec<String>)| {
        fast.update(|l| f(l));
        persist();
    };
    let move_item = move |i: usize, up: bool| {
        change_fast(&mut |l| {
            let j = if up {
                i.checked_sub(1)
            } else {
                (i + 1 < l.len()).then_some(i + 1)
            };
            if let Some(j) = j {
                l.swap(i, j);
            }
        });
    };
    let context_typed = move |text: String| {
        default_context.set(text);
        context_edits.update(|n| *n += 1);
        let edit = context_edits.get_untracked();
        set_timeout(
            move || {
                if context_edits.get_untracked() == edit {
                    persist();
                }
            },
            CONTEXT_SAVE_DELAY,
        );
    };
    let msg_view = |m: Option<(bool, String)>| {
        m.map(|(ok, text)| {
            view! { <p class=if ok { "form-ok" } else { "form-error" } role="status" data-testid="settings-message">{text}</p> }
        })
    };
    view! {
        <h2>"Mistral API key"</h2>
        <p class="muted">
            {move || match settings.get() {
                s if s.has_key => format!("A key ending in …{} is saved. It is stored encrypted and never shown again.", s.key_last4.unwrap_or_default()),
                s if s.server_key_available => "No personal key: this server's key is used.".to_string(),
                _ => "No key yet. Get one from your Mistral console, then paste it here.".to_string(),
            }}
        </p>
        {move || settings.get().server_key_budget.map(|b| view! {
            <p class="muted" data-testid="server-key-budget">
                {format!("{} of {} answers today on the server's key.", b.used, b.limit)}
            </p>
        })}
        // Posted by the browser itself before hydration (to the server
        // function, which redirects back here): never a GET with the key.
        <form class="row row-tight" method="post" action="/rpc/save_api_key" on:submit=save_key>
            <label for="api-key" class="visually-hidden">"Mistral API key"</label>
            <input id="api-key" name="api_key" data-testid="api-key-input" type="password" autocomplete="off" placeholder="Paste a new API key"
                prop:value=key_input on:input=move |ev| key_input.set(event_target_value(&ev)) />
            <button type="submit" class="btn btn-primary" data-testid="api-key-save" disabled=move || key_input.with(|k| k.trim().is_empty())>"Save key"</button>
        </form>
        <div class="row">
            <button type="button" class="btn" data-testid="check-key" on:click=move |_| load_models(true)
                disabled=move || { let s = settings.get(); !s.has_key && !s.server_key_available }>"Check key"</button>
            <Show when=move || settings.get().has_key>
                <button type="button" class="btn btn-ghost" on:click=remove_key>"Remove key"</button>
            </Show>
        </div>
        {move || msg_view(key_msg.get())}
        {move || refused_key.get().map(|k| view! {
            <div class="row">
                <button type="button" class="btn" data-testid="api-key-force"
                    on:click=move |_| store_key(k.clone(), true)>"Save anyway"</button>
            </div>
        })}

        // Every change below is saved as it is made (no form to submit).
        <div class="prefs">
            <h2>"Fast list"</h2>
            <p class="muted">"Your favourite models, in the order the model picker shows them. Changes are saved as you make them."</p>
            <ol class="fast-list" data-testid="fast-list">
                {move || fast.get().into_iter().enumerate().map(|(i, m)| view! {
                    <li>
                        <span class="fast-name">{m.clone()}</span>
                        <button type="button" class="btn btn-icon btn-small" aria-label=format!("Move {m} up") on:click=move |_| move_item(i, true)>"↑"</button>
                        <button type="button" class="btn btn-icon btn-small" aria-label=format!("Move {m} down") on:click=move |_| move_item(i, false)>"↓"</button>
                        <button type="button" class="btn btn-icon btn-small" aria-label=format!("Remove {m}") on:click=move |_| change_fast(&mut |l| { l.remove(i); })>"×"</button>
                    </li>
                }).collect_view()}
            </ol>
            <div class="row row-tight">
                <label for="add-model" class="visually-hidden">"Add a model to the fast list"</label>
                <select id="add-model" data-testid="add-model" on:change=move |ev| to_add.set(event_target_value(&ev))>
                    <option value="">"Add a model…"</option>
                    {move || models.get().into_iter().filter(|m| m.chat).map(|m| view! { <option value=m.id.clone()>{m.id.clone()}</option> }).collect_view()}
                </select>
                <button type="button" class="btn" data-testid="add-model-button" on:click=move |_| {
                    let m = to_add.get_untracked();
                    if !m.is_empty() && !fast.with_untracked(|l| l.contains(&m)) {
                        change_fast(&mut |l| l.push(m.clone()));
                    }
                }>"Add"</button>
            </div>
            <h2>"Defaults for new threads"</h2>
            <label for="default-model">"Default model"</label>
            <select id="default-model" data-testid="default-model" on:change=move |ev| {
                default_model.set(event_target_value(&ev));
                persist();
            }>
                <option value="" selected=move || default_model.get().is_empty()>"mistral-small-latest (built-in default)"</option>
                {move || {
                    let mut ids: Vec<String> = fast.get();
                    for m in models.get() { if m.chat && !ids.contains(&m.id) { ids.push(m.id) } }
                    let cur = default_model.get();
                    if !cur.is_empty() && !ids.contains(&cur) { ids.insert(0, cur.clone()); }
                    ids.into_iter().map(|id| {
                        let sel = id == cur;
                        view! { <option value=id.clone() selected=sel>{id.clone()}</option> }
                    }).collect_view()
                }}
            </select>
            <label for="default-context">"Default context (system prompt)"</label>
            <textarea id="default-context" data-testid="default-context" rows="4" maxlength=crate::vocab::limits::MAX_CONTEXT_CHARS prop:value=default_context
                on:input=move |ev| context_typed(event_target_value(&ev))
                // Leaving the field saves at once (no waiting for the delay).
                on:change=move |_| {
                    context_edits.update(|n| *n += 1);
                    persist();
                }></textarea>
            <p class="muted save-status" role="status" aria-live="polite" data-testid="prefs-status">
                {move || match save_state.get() {
                    SaveState::Idle => "",
                    SaveState::Saving => "Saving…",
                    SaveState::Saved => "Saved",
                }}
            </p>
            {move || prefs_error.get().map(|e| view! { <p class="form-error" role="alert" data-testid="prefs-error">{e}</p> })}
        </div>

        <h2>"Model catalogue"</h2>
        <Show when=move || !models.get().is_empty() fallback=|| view! {
            <p class="muted">"The catalogue appears once a working key is saved."</p>
        }>
            <div class="table-wrap" tabindex="0" role="region" aria-label="Model catalogue">
                <table class="catalogue" data-testid="catalogue">
                    <thead><tr>
                        <th scope="col">"Model"</th><th scope="col">"Context"</th><th scope="col">"Chat"</th>
                        <th scope="col">"Vision"</th><th scope="col">"Reasoning"</th><th scope="col">"Tools"</th>
                        <th scope="col">"OCR"</th><th scope="col">"Audio"</th><th scope="col">"Status"</th>
                    </tr></thead>
                    <tbody>
                        {move || models.get().into_iter().map(|m| view! {
                            <tr>
                                <th scope="row">{m.id.clone()}</th>
                                <td>{format!("{}k", m.max_context_length / 1000)}</td>
                                <td>{yes(m.chat)}</td><td>{yes(m.vision)}</td><td>{yes(m.reasoning)}</td>
                                <td>{yes(m.function_calling)}</td><td>{yes(m.ocr)}</td><td>{yes(m.audio)}</td>
                                <td>{m.deprecation.clone().map(|d| format!("deprecated ({})", d.chars().take(10).collect::<String>())).unwrap_or_else(|| "active".into())}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </Show>
    }
}
