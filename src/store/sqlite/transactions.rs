//! Reading the ledger: the caller's transactions, newest first, with the contract's filters.
//!
//! The ledger table is clustered by `(account_id, created_at, id)` (migration V3): one
//! account's postings are one range of the table itself, date filters narrow that range, and
//! newest-first needs no sort. Type, amount and search filters are checked on the rows of the
//! range. `?ordering=` by date or id keeps that order (either direction); by amount or type it
//! reads and sorts every matching row, so it is refused past `ORDERING_SORT_ROWS_MAX` rows.

use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};
use serde::Serialize;

use crate::domain::TransactionType;
use crate::error::ApiError;
use crate::limits::ORDERING_SORT_ROWS_MAX;
use crate::store::sqlite::customers;

/// A ledger row as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Transaction {
    pub id: i64,
    pub account: i64,
    pub account_number: String,
    pub transaction_type: String,
    #[serde(serialize_with = "crate::store::sqlite::serialize_cents")]
    pub amount: i64,
    #[serde(serialize_with = "crate::store::sqlite::serialize_cents")]
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
    /// `?search=` terms; each must occur in the description (ASCII case-insensitive).
    pub search: Vec<String>,
    /// `?ordering=` terms over `ORDERING_FIELDS`; empty means newest first.
    pub ordering: Vec<OrderTerm>,
}

/// One `ORDER BY` term. The column is text from a whitelist (`ORDERING_FIELDS`), never from
/// the client, so it may be written into SQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderTerm {
    pub column: &'static str,
    pub descending: bool,
}

/// The fields a transaction list may be ordered by, as result column numbers of
/// `SELECT_TRANSACTION` (numbers, because the merged list is a compound `SELECT`).
pub const ORDERING_FIELDS: &[(&str, &str)] = &[
    ("created_at", "10"),
    ("id", "1"),
    ("amount", "5"),
    ("transaction_type", "4"),
];

/// `ORDER BY` text: the terms, then `id_column` in the first term's direction so that rows
/// that tie never swap between pages.
pub fn order_by_sql(terms: &[OrderTerm], id_column: &str) -> String {
    let direction = |descending: bool| if descending { "DESC" } else { "ASC" };
    let mut sql: Vec<String> = terms
        .iter()
        .map(|term| format!("{} {}", term.column, direction(term.descending)))
        .collect();
    if !terms.iter().any(|term| term.column == id_column) {
        let descending = terms.first().is_some_and(|term| term.descending);
        sql.push(format!("{id_column} {}", direction(descending)));
    }
    sql.join(", ")
}

/// `%term%` for `LIKE … ESCAPE '\'`, with the term's own wildcards taken literally.
fn contains_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for character in term.chars() {
        if matches!(character, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern.push('%');
    pattern
}

impl Filters {
    /// The order asked for, when it is the ledger's own `(created_at, id)` order in one
    /// direction: `Some(descending)`. Ids follow `created_at` (one writer stamps both in commit
    /// order), so ordering by `id` is the same order.
    fn clustered_direction(&self) -> Option<bool> {
        let Some(first) = self.ordering.first() else {
            return Some(true);
        };
        let clustered = self
            .ordering
            .iter()
            .all(|term| matches!(term.column, "10" | "1") && term.descending == first.descending);
        clustered.then_some(first.descending)
    }

    fn only_by_owner_or_account(&self) -> bool {
        self.search.is_empty()
            && self.transaction_type.is_none()
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
    let patterns: Vec<String> = filters.search.iter().map(|t| contains_pattern(t)).collect();
    for pattern in patterns {
        conditions.push("t.description LIKE ? ESCAPE '\\'");
        values.push(Box::new(pattern));
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

    if offset >= count.unsigned_abs() {
        // Past the end: the caller answers "Invalid page." without reading a row.
        return Ok((count.unsigned_abs(), Vec::new()));
    }
    let order_by = match filters.clustered_direction() {
        Some(true) => "10 DESC, 1 DESC".to_owned(),
        Some(false) => "10 ASC, 1 ASC".to_owned(),
        None if count.unsigned_abs() > ORDERING_SORT_ROWS_MAX => {
            return Err(ApiError::field(
                "ordering",
                format!(
                    "Ordering by amount or transaction_type sorts every matching transaction: \
                     narrow the list to at most {ORDERING_SORT_ROWS_MAX} with filters first."
                ),
            ));
        }
        None => order_by_sql(&filters.ordering, "1"),
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
        // Columns 10 and 1 are created_at and id; in that order SQLite merges the arms.
        format!(
            "{} ORDER BY {order_by} LIMIT ? OFFSET ?",
            arms.join(" UNION ALL ")
        )
    } else {
        page_params.push(&customer_id);
        page_params.extend_from_slice(&filter_params);
        format!(
            "{SELECT_TRANSACTION} WHERE t.account_id IN (SELECT id FROM accounts WHERE customer_id = ?){filter_sql}
             ORDER BY {order_by} LIMIT ? OFFSET ?"
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
