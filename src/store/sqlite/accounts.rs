//! Bank accounts: open, list, rename, close. Balances change only in `ledger.rs`.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::domain::{AccountNumber, AccountStatus, AccountType, Balance};
use crate::error::{ApiError, ErrorCode};
use crate::limits::ACCOUNT_NUMBER_ATTEMPTS_MAX;
use crate::store::PageWindow;
use crate::store::accounts::{
    AccountList, AccountOrderField, ChangeAccount, OpenAccount, StatusFilter,
};
use crate::store::sqlite::transactions::order_by_sql;
use crate::store::sqlite::{customers, decode, decode_cents, is_unique_violation};

pub use crate::store::accounts::Account;

const SELECT_ACCOUNT: &str =
    "SELECT a.id, a.account_number, a.account_type, a.nickname, a.balance_cents,
        a.status, a.customer_id, a.created_at, a.updated_at
    FROM accounts a";

/// Decodes an account row strictly: a number, type, balance or status the domain does not
/// accept is an error (the row is corrupt), never a plausible default.
pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: row.get(0)?,
        account_number: decode(row, 1, AccountNumber::parse)?,
        account_type: decode(row, 2, AccountType::parse)?,
        nickname: row.get(3)?,
        balance: decode_cents(row, 4, Balance::from_cents)?,
        status: decode(row, 5, AccountStatus::parse)?,
        customer: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
    })
}

/// The account `id` if it belongs to the user's live profile.
pub fn find_by_id_and_owner(conn: &Connection, id: i64, user_id: i64) -> Result<Account, ApiError> {
    conn.prepare_cached(&format!(
        "{SELECT_ACCOUNT} JOIN customers c ON c.id = a.customer_id
         WHERE a.id = ?1 AND c.user_id = ?2 AND c.deleted_at IS NULL"
    ))?
    .query_row([id, user_id], from_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// Any account by number (a transfer's destination may belong to anyone).
pub fn find_by_number(
    conn: &Connection,
    number: &AccountNumber,
) -> Result<Option<Account>, ApiError> {
    Ok(conn
        .prepare_cached(&format!("{SELECT_ACCOUNT} WHERE a.account_number = ?1"))?
        .query_row([number.as_str()], from_row)
        .optional()?)
}

/// The column each orderable field sorts by.
fn ordering_column(field: AccountOrderField) -> &'static str {
    match field {
        AccountOrderField::CreatedAt => "a.created_at",
        AccountOrderField::Balance => "a.balance_cents",
        AccountOrderField::Id => "a.id",
        AccountOrderField::AccountNumber => "a.account_number",
        AccountOrderField::Nickname => "a.nickname",
    }
}

/// One page of the user's accounts, oldest first unless `ordering` says otherwise, and how
/// many there are in all. A customer's accounts are few (at most `max_accounts_per_customer`
/// open), so any order is a small sort.
pub fn list_for_user(
    conn: &Connection,
    query: &AccountList,
    window: PageWindow,
) -> Result<(u64, Vec<Account>), ApiError> {
    let Some(customer_id) = customers::id_for_user(conn, query.user.get())? else {
        return Ok((0, Vec::new()));
    };
    let statuses: &[&str] = match query.status {
        StatusFilter::Open => &["active", "frozen"],
        StatusFilter::Only(status) => &[status.as_str(), status.as_str()],
    };
    let count: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM accounts WHERE customer_id = ?1 AND status IN (?2, ?3)",
        )?
        .query_row(params![customer_id, statuses[0], statuses[1]], |row| {
            row.get(0)
        })?;
    let offset = i64::try_from(window.offset).unwrap_or(i64::MAX);
    let terms: Vec<(&'static str, bool)> = query
        .ordering
        .iter()
        .map(|term| (ordering_column(term.field), term.descending))
        .collect();
    let order_by = order_by_sql(&terms, "a.id");
    let accounts = conn
        .prepare_cached(&format!(
            "{SELECT_ACCOUNT} WHERE a.customer_id = ?1 AND a.status IN (?2, ?3) ORDER BY {order_by} LIMIT ?4 OFFSET ?5"
        ))?
        .query_map(params![customer_id, statuses[0], statuses[1], window.limit, offset], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((count.unsigned_abs(), accounts))
}

/// Opens an account for the user's profile with a fresh CSPRNG number.
pub fn open(conn: &Connection, command: &OpenAccount, now: &str) -> Result<Account, ApiError> {
    let user_id = command.user.get();
    let max_open_accounts = command.max_open_accounts;
    let customer_id = customers::id_for_user(conn, user_id)?
        .ok_or_else(|| ApiError::non_field("Create a customer profile first."))?;
    let open_accounts: u32 = conn
        .prepare_cached(
            "SELECT count(*) FROM accounts WHERE customer_id = ?1 AND status <> 'closed'",
        )?
        .query_row([customer_id], |row| row.get(0))?;
    if open_accounts >= max_open_accounts {
        return Err(ApiError::rule(
            ErrorCode::AccountLimitReached,
            format!("A customer may have at most {max_open_accounts} open accounts."),
        ));
    }
    for _ in 0..ACCOUNT_NUMBER_ATTEMPTS_MAX {
        let number = draw_account_number()?;
        let inserted = conn
            .prepare_cached(
                "INSERT INTO accounts (account_number, customer_id, account_type, nickname, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?
            .insert(params![
                number.as_str(),
                customer_id,
                command.account_type.as_str(),
                command.nickname,
                now
            ]);
        match inserted {
            Ok(id) => return find_by_id_and_owner(conn, id, user_id),
            // The number is taken (open or closed, numbers are never reused): draw again.
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal(
        "no free account number after repeated draws",
    ))
}

/// Draws `ACC-` + 9 uniformly random digits from the OS CSPRNG.
fn draw_account_number() -> Result<AccountNumber, ApiError> {
    // Rejection sampling: values at or above the largest multiple of 10^9 below 2^32 are
    // redrawn, so every number is equally likely.
    const RANGE: u32 = 1_000_000_000;
    const ZONE: u32 = u32::MAX - (u32::MAX % RANGE);
    loop {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("OS random: {e}")))?;
        let draw = u32::from_le_bytes(bytes);
        if draw < ZONE {
            return Ok(AccountNumber::from_draw(draw % RANGE));
        }
    }
}

/// Changes type and/or nickname of an open account.
pub fn update(conn: &Connection, command: &ChangeAccount, now: &str) -> Result<Account, ApiError> {
    let (id, user_id) = (command.id.get(), command.user.get());
    let account = find_by_id_and_owner(conn, id, user_id)?;
    if account.status == AccountStatus::Closed {
        return Err(account_closed());
    }
    conn.prepare_cached(
        "UPDATE accounts SET account_type = coalesce(?1, account_type), nickname = coalesce(?2, nickname),
             updated_at = ?3 WHERE id = ?4",
    )?
    .execute(params![
        command.account_type.map(AccountType::as_str),
        command.nickname,
        now,
        id
    ])?;
    find_by_id_and_owner(conn, id, user_id)
}

/// Closes an empty, active account. Its history stays.
pub fn close(conn: &Connection, id: i64, user_id: i64, now: &str) -> Result<(), ApiError> {
    let account = find_by_id_and_owner(conn, id, user_id)?;
    match account.status {
        AccountStatus::Closed => return Err(account_closed()),
        AccountStatus::Frozen => return Err(account_frozen()),
        AccountStatus::Active => {}
    }
    if account.balance != Balance::ZERO {
        return Err(ApiError::rule(
            ErrorCode::AccountNotEmpty,
            "Only an account with a zero balance can be closed; withdraw or transfer the balance first.",
        ));
    }
    conn.prepare_cached("UPDATE accounts SET status = 'closed', updated_at = ?1 WHERE id = ?2")?
        .execute(params![now, id])?;
    // A closed account's cards can never be used again.
    crate::store::sqlite::cards::cancel_for_account(conn, id, now)?;
    Ok(())
}

pub fn account_closed() -> ApiError {
    ApiError::rule(ErrorCode::AccountClosed, "Account is closed.")
}

pub fn account_frozen() -> ApiError {
    ApiError::rule(ErrorCode::AccountFrozen, "Account is frozen.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::customers::corruptible_database;

    fn account_with(column: &str, value: rusqlite::types::Value) -> Result<Account, ApiError> {
        let conn = corruptible_database();
        conn.execute(&format!("UPDATE accounts SET {column} = ?1"), [value])
            .expect("corrupt the account");
        find_by_id_and_owner(&conn, 1, 1)
    }

    #[test]
    fn a_valid_account_decodes_with_its_typed_fields() {
        let account = account_with("balance_cents", 12_345.into()).expect("a valid row");
        assert_eq!(account.balance.cents(), 12_345);
        assert_eq!(account.status, AccountStatus::Active);
        assert_eq!(account.account_number.as_str(), "ACC-000000001");
    }

    #[test]
    fn an_account_with_an_unknown_status_is_an_internal_error_not_closed() {
        let error = account_with("status", "dormant".to_owned().into()).expect_err("corrupt");
        assert!(matches!(error, ApiError::Internal(_)), "{error:?}");
    }

    #[test]
    fn an_account_with_a_negative_balance_is_an_internal_error_not_zero() {
        let error = account_with("balance_cents", (-1).into()).expect_err("corrupt");
        assert!(matches!(error, ApiError::Internal(_)), "{error:?}");
    }

    #[test]
    fn an_account_with_a_bad_type_or_number_is_an_internal_error() {
        for (column, value) in [("account_type", "gold"), ("account_number", "ACC-12")] {
            let error = account_with(column, value.to_owned().into()).expect_err("corrupt");
            assert!(
                matches!(error, ApiError::Internal(_)),
                "{column}: {error:?}"
            );
        }
    }

    #[test]
    fn a_corrupt_account_fails_the_whole_list_rather_than_being_skipped() {
        let conn = corruptible_database();
        conn.execute("UPDATE accounts SET balance_cents = -5", [])
            .expect("corrupt the balance");
        let query = AccountList {
            user: crate::store::ids::UserId::new(1),
            status: StatusFilter::Open,
            ordering: Vec::new(),
        };
        let window = PageWindow {
            limit: 10,
            offset: 0,
        };
        let error = list_for_user(&conn, &query, window).expect_err("a corrupt row in the page");
        assert!(matches!(error, ApiError::Internal(_)), "{error:?}");
    }
}
