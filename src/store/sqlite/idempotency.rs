//! Stored answers to money requests sent with an `Idempotency-Key`.
//!
//! A key is scoped to its user and lives 24 hours. It is written in the same transaction as
//! the movement it guards (success or refusal), so after a crash either both exist or neither.
//! The fingerprint is `sha256(method, path, canonical body)`: the same key with another request
//! is refused rather than silently answered with the first request's result.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

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

pub fn lookup(
    conn: &Connection,
    user_id: i64,
    key: &str,
    fingerprint: &[u8; 32],
    now_unix: i64,
) -> Result<Lookup, ApiError> {
    let stored: Option<(Vec<u8>, u16, String)> = conn
        .prepare_cached(
            "SELECT fingerprint, response_status, response_body FROM idempotency_keys
             WHERE user_id = ?1 AND idempotency_key = ?2 AND expires_at > ?3",
        )?
        .query_row(params![user_id, key, now_unix], |row| {
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
    user_id: i64,
    key: &str,
    fingerprint: &[u8; 32],
    (status, body): (u16, &str),
    now_unix: i64,
) -> Result<(), ApiError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO idempotency_keys
             (user_id, idempotency_key, fingerprint, response_status, response_body, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        user_id,
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

/// `sha256(method \n path \n canonical body)`, where the canonical body has its object keys
/// sorted at every level, so key order and whitespace do not matter but values do.
pub fn fingerprint(method: &str, path: &str, body: &serde_json::Map<String, Value>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b"\n");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical(&Value::Object(body.clone())).as_bytes());
    hasher.finalize().into()
}

fn canonical(value: &Value) -> String {
    fn sort(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let sorted: BTreeMap<&String, Value> =
                    map.iter().map(|(k, v)| (k, sort(v))).collect();
                Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn key_order_does_not_change_the_fingerprint_but_values_do() {
        let a = fingerprint(
            "POST",
            "/api/accounts/1/deposit/",
            &map(json!({"amount": "1.00", "description": "x"})),
        );
        let b = fingerprint(
            "POST",
            "/api/accounts/1/deposit/",
            &map(json!({"description": "x", "amount": "1.00"})),
        );
        let c = fingerprint(
            "POST",
            "/api/accounts/1/deposit/",
            &map(json!({"amount": "2.00", "description": "x"})),
        );
        let d = fingerprint(
            "POST",
            "/api/accounts/2/deposit/",
            &map(json!({"amount": "1.00", "description": "x"})),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}
