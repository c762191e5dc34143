//! The composer: an auto-growing text box (Enter sends, Shift+Enter adds a
//! line, never during IME composition), the model picker from the user's fast
//! list, the Think toggle for reasoning models, files (see
//! [`super::attach`]: the paperclip, paste, drop, chips), and Send / Stop.
//!
//! Typed text is never lost: the box keeps it until the page reports that the
//! server accepted the message ([`SendRequest::settle`]), and a draft per
//! thread is kept in the browser's local storage so it survives a reload.
//! Attached files stay the same way (not across a reload: an upload never
//! sent is removed by the server after a day).
use super::attach::{FileTray, ACCEPT};
use super::message::UiMessage;
use super::voice::{call_to_rejoin, CallButton, CallLink, DictateButton};
use crate::api::settings::{get_settings, list_models};
use crate::model::{model_can_think, model_has_tools, ModelInfoDto, SettingsDto};
use crate::vocab::Tool;
use leptos::prelude::*;

/// A message the composer asks its page to send.
#[derive(Clone)]
pub struct SendRequest {
    pub text: String,
    pub model: String,
    pub think: bool,
    /// Built-in tools for this message (`web_search`, …).
    pub tools: Vec<String>,
    /// Ids of the uploaded files sent with it, in order.
    pub attachments: Vec<String>,
    /// Its images go as their text to a model that cannot see them.
    pub images_as_text: bool,
    /// Said in a voice call (transcribed speech): marked as spoken, and the
    /// model is told it is a spoken conversation.
    pub spoken: bool,
    /// The page calls this once: `true` when the server accepted the message
    /// (the box and the draft are cleared), `false` when it did not (the text
    /// stays, ready to retry).
    pub settle: Callback<bool>,
}

/// Where a composer's draft is kept (`"new"` for a chat not started yet).
fn draft_storage_key(scope: &str) -> String {
    format!("mistralchat.draft.{scope}")
}

#[cfg(feature = "hydrate")]
fn local_storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// Where the tool toggles (Search, Image) of a thread are remembered.
fn tools_storage_key(scope: &str) -> String {
    format!("mistralchat.tools.{scope}")
}

/// The tools switched on for `scope` (a thread id, or `"new"`), as the
/// composer remembers them: what a regeneration or an edit in that thread
/// uses too.
pub fn saved_tools(scope: &str) -> Vec<Tool> {
    load_item(&tools_storage_key(scope))
        .map(|s| {
            Tool::parse_list(&s.split(',').filter(|t| !t.is_empty()).collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

/// Remembers the tools a message was sent with for `scope` (a new chat's
/// thread keeps the toggles of the box that started it).
pub fn remember_tools(scope: &str, names: &[String]) {
    save_tools(scope, &Tool::parse_list(names).unwrap_or_default());
}

fn save_tools(scope: &str, tools: &[Tool]) {
    let list: Vec<&str> = tools.iter().map(|t| t.as_str()).collect();
    save_item(&tools_storage_key(scope), &list.join(","));
}

/// Tool names for a server function.
pub fn tool_names(tools: &[Tool]) -> Vec<String> {
    tools.iter().map(|t| t.as_str().to_string()).collect()
}

/// The value saved under `key` in the browser, if any.
fn load_item(key: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        local_storage()?.get_item(key).ok().flatten()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = key;
        None
    }
}

/// Saves `value` under `key` (a blank value forgets the key).
fn save_item(key: &str, value: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(store) = local_storage() {
        let _ = if value.trim().is_empty() {
            store.remove_item(key)
        } else {
            store.set_item(key, value)
        };
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (key, value);
}

/// The saved draft of `scope`, if any.
fn load_draft(scope: &str) -> Option<String> {
    load_item(&draft_storage_key(scope))
}

/// Saves (or, for blank text, forgets) the draft of `scope`.
fn save_draft(scope: &str, text: &str) {
    save_item(&draft_storage_key(scope), text)
}

/// `text` with its UTF-16 range `start..end` (a textarea's selection)
/// replaced by `said`, spaced from its neighbours; and the cursor after it
/// (UTF-16).
pub fn insert_at(text: &str, start: usize, end: usize, said: &str) -> (String, usize) {
    let units: Vec<u16> = text.encode_utf16().collect();
    let (start, end) = (
        start.min(units.len()),
        end.min(units.len()).max(start.min(units.len())),
    );
    let before = String::from_utf16_lossy(&units[..start]);
    let after = String::from_utf16_lossy(&units[end..]);
    let mut piece = String::new();
    if !before.is_empty() && !before.ends_with(char::is_whitespace) {
        piece.push(' ');
    }
    piece.push_str(said.trim());
    if after.starts_with(char::is_alphanumeric) {
        piece.push(' ');
    }
    let cursor = before.encode_utf16().count() + piece.encode_utf16().count();
    (format!("{before}{piece}{after}"), cursor)
}

pub const FALLBACK_MODEL: &str = "mistral-small-latest";

/// The user's settings and catalogue, loaded once per page in the browser.
#[derive(Clone, Copy)]
pub struct ModelChoices {
    pub settings: RwSignal<Option<SettingsDto>>,
    pub models: RwSignal<Vec<ModelInfoDto>>,
}

impl ModelChoices {
    pub fn load() -> Self {
        let me = Self {
            settings: RwSignal::new(None),
            models: RwSignal::new(vec![]),
        };
        Effect::new(move |prev: Option<()>| {
            if prev.is_some() {
                return;
            }
            leptos::task::spawn_local(async move {
                if let Ok(s) = get_settings().await {
                    let usable = s.has_key || s.server_key_available;
                    me.settings.set(Some(s));
                    if usable {
                        if let Ok(list) = list_models(false).await {
                            me.models.set(list);
                        }
                    }
                }
            });
        });
        me
    }
}

#[component]
pub fn Composer(
    on_send: Callback<SendRequest>,
    /// Whose draft this box holds: the thread id, or `"new"`.
    #[prop(into)]
    draft_scope: Signal<String>,
    on_stop: Callback<()>,
    /// An answer is streaming: Send becomes Stop.
    streaming: Signal<bool>,
    /// The thread's model, if it has one.
    #[prop(into)]
    thread_model: Signal<Option<String>>,
    choices: ModelChoices,
    /// The thread's newest answer (what a voice call speaks). Without it
    /// (a chat not started yet) the call button starts a new thread first.
    #[prop(optional)]
    latest_answer: Option<Signal<Option<UiMessage>>>,
) -> impl IntoView {
    let (text, set_text) = signal(String::new());
    // A message handed to the page and not yet accepted or refused.
    let pending = RwSignal::new(false);
    let chosen_model = RwSignal::new(Option::<String>::None);
    let think = RwSignal::new(false);
    // Web search and image generation for this thread's messages
    // (remembered per thread).
    let tools = RwSignal::new(Vec::<Tool>::new());
    let area = NodeRef::<leptos::html::Textarea>::new();
    let tray = FileTray::new();
    tray.listen_for_drops();

    let model = Memo::new(move |_| {
        chosen_model
            .get()
            .or_else(|| thread_model.get())
            .or_else(|| {
                choices
                    .settings
                    .with(|s| s.as_ref().and_then(|s| s.default_model.clone()))
            })
            .unwrap_or_else(|| FALLBACK_MODEL.to_string())
    });
    let options = Memo::new(move |_| {
        let mut list: Vec<String> = choices.settings.with(|s| {
            s.as_ref()
                .map(|s| s.fast_models.clone())
                .unwrap_or_default()
        });
        let current = model.get();
        if !list.contains(&current) {
            list.insert(0, current);
        }
        list
    });
    let can_think = Memo::new(move |_| choices.models.with(|m| model_can_think(&model.get(), m)));
    let can_search = Memo::new(move |_| choices.models.with(|m| model_has_tools(&model.get(), m)));
    let no_key = Memo::new(move |_| {
        choices.settings.with(|s| {
            s.as_ref()
                .is_some_and(|s| !s.has_key && !s.server_key_available)
        })
    });

    tray.draw(model, text, choices);
    // One handler for the paperclip, the chips and the vision warning.
    let files_clicked = move |ev: leptos::ev::MouseEvent| {
        if let Some(other) = tray.clicked(&ev) {
            chosen_model.set(Some(other));
        }
    };

    let grow = move || {
        if let Some(el) = area.get_untracked() {
            let _ = el.style(("height", "auto"));
            let h = el.scroll_height();
            let _ = el.style(("height", format!("{h}px")));
        }
    };
    // The box follows its text, also when it is emptied after a send (a
    // multi-line message must not leave it tall).
    Effect::new(move |_| {
        let t = text.get();
        // Measure the new text, not the one the box still shows.
        if let Some(el) = area.get_untracked() {
            if el.value() != t {
                el.set_value(&t);
            }
        }
        grow();
    });
    // The draft of this thread: restored when the page opens (or the thread
    // changes), saved as it is typed.
    Effect::new(move |_| {
        let scope = draft_scope.get();
        set_text.set(load_draft(&scope).unwrap_or_default());
        tools.set(saved_tools(&scope));
    });

    let toggle = move |tool: Tool| {
        tools.update(|list| {
            if let Some(i) = list.iter().position(|t| *t == tool) {
                list.remove(i);
            } else {
                list.push(tool);
                list.sort();
            }
        });
        save_tools(&draft_scope.get_untracked(), &tools.get_untracked());
    };
    let on = move |tool: Tool| move || tools.with(|l| l.contains(&tool)).to_string();
    // Dictation: the transcript goes where the cursor is.
    let dictating = RwSignal::new(false);
    let insert_text = Callback::new(move |said: String| {
        let current = text.get_untracked();
        let (start, end) = area
            .get_untracked()
            .map(|el| {
                let len = current.encode_utf16().count() as u32;
                let s = el.selection_start().ok().flatten().unwrap_or(len);
                let e = el.selection_end().ok().flatten().unwrap_or(s);
                (s.min(len) as usize, e.min(len) as usize)
            })
            .unwrap_or((0, 0));
        let (next, cursor) = insert_at(&current, start, end, &said);
        save_draft(&draft_scope.get_untracked(), &next);
        set_text.set(next);
        if let Some(el) = area.get_untracked() {
            let _ = el.focus();
            let _ = el.set_selection_range(cursor as u32, cursor as u32);
        }
    });
    // The voice call: here when the page has a thread, else a new thread
    // is made first and its page opens the call.
    let calling = RwSignal::new(false);
    let query = leptos_router::hooks::use_query_map();
    let navigate = leptos_router::hooks::use_navigate();
    let call_link = latest_answer.map(|answer| CallLink {
        on_send,
        on_stop,
        latest_answer: answer,
        model: model.into(),
        settings: choices.settings.into(),
        thread_id: draft_scope,
    });
    if call_link.is_some() {
        // Opened from a new chat (`?call`), or rejoined after a reload.
        Effect::new(move |prev: Option<()>| {
            if prev.is_some() {
                return;
            }
            let asked = query.with_untracked(|q| q.get("call").is_some());
            let rejoin = call_to_rejoin().is_some_and(|t| t == draft_scope.get_untracked());
            if asked || rejoin {
                calling.set(true);
            }
        });
    }
    let new_call = move |_| {
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            if let Ok(t) = crate::api::threads::create_thread(None).await {
                navigate(&format!("/t/{}?call", t.id), Default::default());
            }
        });
    };
    let send = move || {
        let t = text.get_untracked();
        if t.trim().is_empty()
            || streaming.get_untracked()
            || pending.get_untracked()
            || tray.uploading_now()
        {
            return;
        }
        pending.set(true);
        let scope = draft_scope.get_untracked();
        let sent = t.clone();
        let (attachments, sent_chips) = tray.for_send();
        on_send.run(SendRequest {
            text: t,
            model: model.get_untracked(),
            think: think.get_untracked() && can_think.get_untracked(),
            tools: if can_search.get_untracked() {
                tool_names(&tools.get_untracked())
            } else {
                vec![]
            },
            attachments,
            images_as_text: tray.images_as_text.get_untracked(),
            spoken: false,
            settle: Callback::new(move |accepted: bool| {
                pending.set(false);
                if accepted {
                    tray.clear_sent(&sent_chips);
                }
                // Keep what was typed after pressing Send, if anything.
                if accepted && text.get_untracked() == sent {
                    set_text.set(String::new());
                    save_draft(&scope, "");
                }
            }),
        });
    };
    view! {
        <div class="composer-wrap">
            <Show when=move || no_key.get()>
                <p class="banner" role="status" data-testid="no-key-banner">
                    "No Mistral API key yet. " <a href="/settings/models">"Add your key in Settings → Models"</a> " to get answers."
                </p>
            </Show>
            <div class="vision-slot" node_ref=tray.warning on:click=files_clicked></div>
            <form
                class="composer"
                data-testid="composer"
                on:submit=move |ev| { ev.prevent_default(); send(); }
            >
                <ul class="chips" aria-label="Attached files" data-testid="attachment-chips"
                    node_ref=tray.list on:click=files_clicked></ul>
                <label for="composer-input" class="visually-hidden">"Message"</label>
                // The paperclip sits beside the text (the form is a grid), not
                // in the bar below: on a phone that row has no room left. Its
                // picture is the stylesheet's.
                <input type="file" multiple accept=ACCEPT hidden data-testid="attach-input"
                    node_ref=tray.input on:change=move |_| tray.picked() />
                <button type="button" class="btn-icon attach-button" data-testid="attach" data-action="attach"
                    aria-label="Attach files" title="Attach files — or paste or drop them here"
                    on:click=files_clicked></button>
                <textarea
                    id="composer-input"
                    data-testid="composer-input"
                    node_ref=area
                    rows="1"
                    placeholder="Message Mistral…"
                    prop:value=text
                    on:input=move |ev| {
                        let value = event_target_value(&ev);
                        save_draft(&draft_scope.get_untracked(), &value);
                        set_text.set(value);
                    }
                    on:paste=move |ev| tray.on_paste(ev)
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                        if ev.is_composing() || ev.key_code() == 229 { return; }
                        if ev.key() == "Enter" && !ev.shift_key() {
                            ev.prevent_default();
                            send();
                        }
                    }
                ></textarea>
                <DictateButton on_text=insert_text open=dictating />
                // The call button beside the microphone, not in the bar: on a
                // phone the bar has no room left (Send stays at its right edge).
                {match call_link {
                    Some(link) => view! { <CallButton link open=calling /> }.into_any(),
                    None => view! {
                        <button type="button" class="btn-icon call-button" data-testid="voice-call" data-action="call"
                            aria-label="Voice call (Ctrl/⌘ + Alt + V)" title="Talk with the model — a hands-free voice call (Ctrl/⌘ + Alt + V)"
                            on:click=new_call></button>
                    }.into_any(),
                }}
                <div class="composer-bar">
                    <label for="composer-model" class="visually-hidden">"Model"</label>
                    <select
                        id="composer-model"
                        data-testid="model-picker"
                        class="model-picker"
                        on:change=move |ev| chosen_model.set(Some(event_target_value(&ev)))
                    >
                        <For each=move || options.get() key=|m| m.clone() let:m>
                            <option value=m.clone() selected={ let m = m.clone(); move || model.get() == m }>{
                                let sees = { let m = m.clone(); move || choices.models.with(|l| l.iter().any(|i| i.id == m && i.vision)) };
                                let name = m.clone();
                                move || if sees() { format!("{name} · sees images") } else { name.clone() }
                            }</option>
                        </For>
                    </select>
                    <Show when=move || can_think.get()>
                        <button type="button" class="think-toggle" data-testid="think-toggle"
                            title="Let the model reason before answering"
                            aria-pressed=move || think.get().to_string()
                            on:click=move |_| think.update(|t| *t = !*t)>
                            "Think"
                        </button>
                    </Show>
                    <Show when=move || can_search.get()>
                        <button type="button" class="think-toggle" data-testid="search-toggle"
                            title="Let the model search the web and cite its sources (Ctrl/⌘ + Alt + S)"
                            aria-pressed=on(Tool::WebSearch)
                            on:click=move |_| toggle(Tool::WebSearch)>
                            "Search"
                        </button>
                        <button type="button" class="think-toggle" data-testid="image-toggle"
                            title="Let the model make images"
                            aria-pressed=on(Tool::ImageGeneration)
                            on:click=move |_| toggle(Tool::ImageGeneration)>
                            "Image"
                        </button>
                    </Show>
                    <div class="composer-fill"></div>
                    <Show
                        when=move || streaming.get()
                        fallback=move || view! {
                            <button type="submit" class="btn btn-primary" data-testid="send" aria-label="Send message"
                                aria-busy=move || (pending.get() || tray.uploading()).to_string()
                                disabled=move || pending.get() || tray.uploading() || text.with(|t| t.trim().is_empty())>
                                "Send"
                            </button>
                        }
                    >
                        <button type="button" class="btn btn-danger" data-testid="stop" aria-label="Stop generating (Esc)"
                            on:click=move |_| on_stop.run(())>
                            "Stop"
                        </button>
                    </Show>
                </div>
            </form>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::insert_at;

    #[test]
    fn dictated_text_goes_to_the_cursor_with_spaces() {
        assert_eq!(insert_at("", 0, 0, " hello "), ("hello".into(), 5));
        assert_eq!(insert_at("Say then", 3, 3, "it"), ("Say it then".into(), 6));
        // A selection is replaced; UTF-16 offsets (é is one unit, 😀 two).
        assert_eq!(insert_at("é😀 old!", 4, 7, "new"), ("é😀 new!".into(), 7));
        assert_eq!(insert_at("end", 99, 99, "more"), ("end more".into(), 8));
    }
}
