//! The append-only, hash-chained audit log (contract §9).
//!
//! `record` is called inside the same writer transaction as the action it records, so an
//! action and its audit row commit together or not at all. Each row's hash covers the previous
//! row's hash and a canonical encoding of the row itself (`canonical`), so `verify_chain`
//! detects any edit, deletion or reordering. Nothing secret is ever passed in: callers put
//! ids, amounts, codes and attempted usernames in `details`, never passwords, tokens, card
//! numbers or CVVs.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::domain::time::now_rfc3339;
use crate::error::ApiError;

mod filters;

pub use filters::{AUDIT_ROWS_INDEXED_PER_CALL, AuditFilters, index_new_rows, list};

pub use crate::store::audit::{AuditContext, AuditEvent, Outcome};

const GENESIS_HASH: [u8; 32] = [0; 32];

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

/// Every column but the hashes, in order: what a row's hash covers.
struct CanonicalRow {
    id: i64,
    created_at: String,
    actor_user_id: Option<i64>,
    client_ip: String,
    request_id: String,
    action: String,
    object_type: Option<String>,
    object_id: Option<i64>,
    outcome: String,
    /// The details exactly as stored (JSON text).
    details: String,
    /// Migration V5's column. Rows without it encode exactly as rows written before it
    /// existed, so older chains still verify; rows with it cover it in their hash.
    client_request_id: Option<String>,
}

impl CanonicalRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
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

    /// A JSON array of the columns: unambiguous (strings are quoted and escaped) and stable.
    fn encode(&self) -> String {
        let mut columns = json!([
            self.id,
            self.created_at,
            self.actor_user_id,
            self.client_ip,
            self.request_id,
            self.action,
            self.object_type,
            self.object_id,
            self.outcome,
            self.details
        ]);
        if let (Some(client_request_id), Value::Array(columns)) =
            (&self.client_request_id, &mut columns)
        {
            columns.push(Value::String(client_request_id.clone()));
        }
        columns.to_string()
    }
}

/// `sha256(prev_hash || canonical row)`.
fn chain_hash(prev_hash: &[u8], row: &CanonicalRow) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(row.encode().as_bytes());
    hasher.finalize().into()
}

const SELECT_CHAIN: &str = "SELECT id, created_at, actor_user_id, client_ip, request_id, action,
        object_type, object_id, outcome, details, prev_hash, hash, client_request_id FROM audit_log";

/// The chain's last row, which an operator can record outside the database (e.g. with each
/// backup) and later pass to `verify_chain`: a chain alone cannot show that rows were cut off
/// its end, but a recorded head that is no longer there can.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    pub id: i64,
    pub hash: [u8; 32],
}

impl ChainHead {
    /// Parses `ID:HEX_HASH`, the form `bankd verify` prints.
    pub fn parse(text: &str) -> Option<Self> {
        let (id, hash) = text.split_once(':')?;
        let id = id.parse().ok().filter(|id: &i64| *id > 0)?;
        let hash = hex::decode(hash).ok()?.try_into().ok()?;
        Some(Self { id, hash })
    }
}

impl std::fmt::Display for ChainHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.id, hex::encode(self.hash))
    }
}

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
    let mut expected_prev = GENESIS_HASH.to_vec();
    let mut expected_id = 1;
    let mut count = 0;
    while let Some(row) = rows
        .next()
        .map_err(|e| format!("cannot read the audit log: {e}"))?
    {
        let canonical =
            CanonicalRow::from_row(row).map_err(|e| format!("audit row unreadable: {e}"))?;
        let prev_hash: Vec<u8> = row.get(10).map_err(|e| e.to_string())?;
        let hash: Vec<u8> = row.get(11).map_err(|e| e.to_string())?;
        if canonical.id != expected_id {
            return Err(format!(
                "audit chain broken: expected row {expected_id}, found row {} (rows deleted or renumbered)",
                canonical.id
            ));
        }
        if prev_hash != expected_prev {
            return Err(format!(
                "audit chain broken at row {}: prev_hash does not match row {}",
                canonical.id,
                canonical.id - 1
            ));
        }
        if hash != chain_hash(&prev_hash, &canonical) {
            return Err(format!(
                "audit chain broken at row {}: the row was modified after it was written",
                canonical.id
            ));
        }
        if let Some(recorded) = recorded
            && recorded.id == canonical.id
            && recorded.hash.as_slice() != hash.as_slice()
        {
            return Err(format!(
                "audit row {} does not have the recorded hash: history was rewritten",
                canonical.id
            ));
        }
        expected_prev = hash;
        expected_id += 1;
        count += 1;
    }
    let head = (count > 0).then(|| ChainHead {
        id: expected_id - 1,
        hash: expected_prev.clone().try_into().unwrap_or([0; 32]),
    });
    if let Some(recorded) = recorded
        && recorded.id >= expected_id
    {
        return Err(format!(
            "audit chain ends at row {} but row {} was recorded earlier: rows were removed from its end",
            expected_id - 1,
            recorded.id
        ));
    }
    Ok((count, head))
}
