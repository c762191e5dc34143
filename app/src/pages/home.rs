//! `/`: a new conversation. The first message creates the thread, then the
//! browser moves to `/t/{id}` where the answer streams in.
use crate::api::chat::send_message;
use crate::client::send_failure_message;
use crate::components::composer::{Composer, ModelChoices, SendRequest};
use crate::components::sidebar::use_thread_list;
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
    let start = Callback::new(move |req: SendRequest| {
        error.set(None);
        busy.set(true);
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            match send_message(None, None, req.text, Some(req.model), req.think).await {
                Ok(r) => {
                    req.settle.run(true);
                    let id = r.thread.id.clone();
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
        choices
            .settings
            .with(|s| s.as_ref().and_then(|s| s.default_model.clone()))
            .unwrap_or_else(|| crate::components::composer::FALLBACK_MODEL.to_string())
    });
    view! {
        <Title text="New chat" />
        <section class="welcome" aria-labelledby="welcome-title">
            <h1 id="welcome-title">"What can I help with?"</h1>
            <p class="muted">"Chatting with " <strong data-testid="welcome-model">{move || default_model.get()}</strong> "."</p>
            <div class="examples">
                {EXAMPLES.iter().map(|ex| {
                    let ex = ex.to_string();
                    view! {
                        <button type="button" class="example" data-testid="example-prompt"
                            on:click={ let ex = ex.clone(); move |_| start.run(SendRequest {
                                text: ex.clone(),
                                model: default_model.get_untracked(),
                                think: false,
                                settle: Callback::new(|_| {}),
                            }) }>
                            {ex.clone()}
                        </button>
                    }
                }).collect_view()}
            </div>
        </section>
        {move || error.get().map(|e| view! { <p class="form-error composer-error" role="alert" data-testid="chat-error">{e}</p> })}
        <Composer
            on_send=start
            draft_scope="new".to_string()
            on_stop=Callback::new(|_| {})
            streaming=Signal::derive(move || busy.get())
            thread_model=Signal::derive(|| None::<String>)
            choices=choices
        />
    }
}
