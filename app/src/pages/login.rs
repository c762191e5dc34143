//! `/login`: sign in or create an account (email/password or Google).
//!
//! The form works before the WASM has loaded (progressive enhancement): it is
//! a real `method="post"` form to `/auth/login` or `/auth/register`, which set
//! the HttpOnly session cookie and answer 303 to the `?redirect=` target, or
//! back to `/login?error=<code>` (a fixed code, never what was typed — see
//! [`AuthFormError`]). Once hydrated, the submit is intercepted and posted as
//! JSON to the public API (`/api/auth/email/*`) so errors show in place. The
//! mode lives in the URL (`?mode=register`), so the switch is a plain link
//! that works without JavaScript too. With `ALLOW_REGISTRATION=false` the
//! "Create an account" switch is not rendered.
use crate::api::auth::{login_config, AuthFormError};
use crate::client::{hard_navigate, post_json, safe_redirect, url_component};
use leptos::prelude::*;
use leptos_meta::{Script, Title};
use leptos_router::hooks::use_query_map;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    SignIn,
    Register,
}

/// `/login` in `mode`, keeping the redirect target.
fn login_href(mode: Mode, redirect: &str) -> String {
    let mut href = String::from("/login");
    let mut sep = '?';
    if mode == Mode::Register {
        href.push_str("?mode=register");
        sep = '&';
    }
    if redirect != "/" {
        href.push(sep);
        href.push_str("redirect=");
        href.push_str(&url_component(redirect));
    }
    href
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let redirect = Memo::new(move |_| safe_redirect(query.read().get("redirect")));
    let mode = Memo::new(move |_| {
        if query.read().get("mode").as_deref() == Some("register") {
            Mode::Register
        } else {
            Mode::SignIn
        }
    });
    let (email, set_email) = signal(String::new());
    let (password, set_password) = signal(String::new());
    let (name, set_name) = signal(String::new());
    // A failed form post comes back as `?error=<code>`.
    let (error, set_error) = signal(
        query
            .read_untracked()
            .get("error")
            .and_then(|c| AuthFormError::from_code(&c))
            .map(|e| e.sentence().to_string()),
    );
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
        <Title text=super::live_title(move || {
            mode.try_get().map(|m| if m == Mode::SignIn { "Sign in" } else { "Create account" }.to_string())
        }) />
        <main class="auth-page">
            <div class="auth-card">
                <p class="brand">"MistralChat"</p>
                <h1 data-testid="auth-title">
                    {move || if mode.get() == Mode::SignIn { "Sign in" } else { "Create your account" }}
                </h1>
                // Without JavaScript the browser posts this form itself (never
                // a GET: the password must not end up in a URL).
                <form
                    class="auth-form"
                    method="post"
                    action=move || if mode.get() == Mode::Register { "/auth/register" } else { "/auth/login" }
                    on:submit=submit
                    novalidate=true
                >
                    <input type="hidden" name="redirect" value=move || redirect.get() />
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
                        let allow_guests = options.as_ref().is_some_and(|c| c.allow_guests);
                        let google_client_id = options.and_then(|c| c.google_client_id);
                        view! {
                            <Show when=move || allow_registration>
                                <p class="auth-switch" data-testid="auth-switch-row">
                                    {move || if mode.get() == Mode::SignIn { "New here? " } else { "Already have an account? " }}
                                    // A link, so it works before hydration; once hydrated
                                    // the router follows it without a reload.
                                    <a
                                        class="link-button"
                                        data-testid="auth-switch"
                                        href=move || {
                                            let to = if mode.get() == Mode::SignIn { Mode::Register } else { Mode::SignIn };
                                            login_href(to, &redirect.get())
                                        }
                                        on:click=move |_| set_error.set(None)
                                    >
                                        {move || if mode.get() == Mode::SignIn { "Create an account" } else { "Sign in" }}
                                    </a>
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
                            // Chats made without an account come along when
                            // the person signs in or registers here.
                            <Show when=move || allow_guests>
                                <p class="auth-guest muted" data-testid="guest-continue">
                                    "Your guest chats come with you. "
                                    <a class="link-button" href=move || redirect.get()>"Continue without an account"</a>
                                </p>
                            </Show>
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_links_keep_the_redirect_target() {
        assert_eq!(login_href(Mode::SignIn, "/"), "/login");
        assert_eq!(login_href(Mode::Register, "/"), "/login?mode=register");
        assert_eq!(
            login_href(Mode::Register, "/t/1?x=1"),
            "/login?mode=register&redirect=%2Ft%2F1%3Fx%3D1"
        );
        assert_eq!(
            login_href(Mode::SignIn, "/settings/account"),
            "/login?redirect=%2Fsettings%2Faccount"
        );
    }
}
