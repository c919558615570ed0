//! Staff queries: every customer's data, unscoped by owner (contract §8), and freezing.
//!
//! Only `http::admin` calls these, and only behind the `StaffUser` extractor.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, ToSql, params};
use serde::Serialize;

use crate::domain::AccountStatus;
use crate::error::ApiError;
use crate::store::sqlite::accounts::{self, Account, account_closed};
use crate::store::sqlite::audit::AuditRow;
use crate::store::sqlite::customers::Customer;
use crate::store::sqlite::transactions::{self, Transaction};

/// A `WHERE` clause assembled from optional filters.
#[derive(Default)]
pub struct Conditions {
    sql: Vec<String>,
    values: Vec<Box<dyn ToSql + Send>>,
}

impl Conditions {
    pub fn add(&mut self, sql: &str, value: impl ToSql + Send + 'static) {
        self.sql.push(sql.to_owned());
        self.values.push(Box::new(value));
    }

    /// A condition without a parameter.
    pub fn add_fixed(&mut self, sql: &str) {
        self.sql.push(sql.to_owned());
    }

    fn clause(&self) -> String {
        if self.sql.is_empty() {
            "1 = 1".to_owned()
        } else {
            self.sql.join(" AND ")
        }
    }

    fn params(&self) -> Vec<&dyn ToSql> {
        self.values
            .iter()
            .map(|v| v.as_ref() as &dyn ToSql)
            .collect()
    }
}

/// Counts and pages `select ... WHERE conditions ORDER BY order`.
/// What a staff list selects: its tables, its columns and its order.
struct ListQuery<'a> {
    from: &'a str,
    select: &'a str,
    order: &'a str,
}

fn page<T>(
    conn: &Connection,
    query: ListQuery<'_>,
    conditions: &Conditions,
    (limit, offset): (u32, u64),
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<(u64, Vec<T>), ApiError> {
    let ListQuery {
        from,
        select,
        order,
    } = query;
    let clause = conditions.clause();
    let params = conditions.params();
    let count: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM {from} WHERE {clause}"))?
        .query_row(params.as_slice(), |row| row.get(0))?;
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let mut page_params = params.clone();
    page_params.push(&limit);
    page_params.push(&offset);
    let rows = conn
        .prepare_cached(&format!(
            "{select} WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?"
        ))?
        .query_map(page_params.as_slice(), map)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((count.unsigned_abs(), rows))
}

pub fn customers(
    conn: &Connection,
    conditions: &Conditions,
    limit: u32,
    offset: u64,
) -> Result<(u64, Vec<Customer>), ApiError> {
    page(
        conn,
        ListQuery { from: "customers c JOIN users u ON u.id = c.user_id", select: "SELECT c.id, u.username, c.full_name, c.email, c.phone_number, c.date_of_birth, c.gender,
                c.created_at, c.updated_at FROM customers c JOIN users u ON u.id = c.user_id", order: "c.id" },
        conditions,
        (limit, offset),
        crate::store::sqlite::customers::from_row,
    )
}

/// An account as staff see it: with its owner's username next to the customer id, so a
/// person reads the list without looking ids up.
#[derive(Clone, Debug, Serialize)]
pub struct StaffAccount {
    #[serde(flatten)]
    pub account: Account,
    pub username: String,
}

pub fn accounts(
    conn: &Connection,
    conditions: &Conditions,
    limit: u32,
    offset: u64,
) -> Result<(u64, Vec<StaffAccount>), ApiError> {
    page(
        conn,
        ListQuery { from: "accounts a JOIN customers c ON c.id = a.customer_id JOIN users u ON u.id = c.user_id", select: "SELECT a.id, a.account_number, a.account_type, a.nickname, a.balance_cents, a.status,
                a.customer_id, a.created_at, a.updated_at, u.username
         FROM accounts a JOIN customers c ON c.id = a.customer_id JOIN users u ON u.id = c.user_id", order: "a.id" },
        conditions,
        (limit, offset),
        |row| {
            Ok(StaffAccount {
                account: accounts::from_row(row)?,
                username: row.get(9)?,
            })
        },
    )
}

/// A transaction as staff see it: with the account owner's username.
#[derive(Clone, Debug, Serialize)]
pub struct StaffTransaction {
    #[serde(flatten)]
    pub transaction: Transaction,
    pub username: String,
}

/// `transactions::SELECT_TRANSACTION` and the owner's username (column 10).
const STAFF_TRANSACTION_SELECT: &str = "SELECT t.id, t.account_id, a.account_number,
        t.transaction_type, t.amount_cents, t.balance_after_cents, t.counterparty_account_number,
        t.transfer_id, t.description, t.created_at, u.username
    FROM transactions t JOIN accounts a ON a.id = t.account_id
    JOIN customers c ON c.id = a.customer_id JOIN users u ON u.id = c.user_id";

/// Every transaction, newest first (`id` order is posting order: the writer stamps postings
/// with a clock that never goes backwards). The owner's username is joined for the page's rows
/// only; the count reads `transactions` alone.
pub fn transactions(
    conn: &Connection,
    conditions: &Conditions,
    limit: u32,
    offset: u64,
) -> Result<(u64, Vec<StaffTransaction>), ApiError> {
    page(
        conn,
        ListQuery {
            from: "transactions t",
            select: STAFF_TRANSACTION_SELECT,
            order: "t.id DESC",
        },
        conditions,
        (limit, offset),
        |row| {
            Ok(StaffTransaction {
                transaction: transactions::from_row(row)?,
                username: row.get(10)?,
            })
        },
    )
}

/// An audit row as staff see it: with the actor's username (`null` for anonymous actors).
#[derive(Clone, Debug, Serialize)]
pub struct StaffAuditRow {
    #[serde(flatten)]
    pub row: AuditRow,
    pub actor_username: Option<String>,
}

/// Adds each row's actor username, with one lookup per distinct actor on the page.
pub fn with_usernames(
    conn: &Connection,
    rows: Vec<AuditRow>,
) -> Result<Vec<StaffAuditRow>, ApiError> {
    let mut names: HashMap<i64, Option<String>> = HashMap::new();
    let mut lookup = conn.prepare_cached("SELECT username FROM users WHERE id = ?1")?;
    let mut staff_rows = Vec::with_capacity(rows.len());
    for row in rows {
        let actor_username = match row.actor_user_id {
            None => None,
            Some(id) => match names.get(&id) {
                Some(name) => name.clone(),
                None => {
                    let name: Option<String> = lookup.query_row([id], |r| r.get(0)).optional()?;
                    names.insert(id, name.clone());
                    name
                }
            },
        };
        staff_rows.push(StaffAuditRow {
            row,
            actor_username,
        });
    }
    Ok(staff_rows)
}

/// The id of the user called `username` (case-insensitively, like login), for the staff
/// lists' `username` filter.
pub fn user_id_by_username(conn: &Connection, username: &str) -> Result<Option<i64>, ApiError> {
    Ok(conn
        .prepare_cached("SELECT id FROM users WHERE lower(username) = lower(?1)")?
        .query_row([username], |row| row.get(0))
        .optional()?)
}

/// The id of the account numbered `number`, for the staff lists' `account_number` filter.
pub fn account_id_by_number(conn: &Connection, number: &str) -> Result<Option<i64>, ApiError> {
    Ok(conn
        .prepare_cached("SELECT id FROM accounts WHERE account_number = ?1")?
        .query_row([number], |row| row.get(0))
        .optional()?)
}

/// Freezes or unfreezes any account; a closed account stays closed. Returns the account and
/// whether its status changed.
pub fn set_frozen(
    conn: &Connection,
    account_id: i64,
    frozen: bool,
    now: &str,
) -> Result<(Account, bool), ApiError> {
    let account = find(conn, account_id)?;
    let target = if frozen {
        AccountStatus::Frozen
    } else {
        AccountStatus::Active
    };
    match account.status {
        AccountStatus::Closed => return Err(account_closed()),
        status if status == target => return Ok((account, false)),
        _ => {}
    }
    conn.prepare_cached("UPDATE accounts SET status = ?1, updated_at = ?2 WHERE id = ?3")?
        .execute(params![target.as_str(), now, account_id])?;
    Ok((find(conn, account_id)?, true))
}

fn find(conn: &Connection, account_id: i64) -> Result<Account, ApiError> {
    conn.prepare_cached(
        "SELECT a.id, a.account_number, a.account_type, a.nickname, a.balance_cents, a.status,
                a.customer_id, a.created_at, a.updated_at FROM accounts a WHERE a.id = ?1",
    )?
    .query_row([account_id], accounts::from_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}
