//! Staff queries: every customer's data, unscoped by owner (contract §8), and freezing.
//!
//! Only the staff `Store` methods (`store/admin.rs`) call these, and only `http::admin`, behind
//! the `StaffUser` extractor, calls those. The typed filters become SQL here and nowhere else:
//! each filter adds one fixed fragment with its value as a parameter, so the statement text
//! depends only on which filters are set, never on a value a client sent.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, ToSql, params};
use serde_json::json;

use crate::domain::AccountStatus;
use crate::domain::time::{now_rfc3339, start_of_day};
use crate::error::ApiError;
use crate::store::PageWindow;
use crate::store::accounts::Account;
use crate::store::admin::{
    AccountFilter, AuditFilter, AuditRow, CustomerFilter, DayRange, SetAccountFrozen, StaffAccount,
    StaffAuditRow, StaffTransaction, TransactionFilter,
};
use crate::store::customers::Customer;
use crate::store::ids::{AuditId, UserId};
use crate::store::sqlite::accounts::{self, account_closed};
use crate::store::sqlite::audit::{self, AuditEvent, AuditFilters, Outcome};
use crate::store::sqlite::transactions;

/// A `WHERE` clause assembled from the typed filters: the SQL text is always one of the fixed
/// fragments below, the client's values only ever parameters.
#[derive(Default)]
struct Conditions {
    sql: Vec<&'static str>,
    values: Vec<Box<dyn ToSql>>,
}

impl Conditions {
    fn add(&mut self, sql: &'static str, value: impl ToSql + 'static) {
        self.sql.push(sql);
        self.values.push(Box::new(value));
    }

    /// `sql` with `value` when the filter is set.
    fn add_some<T: ToSql + 'static>(&mut self, sql: &'static str, value: Option<T>) {
        if let Some(value) = value {
            self.add(sql, value);
        }
    }

    /// A condition without a parameter.
    fn add_fixed(&mut self, sql: &'static str) {
        self.sql.push(sql);
    }

    /// `created_at` within whole UTC days, as ledger and audit timestamps are written
    /// (`domain::time::start_of_day`): from the start of `from`, before the start of the day
    /// after `to`.
    fn add_days(&mut self, days: DayRange, column_from: &'static str, column_before: &'static str) {
        let (from, before) = created_bounds(days);
        self.add_some(column_from, from);
        self.add_some(column_before, before);
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

/// The `created_at` bounds of whole days: inclusive start, exclusive end.
fn created_bounds(days: DayRange) -> (Option<String>, Option<String>) {
    (
        days.from.map(start_of_day),
        days.to.and_then(|day| day.succ_opt()).map(start_of_day),
    )
}

/// What a staff list selects: its tables, its columns and its order.
struct ListQuery<'a> {
    from: &'a str,
    select: &'a str,
    order: &'a str,
}

/// Counts `from ... WHERE conditions` and pages `select ... WHERE conditions ORDER BY order`.
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

/// Live customer profiles, oldest first.
pub fn customers(
    conn: &Connection,
    filter: &CustomerFilter,
    PageWindow { limit, offset }: PageWindow,
) -> Result<(u64, Vec<Customer>), ApiError> {
    let mut conditions = Conditions::default();
    conditions.add_some("c.user_id = ?", filter.user);
    conditions.add_some("lower(u.username) = lower(?)", filter.username.clone());
    conditions.add_fixed("c.deleted_at IS NULL");
    page(
        conn,
        ListQuery { from: "customers c JOIN users u ON u.id = c.user_id", select: "SELECT c.id, u.username, c.full_name, c.email, c.phone_number, c.date_of_birth, c.gender,
                c.created_at, c.updated_at FROM customers c JOIN users u ON u.id = c.user_id", order: "c.id" },
        &conditions,
        (limit, offset),
        crate::store::sqlite::customers::from_row,
    )
}

/// Every account, oldest first, with its owner's username.
pub fn accounts(
    conn: &Connection,
    filter: &AccountFilter,
    PageWindow { limit, offset }: PageWindow,
) -> Result<(u64, Vec<StaffAccount>), ApiError> {
    let mut conditions = Conditions::default();
    conditions.add_some("a.customer_id = ?", filter.customer);
    conditions.add_some("c.user_id = ?", filter.user);
    conditions.add_some("a.status = ?", filter.status.map(AccountStatus::as_str));
    conditions.add_some("a.account_number = ?", filter.account_number.clone());
    conditions.add_some("lower(u.username) = lower(?)", filter.username.clone());
    page(
        conn,
        ListQuery { from: "accounts a JOIN customers c ON c.id = a.customer_id JOIN users u ON u.id = c.user_id", select: "SELECT a.id, a.account_number, a.account_type, a.nickname, a.balance_cents, a.status,
                a.customer_id, a.created_at, a.updated_at, u.username
         FROM accounts a JOIN customers c ON c.id = a.customer_id JOIN users u ON u.id = c.user_id", order: "a.id" },
        &conditions,
        (limit, offset),
        |row| {
            Ok(StaffAccount {
                account: accounts::from_row(row)?,
                username: row.get(9)?,
            })
        },
    )
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
    filter: &TransactionFilter,
    PageWindow { limit, offset }: PageWindow,
) -> Result<(u64, Vec<StaffTransaction>), ApiError> {
    let mut conditions = Conditions::default();
    conditions.add_some("t.account_id = ?", filter.account);
    conditions.add_some(
        "t.customer_id IN (SELECT id FROM customers WHERE user_id = ?)",
        filter.user,
    );
    conditions.add_some(
        "t.customer_id IN (SELECT c.id FROM customers c JOIN users u ON u.id = c.user_id
         WHERE lower(u.username) = lower(?))",
        filter.username.clone(),
    );
    conditions.add_some(
        "t.account_id IN (SELECT id FROM accounts WHERE account_number = ?)",
        filter.account_number.clone(),
    );
    conditions.add_some(
        "t.transaction_type = ?",
        filter.transaction_type.map(|kind| kind.as_str()),
    );
    conditions.add_days(filter.days, "t.created_at >= ?", "t.created_at < ?");
    page(
        conn,
        ListQuery {
            from: "transactions t",
            select: STAFF_TRANSACTION_SELECT,
            order: "t.id DESC",
        },
        &conditions,
        (limit, offset),
        |row| {
            Ok(StaffTransaction {
                transaction: transactions::from_row(row)?,
                username: row.get(10)?,
            })
        },
    )
}

/// One page of the audit log, newest first, with each actor's username.
///
/// A username or account number is looked up to the id the audit filters index; one that
/// names nobody (or contradicts `user` / `account`) matches no row.
pub fn audit(
    conn: &Connection,
    filter: &AuditFilter,
    PageWindow { limit, offset }: PageWindow,
) -> Result<(u64, Vec<StaffAuditRow>), ApiError> {
    let Some(actor_user_id) = resolve(
        filter.actor.map(UserId::get),
        filter.username.as_deref(),
        |name| user_id_by_username(conn, name),
    )?
    else {
        return Ok((0, Vec::new()));
    };
    let Some(account_id) = resolve(
        filter.account.map(|account| account.get()),
        filter.account_number.as_deref(),
        |number| account_id_by_number(conn, number),
    )?
    else {
        return Ok((0, Vec::new()));
    };
    let (created_from, created_before) = created_bounds(filter.days);
    let audit_filters = AuditFilters {
        actor_user_id,
        account_id,
        action: filter.action.clone(),
        created_from,
        created_before,
    };
    let (count, rows) = audit::list(conn, &audit_filters, limit, offset)?;
    Ok((count, with_usernames(conn, rows)?))
}

/// Combines an id filter with a name filter that is looked up to an id: `Some(filter)` to
/// apply (`None` inside: no filter), or `None` when nothing can match.
fn resolve(
    id: Option<i64>,
    name: Option<&str>,
    look_up: impl FnOnce(&str) -> Result<Option<i64>, ApiError>,
) -> Result<Option<Option<i64>>, ApiError> {
    let Some(name) = name else {
        return Ok(Some(id));
    };
    Ok(match (look_up(name)?, id) {
        (Some(found), None) => Some(Some(found)),
        (Some(found), Some(id)) if found == id => Some(Some(id)),
        _ => None,
    })
}

/// Adds each row's actor username, with one lookup per distinct actor on the page.
fn with_usernames(conn: &Connection, rows: Vec<AuditRow>) -> Result<Vec<StaffAuditRow>, ApiError> {
    let mut names: HashMap<UserId, Option<String>> = HashMap::new();
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
fn user_id_by_username(conn: &Connection, username: &str) -> Result<Option<i64>, ApiError> {
    Ok(conn
        .prepare_cached("SELECT id FROM users WHERE lower(username) = lower(?1)")?
        .query_row([username], |row| row.get(0))
        .optional()?)
}

/// The id of the account numbered `number`, for the staff lists' `account_number` filter.
fn account_id_by_number(conn: &Connection, number: &str) -> Result<Option<i64>, ApiError> {
    Ok(conn
        .prepare_cached("SELECT id FROM accounts WHERE account_number = ?1")?
        .query_row([number], |row| row.get(0))
        .optional()?)
}

/// Freezes or unfreezes any account and records the staff action in the same transaction; a
/// closed account stays closed. Returns the account as it now is and the audit id.
pub fn set_frozen(
    conn: &Connection,
    command: &SetAccountFrozen,
) -> Result<(Account, AuditId), ApiError> {
    let account_id = command.account.get();
    let account = find(conn, account_id)?;
    let target = if command.frozen {
        AccountStatus::Frozen
    } else {
        AccountStatus::Active
    };
    let (account, changed) = match account.status {
        AccountStatus::Closed => return Err(account_closed()),
        status if status == target => (account, false),
        _ => {
            conn.prepare_cached("UPDATE accounts SET status = ?1, updated_at = ?2 WHERE id = ?3")?
                .execute(params![target.as_str(), now_rfc3339(), account_id])?;
            (find(conn, account_id)?, true)
        }
    };
    let event = AuditEvent {
        action: command.action(),
        object: Some(("account", account_id)),
        outcome: Outcome::Success,
        details: json!({ "account_number": account.account_number.as_str(), "changed": changed }),
    };
    let audit_id = AuditId::new(audit::record(conn, &command.audit, &event)?);
    Ok((account, audit_id))
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
