//! The staff audit list and the filter tables behind its `user` and `account` filters
//! (migration V4): the writer copies new rows' actor and object into them in bulk
//! (`index_new_rows`), and `list` reads them up to `indexed_through` plus the rows after it.

use rusqlite::{Connection, Row};

use super::{Outcome, canonical_from_row};
use crate::error::ApiError;
use crate::store::admin::AuditRow;
use crate::store::ids::{AuditId, UserId};

/// Filters for the staff audit list, resolved to the ids the filter tables hold and to
/// `created_at` bounds (`sqlite::admin::audit` builds them from the typed `AuditFilter`).
#[derive(Clone, Debug, Default)]
pub struct AuditFilters {
    pub actor_user_id: Option<i64>,
    pub account_id: Option<i64>,
    pub action: Option<String>,
    pub created_from: Option<String>,
    pub created_before: Option<String>,
}

/// The audit columns after the id, for the staff list (`l` is `audit_log`).
const LIST_COLUMNS: &str = "l.created_at, l.actor_user_id, l.client_ip, l.request_id, l.action,
        l.object_type, l.object_id, l.outcome, l.details, l.prev_hash, l.hash, l.client_request_id";

/// Audit rows up to this id are in the filter tables (migration V4).
const INDEXED_THROUGH: &str = "(SELECT indexed_through FROM audit_index_state)";

/// Most audit rows `index_new_rows` copies in one call, so one call never holds up a batch for
/// long (a few milliseconds); the rest waits for the next call.
pub const AUDIT_ROWS_INDEXED_PER_CALL: i64 = 4_096;

/// Copies the (actor, id) and (object, id) of audit rows written since the last call (at most
/// [`AUDIT_ROWS_INDEXED_PER_CALL`]) into the filter tables and moves the mark. The writer runs
/// it every few batches, inside one (migration V4 says why).
pub fn index_new_rows(conn: &Connection) -> rusqlite::Result<()> {
    let (from, through): (i64, i64) = conn
        .prepare_cached(&format!(
            "SELECT {INDEXED_THROUGH}, min((SELECT coalesce(max(id), 0) FROM audit_log),
                                         {INDEXED_THROUGH} + ?1)"
        ))?
        .query_row([AUDIT_ROWS_INDEXED_PER_CALL], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    if through <= from {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO audit_by_actor (actor_user_id, audit_id)
         SELECT actor_user_id, id FROM audit_log
         WHERE id > ?1 AND id <= ?2 AND actor_user_id IS NOT NULL ORDER BY 1, 2",
    )?
    .execute([from, through])?;
    conn.prepare_cached(
        "INSERT INTO audit_by_object (object_type, object_id, audit_id)
         SELECT object_type, object_id, id FROM audit_log
         WHERE id > ?1 AND id <= ?2 AND object_type IS NOT NULL AND object_id IS NOT NULL
         ORDER BY 1, 2, 3",
    )?
    .execute([from, through])?;
    conn.prepare_cached("UPDATE audit_index_state SET indexed_through = ?1")?
        .execute([through])?;
    Ok(())
}

/// One page of the audit log, newest first.
///
/// Filtered by actor or account, the rows come from two places (migration V4): the filter
/// table up to `indexed_through`, and a scan of the rows after it (usually a fraction of a second's
/// worth). The two arms are each in id order and SQLite merges them.
pub fn list(
    conn: &Connection,
    filters: &AuditFilters,
    limit: u32,
    offset: u64,
) -> Result<(u64, Vec<AuditRow>), ApiError> {
    // The filter table that drives the query, its key condition, and the same test on a row.
    let driver: Option<(&str, &str, &str, i64)> = match (filters.actor_user_id, filters.account_id)
    {
        (Some(actor), _) => Some((
            "audit_by_actor",
            "x.actor_user_id = ?",
            "l.actor_user_id = ?",
            actor,
        )),
        (None, Some(account)) => Some((
            "audit_by_object",
            "x.object_type = 'account' AND x.object_id = ?",
            "l.object_type = 'account' AND l.object_id = ?",
            account,
        )),
        (None, None) => None,
    };
    let mut conditions: Vec<&str> = Vec::new();
    let mut values: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    if let (Some(_), Some(account)) = (filters.actor_user_id, filters.account_id) {
        conditions.push("l.object_type = 'account' AND l.object_id = ?");
        values.push(Box::new(account));
    }
    if let Some(action) = &filters.action {
        conditions.push("l.action = ?");
        values.push(Box::new(action.clone()));
    }
    if let Some(from) = &filters.created_from {
        conditions.push("l.created_at >= ?");
        values.push(Box::new(from.clone()));
    }
    if let Some(before) = &filters.created_before {
        conditions.push("l.created_at < ?");
        values.push(Box::new(before.clone()));
    }
    let filter_sql: String = conditions.iter().map(|c| format!(" AND {c}")).collect();
    let filter_params: Vec<&dyn rusqlite::ToSql> = values.iter().map(|v| v.as_ref()).collect();

    let mut count_params: Vec<&dyn rusqlite::ToSql> = Vec::new();
    let mut page_params: Vec<&dyn rusqlite::ToSql> = Vec::new();
    let (count_sql, page_sql) = match &driver {
        None => {
            count_params.extend_from_slice(&filter_params);
            page_params.extend_from_slice(&filter_params);
            (
                format!("SELECT count(*) FROM audit_log l WHERE 1 = 1{filter_sql}"),
                format!(
                    "SELECT l.id, {LIST_COLUMNS} FROM audit_log l WHERE 1 = 1{filter_sql}
                     ORDER BY l.id DESC LIMIT ? OFFSET ?"
                ),
            )
        }
        Some((table, key, row_test, value)) => {
            for params in [&mut count_params, &mut page_params] {
                params.push(value);
                params.extend_from_slice(&filter_params);
                params.push(value);
                params.extend_from_slice(&filter_params);
            }
            let tail = format!(
                "FROM audit_log l WHERE l.id > {INDEXED_THROUGH} AND {row_test}{filter_sql}"
            );
            let indexed = format!(
                "FROM {table} x JOIN audit_log l ON l.id = x.audit_id
                 WHERE {key} AND x.audit_id <= {INDEXED_THROUGH}{filter_sql}"
            );
            // Without other filters the indexed part is counted on the filter table alone.
            let indexed_count = if conditions.is_empty() {
                format!(
                    "SELECT count(*) FROM {table} x WHERE {key} AND x.audit_id <= {INDEXED_THROUGH}"
                )
            } else {
                format!("SELECT count(*) {indexed}")
            };
            (
                format!("SELECT (SELECT count(*) {tail}) + ({indexed_count})"),
                format!(
                    "SELECT l.id, {LIST_COLUMNS} {tail}
                     UNION ALL
                     SELECT x.audit_id, {LIST_COLUMNS} {indexed}
                     ORDER BY 1 DESC LIMIT ? OFFSET ?"
                ),
            )
        }
    };
    let count: i64 = conn
        .prepare_cached(&count_sql)?
        .query_row(count_params.as_slice(), |row| row.get(0))?;
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    page_params.push(&limit);
    page_params.push(&offset);
    let rows = conn
        .prepare_cached(&page_sql)?
        .query_map(page_params.as_slice(), list_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((count.unsigned_abs(), rows))
}

/// Decodes a listed row strictly: an outcome the log never writes, details that are not JSON,
/// or a hash that is not 32 bytes is a corrupt row (an internal error), never shown as `null`.
fn list_row(row: &Row<'_>) -> rusqlite::Result<AuditRow> {
    let canonical = canonical_from_row(row)?;
    let hash: Vec<u8> = row.get(11)?;
    if hash.len() != 32 {
        return Err(corrupt(11, format!("hash of {} bytes", hash.len())));
    }
    let outcome = [Outcome::Success, Outcome::Failure, Outcome::Denied]
        .into_iter()
        .find(|outcome| outcome.as_str() == canonical.outcome)
        .ok_or_else(|| corrupt(8, format!("unexpected outcome {:?}", canonical.outcome)))?;
    let details = serde_json::from_str(&canonical.details)
        .map_err(|e| corrupt(9, format!("details are not JSON: {e}")))?;
    Ok(AuditRow {
        id: AuditId::new(canonical.id),
        created_at: canonical.created_at,
        actor_user_id: canonical.actor_user_id.map(UserId::new),
        client_ip: canonical.client_ip,
        request_id: canonical.request_id,
        client_request_id: canonical.client_request_id,
        action: canonical.action,
        object_type: canonical.object_type,
        object_id: canonical.object_id,
        outcome,
        details,
        hash: hex::encode(hash),
    })
}

fn corrupt(index: usize, why: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, why.into())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{AuditContext, AuditEvent, Outcome, record};
    use super::*;

    fn migrated() -> Connection {
        let mut conn = Connection::open_in_memory().expect("in-memory database");
        crate::store::sqlite::migrate::run(&mut conn).expect("migrations");
        conn
    }

    fn mark(conn: &Connection) -> i64 {
        conn.query_row("SELECT indexed_through FROM audit_index_state", [], |row| {
            row.get(0)
        })
        .expect("the mark")
    }

    fn count(conn: &Connection, table: &str) -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .expect("a count")
    }

    #[test]
    fn new_rows_are_indexed_in_capped_steps_until_the_mark_reaches_the_last_row() {
        let conn = migrated();
        let context = AuditContext {
            actor_user_id: Some(7),
            client_ip: "127.0.0.1".to_owned(),
            request_id: "r".to_owned(),
            client_request_id: None,
        };
        let rows = AUDIT_ROWS_INDEXED_PER_CALL + 100;
        for n in 0..rows {
            let event = AuditEvent {
                action: "deposit",
                // Every other row has no object: only rows with one go to audit_by_object.
                object: (n % 2 == 0).then_some(("account", n % 5)),
                outcome: Outcome::Success,
                details: json!({}),
            };
            let context = if n % 3 == 0 {
                AuditContext::default()
            } else {
                context.clone()
            };
            record(&conn, &context, &event).expect("recorded");
        }

        index_new_rows(&conn).expect("first step");
        assert_eq!(mark(&conn), AUDIT_ROWS_INDEXED_PER_CALL);
        index_new_rows(&conn).expect("second step");
        assert_eq!(mark(&conn), rows);
        index_new_rows(&conn).expect("nothing left");
        assert_eq!(mark(&conn), rows);

        let with_actor = (0..rows).filter(|n| n % 3 != 0).count();
        let with_object = (0..rows).filter(|n| n % 2 == 0).count();
        assert_eq!(count(&conn, "audit_by_actor"), with_actor as i64);
        assert_eq!(count(&conn, "audit_by_object"), with_object as i64);
    }

    /// Decodes one row of literal values laid out as the list's columns.
    fn listed(outcome: &str, details: &str, hash_bytes: i64) -> rusqlite::Result<AuditRow> {
        let conn = Connection::open_in_memory().expect("in-memory database");
        conn.query_row(
            "SELECT 3, 't', 7, '127.0.0.1', 'r', 'deposit', 'account', 1, ?1, ?2, x'00',
                    zeroblob(?3), NULL",
            rusqlite::params![outcome, details, hash_bytes],
            list_row,
        )
    }

    #[test]
    fn a_sound_audit_row_decodes_to_typed_fields() {
        let row = listed("denied", r#"{"a":1}"#, 32).expect("a sound row");
        assert_eq!(row.outcome, Outcome::Denied);
        assert_eq!(row.actor_user_id, Some(UserId::new(7)));
        assert_eq!(row.details, json!({ "a": 1 }));
        assert_eq!(row.hash, "0".repeat(64));
    }

    #[test]
    fn a_corrupt_audit_row_is_an_error_never_shown_as_null() {
        assert!(listed("maybe", "{}", 32).is_err(), "unknown outcome");
        assert!(listed("success", "{not json", 32).is_err(), "details");
        assert!(listed("success", "{}", 31).is_err(), "hash length");
    }
}
