//! Content-addressed blobs are shared between attachments, so they are never
//! cascaded: whoever removes attachments calls [`delete_unreferenced`] with
//! the hashes those attachments used, inside the same transaction.
use crate::server::entities::{attachments, blobs};
use crate::server::AppResult;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// Deletes each blob of `hashes` that no attachment references any more.
pub async fn delete_unreferenced<C: ConnectionTrait>(db: &C, hashes: Vec<String>) -> AppResult<()> {
    for h in hashes {
        let still_used = attachments::Entity::find()
            .filter(attachments::Column::BlobSha256.eq(h.as_str()))
            .one(db)
            .await?
            .is_some();
        if !still_used {
            blobs::Entity::delete_by_id(h).exec(db).await?;
        }
    }
    Ok(())
}
