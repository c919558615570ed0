//! The audit sealer: moves rows from `audit_pending` into the hash-chained `audit_log`.
//!
//! A request writes its audit row to `audit_pending` in its own transaction, so the row commits
//! with the action it records and no request waits on the chain's head (docs/POSTGRESQL.md, "The
//! audit hash chain on many nodes"). The chain is extended here, by one node at a time: each
//! call seals the waiting rows in `pending_id` order in one transaction, giving them ids
//! `max(id) + 1, + 2, …` and the hashes SQLite's `record` would give the same rows
//! (`store::audit::chain`), and deletes them from `audit_pending` in that same transaction. An
//! audited event is therefore always in exactly one of the two tables, and a copy of
//! `audit_log` verifies on either backend.
//!
//! Who seals: the holder of a *transaction*-level advisory lock (`pg_try_advisory_xact_lock`),
//! taken first in the sealing transaction. Every node runs `run_sealer`; on each tick the one
//! that gets the lock seals and the others skip at once (a try-lock never waits). A
//! session-level lock would make one node the sealer for as long as its connection lives, but
//! the connection belongs to a pool: a lock left on a pooled connection outlives the task that
//! took it, and if that task stops (a panic, a cancelled future) the idle connection keeps the
//! lock and nobody seals until the pool happens to close it. The transaction-level lock is
//! released by COMMIT, ROLLBACK or the end of the session, whatever the node does, so a node
//! that dies mid-seal releases it with its transaction (rolled back: its rows are still
//! pending) and the next tick of any node seals them. The cost is a try-lock per node per
//! tick, a few microseconds of the server's time.
//!
//! Why two sealers cannot fork the chain: the second cannot take the lock while the first's
//! transaction is open. PostgreSQL makes a transaction's writes visible before it releases its
//! locks, and under READ COMMITTED each statement takes a new snapshot, so the next holder's
//! `max(id)` (read after its lock) sees every row sealed before. `audit_log`'s primary key is
//! the last line: two inserts of one id cannot both commit.

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::time::MissedTickBehavior;

use crate::store::audit::chain::{CanonicalRow, GENESIS_HASH, chain_hash};

/// The advisory lock key whose holder seals: the first eight bytes of "bankdaud", as
/// `migrate.rs` keys its own lock, so the two never collide.
const SEALER_LOCK_KEY: i64 = i64::from_be_bytes(*b"bankdaud");

/// Rows sealed in one transaction at most. A backlog (the sealers were down) is sealed in
/// several transactions of this size rather than one unbounded one; `run_sealer` goes on at
/// once while batches come back full.
pub const SEAL_BATCH_ROWS_MAX: i64 = 5_000;

/// Seals the waiting audit rows, if this node wins the lock this time: returns how many rows it
/// moved into `audit_log` (0 when there were none or another node is sealing).
pub async fn seal_pending(pool: &Pool) -> Result<usize, String> {
    let mut client = pool
        .get()
        .await
        .map_err(|e| format!("cannot connect to seal audit rows: {e}"))?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| format!("cannot start the sealing transaction: {e}"))?;
    let elected: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&SEALER_LOCK_KEY])
        .await
        .map_err(|e| format!("cannot try the sealer's lock: {e}"))?
        .get(0);
    if !elected {
        return Ok(0);
    }
    let head = tx
        .query_opt(
            "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(|e| format!("cannot read the audit chain's head: {e}"))?;
    let (mut next_id, mut prev_hash): (i64, Vec<u8>) = match head {
        Some(row) => (row.get::<_, i64>(0) + 1, row.get(1)),
        None => (1, GENESIS_HASH.to_vec()),
    };
    let pending = tx
        .query(
            "SELECT pending_id, created_at, actor_user_id, client_ip, request_id, action,
                    object_type, object_id, outcome, details, client_request_id
             FROM audit_pending ORDER BY pending_id LIMIT $1",
            &[&SEAL_BATCH_ROWS_MAX],
        )
        .await
        .map_err(|e| format!("cannot read pending audit rows: {e}"))?;
    if pending.is_empty() {
        return Ok(0);
    }

    let mut sealed = Sealed::default();
    for row in &pending {
        let read = |e: tokio_postgres::Error| format!("pending audit row unreadable: {e}");
        let canonical = CanonicalRow {
            id: next_id,
            created_at: row.try_get(1).map_err(read)?,
            actor_user_id: row.try_get(2).map_err(read)?,
            client_ip: row.try_get(3).map_err(read)?,
            request_id: row.try_get(4).map_err(read)?,
            action: row.try_get(5).map_err(read)?,
            object_type: row.try_get(6).map_err(read)?,
            object_id: row.try_get(7).map_err(read)?,
            outcome: row.try_get(8).map_err(read)?,
            details: row.try_get(9).map_err(read)?,
            client_request_id: row.try_get(10).map_err(read)?,
        };
        let hash = chain_hash(&prev_hash, &canonical).to_vec();
        let linked_to = std::mem::replace(&mut prev_hash, hash.clone());
        sealed.push(row.try_get(0).map_err(read)?, canonical, linked_to, hash);
        next_id += 1;
    }

    // One INSERT and one DELETE for the whole batch, the columns passed as arrays.
    let inserted = tx
        .execute(
            "INSERT INTO audit_log (id, created_at, actor_user_id, client_ip, request_id, action,
                 object_type, object_id, outcome, details, prev_hash, hash, client_request_id)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                 $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::bytea[],
                 $12::bytea[], $13::text[])",
            &[
                &sealed.ids,
                &sealed.created_at,
                &sealed.actor_user_id,
                &sealed.client_ip,
                &sealed.request_id,
                &sealed.action,
                &sealed.object_type,
                &sealed.object_id,
                &sealed.outcome,
                &sealed.details,
                &sealed.prev_hash,
                &sealed.hash,
                &sealed.client_request_id,
            ],
        )
        .await
        .map_err(|e| format!("cannot append sealed audit rows: {e}"))?;
    let deleted = tx
        .execute(
            "DELETE FROM audit_pending WHERE pending_id = ANY($1)",
            &[&sealed.pending_ids],
        )
        .await
        .map_err(|e| format!("cannot remove sealed audit rows from audit_pending: {e}"))?;
    // Only the lock holder deletes pending rows, so every row read is still there.
    if inserted != deleted || deleted != pending.len() as u64 {
        return Err(format!(
            "sealing read {} pending audit rows but appended {inserted} and removed {deleted}; \
             rolled back",
            pending.len()
        ));
    }
    tx.commit()
        .await
        .map_err(|e| format!("cannot commit sealed audit rows: {e}"))?;
    Ok(pending.len())
}

/// Seals every `every` until `stop` completes, on every node (only one seals at a time; see
/// the module comment). A failed round is logged and retried on the next tick: the rows stay
/// pending, and `verify` reports them if they wait long. Batches that come back full are
/// followed at once by the next.
pub async fn run_sealer(pool: Pool, every: Duration, stop: impl Future<Output = ()>) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = ticks.tick() => {}
        }
        loop {
            match seal_pending(&pool).await {
                Ok(rows) if rows as i64 >= SEAL_BATCH_ROWS_MAX => continue,
                Ok(rows) => {
                    if rows > 0 {
                        tracing::debug!(rows, "sealed pending audit rows");
                    }
                }
                Err(error) => tracing::warn!(%error, "sealing audit rows failed; will retry"),
            }
            break;
        }
    }
}

/// A batch's columns, one array each, for the INSERT's `unnest`.
#[derive(Default)]
struct Sealed {
    pending_ids: Vec<i64>,
    ids: Vec<i64>,
    created_at: Vec<String>,
    actor_user_id: Vec<Option<i64>>,
    client_ip: Vec<String>,
    request_id: Vec<String>,
    action: Vec<String>,
    object_type: Vec<Option<String>>,
    object_id: Vec<Option<i64>>,
    outcome: Vec<String>,
    details: Vec<String>,
    prev_hash: Vec<Vec<u8>>,
    hash: Vec<Vec<u8>>,
    client_request_id: Vec<Option<String>>,
}

impl Sealed {
    /// Adds the row that was pending as `pending_id`, chained as `prev_hash` → `hash`.
    fn push(&mut self, pending_id: i64, row: CanonicalRow, prev_hash: Vec<u8>, hash: Vec<u8>) {
        self.pending_ids.push(pending_id);
        self.hash.push(hash);
        self.prev_hash.push(prev_hash);
        self.ids.push(row.id);
        self.created_at.push(row.created_at);
        self.actor_user_id.push(row.actor_user_id);
        self.client_ip.push(row.client_ip);
        self.request_id.push(row.request_id);
        self.action.push(row.action);
        self.object_type.push(row.object_type);
        self.object_id.push(row.object_id);
        self.outcome.push(row.outcome);
        self.details.push(row.details);
        self.client_request_id.push(row.client_request_id);
    }
}
