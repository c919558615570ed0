//! The append-only, hash-chained audit log (contract §9).
//!
//! `record` is called inside the same writer transaction as the action it records, so an
//! action and its audit row commit together or not at all. Each row's hash covers the previous
//! row's hash and a canonical encoding of the row itself (`canonical`), so `verify_chain`
//! detects any edit, deletion or reordering. Nothing secret is ever passed in: callers put
//! ids, amounts, codes and attempted usernames in `details`, never passwords, tokens, card
//! numbers or CVVs.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::domain::time::now_rfc3339;
use crate::error::ApiError;

mod filters;

pub use filters::{AUDIT_ROWS_INDEXED_PER_CALL, AuditFilters, index_new_rows, list};

pub use crate::store::audit::chain::ChainHead;
pub use crate::store::audit::{AuditContext, AuditEvent, Outcome};

use crate::store::audit::chain::{CanonicalRow, ChainWalk, GENESIS_HASH, chain_hash};

/// Appends one row to the chain; returns its id.
pub fn record(
    conn: &Connection,
    context: &AuditContext,
    event: &AuditEvent<'_>,
) -> Result<i64, ApiError> {
    let (row, prev_hash, hash) = next_row(conn, context, event)?;
    conn.prepare_cached(
        "INSERT INTO audit_log (id, created_at, actor_user_id, client_ip, request_id, action,
             object_type, object_id, outcome, details, prev_hash, hash, client_request_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        row.id,
        row.created_at,
        row.actor_user_id,
        row.client_ip,
        row.request_id,
        row.action,
        row.object_type,
        row.object_id,
        row.outcome,
        row.details,
        prev_hash,
        hash.as_slice(),
        row.client_request_id,
    ])?;
    Ok(row.id)
}

/// The row `record` appends next, the hash it links to and its own hash.
fn next_row(
    conn: &Connection,
    context: &AuditContext,
    event: &AuditEvent<'_>,
) -> Result<(CanonicalRow, Vec<u8>, [u8; 32]), ApiError> {
    let last: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let (id, prev_hash) = match last {
        Some((id, hash)) => (id + 1, hash),
        None => (1, GENESIS_HASH.to_vec()),
    };
    let row = CanonicalRow {
        id,
        created_at: now_rfc3339(),
        actor_user_id: context.actor_user_id,
        client_ip: context.client_ip.clone(),
        request_id: context.request_id.clone(),
        action: event.action.to_owned(),
        object_type: event.object.map(|(kind, _)| kind.to_owned()),
        object_id: event.object.map(|(_, id)| id),
        outcome: event.outcome.as_str().to_owned(),
        details: event.details.to_string(),
        client_request_id: context.client_request_id.clone(),
    };
    let hash = chain_hash(&prev_hash, &row);
    Ok((row, prev_hash, hash))
}

/// Appends a row as bankd did before migration V5 (no `client_request_id` column), for the
/// upgrade tests: such rows must still verify after the upgrade.
#[cfg(test)]
pub(crate) fn record_before_v5(
    conn: &Connection,
    context: &AuditContext,
    event: &AuditEvent<'_>,
) -> Result<i64, ApiError> {
    let (row, prev_hash, hash) = next_row(
        conn,
        &AuditContext {
            client_request_id: None,
            ..context.clone()
        },
        event,
    )?;
    conn.execute(
        "INSERT INTO audit_log (id, created_at, actor_user_id, client_ip, request_id, action,
             object_type, object_id, outcome, details, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            row.id,
            row.created_at,
            row.actor_user_id,
            row.client_ip,
            row.request_id,
            row.action,
            row.object_type,
            row.object_id,
            row.outcome,
            row.details,
            prev_hash,
            hash.as_slice(),
        ],
    )?;
    Ok(row.id)
}

/// Reads a row of `SELECT_CHAIN` into the columns its hash covers.
pub(super) fn canonical_from_row(row: &Row<'_>) -> rusqlite::Result<CanonicalRow> {
    Ok(CanonicalRow {
        id: row.get(0)?,
        created_at: row.get(1)?,
        actor_user_id: row.get(2)?,
        client_ip: row.get(3)?,
        request_id: row.get(4)?,
        action: row.get(5)?,
        object_type: row.get(6)?,
        object_id: row.get(7)?,
        outcome: row.get(8)?,
        details: row.get(9)?,
        // After prev_hash (10) and hash (11): see `SELECT_CHAIN`.
        client_request_id: row.get(12)?,
    })
}

const SELECT_CHAIN: &str = "SELECT id, created_at, actor_user_id, client_ip, request_id, action,
        object_type, object_id, outcome, details, prev_hash, hash, client_request_id FROM audit_log";

/// Walks the whole chain in id order. Returns the number of rows and the head, or a
/// description of the first broken link. With `recorded`, also checks that the chain still
/// holds that row with that hash.
pub fn verify_chain(
    conn: &Connection,
    recorded: Option<&ChainHead>,
) -> Result<(u64, Option<ChainHead>), String> {
    let mut statement = conn
        .prepare(&format!("{SELECT_CHAIN} ORDER BY id"))
        .map_err(|e| format!("cannot read the audit log: {e}"))?;
    let mut rows = statement
        .query([])
        .map_err(|e| format!("cannot read the audit log: {e}"))?;
    let mut walk = ChainWalk::new(recorded);
    while let Some(row) = rows
        .next()
        .map_err(|e| format!("cannot read the audit log: {e}"))?
    {
        let canonical =
            canonical_from_row(row).map_err(|e| format!("audit row unreadable: {e}"))?;
        let prev_hash: Vec<u8> = row.get(10).map_err(|e| e.to_string())?;
        let hash: Vec<u8> = row.get(11).map_err(|e| e.to_string())?;
        walk.step(&canonical, &prev_hash, &hash)?;
    }
    walk.finish()
}
