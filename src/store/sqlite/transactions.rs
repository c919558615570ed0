//! Reading the ledger: the caller's transactions, newest first, with the contract's filters.
//!
//! The ledger table is clustered by `(account_id, created_at, id)` (migration V3): one
//! account's postings are one range of the table itself, date filters narrow that range, and
//! newest-first needs no sort. Type, amount and search filters are checked on the rows of the
//! range. `?ordering=` by date or id keeps that order (either direction); by amount or type it
//! reads and sorts every matching row, so it is refused past `ORDERING_SORT_ROWS_MAX` rows.

use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};

use crate::domain::{AccountNumber, Amount, Balance, TransactionType};
use crate::error::ApiError;
use crate::limits::ORDERING_SORT_ROWS_MAX;
use crate::store::PageWindow;
use crate::store::ordering::OrderTerm;
use crate::store::sqlite::customers;
use crate::store::sqlite::{decode, decode_cents, decode_optional};
use crate::store::transactions::{TransactionFilters, TransactionOrderField};

use crate::store::transactions::Transaction;

/// The result column number of each orderable field in `SELECT_TRANSACTION` (numbers, because
/// the merged list is a compound `SELECT`).
fn ordering_column(field: TransactionOrderField) -> &'static str {
    match field {
        TransactionOrderField::CreatedAt => "10",
        TransactionOrderField::Id => "1",
        TransactionOrderField::Amount => "5",
        TransactionOrderField::TransactionType => "4",
    }
}

/// `ORDER BY` text for `terms` (field, descending) already mapped to columns, then
/// `id_column` in the first term's direction so that rows that tie never swap between pages.
/// The columns come from a backend mapping (`ordering_column`, `accounts::ordering_column`),
/// never from the client.
pub(crate) fn order_by_sql(terms: &[(&'static str, bool)], id_column: &str) -> String {
    let direction = |descending: bool| if descending { "DESC" } else { "ASC" };
    let mut sql: Vec<String> = terms
        .iter()
        .map(|(column, descending)| format!("{column} {}", direction(*descending)))
        .collect();
    if !terms.iter().any(|(column, _)| *column == id_column) {
        let descending = terms.first().is_some_and(|(_, descending)| *descending);
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

/// The order asked for, when it is the ledger's own `(created_at, id)` order in one
/// direction: `Some(descending)`. Ids follow `created_at` (one writer stamps both in commit
/// order), so ordering by `id` is the same order.
fn clustered_direction(ordering: &[OrderTerm<TransactionOrderField>]) -> Option<bool> {
    let Some(first) = ordering.first() else {
        return Some(true);
    };
    let clustered = ordering.iter().all(|term| {
        matches!(
            term.field,
            TransactionOrderField::CreatedAt | TransactionOrderField::Id
        ) && term.descending == first.descending
    });
    clustered.then_some(first.descending)
}

/// Whether the list is filtered by owner and account only, so the per-account counters count it.
fn only_by_owner_or_account(filters: &TransactionFilters) -> bool {
    filters.search.is_empty()
        && filters.transaction_type.is_none()
        && filters.created_from.is_none()
        && filters.created_before.is_none()
        && filters.min_amount_cents.is_none()
        && filters.max_amount_cents.is_none()
}

pub(crate) const SELECT_TRANSACTION: &str =
    "SELECT t.id, t.account_id, a.account_number, t.transaction_type,
        t.amount_cents, t.balance_after_cents, t.counterparty_account_number, t.transfer_id,
        t.description, t.created_at
    FROM transactions t JOIN accounts a ON a.id = t.account_id";

/// Decodes a `SELECT_TRANSACTION` row strictly: a type, amount, balance or account number
/// the domain refuses is an error (the row is corrupt), never a plausible default.
pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Transaction> {
    Ok(Transaction {
        id: row.get(0)?,
        account: row.get(1)?,
        account_number: decode(row, 2, AccountNumber::parse)?,
        transaction_type: decode(row, 3, TransactionType::parse)?,
        amount: decode_cents(row, 4, Amount::from_cents)?,
        balance_after: decode_cents(row, 5, Balance::from_cents)?,
        counterparty_account_number: decode_optional(row, 6, AccountNumber::parse)?,
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
    filters: &TransactionFilters,
    window: PageWindow,
) -> Result<(u64, Vec<Transaction>), ApiError> {
    let PageWindow { limit, offset } = window;
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
        .query_map(
            params![customer_id, filters.account.map(|id| id.get())],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?
        .collect::<Result<_, _>>()?;
    if accounts.is_empty() {
        return Ok((0, Vec::new()));
    }

    let count: i64 = if only_by_owner_or_account(filters) {
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
    let order_by = match clustered_direction(&filters.ordering) {
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
        None => {
            let terms: Vec<(&'static str, bool)> = filters
                .ordering
                .iter()
                .map(|term| (ordering_column(term.field), term.descending))
                .collect();
            order_by_sql(&terms, "1")
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::customers::corruptible_database;

    /// Writes one ledger row for account 1 with the given type, amount, balance and
    /// counterparty (checks are off, so the values may be ones the schema refuses), then
    /// reads it back by id.
    fn posting(
        transaction_type: &str,
        amount_cents: i64,
        balance_after_cents: i64,
        counterparty: Option<&str>,
    ) -> Result<Transaction, ApiError> {
        let conn = corruptible_database();
        conn.execute(
            "INSERT INTO transactions (id, account_id, customer_id, transaction_type, amount_cents,
                 balance_after_cents, counterparty_account_number, transfer_id, description, created_at)
             VALUES (1, 1, 1, ?1, ?2, ?3, ?4, NULL, 'test', '2026-01-02T00:00:00Z')",
            params![transaction_type, amount_cents, balance_after_cents, counterparty],
        )
        .expect("insert the posting");
        find_by_id_and_owner(&conn, 1, 1)
    }

    #[test]
    fn a_valid_posting_decodes_with_its_typed_fields() {
        let row = posting("deposit", 1_250, 1_250, None).expect("a valid row");
        assert_eq!(row.transaction_type, TransactionType::Deposit);
        assert_eq!(row.amount.cents(), 1_250);
        assert_eq!(row.balance_after.cents(), 1_250);
        assert_eq!(row.account_number.as_str(), "ACC-000000001");
        assert!(row.counterparty_account_number.is_none());
    }

    #[test]
    fn a_posting_with_an_unknown_type_is_an_internal_error() {
        let error = posting("refund", 100, 100, None).expect_err("corrupt");
        assert!(matches!(error, ApiError::Internal(_)), "{error:?}");
    }

    #[test]
    fn a_posting_with_a_negative_balance_after_is_an_internal_error() {
        let error = posting("withdrawal", 100, -100, None).expect_err("corrupt");
        assert!(matches!(error, ApiError::Internal(_)), "{error:?}");
    }

    #[test]
    fn a_posting_with_a_zero_or_negative_amount_is_an_internal_error() {
        for amount in [0, -100] {
            let error = posting("deposit", amount, 100, None).expect_err("corrupt");
            assert!(
                matches!(error, ApiError::Internal(_)),
                "{amount}: {error:?}"
            );
        }
    }

    #[test]
    fn a_posting_with_a_malformed_counterparty_is_an_internal_error() {
        let error = posting("deposit", 100, 100, Some("nobody")).expect_err("corrupt");
        assert!(matches!(error, ApiError::Internal(_)), "{error:?}");
    }

    #[test]
    fn order_by_ends_with_the_id_in_the_first_terms_direction() {
        assert_eq!(order_by_sql(&[], "1"), "1 ASC");
        assert_eq!(order_by_sql(&[("5", true)], "1"), "5 DESC, 1 DESC");
        assert_eq!(
            order_by_sql(&[("5", false), ("1", true)], "1"),
            "5 ASC, 1 DESC"
        );
    }
}
