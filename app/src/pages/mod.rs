//! One module per route.
pub mod home;
pub mod login;
pub mod not_found;
pub mod settings;
pub mod settings_models;
pub mod settings_voice;
pub mod shared;
pub mod thread;

/// Pages a person opens rarely (sign-in, a shared thread, settings) are
/// lazily loaded: with `cargo leptos build --split` their code, and the code
/// only they use, goes to separate WASM chunks that the browser fetches when
/// the route is opened (the server names the chunk a page needs in a
/// `modulepreload` when it renders that page). The chat pages stay in the
/// main bundle.
pub mod lazy {
    use leptos::prelude::*;
    use leptos_router::{lazy_route, LazyRoute};

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
