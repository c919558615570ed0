//! Stored answers to money requests sent with an `Idempotency-Key`, on PostgreSQL, where the
//! same key may arrive at several nodes at once.
//!
//! As on SQLite (`store/sqlite/idempotency.rs`) a key is scoped to its user, lives 24 hours and
//! is written in the transaction of the movement it guards, with the request's fingerprint. What
//! SQLite gets from its one writer thread (two requests with one key never run at once) is here
//! a transaction-scoped advisory lock on a 64-bit digest of `(user, key)`, taken with
//! `pg_try_advisory_xact_lock` before the key is looked up (docs/POSTGRESQL.md, "Idempotency keys
//! across nodes"):
//!
//! * not granted: the key's first request is running on some node: [`Claim::InFlight`], which
//!   the ledger answers with the same `409 idempotency_in_progress` as the HTTP layer's per-node
//!   registry (`http/idempotency.rs`), at once, without waiting;
//! * granted: whoever held it before has committed or rolled back (an advisory lock is released
//!   only after its transaction's commit is visible), so the lookup sees its row if there is one.
//!
//! The lookup must be a statement of its own, AFTER the lock: under READ COMMITTED a statement
//! sees what was committed when it started, so `SELECT pg_try_advisory_xact_lock(..), (SELECT ..
//! FROM idempotency_keys ..)` could take its snapshot before the previous holder committed, get
//! the lock after it released, find no row and move the money a second time.
//!
//! A crash (of the node or of the connection) rolls the transaction back and frees the lock, so
//! nothing is ever left "in flight". The primary key stays the arbiter: [`store`] refuses to
//! overwrite a live key, so even two requests that got past the lock could not both commit.

use deadpool_postgres::Transaction;
use sha2::{Digest, Sha256};

use crate::store::ids::UserId;
use crate::store::movements::Idempotency;

/// How long a key is remembered, in seconds (as on SQLite).
pub const KEY_TTL_SECONDS: i64 = crate::store::sqlite::idempotency::KEY_TTL_SECONDS;

/// What the store knows about a key, once this transaction may act on it.
pub enum Claim {
    /// Never seen (or expired), and now held by this transaction until it ends: process it.
    Absent,
    /// Another transaction holds the key: its request is still running.
    InFlight,
    /// Seen with this very request: answer what was answered then.
    Replay { status: u16, body: String },
    /// Seen with a different request.
    Mismatch,
}

/// The advisory lock key of `user`'s `key`: the first 8 bytes of a SHA-256 over a label, the
/// user id and the key. Two different keys sharing a digest (probability ~2^-64 per pair) only
/// make one of them wait its turn with a spurious `409`; they never share an answer.
pub fn lock_key(user: UserId, key: &str) -> i64 {
    let mut hasher = Sha256::new();
    hasher.update(b"bankd idempotency key\0");
    hasher.update(user.get().to_be_bytes());
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0_u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Takes the key for this transaction (without waiting), then reads what is stored under it.
pub async fn claim(
    transaction: &Transaction<'_>,
    user: UserId,
    keyed: &Idempotency,
    now_unix: i64,
) -> Result<Claim, tokio_postgres::Error> {
    let lock = transaction
        .prepare_cached("SELECT pg_try_advisory_xact_lock($1)")
        .await?;
    let granted: bool = transaction
        .query_one(&lock, &[&lock_key(user, &keyed.key)])
        .await?
        .try_get(0)?;
    if !granted {
        return Ok(Claim::InFlight);
    }
    let lookup = transaction
        .prepare_cached(
            "SELECT fingerprint, response_status, response_body FROM idempotency_keys
             WHERE user_id = $1 AND idempotency_key = $2 AND expires_at > $3",
        )
        .await?;
    let Some(row) = transaction
        .query_opt(&lookup, &[&user.get(), &keyed.key, &now_unix])
        .await?
    else {
        return Ok(Claim::Absent);
    };
    let fingerprint: &[u8] = row.try_get(0)?;
    if fingerprint != keyed.fingerprint.as_slice() {
        return Ok(Claim::Mismatch);
    }
    let status: i64 = row.try_get(1)?;
    Ok(Claim::Replay {
        // A status outside u16 cannot have been stored by bankd; answer it as a server error
        // rather than panic on a row edited by hand.
        status: u16::try_from(status).unwrap_or(500),
        body: row.try_get(2)?,
    })
}

/// Remembers the answer, replacing an expired record of the same key if there is one. Returns
/// whether a row was written: `false` means a live record exists, which the lock should have
/// made impossible (the caller rolls back rather than overwrite it).
pub async fn store(
    transaction: &Transaction<'_>,
    user: UserId,
    keyed: &Idempotency,
    (status, body): (u16, &str),
    now_unix: i64,
) -> Result<bool, tokio_postgres::Error> {
    let insert = transaction
        .prepare_cached(
            "INSERT INTO idempotency_keys
                 (user_id, idempotency_key, fingerprint, response_status, response_body,
                  created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (user_id, idempotency_key) DO UPDATE SET
                 fingerprint = EXCLUDED.fingerprint,
                 response_status = EXCLUDED.response_status,
                 response_body = EXCLUDED.response_body,
                 created_at = EXCLUDED.created_at,
                 expires_at = EXCLUDED.expires_at
             WHERE idempotency_keys.expires_at <= $8",
        )
        .await?;
    let written = transaction
        .execute(
            &insert,
            &[
                &user.get(),
                &keyed.key,
                &keyed.fingerprint.as_slice(),
                &i64::from(status),
                &body,
                &crate::domain::time::now_rfc3339(),
                &(now_unix + KEY_TTL_SECONDS),
                &now_unix,
            ],
        )
        .await?;
    Ok(written == 1)
}
