//! Threads, their message trees and share codes.
//!
//! Every query that takes a thread, message or share id is scoped by the
//! caller's user id, so a foreign id behaves exactly like a missing one.
use crate::server::entities::{messages, shares, threads};
use crate::server::AppResult;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

/// Deletes every thread of a user with its messages and shares (used by
/// account deletion inside its transaction).
pub async fn delete_all_for_user<C: ConnectionTrait>(db: &C, user_id: &str) -> AppResult<()> {
    let ids: Vec<String> = threads::Entity::find()
        .select_only()
        .column(threads::Column::Id)
        .filter(threads::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?;
    for chunk in ids.chunks(500) {
        shares::Entity::delete_many()
            .filter(shares::Column::ThreadId.is_in(chunk.iter().cloned()))
            .exec(db)
            .await?;
        messages::Entity::delete_many()
            .filter(messages::Column::ThreadId.is_in(chunk.iter().cloned()))
            .exec(db)
            .await?;
    }
    threads::Entity::delete_many()
        .filter(threads::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}
