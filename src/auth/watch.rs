//! Revocations made by other processes reach this server's `AuthCache`.
//!
//! `bankd changepassword` runs as its own process and cannot evict the running server's
//! in-memory cache, where a token may sit for days. Every wholesale revocation also writes an
//! revocation record in the same transaction (`Store::change_password` and the resets); this task reads
//! the rows after the last one it saw, once a second, and calls `AuthCache::revoke_user` for each.
//! One indexed read a second is the whole cost: nothing is added to a request's path.
//!
//! Revocations made by this server call `revoke_user` themselves right after their commit, so
//! the watcher only matters for other processes (and, on a multi-node backend, other nodes, for
//! which PostgreSQL's LISTEN/NOTIFY would replace the polling).

use std::sync::Arc;
use std::time::Duration;

use crate::auth::AuthCache;
use crate::store::Store;

/// How often the table is read: the longest a revocation by another process takes to reach
/// this server's cache.
pub const REVOCATION_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Revocation rows are kept this long (seconds): far longer than any poll takes to see them.
const REVOCATION_ROWS_KEPT_SECONDS: i64 = 24 * 60 * 60;
/// Polls between two prunes of old rows (about an hour).
const POLLS_PER_PRUNE: u32 = 3_600;

/// Watches for revocations until the task is aborted.
///
pub async fn watch_revocations(store: Store, cache: Arc<AuthCache>) {
    let mut last_seen = match store.last_revocation().await {
        Ok(id) => id,
        Err(error) => {
            // Start from 0: evicting a user twice costs an extra read, missing one costs a
            // revocation that does not take.
            tracing::warn!(
                ?error,
                "cannot read the last revocation; replaying them all"
            );
            0
        }
    };
    let mut interval = tokio::time::interval(REVOCATION_POLL_INTERVAL);
    let mut polls = 0_u32;
    loop {
        interval.tick().await;
        match store.revocations_after(last_seen).await {
            Ok(revocations) => {
                for user_id in revocations.users {
                    cache.revoke_user(user_id);
                }
                last_seen = revocations.last;
            }
            Err(error) => tracing::warn!(?error, "cannot read revocations; will retry"),
        }
        polls = polls.wrapping_add(1);
        if polls.is_multiple_of(POLLS_PER_PRUNE) {
            let before = chrono::Utc::now().timestamp() - REVOCATION_ROWS_KEPT_SECONDS;
            if let Err(error) = store.prune_revocations(before).await {
                tracing::warn!(?error, "cannot prune old revocations; will retry");
            }
        }
    }
}
