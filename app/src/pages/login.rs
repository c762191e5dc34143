//! `/login`: sign in or create an account (email/password or Google).
//!
//! The form posts to the public JSON API (`/api/auth/email/*`), which sets the
//! HttpOnly session cookie; then the browser loads the `?redirect=` target
//! (checked to stay on this site). With `ALLOW_REGISTRATION=false` the
//! "Create an account" switch is not rendered.
use crate::api::auth::login_config;
use crate::client::{hard_navigate, post_json, safe_redirect};
use leptos::prelude::*;
use leptos_meta::{Script, Title};
use leptos_router::hooks::use_query_map;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    SignIn,
    Register,
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let redirect = Memo::new(move |_| safe_redirect(query.read().get("redirect")));
    let (mode, set_mode) = signal(Mode::SignIn);
    let (email, set_email) = signal(String::new());
    let (password, set_password) = signal(String::new());
    let (name, set_name) = signal(String::new());
    let (error, set_error) = signal(Option::<String>::None);
    let (busy, set_busy) = signal(false);
    let config = Resource::new(|| (), |_| login_config());

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_error.set(None);
        let m = mode.get_untracked();
        let body = serde_json::json!({
            "email": email.get_untracked(),
            "password": password.get_untracked(),
            "name": if m == Mode::Register { Some(name.get_untracked()) } else { None },
        });
        let url = if m == Mode::Register {
            "/api/auth/email/register"
        } else {
            "/api/auth/email/login"
        };
        set_busy.set(true);
        leptos::task::spawn_local(async move {
            match post_json(url, &body).await {
                Ok(_) => hard_navigate(&redirect.get_untracked()),
                Err(msg) => {
                    set_error.set(Some(msg));
                    set_busy.set(false);
                }
            }
        });
    };

    view! {
        <Title text=move || if mode.get() == Mode::SignIn { "Sign in" } else { "Create account" } />
        <main class="auth-page">
            <div class="auth-card">
                <p class="brand">"MistralChat"</p>
                <h1 data-testid="auth-title">
                    {move || if mode.get() == Mode::SignIn { "Sign in" } else { "Create your account" }}
                </h1>
                <form class="auth-form" on:submit=submit novalidate=true>
                    <Show when=move || mode.get() == Mode::Register>
                        <label for="name">"Name " <span class="muted">"(optional)"</span></label>
                        <input
                            id="name"
                            name="name"
                            type="text"
                            autocomplete="name"
                            maxlength="200"
                            prop:value=name
                            on:input=move |ev| set_name.set(event_target_value(&ev))
                        />
                    </Show>
                    <label for="email">"Email"</label>
                    <input
                        id="email"
                        name="email"
                        type="email"
                        autocomplete="email"
                        required=true
                        prop:value=email
                        on:input=move |ev| set_email.set(event_target_value(&ev))
                    />
                    <label for="password">"Password"</label>
                    <input
                        id="password"
                        name="password"
                        type="password"
                        required=true
                        minlength="8"
                        autocomplete=move || {
                            if mode.get() == Mode::SignIn { "current-password" } else { "new-password" }
                        }
                        prop:value=password
                        on:input=move |ev| set_password.set(event_target_value(&ev))
                    />
                    <Show when=move || mode.get() == Mode::Register>
                        <p class="hint">"At least 8 characters."</p>
                    </Show>
                    <p class="form-error" role="alert" data-testid="auth-error" hidden=move || error.get().is_none()>
                        {move || error.get().unwrap_or_default()}
                    </p>
                    <button type="submit" class="btn btn-primary btn-block" disabled=busy data-testid="auth-submit">
                        {move || match (mode.get(), busy.get()) {
                            (_, true) => "Please wait…",
                            (Mode::SignIn, false) => "Sign in",
                            (Mode::Register, false) => "Create account",
                        }}
                    </button>
                </form>
                // Both depend on the server's configuration: rendered on the
                // server, so a closed sign-up never shows its switch.
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let options = config.await.ok();
                        let allow_registration = options.as_ref().is_none_or(|c| c.allow_registration);
                        let google_client_id = options.and_then(|c| c.google_client_id);
                        view! {
                            <Show when=move || allow_registration>
                                <p class="auth-switch" data-testid="auth-switch-row">
                                    {move || if mode.get() == Mode::SignIn { "New here? " } else { "Already have an account? " }}
                                    <button
                                        type="button"
                                        class="link-button"
                                        data-testid="auth-switch"
                                        on:click=move |_| {
                                            set_error.set(None);
                                            set_mode.update(|m| *m = if *m == Mode::SignIn { Mode::Register } else { Mode::SignIn });
                                        }
                                    >
                                        {move || if mode.get() == Mode::SignIn { "Create an account" } else { "Sign in" }}
                                    </button>
                                </p>
                            </Show>
                            {google_client_id.map(|client_id| view! {
                                <div class="divider"><span>"or"</span></div>
                                <div
                                    id="google-signin"
                                    data-client-id=client_id
                                    data-redirect=move || redirect.get()
                                ></div>
                                <p class="form-error" role="alert" id="google-error" hidden=true></p>
                                <Script src="/google-signin.js" defer="true" />
                                <Script src="https://accounts.google.com/gsi/client" async_="true" defer="true" />
                            })}
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}
