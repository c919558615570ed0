//! The store's background work on the async runtime: pruning expired idempotency keys and API
//! tokens. Started by `Db::start_background` (from `App::run`, once a runtime serves), stopped
//! by `Db::shutdown` before the writer drains.
//!
//! The rest of the store's background work runs on the commit pipeline's own threads from
//! `Db::open` and stops with the writer: checkpoints (`commit/checkpoint.rs`) and indexing new
//! audit rows (the writer's `Maintenance`). Pruning is not writer maintenance because it loops
//! over batches as ordinary write jobs: each is queued behind the money movements waiting, so a
//! large backlog of expired rows never holds one batch open.
//!
//! Not started by `Db::open` itself: the CLI's commands open the database too (inside a runtime),
//! and a one-off `bankd createsuperuser` has no business deleting rows.

use crate::limits::{PRUNE_BATCH_ROWS, PRUNE_INTERVAL};

use super::{Db, idempotency, users};

/// Deletes expired idempotency keys and tokens every `PRUNE_INTERVAL` (the first sweep at once),
/// batch by batch, until the task is aborted.
pub(super) async fn prune_expired(db: Db) {
    let mut interval = tokio::time::interval(PRUNE_INTERVAL);
    loop {
        interval.tick().await;
        loop {
            let now = chrono::Utc::now().timestamp();
            let deleted = db
                .write(move |conn| {
                    let keys = idempotency::prune(conn, now, PRUNE_BATCH_ROWS)?;
                    let tokens = users::delete_expired_tokens(conn, now)?;
                    Ok(keys + tokens)
                })
                .await;
            match deleted {
                Ok(rows) if rows >= PRUNE_BATCH_ROWS as usize => continue,
                Ok(rows) => {
                    if rows > 0 {
                        tracing::debug!(rows, "pruned expired idempotency keys and tokens");
                    }
                    break;
                }
                Err(error) => {
                    tracing::warn!(?error, "pruning expired rows failed; will retry");
                    break;
                }
            }
        }
    }
}
