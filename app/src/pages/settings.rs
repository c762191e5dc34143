//! `/settings/account` (profile, sessions, account deletion) and
//! `/settings/appearance` (theme); `/settings/models` is in `settings_models`.
use crate::api::auth::{expected_confirmation, DeleteAccount, SignOutEverywhere};
use crate::client::{hard_navigate, server_fn_message};
use crate::components::guest::{load_session, GuestAccount, Session};
use crate::model::UserDto;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AccountSettingsPage() -> impl IntoView {
    let session = Resource::new(|| (), |_| load_session());
    view! {
        <Title text="Account" />
        <section class="settings" aria-labelledby="settings-title">
                <crate::pages::settings_models::SettingsTabs current="account" />
                <h1 id="settings-title">"Account"</h1>
                <Suspense fallback=|| view! { <div class="skeleton skeleton-block"></div> }>
                    {move || Suspend::new(async move {
                        match session.await {
                            Ok(s) if s.is_guest() => view! {
                                <GuestAccount session=s />
                                <Storage />
                            }
                            .into_any(),
                            Ok(Session { user: Some(u), .. }) => view! { <AccountDetails user=u /> }.into_any(),
                            _ => view! { <p class="muted">"Not signed in."</p> }.into_any(),
                        }
                    })}
                </Suspense>
        </section>
    }
}

/// Settings → Account: what the person's files take of their quota.
#[component]
fn Storage() -> impl IntoView {
    use crate::components::attach::size_label;
    let usage = Resource::new(|| (), |_| crate::api::settings::file_usage());
    view! {
        <div class="storage" data-testid="storage">
            <h2>"Files"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    usage.await.ok().map(|u| {
                        let text = format!(
                            "{} of {} used by your files (up to {} per file, {} files per message)",
                            size_label(u.used_bytes),
                            size_label(u.quota_bytes),
                            size_label(u.max_file_bytes),
                            u.max_files_per_message
                        );
                        view! {
                            <meter min="0" max=u.quota_bytes.to_string() value=u.used_bytes.to_string()
                                aria-label="Storage used"></meter>
                            <p class="muted" data-testid="storage-used">{text}</p>
                        }
                    })
                })}
            </Suspense>
        </div>
    }
}

#[component]
fn AccountDetails(user: UserDto) -> impl IntoView {
    let expected = expected_confirmation(&user.provider, user.email.as_deref());
    let (confirm_open, set_confirm_open) = signal(false);
    let (typed, set_typed) = signal(String::new());
    let delete = ServerAction::<DeleteAccount>::new();
    let sign_out_everywhere = ServerAction::<SignOutEverywhere>::new();
    Effect::new(move |_| {
        let deleted = matches!(delete.value().get(), Some(Ok(())));
        let signed_out = matches!(sign_out_everywhere.value().get(), Some(Ok(())));
        if deleted || signed_out {
            hard_navigate("/login");
        }
    });
    let provider = if user.provider == "google" {
        "Google"
    } else {
        "Email and password"
    };
    let expected_for_check = expected.clone();
    let matches =
        Memo::new(move |_| typed.get().trim().to_lowercase() == expected_for_check.to_lowercase());
    view! {
        <dl class="kv">
            <dt>"Name"</dt>
            <dd>{user.name.clone()}</dd>
            <dt>"Email"</dt>
            <dd>{user.email.clone().unwrap_or_else(|| "—".into())}</dd>
            <dt>"Sign-in method"</dt>
            <dd>{provider}</dd>
        </dl>
        <Storage />
        <div class="sessions">
            <h2>"Sessions"</h2>
            <p class="muted">
                "Signs you out on every device and browser where you are signed in, this one included. "
                "A session you have not used for a while ends by itself."
            </p>
            <button
                type="button"
                class="btn btn-ghost"
                data-testid="sign-out-everywhere"
                disabled=move || sign_out_everywhere.pending().get()
                on:click=move |_| {
                    sign_out_everywhere.dispatch(SignOutEverywhere {});
                }
            >
                "Sign out of all devices"
            </button>
            {move || sign_out_everywhere.value().get().and_then(|r| r.err()).map(|e| view! {
                <p class="form-error" role="alert">{server_fn_message(&e)}</p>
            })}
        </div>
        <div class="danger-zone">
            <h2>"Delete account"</h2>
            <p class="muted">
                "Deletes your account with its threads, messages, shared links, preferences and saved Mistral API key, and signs you out everywhere. This cannot be undone."
            </p>
            <Show
                when=move || confirm_open.get()
                fallback=move || view! {
                    <button
                        type="button"
                        class="btn btn-danger"
                        data-testid="delete-account"
                        on:click=move |_| set_confirm_open.set(true)
                    >
                        "Delete account…"
                    </button>
                }
            >
                // Posted by the browser itself before hydration, to the server
                // function (which redirects back); never a GET.
                <form
                    class="confirm-delete"
                    method="post"
                    action="/rpc/delete_account"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        delete.dispatch(DeleteAccount { confirmation: typed.get_untracked() });
                    }
                >
                    <label for="confirm-delete-input">
                        "Type " <strong>{expected.clone()}</strong> " to confirm"
                    </label>
                    <input
                        id="confirm-delete-input"
                        name="confirmation"
                        data-testid="confirm-delete-input"
                        type="text"
                        autocomplete="off"
                        prop:value=typed
                        on:input=move |ev| set_typed.set(event_target_value(&ev))
                    />
                    {move || delete.value().get().and_then(|r| r.err()).map(|e| view! {
                        <p class="form-error" role="alert">{server_fn_message(&e)}</p>
                    })}
                    <div class="row">
                        <button
                            type="button"
                            class="btn btn-ghost"
                            on:click=move |_| set_confirm_open.set(false)
                        >
                            "Cancel"
                        </button>
                        <button
                            type="submit"
                            class="btn btn-danger"
                            data-testid="confirm-delete"
                            disabled=move || !matches.get() || delete.pending().get()
                        >
                            "Delete my account"
                        </button>
                    </div>
                </form>
            </Show>
        </div>
    }
}

/// `/settings/appearance`: light, dark, or follow the system.
#[component]
pub fn AppearanceSettingsPage() -> impl IntoView {
    use crate::api::settings::{get_settings, save_theme};
    use crate::theme::Theme;
    let current = RwSignal::new(crate::theme::current_theme());
    let error = RwSignal::new(Option::<String>::None);
    // The saved choice wins over a stale cookie.
    Effect::new(move |prev: Option<()>| {
        if prev.is_none() {
            leptos::task::spawn_local(async move {
                if let Ok(s) = get_settings().await {
                    current.set(s.theme);
                    crate::theme::apply_theme(s.theme);
                }
            });
        }
    });
    let choose = move |theme: Theme| {
        current.set(theme);
        crate::theme::apply_theme(theme);
        leptos::task::spawn_local(async move {
            if let Err(e) = save_theme(theme.to_string()).await {
                error.set(Some(server_fn_message(&e)));
            }
        });
    };
    view! {
        <Title text="Appearance" />
        <section class="settings" aria-labelledby="appearance-title">
            <crate::pages::settings_models::SettingsTabs current="appearance" />
            <h1 id="appearance-title">"Appearance"</h1>
            <fieldset class="theme-choice">
                <legend>"Theme"</legend>
                {[(Theme::System, "Follow the system"), (Theme::Light, "Light"), (Theme::Dark, "Dark")].into_iter().map(|(id, label)| view! {
                    <label class="radio">
                        <input type="radio" name="theme" value=id.as_str() data-testid=format!("theme-{id}")
                            prop:checked=move || current.get() == id
                            on:change=move |_| choose(id) />
                        {label}
                    </label>
                }).collect_view()}
            </fieldset>
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
        </section>
    }
}
