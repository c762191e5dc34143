//! `/`: a new conversation.
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="New chat" />
        <section class="welcome" aria-labelledby="welcome-title">
                <h1 id="welcome-title">"What can I help with?"</h1>
                <p class="muted">
                    "Your conversations with Mistral models are stored on this server."
                </p>
        </section>
    }
}
