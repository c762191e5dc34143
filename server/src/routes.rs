//! The axum router: JSON API under `/api`, server functions under `/rpc`,
//! Leptos SSR pages, static files ([`static_files`]: precompressed, cached by
//! content hash), and the middleware stack around them (security headers and
//! the CSP nonce come from [`security_headers`]).
use crate::{api, middleware as mw, security_headers, static_files};
use app::server::AppState;
use app::{shell, App};
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::Router;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

/// Request bodies above this are refused with 413.
pub const BODY_LIMIT: usize = 10 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let leptos_options = state.leptos_options.clone();
    let routes = generate_route_list(App);
    let ctx_state = state.clone();
    let shell_opts = leptos_options.clone();
    let site = static_files::SiteFiles::new(&leptos_options);
    // Unknown paths that are not files get the app's 404 page.
    let not_found_state = state.clone();
    let not_found_opts = leptos_options.clone();
    let not_found = leptos_axum::render_app_to_stream_in_order_with_context(
        move || leptos::prelude::provide_context(not_found_state.clone()),
        move || shell(not_found_opts.clone()),
    );

    let pages = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || leptos::prelude::provide_context(ctx_state.clone()),
            move || shell(shell_opts.clone()),
        )
        .fallback(move |req: Request| {
            let site = site.clone();
            let not_found = not_found.clone();
            async move {
                if let Some(file) = site.serve(&req).await {
                    return file;
                }
                let mut page = not_found(req).await;
                // A redirect the page asked for stands; anything else is a 404.
                if page.status() == StatusCode::OK {
                    *page.status_mut() = StatusCode::NOT_FOUND;
                }
                page
            }
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            mw::require_session_for_pages,
        ))
        // Pages are compressed as they stream (brotli or gzip, as the browser
        // accepts; a fast level, so the first bytes are not held back).
        // Precompressed static files already carry a Content-Encoding and
        // pass through as they are. The JSON API is not compressed.
        .layer(
            CompressionLayer::new()
                .br(true)
                .gzip(true)
                .quality(CompressionLevel::Precise(4)),
        );

    with_middleware(Router::new().merge(api::router()).merge(pages), state)
}

/// Wraps routes in the production middleware stack (tests reuse it for
/// routes of their own, e.g. one that panics).
pub fn with_middleware(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            mw::refuse_cross_site_writes,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(mw::panic_response))
        // Outside the panic catcher and the body limit, so their answers get
        // the headers too.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security_headers::add_security_headers,
        ))
        .layer(axum::middleware::from_fn(mw::log_requests))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}
