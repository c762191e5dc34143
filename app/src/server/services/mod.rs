//! Domain services. Each function takes the state (or the connection) and
//! already-parsed input, enforces ownership by scoping every query to the
//! caller's user id, and returns domain values or an [`AppError`](super::AppError).
pub mod auth;
pub mod blobs;
pub mod chat;
pub mod files;
pub mod generation;
pub mod google;
pub mod guests;
pub mod rate_limit;
pub mod rendered;
pub mod settings;
pub mod threads;
pub mod titles;
pub mod uploads;
pub mod voice;

use crate::server::entities::messages;
use crate::server::AppState;
use crate::vocab::MessageStatus;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// At startup no generation task is alive, so any message still marked
/// `streaming` was cut off by a restart: mark it `interrupted` (keeping its
/// partial text) so no client waits on it forever.
pub async fn generation_recovery(state: &AppState) {
    let res = messages::Entity::update_many()
        .col_expr(
            messages::Column::Status,
            Expr::value(MessageStatus::Interrupted),
        )
        .col_expr(
            messages::Column::UpdatedAt,
            Expr::value(crate::server::db::now_ms()),
        )
        .filter(messages::Column::Status.eq(MessageStatus::Streaming))
        .exec(&state.db)
        .await;
    match res {
        Ok(r) if r.rows_affected > 0 => {
            tracing::warn!(
                count = r.rows_affected,
                "marked unfinished answers as interrupted"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "could not mark unfinished answers"),
    }
}
