//! Account statements (contract §7): figures over a date range, stored once generated.
//!
//! Cost does not grow with the account's history: the opening balance is the `balance_after`
//! of the last posting before the range (one index probe on `(account_id, created_at)`), and
//! the totals and transactions are one range scan of the same index. The statement stores the
//! ledger's highest id at generation, so its transactions are the same forever even when the
//! range includes today.

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use crate::db::transactions::{self, Transaction};
use crate::db::{accounts, customers};
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

/// Computes and stores a statement of one of the user's accounts (closed ones included).
pub fn generate(
    conn: &Connection,
    user_id: i64,
    account_id: i64,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Statement, ApiError> {
    let account = accounts::find_by_id_and_owner(conn, account_id, user_id)?;
    let from = start_of_day(start);
    let before = end
        .succ_opt()
        .map(start_of_day)
        .ok_or_else(|| ApiError::internal("date overflow"))?;
    let last_transaction_id: i64 = conn
        .prepare_cached("SELECT coalesce(max(id), 0) FROM transactions")?
        .query_row([], |row| row.get(0))?;
    let opening: i64 = conn
        .prepare_cached(
            "SELECT balance_after_cents FROM transactions WHERE account_id = ?1 AND created_at < ?2
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )?
        .query_row(params![account_id, from], |row| row.get(0))
        .optional()?
        .unwrap_or(0);
    let (deposits, withdrawals, count): (i64, i64, i64) = conn
        .prepare_cached(
            "SELECT coalesce(sum(CASE WHEN transaction_type IN ('deposit', 'transfer_in') THEN amount_cents END), 0),
                    coalesce(sum(CASE WHEN transaction_type IN ('withdrawal', 'transfer_out') THEN amount_cents END), 0),
                    count(*)
             FROM transactions WHERE account_id = ?1 AND created_at >= ?2 AND created_at < ?3",
        )?
        .query_row(params![account_id, from, before], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
    let closing: i64 = conn
        .prepare_cached(
            "SELECT balance_after_cents FROM transactions WHERE account_id = ?1 AND created_at < ?2
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )?
        .query_row(params![account_id, before], |row| row.get(0))
        .optional()?
        .unwrap_or(0);
    // The ledger's own arithmetic must agree with its balance_after chain; the schema checks it
    // again on insert.
    if opening + deposits - withdrawals != closing {
        return Err(ApiError::internal(format!(
            "statement does not balance for account {account_id}: {opening} + {deposits} - {withdrawals} != {closing}"
        )));
    }
    let id = conn
        .prepare_cached(
            "INSERT INTO statements (account_id, customer_id, start_date, end_date, opening_balance_cents,
                 closing_balance_cents, total_deposits_cents, total_withdrawals_cents, transaction_count,
                 last_transaction_id, generated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .insert(params![
            account_id,
            account.customer,
            start.to_string(),
            end.to_string(),
            opening,
            closing,
            deposits,
            withdrawals,
            count,
            last_transaction_id,
            now_rfc3339()
        ])?;
    find(conn, id, user_id, true)
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
        let rows = conn
            .prepare_cached(&format!(
                "{} WHERE t.account_id = ?1 AND t.created_at >= ?2 AND t.created_at < ?3 AND t.id <= ?4
                 ORDER BY t.created_at, t.id",
                transactions::SELECT_TRANSACTION
            ))?
            .query_map(
                params![statement.account, start_of_day(start), start_of_day(end), statement.last_transaction_id],
                transactions::from_row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
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
