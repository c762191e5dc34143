use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Not found" />
        <main class="center-page">
            <h1>"Page not found"</h1>
            <p>"This page does not exist. " <a href="/">"Go to your chats"</a></p>
        </main>
    }
}
