//! `bankd verify`'s statement checks: every stored statement's figures are recomputed from the
//! ledger, and statement ids must have no gaps.
//!
//! A statement is not a copy of its rows: it names an account, a date range and the ledger's
//! highest id when it was generated (`last_transaction_id`), and the ledger is immutable, so
//! its figures can be derived again at any time. An edited opening, closing, total or count is
//! therefore caught, like an edited balance. A statement deleted past the `statements_no_delete`
//! trigger (migration V5) leaves a gap: ids are assigned `max(id) + 1` and nothing else ever
//! removes a row. Deleting the newest statement leaves no gap; that one is not detectable from
//! the database alone (the customer's copy still is).

use rusqlite::Connection;

use super::{Check, run_query_check};
use crate::domain::money::format_cents;

/// Each statement's stored figures beside the ones its ledger range gives now, as SQL. The
/// range is `[start_date 00:00, end_date + 1 day 00:00)` in the ledger's own timestamp format
/// (`domain::time::start_of_day`), capped at `last_transaction_id`; each subquery is one range
/// of the ledger table, which is keyed (account_id, created_at, id).
const RECOMPUTED: &str = "
    WITH bounds AS (
        SELECT s.*, s.start_date || 'T00:00:00.000000Z' AS range_from,
               date(s.end_date, '+1 day') || 'T00:00:00.000000Z' AS range_before
        FROM statements AS s),
    figures AS (
        SELECT b.id, b.account_id, b.opening_balance_cents, b.closing_balance_cents,
               b.total_deposits_cents, b.total_withdrawals_cents, b.transaction_count,
               coalesce((SELECT t.balance_after_cents FROM transactions AS t
                         WHERE t.account_id = b.account_id AND t.created_at < b.range_from
                           AND t.id <= b.last_transaction_id
                         ORDER BY t.created_at DESC, t.id DESC LIMIT 1), 0) AS opening,
               (SELECT coalesce(sum(CASE WHEN t.transaction_type IN ('deposit', 'transfer_in')
                                         THEN t.amount_cents ELSE 0 END), 0)
                       || ' ' ||
                       coalesce(sum(CASE WHEN t.transaction_type IN ('deposit', 'transfer_in')
                                         THEN 0 ELSE t.amount_cents END), 0)
                       || ' ' || count(*)
                FROM transactions AS t
                WHERE t.account_id = b.account_id AND t.created_at >= b.range_from
                  AND t.created_at < b.range_before AND t.id <= b.last_transaction_id) AS totals,
               (SELECT t.balance_after_cents FROM transactions AS t
                WHERE t.account_id = b.account_id AND t.created_at >= b.range_from
                  AND t.created_at < b.range_before AND t.id <= b.last_transaction_id
                ORDER BY t.created_at DESC, t.id DESC LIMIT 1) AS last_balance_after
        FROM bounds AS b)
    SELECT id, account_id, opening_balance_cents, closing_balance_cents, total_deposits_cents,
           total_withdrawals_cents, transaction_count, opening,
           coalesce(last_balance_after, opening), totals
    FROM figures
    WHERE opening_balance_cents IS NOT opening
       OR closing_balance_cents IS NOT coalesce(last_balance_after, opening)
       OR total_deposits_cents || ' ' || total_withdrawals_cents || ' ' || transaction_count
          IS NOT totals
    ORDER BY id";

/// Every stored statement says what its ledger range says.
pub(super) fn statement_figures_match_the_ledger(conn: &Connection) -> Check {
    run_query_check(
        conn,
        "every statement's figures match its ledger rows",
        RECOMPUTED,
        |row| {
            let stored = format!(
                "opening {}, deposits {}, withdrawals {}, closing {}, {} rows",
                format_cents(row.get(2)?),
                format_cents(row.get(4)?),
                format_cents(row.get(5)?),
                format_cents(row.get(3)?),
                row.get::<_, i64>(6)?
            );
            let totals: String = row.get(9)?;
            let mut parts = totals.split(' ').map(|n| n.parse::<i64>().unwrap_or(0));
            let (deposits, withdrawals, count) = (
                parts.next().unwrap_or(0),
                parts.next().unwrap_or(0),
                parts.next().unwrap_or(0),
            );
            Ok(format!(
                "statement {} (account {}): stored {stored}; the ledger gives opening {}, \
                 deposits {}, withdrawals {}, closing {}, {count} rows",
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                format_cents(row.get(7)?),
                format_cents(deposits),
                format_cents(withdrawals),
                format_cents(row.get(8)?),
            ))
        },
    )
}

/// Statement ids run 1, 2, 3, … with no gap: a gap is a deleted statement.
pub(super) fn statement_ids_have_no_gaps(conn: &Connection) -> Check {
    // Each gap is found from the row before it (`id + 1` missing) with one probe of the primary
    // key per statement; the first gap may also start at id 1.
    let sql = "
        SELECT gap_from, (SELECT min(n.id) FROM statements AS n WHERE n.id > gap_from) - 1
        FROM (SELECT 1 AS gap_from WHERE NOT EXISTS (SELECT 1 FROM statements WHERE id = 1)
                                     AND EXISTS (SELECT 1 FROM statements)
              UNION ALL
              SELECT s.id + 1 FROM statements AS s
              WHERE s.id < (SELECT max(id) FROM statements)
                AND NOT EXISTS (SELECT 1 FROM statements AS n WHERE n.id = s.id + 1))
        ORDER BY gap_from";
    run_query_check(
        conn,
        "no statement was deleted (statement ids have no gaps)",
        sql,
        |row| {
            let (from, to): (i64, i64) = (row.get(0)?, row.get(1)?);
            Ok(if from == to {
                format!("statement {from} is missing")
            } else {
                format!("statements {from} to {to} are missing")
            })
        },
    )
}
