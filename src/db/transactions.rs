//! Reading the ledger: the caller's transactions, newest first, with the contract's filters.
//!
//! The ledger table is clustered by `(account_id, created_at, id)` (migration V3): one
//! account's postings are one range of the table itself, date filters narrow that range, and
//! newest-first needs no sort. Type and amount filters are checked on the rows of the range.

use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};
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

/// Above this many accounts with postings, a customer's list is sorted instead of merged.
const MERGED_ACCOUNTS_MAX: usize = 32;

/// One page of the user's transactions, newest first, and how many match in all.
///
/// The ledger is clustered by `(account_id, created_at, id)`, so one account's rows, newest
/// first, are a backwards range scan. A customer's list without an account filter is the merge
/// of those scans over the customer's accounts: a `UNION ALL` with one arm per account and an
/// `ORDER BY` outside, which SQLite runs as a merge of already-ordered arms (no sort, and it
/// stops after `OFFSET + LIMIT` rows).
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
    let mut conditions = Vec::new();
    let mut values: Vec<Box<dyn ToSql>> = Vec::new();
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
    let filter_sql: String = conditions.iter().map(|c| format!(" AND {c}")).collect();
    let filter_params: Vec<&dyn ToSql> = values.iter().map(|v| v.as_ref()).collect();

    // The accounts whose postings are listed: the one asked for if it is the customer's, else
    // every account of the customer's that has any.
    let accounts: Vec<(i64, i64)> = conn
        .prepare_cached(
            "SELECT id, transaction_count FROM accounts
             WHERE customer_id = ?1 AND (?2 IS NULL OR id = ?2) AND transaction_count > 0
             ORDER BY id",
        )?
        .query_map(params![customer_id, filters.account], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    if accounts.is_empty() {
        return Ok((0, Vec::new()));
    }

    let count: i64 = if filters.only_by_owner_or_account() {
        // The per-account counter answers in O(accounts) instead of counting the rows.
        accounts.iter().map(|(_, count)| count).sum()
    } else {
        let mut total = 0;
        let mut statement = conn.prepare_cached(&format!(
            "SELECT count(*) FROM transactions t WHERE t.account_id = ?{filter_sql}"
        ))?;
        for (account, _) in &accounts {
            let mut count_params: Vec<&dyn ToSql> = vec![account];
            count_params.extend_from_slice(&filter_params);
            total += statement.query_row(count_params.as_slice(), |row| row.get::<_, i64>(0))?;
        }
        total
    };

    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let mut page_params: Vec<&dyn ToSql> = Vec::new();
    let sql = if accounts.len() <= MERGED_ACCOUNTS_MAX {
        let arms: Vec<String> = accounts
            .iter()
            .map(|(account, _)| {
                page_params.push(account);
                page_params.extend_from_slice(&filter_params);
                format!("{SELECT_TRANSACTION} WHERE t.account_id = ?{filter_sql}")
            })
            .collect();
        // Columns 10 and 1 are created_at and id.
        format!(
            "{} ORDER BY 10 DESC, 1 DESC LIMIT ? OFFSET ?",
            arms.join(" UNION ALL ")
        )
    } else {
        page_params.push(&customer_id);
        page_params.extend_from_slice(&filter_params);
        format!(
            "{SELECT_TRANSACTION} WHERE t.account_id IN (SELECT id FROM accounts WHERE customer_id = ?){filter_sql}
             ORDER BY t.created_at DESC, t.id DESC LIMIT ? OFFSET ?"
        )
    };
    page_params.push(&limit);
    page_params.push(&offset);
    let rows = conn
        .prepare_cached(&sql)?
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
