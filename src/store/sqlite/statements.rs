//! Account statements (contract §7): figures over a date range, stored once generated.
//!
//! Cost does not grow with the account's history: the opening balance is the `balance_after`
//! of the last posting before the range (one probe of the ledger, clustered by account and
//! time), the totals come from one pass over the range summed inside SQLite, and the closing
//! balance from one probe of its end. Memory does not grow with the statement either: its rows
//! are only ever read a page (JSON) or a chunk (CSV) at a time.
//! The statement stores the ledger's highest id at generation, so its transactions are the
//! same forever even when the range includes today. That is also why it is computed on a reader
//! and the writer only inserts the finished row (`draft`, then `store`).

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::domain::time::{now_rfc3339, parse_date, start_of_day};
use crate::domain::{AccountNumber, Balance};
use crate::error::ApiError;
use crate::store::PageWindow;
use crate::store::accounts::Account;
use crate::store::ids::{AccountId, CustomerId, StatementId, TransactionId, UserId};
use crate::store::sqlite::transactions;
use crate::store::sqlite::{customers, decode, decode_cents};
use crate::store::statements::{Statement, StatementCursor, StatementRange};
use crate::store::transactions::Transaction;

const SELECT_STATEMENT: &str =
    "SELECT s.id, s.account_id, a.account_number, s.start_date, s.end_date,
        s.opening_balance_cents, s.closing_balance_cents, s.total_deposits_cents,
        s.total_withdrawals_cents, s.transaction_count, s.generated_at, s.last_transaction_id
    FROM statements s JOIN accounts a ON a.id = s.account_id";

/// Decodes a statement row strictly: a number, date, balance, total or count the domain does
/// not accept is an error (the row is corrupt), never a plausible default.
fn from_row(row: &Row<'_>) -> rusqlite::Result<Statement> {
    Ok(Statement {
        id: row.get(0)?,
        account: row.get(1)?,
        account_number: decode(row, 2, AccountNumber::parse)?,
        start_date: decode(row, 3, parse_date)?,
        end_date: decode(row, 4, parse_date)?,
        opening_balance: decode_cents(row, 5, Balance::from_cents)?,
        closing_balance: decode_cents(row, 6, Balance::from_cents)?,
        total_deposits_cents: decode_cents(row, 7, non_negative)?,
        total_withdrawals_cents: decode_cents(row, 8, non_negative)?,
        // Not cents, but the same strict integer check: a negative count is a corrupt row.
        transaction_count: decode_cents(row, 9, |count| u64::try_from(count).ok())?,
        generated_at: row.get(10)?,
        last_transaction_id: row.get(11)?,
    })
}

fn non_negative(cents: i64) -> Option<i64> {
    (cents >= 0).then_some(cents)
}

/// A statement computed but not yet stored: its figures, read in one snapshot.
pub struct Draft {
    account_id: AccountId,
    customer_id: CustomerId,
    account_number: AccountNumber,
    start: NaiveDate,
    end: NaiveDate,
    opening: i64,
    closing: i64,
    deposits: i64,
    withdrawals: i64,
    count: i64,
    last_transaction_id: i64,
}

/// Computes a statement of one of the user's accounts (closed ones included) on a reader.
///
/// Everything is read in one snapshot and pinned to the ledger's highest id at that moment.
/// The ledger is append-only and a posting's `created_at` never precedes an earlier id's, so
/// the rows in the range with `id <= last_transaction_id` (and so the figures) stay exactly
/// these forever: the draft can be stored later by the writer (`store`), which then only
/// inserts one row instead of scanning the range while every other write waits.
///
/// The totals are summed by SQLite in one pass over the range and the closing balance is one
/// probe of its end, so no row is held in memory however busy the account (a year of 32,000
/// movements was 14 MB of JSON built here before). The rows are read a page at a time later
/// (`page`, `rows_after`).
///
/// `account` is the caller's, already checked (its number and owner never change).
pub fn draft(
    conn: &Connection,
    account: Account,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Draft, ApiError> {
    let account_id = account.id;
    let snapshot = conn.unchecked_transaction()?;
    let range = Range::of_dates(account_id, start, end)?;
    let last_transaction_id: i64 = snapshot
        .prepare_cached("SELECT coalesce(max(id), 0) FROM transactions")?
        .query_row([], |row| row.get(0))?;
    let opening: i64 = snapshot
        .prepare_cached(
            "SELECT balance_after_cents FROM transactions WHERE account_id = ?1 AND created_at < ?2
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )?
        .query_row(params![account_id, range.from], |row| row.get(0))
        .optional()?
        .unwrap_or(0);
    let (deposits, withdrawals, count, unknown): (i64, i64, i64, i64) = snapshot
        .prepare_cached(
            "SELECT coalesce(sum(CASE WHEN transaction_type IN ('deposit', 'transfer_in')
                                      THEN amount_cents END), 0),
                    coalesce(sum(CASE WHEN transaction_type IN ('withdrawal', 'transfer_out')
                                      THEN amount_cents END), 0),
                    count(*),
                    count(*) FILTER (WHERE transaction_type NOT IN
                                     ('deposit', 'transfer_in', 'withdrawal', 'transfer_out'))
             FROM transactions
             WHERE account_id = ?1 AND created_at >= ?2 AND created_at < ?3 AND id <= ?4",
        )?
        .query_row(
            params![account_id, range.from, range.before, last_transaction_id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )?;
    if unknown > 0 {
        return Err(ApiError::internal(format!(
            "account {account_id} has {unknown} ledger rows of an unknown type"
        )));
    }
    // The closing balance is the range's last row's balance_after, or the opening balance when
    // the range is empty.
    let closing: i64 = snapshot
        .prepare_cached(
            "SELECT balance_after_cents FROM transactions
             WHERE account_id = ?1 AND created_at >= ?2 AND created_at < ?3 AND id <= ?4
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )?
        .query_row(
            params![account_id, range.from, range.before, last_transaction_id],
            |row| row.get(0),
        )
        .optional()?
        .unwrap_or(opening);
    // The ledger's own arithmetic must agree with its balance_after chain; the schema checks it
    // again on insert.
    if opening + deposits - withdrawals != closing {
        return Err(ApiError::internal(format!(
            "statement does not balance for account {account_id}: {opening} + {deposits} - {withdrawals} != {closing}"
        )));
    }
    snapshot.finish()?;
    Ok(Draft {
        account_id,
        customer_id: account.customer,
        account_number: account.account_number,
        start,
        end,
        opening,
        closing,
        deposits,
        withdrawals,
        count,
        last_transaction_id,
    })
}

/// Stores a draft (on the writer) and returns the statement, without its transactions.
pub fn store(conn: &Connection, draft: Draft) -> Result<Statement, ApiError> {
    let generated_at = now_rfc3339();
    let id = conn
        .prepare_cached(
            "INSERT INTO statements (account_id, customer_id, start_date, end_date, opening_balance_cents,
                 closing_balance_cents, total_deposits_cents, total_withdrawals_cents, transaction_count,
                 last_transaction_id, generated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .insert(params![
            draft.account_id,
            draft.customer_id,
            draft.start.to_string(),
            draft.end.to_string(),
            draft.opening,
            draft.closing,
            draft.deposits,
            draft.withdrawals,
            draft.count,
            draft.last_transaction_id,
            generated_at
        ])?;
    // The same checks as reading the row back would make (`from_row`).
    let balance = |cents: i64| {
        Balance::from_cents(cents)
            .ok_or_else(|| ApiError::internal(format!("statement balance out of range: {cents}")))
    };
    let total = |cents: i64| {
        non_negative(cents)
            .ok_or_else(|| ApiError::internal(format!("statement total is negative: {cents}")))
    };
    Ok(Statement {
        id: StatementId::new(id),
        account: draft.account_id,
        account_number: draft.account_number,
        start_date: draft.start,
        end_date: draft.end,
        opening_balance: balance(draft.opening)?,
        closing_balance: balance(draft.closing)?,
        total_deposits_cents: total(draft.deposits)?,
        total_withdrawals_cents: total(draft.withdrawals)?,
        transaction_count: draft.count.unsigned_abs(),
        generated_at,
        last_transaction_id: TransactionId::new(draft.last_transaction_id),
    })
}

/// A statement's slice of the ledger: one account, `created_at` in `[from, before)` (ledger
/// timestamps, `domain::time::start_of_day`), ids up to the one pinned at generation.
struct Range {
    account_id: AccountId,
    from: String,
    before: String,
    last_id: i64,
}

impl Range {
    fn of_dates(account_id: AccountId, start: NaiveDate, end: NaiveDate) -> Result<Self, ApiError> {
        let before = end
            .succ_opt()
            .map(start_of_day)
            .ok_or_else(|| ApiError::internal("date overflow"))?;
        Ok(Self {
            account_id,
            from: start_of_day(start),
            before,
            last_id: i64::MAX,
        })
    }

    fn of_statement(statement: &StatementRange) -> Result<Self, ApiError> {
        Ok(Self {
            last_id: statement.last_transaction_id.get(),
            ..Self::of_dates(statement.account, statement.start_date, statement.end_date)?
        })
    }
}

/// The rows of a statement's range, oldest first: one range of the ledger table (clustered by
/// account, time and id), no join (the account number is known). `?6`/`?7` start the rows
/// after a (created_at, id) key, `?8`/`?9` are LIMIT and OFFSET.
const RANGE_ROWS: &str = "
    SELECT t.id, t.account_id, ?5, t.transaction_type, t.amount_cents, t.balance_after_cents,
           t.counterparty_account_number, t.transfer_id, t.description, t.created_at
    FROM transactions t
    WHERE t.account_id = ?1 AND t.created_at >= ?2 AND t.created_at < ?3 AND t.id <= ?4
      AND (?6 IS NULL OR (t.created_at, t.id) > (?6, ?7))
    ORDER BY t.created_at, t.id
    LIMIT ?8 OFFSET ?9";

fn range_rows(
    conn: &Connection,
    statement: &StatementRange,
    after: Option<&StatementCursor>,
    limit: u32,
    offset: u64,
) -> Result<Vec<Transaction>, ApiError> {
    let range = Range::of_statement(statement)?;
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let (after_time, after_id) = after.map(|cursor| (&cursor.created_at, cursor.id)).unzip();
    Ok(conn
        .prepare_cached(RANGE_ROWS)?
        .query_map(
            params![
                range.account_id,
                range.from,
                range.before,
                range.last_id,
                statement.account_number.as_str(),
                after_time,
                after_id,
                limit,
                offset
            ],
            transactions::from_row,
        )?
        .collect::<Result<_, _>>()?)
}

/// One page of a statement's transactions (oldest first), for the JSON detail. The offset
/// walks the index within the statement's own range, so the cost is bounded by the statement
/// (at most 366 days), never by the account's whole history.
pub fn page(
    conn: &Connection,
    statement: &StatementRange,
    PageWindow { limit, offset }: PageWindow,
) -> Result<Vec<Transaction>, ApiError> {
    range_rows(conn, statement, None, limit, offset)
}

/// Up to `limit` of a statement's transactions after the row keyed `after` (or from the
/// first), for the streamed CSV: each chunk is one seek, however far into the statement.
pub fn rows_after(
    conn: &Connection,
    statement: &StatementRange,
    after: Option<&StatementCursor>,
    limit: u32,
) -> Result<Vec<Transaction>, ApiError> {
    range_rows(conn, statement, after, limit, 0)
}

/// One of the user's statements (its figures; the rows are read by `page` or `rows_after`).
pub fn find(conn: &Connection, id: StatementId, user: UserId) -> Result<Statement, ApiError> {
    let customer_id = customers::id_for_user(conn, user.get())?.ok_or_else(ApiError::not_found)?;
    conn.prepare_cached(&format!(
        "{SELECT_STATEMENT} WHERE s.id = ?1 AND s.customer_id = ?2"
    ))?
    .query_row(params![id, customer_id], from_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// A page of the user's statements (newest first), optionally of one account.
pub fn list_for_user(
    conn: &Connection,
    user: UserId,
    account_id: Option<AccountId>,
    PageWindow { limit, offset }: PageWindow,
) -> Result<(u64, Vec<Statement>), ApiError> {
    let Some(customer_id) = customers::id_for_user(conn, user.get())? else {
        return Ok((0, Vec::new()));
    };
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM statements s WHERE s.customer_id = ?1 AND (?2 IS NULL OR s.account_id = ?2)")?
        .query_row(params![customer_id, account_id], |row| row.get(0))?;
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let rows = conn
        .prepare_cached(&format!(
            "{SELECT_STATEMENT} WHERE s.customer_id = ?1 AND (?2 IS NULL OR s.account_id = ?2) ORDER BY s.id DESC LIMIT ?3 OFFSET ?4"
        ))?
        .query_map(params![customer_id, account_id, limit, offset], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((count.unsigned_abs(), rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes one row of literal values laid out as `SELECT_STATEMENT`'s columns.
    fn decoded(columns: &str) -> rusqlite::Result<Statement> {
        let conn = Connection::open_in_memory().expect("in-memory database");
        conn.query_row(&format!("SELECT {columns}"), [], from_row)
    }

    const SOUND: &str =
        "5, 2, 'ACC-000000001', '2026-01-01', '2026-01-31', 1000, 1500, 700, 200, 4, 't', 99";

    #[test]
    fn a_sound_statement_row_decodes_to_typed_fields() {
        let statement = decoded(SOUND).expect("a sound row");
        assert_eq!(statement.id, StatementId::new(5));
        assert_eq!(statement.start_date.to_string(), "2026-01-01");
        assert_eq!(statement.closing_balance.cents(), 1500);
        assert_eq!(statement.transaction_count, 4);
        assert_eq!(
            statement.range().last_transaction_id,
            TransactionId::new(99)
        );
    }

    #[test]
    fn a_corrupt_statement_row_is_an_error_never_a_default() {
        for (what, sound, corrupt) in [
            ("number", "'ACC-000000001'", "'nope'"),
            ("date", "'2026-01-01'", "'2026-02-30'"),
            ("balance", "1000", "-1"),
            ("total", "700", "-700"),
            ("count", ", 4,", ", -4,"),
        ] {
            let columns = SOUND.replacen(sound, corrupt, 1);
            assert_ne!(columns, SOUND, "{what}: nothing replaced");
            assert!(decoded(&columns).is_err(), "a bad {what} was accepted");
        }
    }
}
