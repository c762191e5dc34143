//! The process around the product: configuration loading, the axum router
//! (JSON API, server functions, SSR pages, static files), middleware and
//! graceful shutdown. Domain rules live in `app::server::services`.
pub mod api;
pub mod middleware;
pub mod routes;
pub mod security_headers;
pub mod startup;
pub mod static_files;
