//! Reading the ledger: the caller's transactions, newest first, with the contract's filters.
//!
//! Every query starts from an index whose leading column is the owner (`customer_id`) or the
//! account and whose next column is `created_at`, so date filters are index ranges and the
//! ordering needs no sort. Type and amount filters are checked on the rows of that range.

use rusqlite::{Connection, OptionalExtension, Row, ToSql};
use serde::Serialize;

use crate::db::customers;
use crate::domain::TransactionType;
use crate::error::ApiError;

/// A ledger row as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Transaction {
    pub id: i64,
    pub account: i64,
    pub account_number: String,
    pub transaction_type: String,
    #[serde(serialize_with = "crate::db::serialize_cents")]
    pub amount: i64,
    #[serde(serialize_with = "crate::db::serialize_cents")]
    pub balance_after: i64,
    pub counterparty_account_number: Option<String>,
    pub transfer_id: Option<i64>,
    pub description: String,
    pub created_at: String,
}

/// The list filters, already validated at the HTTP edge.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    pub account: Option<i64>,
    pub transaction_type: Option<TransactionType>,
    /// Inclusive lower bound on `created_at` (start of `date_from`, UTC).
    pub created_from: Option<String>,
    /// Exclusive upper bound on `created_at` (start of the day after `date_to`, UTC).
    pub created_before: Option<String>,
    pub min_amount_cents: Option<i64>,
    pub max_amount_cents: Option<i64>,
}

impl Filters {
    fn only_by_owner_or_account(&self) -> bool {
        self.transaction_type.is_none()
            && self.created_from.is_none()
            && self.created_before.is_none()
            && self.min_amount_cents.is_none()
            && self.max_amount_cents.is_none()
    }
}

pub(crate) const SELECT_TRANSACTION: &str =
    "SELECT t.id, t.account_id, a.account_number, t.transaction_type,
        t.amount_cents, t.balance_after_cents, t.counterparty_account_number, t.transfer_id,
        t.description, t.created_at
    FROM transactions t JOIN accounts a ON a.id = t.account_id";

pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Transaction> {
    Ok(Transaction {
        id: row.get(0)?,
        account: row.get(1)?,
        account_number: row.get(2)?,
        transaction_type: row.get(3)?,
        amount: row.get(4)?,
        balance_after: row.get(5)?,
        counterparty_account_number: row.get(6)?,
        transfer_id: row.get(7)?,
        description: row.get(8)?,
        created_at: row.get(9)?,
    })
}

/// One page of the user's transactions, newest first, and how many match in all.
pub fn list_for_user(
    conn: &Connection,
    user_id: i64,
    filters: &Filters,
    limit: u32,
    offset: u64,
) -> Result<(u64, Vec<Transaction>), ApiError> {
    let Some(customer_id) = customers::id_for_user(conn, user_id)? else {
        return Ok((0, Vec::new()));
    };
    let mut conditions = vec!["t.customer_id = ?"];
    let mut values: Vec<Box<dyn ToSql>> = vec![Box::new(customer_id)];
    if let Some(account) = filters.account {
        conditions.push("t.account_id = ?");
        values.push(Box::new(account));
    }
    if let Some(kind) = filters.transaction_type {
        conditions.push("t.transaction_type = ?");
        values.push(Box::new(kind.as_str()));
    }
    if let Some(from) = &filters.created_from {
        conditions.push("t.created_at >= ?");
        values.push(Box::new(from.clone()));
    }
    if let Some(before) = &filters.created_before {
        conditions.push("t.created_at < ?");
        values.push(Box::new(before.clone()));
    }
    if let Some(min) = filters.min_amount_cents {
        conditions.push("t.amount_cents >= ?");
        values.push(Box::new(min));
    }
    if let Some(max) = filters.max_amount_cents {
        conditions.push("t.amount_cents <= ?");
        values.push(Box::new(max));
    }
    let condition = conditions.join(" AND ");
    let params: Vec<&dyn ToSql> = values.iter().map(|v| v.as_ref()).collect();

    let count: i64 = if filters.only_by_owner_or_account() {
        // The per-account counter answers in O(accounts) instead of counting the rows.
        let (sql, owner_params): (&str, Vec<&dyn ToSql>) = match &filters.account {
            Some(account) => (
                "SELECT coalesce(sum(transaction_count), 0) FROM accounts WHERE customer_id = ?1 AND id = ?2",
                vec![&customer_id, account],
            ),
            None => (
                "SELECT coalesce(sum(transaction_count), 0) FROM accounts WHERE customer_id = ?1",
                vec![&customer_id],
            ),
        };
        conn.prepare_cached(sql)?
            .query_row(owner_params.as_slice(), |row| row.get(0))?
    } else {
        conn.prepare_cached(&format!(
            "SELECT count(*) FROM transactions t WHERE {condition}"
        ))?
        .query_row(params.as_slice(), |row| row.get(0))?
    };

    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let mut page_params = params.clone();
    page_params.push(&limit);
    page_params.push(&offset);
    let rows = conn
        .prepare_cached(&format!(
            "{SELECT_TRANSACTION} WHERE {condition} ORDER BY t.created_at DESC, t.id DESC LIMIT ? OFFSET ?"
        ))?
        .query_map(page_params.as_slice(), from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((count.unsigned_abs(), rows))
}

/// One transaction of the user's, or not found.
pub fn find_by_id_and_owner(
    conn: &Connection,
    id: i64,
    user_id: i64,
) -> Result<Transaction, ApiError> {
    let customer_id = customers::id_for_user(conn, user_id)?.ok_or_else(ApiError::not_found)?;
    conn.prepare_cached(&format!(
        "{SELECT_TRANSACTION} WHERE t.id = ?1 AND t.customer_id = ?2"
    ))?
    .query_row([id, customer_id], from_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}
