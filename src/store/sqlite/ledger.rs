//! THE ONLY CODE THAT MOVES MONEY: deposit, withdraw, transfer, and the writer job around them.
//!
//! [`execute`] is one writer job (one savepoint inside the writer's `BEGIN IMMEDIATE`, see
//! `commit/writer.rs`): idempotency lookup, posting, audit row, stored answer. Because every
//! write goes through the one writer thread, the ledger's "read balance, check, write balance,
//! append ledger rows" cannot interleave with any other write.
//!
//! Every refusal (unknown, frozen or closed account, insufficient funds, balance limit) is
//! decided before the first write and returned as a typed [`Refusal`], having changed nothing,
//! so the job can still record it; an SQLite error after a write makes the whole job roll back
//! to its savepoint. This module builds no `ApiError` and knows no JSON field: a fault is a
//! `rusqlite::Error`, a refusal a `Refusal`, and the answer's text comes from the command's
//! `render` (store/movements.rs). Hence [`post`]'s `rusqlite::Result<Result<Posted, Refusal>>`:
//! the outer `Err` is the database failing (roll back, store nothing), the inner one the
//! ledger's verdict (audit it, remember it under the key).
//!
//! After posting, each movement asserts its postconditions with `assert!` (in release too, as
//! TigerBeetle does: a ledger that contradicts itself must stop, not commit): each `UPDATE`
//! changed exactly the one row whose balance was read (the `WHERE` names the balance read, so
//! a row changed behind the ledger's back would change zero rows), each ledger row was
//! inserted, the balance written is the balance read ± the amount, and a transfer's legs sum to
//! zero. They check values already in hand and `changes()` counts: no extra query. A failed
//! assertion panics inside the job, which the writer turns into a rollback and a `500`. The
//! schema's `CHECK` constraints enforce the balances again.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::domain::{AccountNumber, AccountStatus, Balance, TransactionType};
use crate::error::ApiError;
use crate::store::audit::{AuditEvent, Outcome};
use crate::store::ids::{AccountId, TransactionId, TransferId, UserId};
use crate::store::movements::rules::{self, Holding, Leg};
use crate::store::movements::{
    MovementAnswer, MovementCommand, MovementKind, Posted, Refusal, audit_details,
};
use crate::store::sqlite::idempotency::{self, Lookup};
use crate::store::sqlite::{audit, decode, decode_cents};

#[cfg(test)]
mod tests;

/// The writer job of one movement: replay or refuse a known key, post (or refuse), audit, and
/// store the answer under the key. `Err` only for a database fault (the job rolls back).
pub fn execute(conn: &Connection, command: &MovementCommand) -> Result<MovementAnswer, ApiError> {
    let now_unix = Utc::now().timestamp();
    if let Some(keyed) = &command.idempotency {
        match idempotency::lookup(conn, command.user, &keyed.key, &keyed.fingerprint, now_unix)? {
            Lookup::Absent => {}
            Lookup::Replay { status, body } => {
                return Ok(MovementAnswer::Replayed { status, body });
            }
            Lookup::Mismatch => return Ok(MovementAnswer::KeyReused),
        }
    }
    let result = post(conn, command)?;
    let answer = (command.render)(&result)?;
    let outcome = match result {
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Failure,
    };
    let event = AuditEvent {
        action: command.kind.action(),
        object: Some(("account", command.account.get())),
        outcome,
        details: audit_details(command, &result, &answer)?,
    };
    let audit_id = audit::record(conn, &command.audit, &event)?;
    if let Some(keyed) = &command.idempotency {
        idempotency::store(
            conn,
            command.user,
            &keyed.key,
            &keyed.fingerprint,
            (answer.status, &answer.body),
            now_unix,
        )?;
    }
    Ok(MovementAnswer::Fresh {
        answer,
        outcome,
        audit: crate::store::ids::AuditId::new(audit_id),
    })
}

/// Posts the movement, or says why not (having written nothing).
pub fn post(
    conn: &Connection,
    command: &MovementCommand,
) -> rusqlite::Result<Result<Posted, Refusal>> {
    let Some(account) = find_owned(conn, command.account, command.user)? else {
        return Ok(Err(Refusal::AccountNotFound));
    };
    match &command.kind {
        MovementKind::Deposit => deposit(conn, command, &account),
        MovementKind::Withdrawal => withdraw(conn, command, &account),
        MovementKind::Transfer { destination } => transfer(conn, command, &account, destination),
    }
}

fn deposit(
    conn: &Connection,
    command: &MovementCommand,
    account: &Holding,
) -> rusqlite::Result<Result<Posted, Refusal>> {
    let new_balance = match rules::deposit(account, command.amount) {
        Ok(balance) => balance,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let now = posting_time();
    set_balance(conn, account, new_balance, &now)?;
    let leg = Leg::single(account, TransactionType::Deposit, command, new_balance);
    let transaction = append(conn, &[leg], &now)?;
    Ok(Ok(Posted::Deposit {
        transaction,
        new_balance,
    }))
}

fn withdraw(
    conn: &Connection,
    command: &MovementCommand,
    account: &Holding,
) -> rusqlite::Result<Result<Posted, Refusal>> {
    let new_balance = match rules::withdraw(account, command.amount) {
        Ok(balance) => balance,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let now = posting_time();
    set_balance(conn, account, new_balance, &now)?;
    let leg = Leg::single(account, TransactionType::Withdrawal, command, new_balance);
    let transaction = append(conn, &[leg], &now)?;
    Ok(Ok(Posted::Withdrawal {
        transaction,
        new_balance,
    }))
}

fn transfer(
    conn: &Connection,
    command: &MovementCommand,
    source: &Holding,
    destination_number: &AccountNumber,
) -> rusqlite::Result<Result<Posted, Refusal>> {
    let Some(destination) = find_by_number(conn, destination_number)? else {
        return Ok(Err(Refusal::DestinationNotFound));
    };
    let (source_balance, destination_balance) =
        match rules::transfer(source, &destination, command.amount) {
            Ok(balances) => balances,
            Err(refusal) => return Ok(Err(refusal)),
        };
    let now = posting_time();
    let transfer_id = TransferId::new(
        conn.prepare_cached(
            "INSERT INTO transfers (source_account_id, destination_account_id, amount_cents, created_at)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .insert(params![source.id, destination.id, command.amount.cents(), now])?,
    );
    set_balance(conn, source, source_balance, &now)?;
    set_balance(conn, &destination, destination_balance, &now)?;
    let legs = Leg::transfer_pair(
        command,
        transfer_id,
        (source, source_balance),
        (&destination, destination_balance),
    );
    append(conn, &legs, &now)?;
    Ok(Ok(Posted::Transfer {
        transfer: transfer_id,
        source_balance,
    }))
}

/// Reads the columns of [`Holding`] (the narrow read of the hot path: two strings, not six),
/// strictly.
fn holding(row: &Row<'_>) -> rusqlite::Result<Holding> {
    Ok(Holding {
        id: row.get(0)?,
        number: decode(row, 1, AccountNumber::parse)?,
        customer: row.get(2)?,
        balance: decode_cents(row, 3, Balance::from_cents)?,
        status: decode(row, 4, AccountStatus::parse)?,
    })
}

/// The account `id` if it belongs to `user`'s live profile (the rule of
/// `accounts::find_by_id_and_owner`).
fn find_owned(conn: &Connection, id: AccountId, user: UserId) -> rusqlite::Result<Option<Holding>> {
    conn.prepare_cached(
        "SELECT a.id, a.account_number, a.customer_id, a.balance_cents, a.status
         FROM accounts a JOIN customers c ON c.id = a.customer_id
         WHERE a.id = ?1 AND c.user_id = ?2 AND c.deleted_at IS NULL",
    )?
    .query_row(params![id, user], holding)
    .optional()
}

/// Any account by number (a transfer's destination may belong to anyone).
fn find_by_number(conn: &Connection, number: &AccountNumber) -> rusqlite::Result<Option<Holding>> {
    conn.prepare_cached(
        "SELECT a.id, a.account_number, a.customer_id, a.balance_cents, a.status
         FROM accounts a WHERE a.account_number = ?1",
    )?
    .query_row([number.as_str()], holding)
    .optional()
}

/// Writes `balance` over the balance the ledger read and counts one posting. The `WHERE`
/// names the balance read, so exactly one row changes unless the row moved behind the
/// ledger's back — which the assertion refuses to commit.
fn set_balance(
    conn: &Connection,
    account: &Holding,
    balance: Balance,
    now: &str,
) -> rusqlite::Result<()> {
    let updated = conn
        .prepare_cached(
            "UPDATE accounts SET balance_cents = ?1, transaction_count = transaction_count + 1,
                 updated_at = ?2
             WHERE id = ?3 AND balance_cents = ?4",
        )?
        .execute(params![
            balance.cents(),
            now,
            account.id,
            account.balance.cents()
        ])?;
    assert_eq!(
        updated, 1,
        "account {} changed behind the ledger's back",
        account.id
    );
    Ok(())
}

/// Appends ledger rows (one movement's legs) with consecutive ids and returns the first. The
/// table has no rowid (it is clustered by account, migration V3): ids continue from the
/// highest, which only this thread ever assigns, so one probe serves every leg.
///
/// The ids are read first and inserted as plain values rather than with `INSERT … RETURNING`:
/// SQLite gathers `RETURNING` rows in an ephemeral table, which costs a temporary b-tree (its
/// pager, page and cursor allocated and freed) on every insert. That was a fifth of `append`'s
/// time on the writer thread (BENCHMARKS.md).
fn append(conn: &Connection, legs: &[Leg<'_>], now: &str) -> rusqlite::Result<TransactionId> {
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
            leg.transfer,
            leg.description,
            now
        ])?;
        assert_eq!(inserted, 1, "ledger row {id} was not inserted");
    }
    Ok(TransactionId::new(first_id))
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
