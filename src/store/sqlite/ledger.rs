//! THE ONLY CODE THAT MOVES MONEY: deposit, withdraw, transfer.
//!
//! Each function runs inside the writer's `BEGIN IMMEDIATE` transaction (see `writer.rs`), so
//! its "read balance, check, write balance, append ledger rows" cannot interleave with any other
//! write. Every refusal (unknown, frozen or closed account, insufficient funds, balance limit) is
//! decided before the first write, so a refused movement returns `Err` having changed nothing,
//! and the caller can still record the refusal in the same job; an SQLite error after a write
//! makes the whole job roll back to its savepoint (writer.rs). After posting, each function
//! checks its postconditions in Rust; the schema's `CHECK` constraints enforce them again.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use crate::domain::{AccountNumber, AccountStatus, Amount, Balance, TransactionType};
use crate::error::{ApiError, ErrorCode};
use crate::store::ids::AccountId;
use crate::store::sqlite::accounts::{self, Account, account_closed, account_frozen};

/// The result of a deposit or withdrawal.
#[derive(Clone, Copy, Debug)]
pub struct Posting {
    pub transaction_id: i64,
    pub new_balance: Balance,
}

/// The result of a transfer.
#[derive(Clone, Copy, Debug)]
pub struct Transfer {
    pub transfer_id: i64,
    pub source_balance: Balance,
}

/// What a movement says about itself.
pub struct Movement<'a> {
    pub user_id: i64,
    pub account_id: i64,
    pub amount: Amount,
    pub description: &'a str,
}

pub fn deposit(conn: &Connection, movement: &Movement<'_>) -> Result<Posting, ApiError> {
    let account = accounts::find_by_id_and_owner(conn, movement.account_id, movement.user_id)?;
    ensure_movable(&account, false)?;
    let new_balance = account
        .balance
        .credit(movement.amount)
        .ok_or_else(ApiError::balance_limit_exceeded)?;
    let now = posting_time();
    set_balance(conn, account.id, new_balance, 1, &now)?;
    let transaction_id = append(
        conn,
        &[Leg::plain(
            &account,
            TransactionType::Deposit,
            movement,
            new_balance,
        )],
        &now,
    )?;
    debug_assert_eq!(
        new_balance.cents() - account.balance.cents(),
        movement.amount.cents()
    );
    Ok(Posting {
        transaction_id,
        new_balance,
    })
}

pub fn withdraw(conn: &Connection, movement: &Movement<'_>) -> Result<Posting, ApiError> {
    let account = accounts::find_by_id_and_owner(conn, movement.account_id, movement.user_id)?;
    ensure_movable(&account, false)?;
    let new_balance = account
        .balance
        .debit(movement.amount)
        .ok_or_else(ApiError::insufficient_funds)?;
    let now = posting_time();
    set_balance(conn, account.id, new_balance, 1, &now)?;
    let transaction_id = append(
        conn,
        &[Leg::plain(
            &account,
            TransactionType::Withdrawal,
            movement,
            new_balance,
        )],
        &now,
    )?;
    debug_assert_eq!(
        account.balance.cents() - new_balance.cents(),
        movement.amount.cents()
    );
    debug_assert!(new_balance.cents() >= 0);
    Ok(Posting {
        transaction_id,
        new_balance,
    })
}

pub fn transfer(
    conn: &Connection,
    movement: &Movement<'_>,
    destination_number: &AccountNumber,
) -> Result<Transfer, ApiError> {
    let source = accounts::find_by_id_and_owner(conn, movement.account_id, movement.user_id)?;
    let destination = accounts::find_by_number(conn, destination_number)?
        .ok_or_else(|| ApiError::field("to_account_number", "Account not found."))?;
    if destination.id == source.id {
        return Err(ApiError::field(
            "to_account_number",
            "Cannot transfer to the same account.",
        ));
    }
    ensure_movable(&source, false)?;
    ensure_movable(&destination, true)?;
    let source_balance = source
        .balance
        .debit(movement.amount)
        .ok_or_else(ApiError::insufficient_funds)?;
    let destination_balance = destination
        .balance
        .credit(movement.amount)
        .ok_or_else(ApiError::balance_limit_exceeded)?;

    let now = posting_time();
    let transfer_id = conn
        .prepare_cached(
            "INSERT INTO transfers (source_account_id, destination_account_id, amount_cents, created_at)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .insert(params![source.id, destination.id, movement.amount.cents(), now])?;
    set_balance(conn, source.id, source_balance, 1, &now)?;
    set_balance(conn, destination.id, destination_balance, 1, &now)?;
    let out_leg = Leg {
        account: &source,
        kind: TransactionType::TransferOut,
        amount: movement.amount,
        balance_after: source_balance,
        counterparty: Some(destination.account_number.as_str()),
        transfer_id: Some(transfer_id),
        description: movement.description,
    };
    let in_leg = Leg {
        account: &destination,
        kind: TransactionType::TransferIn,
        balance_after: destination_balance,
        counterparty: Some(source.account_number.as_str()),
        ..out_leg
    };
    append(conn, &[out_leg, in_leg], &now)?;

    // The two legs sum to zero: what left the source arrived at the destination.
    debug_assert_eq!(
        (source.balance.cents() - source_balance.cents())
            - (destination_balance.cents() - destination.balance.cents()),
        0
    );
    Ok(Transfer {
        transfer_id,
        source_balance,
    })
}

/// Refuses movements on frozen or closed accounts.
fn ensure_movable(account: &Account, is_destination: bool) -> Result<(), ApiError> {
    match (account.status, is_destination) {
        (AccountStatus::Active, _) => Ok(()),
        (AccountStatus::Frozen, false) => Err(account_frozen()),
        (AccountStatus::Closed, false) => Err(account_closed()),
        (AccountStatus::Frozen, true) => Err(ApiError::rule(
            ErrorCode::AccountFrozen,
            "Destination account is frozen.",
        )),
        (AccountStatus::Closed, true) => Err(ApiError::rule(
            ErrorCode::AccountClosed,
            "Destination account is closed.",
        )),
    }
}

fn set_balance(
    conn: &Connection,
    account_id: AccountId,
    balance: Balance,
    postings: i64,
    now: &str,
) -> Result<(), ApiError> {
    let updated = conn
        .prepare_cached(
            "UPDATE accounts SET balance_cents = ?1, transaction_count = transaction_count + ?2, updated_at = ?3
             WHERE id = ?4",
        )?
        .execute(params![balance.cents(), postings, now, account_id])?;
    debug_assert_eq!(updated, 1);
    Ok(())
}

/// One ledger row to append.
#[derive(Clone, Copy)]
struct Leg<'a> {
    account: &'a Account,
    kind: TransactionType,
    amount: Amount,
    balance_after: Balance,
    counterparty: Option<&'a str>,
    transfer_id: Option<i64>,
    description: &'a str,
}

impl<'a> Leg<'a> {
    fn plain(
        account: &'a Account,
        kind: TransactionType,
        movement: &'a Movement<'a>,
        balance_after: Balance,
    ) -> Self {
        Leg {
            account,
            kind,
            amount: movement.amount,
            balance_after,
            counterparty: None,
            transfer_id: None,
            description: movement.description,
        }
    }
}

/// Appends ledger rows (one movement's legs) with consecutive ids and returns the first. The
/// table has no rowid (it is clustered by account, migration V3): ids continue from the
/// highest, which only this thread ever assigns, so one probe serves every leg.
///
/// The ids are read first and inserted as plain values rather than with `INSERT … RETURNING`:
/// SQLite gathers `RETURNING` rows in an ephemeral table, which costs a temporary b-tree (its
/// pager, page and cursor allocated and freed) on every insert. That was a fifth of `append`'s
/// time on the writer thread (BENCHMARKS.md).
fn append(conn: &Connection, legs: &[Leg<'_>], now: &str) -> Result<i64, ApiError> {
    let first_id: i64 = conn
        .prepare_cached("SELECT coalesce(max(id), 0) + 1 FROM transactions")?
        .query_row([], |row| row.get(0))?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO transactions (id, account_id, customer_id, transaction_type, amount_cents,
             balance_after_cents, counterparty_account_number, transfer_id, description, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for (id, leg) in (first_id..).zip(legs) {
        let inserted = insert.execute(params![
            id,
            leg.account.id,
            leg.account.customer,
            leg.kind.as_str(),
            leg.amount.cents(),
            leg.balance_after.cents(),
            leg.counterparty,
            leg.transfer_id,
            leg.description,
            now
        ])?;
        debug_assert_eq!(inserted, 1);
    }
    Ok(first_id)
}

/// The newest posting time handed out, in microseconds since the epoch.
static LAST_POSTING_MICROS: AtomicI64 = AtomicI64::new(0);

/// The time stamped on a posting. Postings are made one at a time on the writer thread, and
/// this never goes backwards (even if the wall clock does), so ledger order by `(created_at, id)`
/// is commit order and each day's last `balance_after` really is that day's closing balance.
fn posting_time() -> String {
    let now = Utc::now().timestamp_micros();
    let previous = LAST_POSTING_MICROS.fetch_max(now, Ordering::SeqCst);
    let micros = now.max(previous);
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(crate::domain::time::format_time)
        .unwrap_or_else(crate::domain::time::now_rfc3339)
}
