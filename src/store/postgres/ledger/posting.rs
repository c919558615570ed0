//! The posting itself: lock the movement's accounts in id order, decide on what was read under
//! the locks (a typed [`Refusal`], before any write), then write balances and ledger legs and
//! assert the postconditions. The order of the refusals is SQLite's (`sqlite/ledger.rs`), so
//! a request that breaks two rules gets the same answer from both stores.
//!
//! Round trips are what a movement waits for while it holds its row locks, so the writes are
//! pipelined: statements that do not need each other's results are sent together
//! (`tokio::try_join!` on one connection; tokio-postgres sends each request when its future is
//! first polled, in argument order, and PostgreSQL runs them in the order sent). A transfer is
//! `BEGIN`, the locking read, {transfer row, two balances}, {two legs}, then the audit row and
//! `COMMIT` in `ledger.rs`: 6 round trips instead of 10. If one pipelined statement fails, the
//! ones after it fail too (the transaction is aborted) and the whole movement rolls back.

use deadpool_postgres::Transaction;
use tokio_postgres::Row;

use super::{Fault, posting_time};
use crate::domain::{AccountNumber, AccountStatus, Balance, TransactionType};
use crate::error::ApiError;
use crate::store::ids::{AccountId, CustomerId, TransactionId, TransferId};
use crate::store::movements::rules::{self, Holding, Leg};
use crate::store::movements::{MovementCommand, MovementKind, Posted, Refusal};

/// Posts the movement, or says why not (having written nothing). Runs inside the movement's
/// transaction; the caller commits.
pub async fn post(
    transaction: &Transaction<'_>,
    command: &MovementCommand,
) -> Result<Result<Posted, Refusal>, Fault> {
    let destination_number = match &command.kind {
        MovementKind::Transfer { destination } => Some(destination),
        MovementKind::Deposit | MovementKind::Withdrawal => None,
    };
    let Locked { holdings, now } = lock(transaction, command, destination_number).await?;
    let source = holdings
        .iter()
        .find(|(holding, owned)| holding.id == command.account && *owned)
        .map(|(holding, _)| holding);
    let Some(source) = source else {
        return Ok(Err(Refusal::AccountNotFound));
    };
    match &command.kind {
        MovementKind::Deposit => deposit(transaction, command, source, &now).await,
        MovementKind::Withdrawal => withdraw(transaction, command, source, &now).await,
        MovementKind::Transfer { destination } => {
            let destination = holdings
                .iter()
                .map(|(holding, _)| holding)
                .find(|holding| holding.number == *destination);
            let Some(destination) = destination else {
                return Ok(Err(Refusal::DestinationNotFound));
            };
            transfer(transaction, command, source, destination, &now).await
        }
    }
}

/// The movement's accounts, locked, and the posting time read under the locks.
struct Locked {
    /// Each account read, and whether it belongs to the caller's live profile.
    holdings: Vec<(Holding, bool)>,
    now: String,
}

/// Locks the movement's account and, for a transfer, the destination named by its number, in
/// id order, and reads them: one round trip. `ORDER BY` sorts before the rows are locked, so
/// every movement takes its locks in the same order and none can wait on another that waits
/// on it. Only account rows are locked (`FOR UPDATE OF a`); the customer row is read for
/// ownership, which is decided on what this statement read.
///
/// The account is locked before it is known to be the caller's, so a request naming another
/// customer's account holds that row until its refusal commits. That adds nothing a client
/// cannot already do legitimately (a transfer of 0.01 to any account number locks it the same
/// way), and it saves the round trip of an unlocked ownership check before the lock.
async fn lock(
    transaction: &Transaction<'_>,
    command: &MovementCommand,
    destination: Option<&AccountNumber>,
) -> Result<Locked, Fault> {
    let statement = transaction
        .prepare_cached(
            "SELECT a.id, a.account_number, a.customer_id, a.balance_cents, a.status,
                    a.updated_at, (c.user_id = $2 AND c.deleted_at IS NULL),
                    to_char(clock_timestamp() AT TIME ZONE 'UTC',
                            'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
             FROM accounts a JOIN customers c ON c.id = a.customer_id
             WHERE a.id = $1 OR a.account_number = $3
             ORDER BY a.id
             FOR UPDATE OF a",
        )
        .await?;
    let destination = destination.map(AccountNumber::as_str);
    let rows = transaction
        .query(
            &statement,
            &[&command.account.get(), &command.user.get(), &destination],
        )
        .await?;
    let mut holdings = Vec::with_capacity(rows.len());
    let mut times = Vec::with_capacity(rows.len());
    let mut server_now = String::new();
    for row in &rows {
        holdings.push((holding(row)?, row.try_get(6)?));
        times.push(row.try_get::<_, &str>(5)?);
        server_now = row.try_get(7)?;
    }
    let now = posting_time(&server_now, &times);
    Ok(Locked { holdings, now })
}

async fn deposit(
    transaction: &Transaction<'_>,
    command: &MovementCommand,
    account: &Holding,
    now: &str,
) -> Result<Result<Posted, Refusal>, Fault> {
    let new_balance = match rules::deposit(account, command.amount) {
        Ok(balance) => balance,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let leg = Leg::single(account, TransactionType::Deposit, command, new_balance);
    let ((), transaction_id) = tokio::try_join!(
        set_balance(transaction, account, new_balance, now),
        append(transaction, &leg, now)
    )?;
    Ok(Ok(Posted::Deposit {
        transaction: transaction_id,
        new_balance,
    }))
}

async fn withdraw(
    transaction: &Transaction<'_>,
    command: &MovementCommand,
    account: &Holding,
    now: &str,
) -> Result<Result<Posted, Refusal>, Fault> {
    let new_balance = match rules::withdraw(account, command.amount) {
        Ok(balance) => balance,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let leg = Leg::single(account, TransactionType::Withdrawal, command, new_balance);
    let ((), transaction_id) = tokio::try_join!(
        set_balance(transaction, account, new_balance, now),
        append(transaction, &leg, now)
    )?;
    Ok(Ok(Posted::Withdrawal {
        transaction: transaction_id,
        new_balance,
    }))
}

async fn transfer(
    transaction: &Transaction<'_>,
    command: &MovementCommand,
    source: &Holding,
    destination: &Holding,
    now: &str,
) -> Result<Result<Posted, Refusal>, Fault> {
    let (source_balance, destination_balance) =
        match rules::transfer(source, destination, command.amount) {
            Ok(balances) => balances,
            Err(refusal) => return Ok(Err(refusal)),
        };
    let (transfer_id, (), ()) = tokio::try_join!(
        insert_transfer(transaction, command, source, destination, now),
        set_balance(transaction, source, source_balance, now),
        set_balance(transaction, destination, destination_balance, now),
    )?;
    let [out_leg, in_leg] = Leg::transfer_pair(
        command,
        transfer_id,
        (source, source_balance),
        (destination, destination_balance),
    );
    let (out_id, in_id) = tokio::try_join!(
        append(transaction, &out_leg, now),
        append(transaction, &in_leg, now)
    )?;
    // Sent in this order (pipelined, see `post`), run in this order, from one sequence.
    assert!(in_id > out_id, "transfer legs out of order");
    Ok(Ok(Posted::Transfer {
        transfer: transfer_id,
        source_balance,
    }))
}

/// Inserts the transfer row that joins the two legs; its id comes from its identity.
async fn insert_transfer(
    transaction: &Transaction<'_>,
    command: &MovementCommand,
    source: &Holding,
    destination: &Holding,
    now: &str,
) -> Result<TransferId, Fault> {
    let insert = transaction
        .prepare_cached(
            "INSERT INTO transfers (source_account_id, destination_account_id, amount_cents, created_at)
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .await?;
    let row = transaction
        .query_one(
            &insert,
            &[
                &source.id.get(),
                &destination.id.get(),
                &command.amount.cents(),
                &now,
            ],
        )
        .await?;
    Ok(TransferId::new(row.try_get(0)?))
}

/// Reads the columns of [`Holding`] strictly (a number, balance or status the domain refuses is
/// a fault, never a default).
fn holding(row: &Row) -> Result<Holding, Fault> {
    let id: i64 = row.try_get(0)?;
    let corrupt = |what: &str| Fault::Api(ApiError::internal(format!("account {id}: {what}")));
    let number: &str = row.try_get(1)?;
    let balance: i64 = row.try_get(3)?;
    let status: &str = row.try_get(4)?;
    Ok(Holding {
        id: AccountId::new(id),
        number: AccountNumber::parse(number).ok_or_else(|| corrupt("account number"))?,
        customer: CustomerId::new(row.try_get(2)?),
        balance: Balance::from_cents(balance).ok_or_else(|| corrupt("balance"))?,
        status: AccountStatus::parse(status).ok_or_else(|| corrupt("status"))?,
    })
}

/// Writes `balance` over the balance read under the lock and counts one posting. The `WHERE`
/// names the balance read: exactly one row changes, or the ledger refuses to commit.
async fn set_balance(
    transaction: &Transaction<'_>,
    account: &Holding,
    balance: Balance,
    now: &str,
) -> Result<(), Fault> {
    let update = transaction
        .prepare_cached(
            "UPDATE accounts SET balance_cents = $1, transaction_count = transaction_count + 1,
                 updated_at = $2
             WHERE id = $3 AND balance_cents = $4",
        )
        .await?;
    let updated = transaction
        .execute(
            &update,
            &[
                &balance.cents(),
                &now,
                &account.id.get(),
                &account.balance.cents(),
            ],
        )
        .await?;
    assert_eq!(
        updated, 1,
        "account {} changed behind the ledger's back",
        account.id
    );
    Ok(())
}

/// Appends one ledger row; its id comes from the identity's sequence (see the module doc).
async fn append(
    transaction: &Transaction<'_>,
    leg: &Leg<'_>,
    now: &str,
) -> Result<TransactionId, Fault> {
    let insert = transaction
        .prepare_cached(
            "INSERT INTO transactions (account_id, customer_id, transaction_type, amount_cents,
                 balance_after_cents, counterparty_account_number, transfer_id, description,
                 created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             RETURNING id",
        )
        .await?;
    let rows = transaction
        .query(
            &insert,
            &[
                &leg.account.id.get(),
                &leg.account.customer.get(),
                &leg.kind.as_str(),
                &leg.amount.cents(),
                &leg.balance_after.cents(),
                &leg.counterparty,
                &leg.transfer.map(TransferId::get),
                &leg.description,
                &now,
            ],
        )
        .await?;
    assert_eq!(rows.len(), 1, "a ledger row was not inserted");
    Ok(TransactionId::new(rows[0].try_get(0)?))
}
