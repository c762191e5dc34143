//! One module per route.
pub mod home;
pub mod login;
pub mod not_found;
pub mod settings;
pub mod settings_models;
pub mod settings_voice;
pub mod shared;
pub mod thread;

use leptos::text_prop::TextProp;

/// A page's `<title>` text that follows reactive values: `read` returns the
/// text, or `None` once the values it reads are gone (read them with
/// `try_get` / `try_with`).
///
/// On the server a page renders once, and leptos_meta reads the title only
/// after the page's body has been rendered, when the page's reactive values
/// may already have been disposed (a CI run saw `/login` answer with that
/// panic). So there the title is the text as the page is created; in the
/// browser it follows `read`, and reads nothing of a page that is gone.
pub fn live_title(read: impl Fn() -> Option<String> + Send + Sync + 'static) -> TextProp {
    #[cfg(feature = "ssr")]
    {
        TextProp::from(read().unwrap_or_default())
    }
    #[cfg(not(feature = "ssr"))]
    {
        TextProp::from(move || read().unwrap_or_default())
    }
}

/// The document title for a page's title text: `<text> · MistralChat`.
///
/// leptos_meta 0.8 writes the server-rendered `<title>` into the HTML as it
/// is, and a thread's name is what its owner (or the model) wrote, shown to
/// strangers on the shared page: on the server the text is escaped here, the
/// one formatter every title goes through. In the browser the title is set
/// as text (`document.title`), so it is not escaped there.
pub fn document_title(text: String) -> String {
    let full = if text.is_empty() {
        "MistralChat".to_string()
    } else {
        format!("{text} · MistralChat")
    };
    #[cfg(feature = "ssr")]
    {
        let mut out = String::with_capacity(full.len() + 16);
        crate::highlight::escape(&full, &mut out);
        out
    }
    #[cfg(not(feature = "ssr"))]
    full
}

/// Pages a person opens rarely (sign-in, a shared thread, settings) are
/// lazily loaded: with `cargo leptos build --split` their code, and the code
/// only they use, goes to separate WASM chunks that the browser fetches when
/// the route is opened (the server names the chunk a page needs in a
/// `modulepreload` when it renders that page). The chat pages stay in the
/// main bundle.
pub mod lazy {
    use leptos::prelude::*;
    use leptos_router::{lazy_route, ChooseView, Lazy, LazyRoute};

    /// A lazily loaded route that is never shown once the reader has gone
    /// elsewhere while its code loaded.
    ///
    /// leptos_router 0.8's nested router aborts the previous navigation's
    /// loading when a new one starts, but a navigation whose loading was
    /// aborted clears the abort handle of the one after it. After three
    /// quick navigations (settings → models → New chat), the models page's
    /// code arrived last and the models page replaced the new chat under
    /// the URL `/`. Here the route's loading never finishes when the URL
    /// changed meanwhile, so the router never shows it.
    pub struct Settled<T>(Lazy<T>);

    impl<T> Settled<T> {
        pub fn new() -> Self {
            Settled(Lazy::new())
        }
    }

    impl<T> Default for Settled<T> {
        fn default() -> Self {
            Self::new()
        }
    }

    impl<T> Clone for Settled<T> {
        fn clone(&self) -> Self {
            Settled(self.0.clone())
        }
    }

    impl<T: Send + Sync + LazyRoute> ChooseView for Settled<T> {
        async fn choose(self) -> AnyView {
            self.0.choose().await
        }

        async fn preload(&self) {
            let path = leptos_router::hooks::use_location().pathname;
            let wanted = path.get_untracked();
            self.0.preload().await;
            if path.try_get_untracked().as_ref() != Some(&wanted) {
                std::future::pending::<()>().await;
            }
        }
    }

    macro_rules! lazy_page {
        ($(#[$doc:meta])* $name:ident => $page:path) => {
            $(#[$doc])*
            pub struct $name;

            #[lazy_route]
            impl LazyRoute for $name {
                fn data() -> Self {
                    $name
                }

                fn view(_this: Self) -> AnyView {
                    view! { <$page /> }.into_any()
                }
            }
        };
    }

    lazy_page!(
        /// `/login`
        Login => super::login::LoginPage
    );
    lazy_page!(
        /// `/s/:code`
        Shared => super::shared::SharedThreadPage
    );
    lazy_page!(
        /// `/settings/account`
        AccountSettings => super::settings::AccountSettingsPage
    );
    lazy_page!(
        /// `/settings/models`
        ModelSettings => super::settings_models::ModelSettingsPage
    );
    lazy_page!(
        /// `/settings/voice`
        VoiceSettings => super::settings_voice::VoiceSettingsPage
    );
    lazy_page!(
        /// `/settings/appearance`
        AppearanceSettings => super::settings::AppearanceSettingsPage
    );
}
