//! MistralChat's product code: pages, components, server functions and DTOs,
//! plus (behind the `ssr` feature) the domain services in [`server`].
//!
//! The same components render on the server and hydrate in the browser; code
//! that only makes sense in one place is gated by `ssr` / `hydrate`.
#![recursion_limit = "512"]

pub mod api;
pub mod client;
pub mod components;
#[cfg(feature = "ssr")]
pub mod highlight;
pub mod hydration;
#[cfg(feature = "ssr")]
pub mod markdown;
pub mod model;
pub mod pages;
pub mod routes;
#[cfg(feature = "ssr")]
pub mod server;
pub mod shortcuts;
pub mod stream;
pub mod theme;
pub mod time;
pub mod vocab;
pub mod voice;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Link, Meta, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The HTML document around the app (server-rendered only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    use_request_nonce();
    let theme = theme::current_theme().as_str();
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme>
            <head>
                <meta charset="utf-8" />
                <meta
                    name="viewport"
                    content="width=device-width, initial-scale=1, viewport-fit=cover, interactive-widget=resizes-content"
                />
                <meta name="color-scheme" content="light dark" />
                <meta name="theme-color" media="(prefers-color-scheme: light)" content="#ffffff" />
                <meta name="theme-color" media="(prefers-color-scheme: dark)" content="#17171c" />
                // The stylesheet's name carries the content hash cargo-leptos
                // wrote next to the server binary (`hash-files`), like the JS
                // and WASM names the hydration script uses: a new build gets
                // new URLs, so the server may cache them forever.
                <HashedStylesheet options=options.clone() id="leptos" />
                // Starts the WASM after the first paint, without preload hints
                // (hydration.rs says why).
                <hydration::HydrationScript options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Renders this page with the CSP nonce the server's security-headers
/// middleware minted for the request (a request extension), so the
/// `Content-Security-Policy` header and every inline script Leptos writes
/// (the hydration module, streamed resource data) carry the same value.
/// Without the middleware (unit tests), Leptos keeps the nonce it generated
/// itself. Must run before the hydration script is built.
fn use_request_nonce() {
    #[cfg(feature = "ssr")]
    {
        let nonce = use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<leptos::nonce::Nonce>().cloned());
        if let Some(nonce) = nonce {
            provide_context(nonce);
        }
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Marks the document once the WASM has taken over, so tests (and CSS) can
    // tell a hydrated page from server-rendered HTML.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml" />
        <Link rel="manifest" href="/manifest.webmanifest" />
        <Link rel="apple-touch-icon" href="/apple-touch-icon.png" />
        <Meta name="description" content="MistralChat — a self-hosted chat for Mistral AI models" />
        <Title formatter=pages::document_title />
        <Router>
            <Routes fallback=pages::not_found::NotFound>
                // Async: the whole page (the sign-up switch included) is in the
                // HTML, so it works before and without the WASM.
                <Route path=path!("/login") view={pages::lazy::Settled::<pages::lazy::Login>::new()} ssr=SsrMode::Async />
                <Route path=path!("/s/:code") view={pages::lazy::Settled::<pages::lazy::Shared>::new()} ssr=SsrMode::Async />
                <ParentRoute path=path!("") view=components::shell::AppShell>
                    <Route path=path!("") view=pages::home::HomePage />
                    <Route path=path!("t/:id") view=pages::thread::ThreadPage />
                    <Route path=path!("settings/account") view={pages::lazy::Settled::<pages::lazy::AccountSettings>::new()} />
                    <Route path=path!("settings/models") view={pages::lazy::Settled::<pages::lazy::ModelSettings>::new()} />
                    <Route path=path!("settings/voice") view={pages::lazy::Settled::<pages::lazy::VoiceSettings>::new()} />
                    <Route path=path!("settings/appearance") view={pages::lazy::Settled::<pages::lazy::AppearanceSettings>::new()} />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
