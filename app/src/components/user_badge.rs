//! The signed-in user's avatar (picture or initials), name and Sign out.
use crate::api::auth::SignOut;
use crate::client::hard_navigate;
use crate::model::UserDto;
use leptos::prelude::*;

#[component]
pub fn Avatar(user: UserDto) -> impl IntoView {
    let initials = user.initials();
    match user.picture.clone() {
        Some(src) => view! {
            <img class="avatar" src=src alt="" referrerpolicy="no-referrer" width="32" height="32" />
        }
        .into_any(),
        None => view! { <span class="avatar avatar-initials" aria-hidden="true">{initials}</span> }
            .into_any(),
    }
}

#[component]
pub fn UserBadge(user: UserDto) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            hard_navigate("/login");
        }
    });
    let name = user.name.clone();
    let email = user.email.clone().unwrap_or_default();
    view! {
        <div class="user-badge">
            <Avatar user=user.clone() />
            <div class="user-badge-text">
                <span class="user-name" data-testid="user-name">{name}</span>
                <span class="user-email">{email}</span>
            </div>
            <button
                type="button"
                class="btn btn-ghost"
                data-testid="sign-out"
                disabled=move || sign_out.pending().get()
                on:click=move |_| {
                    sign_out.dispatch(SignOut {});
                }
            >
                "Sign out"
            </button>
        </div>
    }
}
