//! `/settings/models`: the Mistral API key (write-only), "Check key", the
//! model catalogue with capabilities (the model features viewer), the fast
//! list (favourites, reorderable), the default model and the default context
//! for new threads.
use crate::api::settings::{get_settings, list_models, save_api_key, save_preferences};
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

#[component]
fn ModelSettings(initial: SettingsDto) -> impl IntoView {
    let settings = RwSignal::new(initial.clone());
    let key_input = RwSignal::new(String::new());
    let key_msg = RwSignal::new(Option::<(bool, String)>::None);
    let models = RwSignal::new(Vec::<ModelInfoDto>::new());
    let fast = RwSignal::new(initial.fast_models.clone());
    let default_model = RwSignal::new(initial.default_model.clone().unwrap_or_default());
    let default_context = RwSignal::new(initial.default_context.clone());
    let prefs_msg = RwSignal::new(Option::<(bool, String)>::None);
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
    let save_key = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let k = key_input.get_untracked();
        leptos::task::spawn_local(async move {
            match save_api_key(Some(k)).await {
                Ok(s) => {
                    settings.set(s);
                    key_input.set(String::new());
                    key_msg.set(Some((true, "Key saved.".into())));
                    load_models(true);
                }
                Err(e) => key_msg.set(Some((false, server_fn_message(&e)))),
            }
        });
    };
    let remove_key = move |_| {
        leptos::task::spawn_local(async move {
            match save_api_key(None).await {
                Ok(s) => {
                    settings.set(s);
                    models.set(vec![]);
                    key_msg.set(Some((true, "Key removed.".into())));
                }
                Err(e) => key_msg.set(Some((false, server_fn_message(&e)))),
            }
        });
    };
    let save_prefs = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let dm = default_model.get_untracked();
        leptos::task::spawn_local(async move {
            match save_preferences(
                (!dm.is_empty()).then_some(dm),
                default_context.get_untracked(),
                fast.get_untracked(),
            )
            .await
            {
                Ok(s) => {
                    settings.set(s);
                    prefs_msg.set(Some((true, "Saved.".into())));
                }
                Err(e) => prefs_msg.set(Some((false, server_fn_message(&e)))),
            }
        });
    };
    let move_item = move |i: usize, up: bool| {
        fast.update(|l| {
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
        <form class="row row-tight" on:submit=save_key>
            <label for="api-key" class="visually-hidden">"Mistral API key"</label>
            <input id="api-key" data-testid="api-key-input" type="password" autocomplete="off" placeholder="Paste a new API key"
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

        <form class="prefs" on:submit=save_prefs>
            <h2>"Fast list"</h2>
            <p class="muted">"Your favourite models, in the order the model picker shows them."</p>
            <ol class="fast-list" data-testid="fast-list">
                {move || fast.get().into_iter().enumerate().map(|(i, m)| view! {
                    <li>
                        <span class="fast-name">{m.clone()}</span>
                        <button type="button" class="btn btn-icon btn-small" aria-label=format!("Move {m} up") on:click=move |_| move_item(i, true)>"↑"</button>
                        <button type="button" class="btn btn-icon btn-small" aria-label=format!("Move {m} down") on:click=move |_| move_item(i, false)>"↓"</button>
                        <button type="button" class="btn btn-icon btn-small" aria-label=format!("Remove {m}") on:click=move |_| fast.update(|l| { l.remove(i); })>"×"</button>
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
                    if !m.is_empty() { fast.update(|l| if !l.contains(&m) { l.push(m) }); }
                }>"Add"</button>
            </div>
            <h2>"Defaults for new threads"</h2>
            <label for="default-model">"Default model"</label>
            <select id="default-model" data-testid="default-model" on:change=move |ev| default_model.set(event_target_value(&ev))>
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
            <textarea id="default-context" rows="4" maxlength="32000" prop:value=default_context
                on:input=move |ev| default_context.set(event_target_value(&ev))></textarea>
            <div class="row"><button type="submit" class="btn btn-primary" data-testid="save-prefs">"Save"</button></div>
            {move || msg_view(prefs_msg.get())}
        </form>

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
