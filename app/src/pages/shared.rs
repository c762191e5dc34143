//! `/s/:code`: a shared conversation, read-only, rendered completely on the
//! server (the route uses async SSR) so it is fast and readable without WASM.
//! It shows the branch the owner shared, newest page first; "Earlier
//! messages" is a plain link (`?before=…`), so paging works without WASM too.
use crate::api::threads::shared_thread;
use crate::components::message::MessageView;
use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn SharedThreadPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let view_data = Resource::new(
        move || {
            (
                params.read().get("code").unwrap_or_default(),
                query.read().get("before"),
            )
        },
        |(code, before)| shared_thread(code, before),
    );
    view! {
        <Meta name="robots" content="noindex, nofollow" />
        <main class="shared-page">
            <div class="shared-banner" role="note">
                <strong>"Shared conversation"</strong>
                " · read-only · "
                <a href="/">"Open MistralChat"</a>
            </div>
            <Suspense fallback=|| view! { <div class="skeleton skeleton-block"></div> }>
                {move || Suspend::new(async move {
                    match view_data.await {
                        Ok(v) => {
                            let code = params.read_untracked().get("code").unwrap_or_default();
                            let earlier = v.next_cursor.clone().map(|c| {
                                format!("/s/{}?before={}", code, crate::client::url_component(&c))
                            });
                            view! {
                                <Title text=v.thread.name.clone() />
                                <h1 class="shared-title">{v.thread.name.clone()}</h1>
                                {v.thread.model.clone().map(|m| view! { <p class="muted">"Model: " {m}</p> })}
                                {earlier.map(|href| view! {
                                    <p class="shared-earlier"><a href=href data-testid="shared-earlier">"Earlier messages"</a></p>
                                })}
                                <div class="messages">
                                    {v.messages.into_iter().map(|m| view! { <MessageView message=m /> }).collect_view()}
                                </div>
                            }
                            .into_any()
                        }
                        Err(_) => {
                            #[cfg(feature = "ssr")]
                            if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
                                resp.set_status(axum::http::StatusCode::NOT_FOUND);
                            }
                            view! {
                                <Title text="Link not available" />
                                <h1>"This link is not available"</h1>
                                <p class="muted">"It may have been revoked or may have expired. Ask the owner for a new link."</p>
                            }
                            .into_any()
                        }
                    }
                })}
            </Suspense>
        </main>
    }
}
