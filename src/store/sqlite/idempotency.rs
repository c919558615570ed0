//! Stored answers to money requests sent with an `Idempotency-Key`.
//!
//! A key is scoped to its user and lives 24 hours. It is written in the same transaction as
//! the movement it guards (success or refusal), so after a crash either both exist or neither.
//! The fingerprint (computed by the HTTP layer from the method, path and canonical body,
//! `http/idempotency.rs`) is stored with the answer: the same key with another request is
//! refused rather than silently answered with the first request's result.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::ApiError;
use crate::store::ids::UserId;

/// How long a key is remembered, in seconds.
pub const KEY_TTL_SECONDS: i64 = 24 * 60 * 60;

/// What the store knows about a key.
pub enum Lookup {
    /// Never seen (or expired): process the request.
    Absent,
    /// Seen with this very request: answer what was answered then.
    Replay { status: u16, body: String },
    /// Seen with a different request.
    Mismatch,
}

/// What is stored under `user`'s `key`, compared with this request's fingerprint.
pub fn lookup(
    conn: &Connection,
    user: UserId,
    key: &str,
    fingerprint: &[u8; 32],
    now_unix: i64,
) -> rusqlite::Result<Lookup> {
    let stored: Option<(Vec<u8>, u16, String)> = conn
        .prepare_cached(
            "SELECT fingerprint, response_status, response_body FROM idempotency_keys
             WHERE user_id = ?1 AND idempotency_key = ?2 AND expires_at > ?3",
        )?
        .query_row(params![user, key, now_unix], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    Ok(match stored {
        None => Lookup::Absent,
        Some((stored_fingerprint, status, body)) if stored_fingerprint == fingerprint => {
            Lookup::Replay { status, body }
        }
        Some(_) => Lookup::Mismatch,
    })
}

/// Remembers the answer (replacing an expired record of the same key, if any).
pub fn store(
    conn: &Connection,
    user: UserId,
    key: &str,
    fingerprint: &[u8; 32],
    (status, body): (u16, &str),
    now_unix: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO idempotency_keys
             (user_id, idempotency_key, fingerprint, response_status, response_body, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        user,
        key,
        fingerprint.as_slice(),
        status,
        body,
        crate::domain::time::now_rfc3339(),
        now_unix + KEY_TTL_SECONDS
    ])?;
    Ok(())
}

/// Deletes up to `batch` expired keys; small batches keep each write short so pruning never
/// holds up money movement.
pub fn prune(conn: &Connection, now_unix: i64, batch: u32) -> Result<usize, ApiError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM idempotency_keys WHERE (user_id, idempotency_key) IN
                 (SELECT user_id, idempotency_key FROM idempotency_keys WHERE expires_at <= ?1 LIMIT ?2)",
        )?
        .execute(params![now_unix, batch])?)
}
