//! Account statements (contract §7): figures over a date range, stored once generated.
//!
//! Cost does not grow with the account's history: the opening balance is the `balance_after`
//! of the last posting before the range (one probe of the ledger, clustered by account and
//! time), and the transactions, totals and closing balance come from one pass over the range.
//! The statement stores the ledger's highest id at generation, so its transactions are the
//! same forever even when the range includes today. That is also why it is computed on a reader
//! and the writer only inserts the finished row (`draft`, then `store`).

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use crate::db::accounts::Account;
use crate::db::customers;
use crate::db::transactions::{self, Transaction};
use crate::domain::TransactionType;
use crate::domain::time::{now_rfc3339, start_of_day};
use crate::error::ApiError;

/// A statement as the API shows it; `transactions` only in the detail view.
#[derive(Clone, Debug, Serialize)]
pub struct Statement {
    pub id: i64,
    pub account: i64,
    pub account_number: String,
    pub start_date: String,
    pub end_date: String,
    #[serde(serialize_with = "crate::db::serialize_cents")]
    pub opening_balance: i64,
    #[serde(serialize_with = "crate::db::serialize_cents")]
    pub closing_balance: i64,
    #[serde(serialize_with = "crate::db::serialize_cents")]
    pub total_deposits: i64,
    #[serde(serialize_with = "crate::db::serialize_cents")]
    pub total_withdrawals: i64,
    pub transaction_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transactions: Option<Vec<Transaction>>,
    pub generated_at: String,
    #[serde(skip)]
    last_transaction_id: i64,
}

const SELECT_STATEMENT: &str =
    "SELECT s.id, s.account_id, a.account_number, s.start_date, s.end_date,
        s.opening_balance_cents, s.closing_balance_cents, s.total_deposits_cents,
        s.total_withdrawals_cents, s.transaction_count, s.generated_at, s.last_transaction_id
    FROM statements s JOIN accounts a ON a.id = s.account_id";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Statement> {
    Ok(Statement {
        id: row.get(0)?,
        account: row.get(1)?,
        account_number: row.get(2)?,
        start_date: row.get(3)?,
        end_date: row.get(4)?,
        opening_balance: row.get(5)?,
        closing_balance: row.get(6)?,
        total_deposits: row.get(7)?,
        total_withdrawals: row.get(8)?,
        transaction_count: row.get(9)?,
        transactions: None,
        generated_at: row.get(10)?,
        last_transaction_id: row.get(11)?,
    })
}

/// A statement computed but not yet stored: its figures and rows, read in one snapshot.
pub struct Draft {
    account_id: i64,
    customer_id: i64,
    account_number: String,
    start: NaiveDate,
    end: NaiveDate,
    opening: i64,
    closing: i64,
    deposits: i64,
    withdrawals: i64,
    count: i64,
    last_transaction_id: i64,
    transactions: Vec<Transaction>,
}

/// Computes a statement of one of the user's accounts (closed ones included) on a reader.
///
/// Everything is read in one snapshot and pinned to the ledger's highest id at that moment.
/// The ledger is append-only and a posting's `created_at` never precedes an earlier id's, so
/// the rows in the range with `id <= last_transaction_id` (and so the figures) stay exactly
/// these forever: the draft can be stored later by the writer (`store`), which then only
/// inserts one row instead of scanning the range while every other write waits.
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
    let from = start_of_day(start);
    let before = end
        .succ_opt()
        .map(start_of_day)
        .ok_or_else(|| ApiError::internal("date overflow"))?;
    let last_transaction_id: i64 = snapshot
        .prepare_cached("SELECT coalesce(max(id), 0) FROM transactions")?
        .query_row([], |row| row.get(0))?;
    let opening: i64 = snapshot
        .prepare_cached(
            "SELECT balance_after_cents FROM transactions WHERE account_id = ?1 AND created_at < ?2
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )?
        .query_row(params![account_id, from], |row| row.get(0))
        .optional()?
        .unwrap_or(0);
    // One pass over the range: the rows, the totals and the closing balance (the last row's
    // balance_after, or the opening balance when the range is empty).
    let transactions = range_rows(
        &snapshot,
        account_id,
        &account.account_number,
        (&from, &before),
        last_transaction_id,
    )?;
    let (mut deposits, mut withdrawals) = (0_i64, 0_i64);
    for row in &transactions {
        match TransactionType::parse(&row.transaction_type) {
            Some(TransactionType::Deposit | TransactionType::TransferIn) => deposits += row.amount,
            Some(TransactionType::Withdrawal | TransactionType::TransferOut) => {
                withdrawals += row.amount;
            }
            None => {
                return Err(ApiError::internal(format!(
                    "transaction {} has an unknown type",
                    row.id
                )));
            }
        }
    }
    let closing = transactions.last().map_or(opening, |row| row.balance_after);
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
        count: i64::try_from(transactions.len()).unwrap_or(i64::MAX),
        last_transaction_id,
        transactions,
    })
}

/// Stores a draft (on the writer) and returns the statement with its transactions.
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
    Ok(Statement {
        id,
        account: draft.account_id,
        account_number: draft.account_number,
        start_date: draft.start.to_string(),
        end_date: draft.end.to_string(),
        opening_balance: draft.opening,
        closing_balance: draft.closing,
        total_deposits: draft.deposits,
        total_withdrawals: draft.withdrawals,
        transaction_count: draft.count,
        transactions: Some(draft.transactions),
        generated_at,
        last_transaction_id: draft.last_transaction_id,
    })
}

/// The ledger rows of one account with `created_at` in `[from, before)` and `id <= last_id`,
/// oldest first: one range of the clustered ledger, no join (the account number is known).
fn range_rows(
    conn: &Connection,
    account_id: i64,
    account_number: &str,
    (from, before): (&str, &str),
    last_id: i64,
) -> rusqlite::Result<Vec<Transaction>> {
    conn.prepare_cached(
        "SELECT t.id, t.account_id, ?5, t.transaction_type, t.amount_cents, t.balance_after_cents,
                t.counterparty_account_number, t.transfer_id, t.description, t.created_at
         FROM transactions t
         WHERE t.account_id = ?1 AND t.created_at >= ?2 AND t.created_at < ?3 AND t.id <= ?4
         ORDER BY t.created_at, t.id",
    )?
    .query_map(
        params![account_id, from, before, last_id, account_number],
        transactions::from_row,
    )?
    .collect()
}

/// One of the user's statements, with its transactions (oldest first) when asked.
pub fn find(
    conn: &Connection,
    id: i64,
    user_id: i64,
    with_transactions: bool,
) -> Result<Statement, ApiError> {
    let customer_id = customers::id_for_user(conn, user_id)?.ok_or_else(ApiError::not_found)?;
    let mut statement = conn
        .prepare_cached(&format!(
            "{SELECT_STATEMENT} WHERE s.id = ?1 AND s.customer_id = ?2"
        ))?
        .query_row([id, customer_id], from_row)
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    if with_transactions {
        let start = crate::domain::time::parse_date(&statement.start_date);
        let end = crate::domain::time::parse_date(&statement.end_date).and_then(|d| d.succ_opt());
        let (Some(start), Some(end)) = (start, end) else {
            return Err(ApiError::internal("stored statement has bad dates"));
        };
        let rows = range_rows(
            conn,
            statement.account,
            &statement.account_number,
            (&start_of_day(start), &start_of_day(end)),
            statement.last_transaction_id,
        )?;
        statement.transactions = Some(rows);
    }
    Ok(statement)
}

/// A page of the user's statements (newest first), optionally of one account.
pub fn list_for_user(
    conn: &Connection,
    user_id: i64,
    account_id: Option<i64>,
    limit: u32,
    offset: u64,
) -> Result<(u64, Vec<Statement>), ApiError> {
    let Some(customer_id) = customers::id_for_user(conn, user_id)? else {
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
