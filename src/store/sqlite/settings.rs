//! Server-wide secrets generated on first start and kept in the database.
//!
//! When the configuration does not provide a JWT signing key or a card hashing key, bankd
//! draws 32 bytes from the OS CSPRNG on first start and stores them here, so tokens and card
//! hashes stay valid across restarts. Operators who want the key outside the database (so a
//! stolen database file alone does not reveal it) set `jwt.secret` / `cards.hash_key`.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::config::Secret;
use crate::error::ApiError;

/// The stored secret `name`, created if missing.
pub fn secret(conn: &Connection, name: &str) -> Result<Secret, ApiError> {
    let existing: Option<Vec<u8>> = conn
        .prepare_cached("SELECT value FROM settings WHERE name = ?1")?
        .query_row([name], |row| row.get(0))
        .optional()?;
    if let Some(value) = existing {
        return Ok(Secret::new(value));
    }
    let mut value = vec![0u8; 32];
    getrandom::fill(&mut value).map_err(|e| ApiError::internal(format!("OS random: {e}")))?;
    conn.prepare_cached("INSERT INTO settings (name, value) VALUES (?1, ?2)")?
        .execute(params![name, value])?;
    Ok(Secret::new(value))
}

/// The stored secret `name`, created if missing, on a connection of its own: called once per
/// key at start-up, before the writer serves (a sync context, so not through the writer).
pub fn load(path: &Path, name: &str) -> Result<Secret, String> {
    let mut conn =
        super::open_connection(path).map_err(|e| format!("cannot open database: {e}"))?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| format!("cannot read keys: {e}"))?;
    let secret = secret(&tx, name).map_err(|e| format!("cannot create key {name}: {e:?}"))?;
    tx.commit().map_err(|e| format!("cannot store keys: {e}"))?;
    Ok(secret)
}
