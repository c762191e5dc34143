//! `/`: a new conversation. The first message creates the thread, then the
//! browser moves to `/t/{id}` where the answer streams in. The model and
//! context can be chosen before that ("Model & context"): they are kept here
//! and given to the thread the first message creates.
use crate::api::chat::send_message;
use crate::api::threads::{configure_thread, create_thread, delete_thread};
use crate::client::send_failure_message;
use crate::components::composer::{Composer, ModelChoices, SendRequest};
use crate::components::fast_config::{FastConfig, FastConfigSaved, FastConfigToggle};
use crate::components::sidebar::use_thread_list;
use crate::model::SendResultDto;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

const EXAMPLES: [&str; 4] = [
    "Explain the difference between a process and a thread",
    "Write a Rust function that parses an ISO 8601 date",
    "Summarise the main ideas of stoicism in five bullet points",
    "Give me a 3-day itinerary for Lyon",
];

#[component]
pub fn HomePage() -> impl IntoView {
    let choices = ModelChoices::load();
    let error = RwSignal::new(Option::<String>::None);
    let list = use_thread_list();
    let navigate = use_navigate();
    let busy = RwSignal::new(false);
    let config_open = RwSignal::new(false);
    // The new chat's model and context chosen in the panel, until it exists
    // (`None`: the user's defaults).
    let draft_model = RwSignal::new(Option::<String>::None);
    let draft_context = RwSignal::new(Option::<String>::None);
    let start = Callback::new(move |req: SendRequest| {
        error.set(None);
        busy.set(true);
        let navigate = navigate.clone();
        let context = draft_context.get_untracked();
        let tools = req.tools.clone();
        leptos::task::spawn_local(async move {
            let files = (req.attachments, req.images_as_text);
            let sent = match context {
                None => {
                    send_message(
                        None,
                        None,
                        req.text,
                        Some(req.model),
                        req.think,
                        req.tools,
                        files.0,
                        files.1,
                        false,
                    )
                    .await
                }
                Some(context) => {
                    start_with_context(req.text, req.model, context, req.think, req.tools, files)
                        .await
                }
            };
            match sent {
                Ok(r) => {
                    req.settle.run(true);
                    let id = r.thread.id.clone();
                    crate::components::composer::remember_tools(&id, &tools);
                    list.upsert(r.thread);
                    navigate(&format!("/t/{id}"), Default::default());
                }
                Err(e) => {
                    req.settle.run(false);
                    error.set(Some(send_failure_message(&e)));
                }
            }
            busy.set(false);
        });
    });
    let default_model = Memo::new(move |_| {
        draft_model
            .get()
            .or_else(|| {
                choices
                    .settings
                    .with(|s| s.as_ref().and_then(|s| s.default_model.clone()))
            })
            .unwrap_or_else(|| crate::components::composer::FALLBACK_MODEL.to_string())
    });
    view! {
        <Title text=crate::vocab::limits::DEFAULT_THREAD_NAME />
        <section class="welcome" aria-labelledby="welcome-title">
            <h1 id="welcome-title">"What can I help with?"</h1>
            <p class="muted">"Chatting with " <strong data-testid="welcome-model">{move || default_model.get()}</strong> "."</p>
            <p>
                <FastConfigToggle open=config_open />
            </p>
            <div class="examples">
                {EXAMPLES.iter().map(|ex| {
                    let ex = ex.to_string();
                    view! {
                        <button type="button" class="example" data-testid="example-prompt"
                            on:click={ let ex = ex.clone(); move |_| start.run(SendRequest {
                                text: ex.clone(),
                                model: default_model.get_untracked(),
                                think: false,
                                tools: vec![],
                                attachments: vec![],
                                images_as_text: false,
                                spoken: false,
                                settle: Callback::new(|_| {}),
                            }) }>
                            {ex.clone()}
                        </button>
                    }
                }).collect_view()}
            </div>
        </section>
        {move || error.get().map(|e| view! { <p class="form-error composer-error" role="alert" data-testid="chat-error">{e}</p> })}
        <Show when=move || config_open.get()>
            <FastConfig
                thread_id=None
                model=draft_model.get_untracked()
                context=draft_context.get_untracked().unwrap_or_else(|| {
                    choices.settings.with_untracked(|s| {
                        s.as_ref().map(|s| s.default_context.clone()).unwrap_or_default()
                    })
                })
                choices=choices
                on_close=Callback::new(move |_| config_open.set(false))
                on_saved=Callback::new(move |s: FastConfigSaved| {
                    draft_model.set(s.model);
                    draft_context.set(Some(s.context));
                })
            />
        </Show>
        <Composer
            on_send=start
            draft_scope="new".to_string()
            on_stop=Callback::new(|_| {})
            streaming=Signal::derive(move || busy.get())
            thread_model=Signal::derive(move || draft_model.get())
            choices=choices
        />
    }
}

/// A first message with a context: the thread is created and configured
/// before the question is sent, so the first answer already follows the
/// context (the send names the still unnamed thread like a new one). If the
/// send fails, the empty thread goes again.
async fn start_with_context(
    text: String,
    model: String,
    context: String,
    think: bool,
    tools: Vec<String>,
    (attachments, images_as_text): (Vec<String>, bool),
) -> Result<SendResultDto, crate::api::ApiError> {
    let thread = create_thread(None).await?;
    let id = thread.id;
    let sent = match configure_thread(id.clone(), Some(model.clone()), context).await {
        Ok(_) => {
            send_message(
                Some(id.clone()),
                None,
                text,
                Some(model),
                think,
                tools,
                attachments,
                images_as_text,
                false,
            )
            .await
        }
        Err(e) => Err(e),
    };
    if sent.is_err() {
        let _ = delete_thread(id).await;
    }
    sent
}
