//! The ledger's rules, shared by every backend: on the accounts a backend has read (and, on
//! PostgreSQL, locked), which [`Refusal`] applies — in one order, so a request that breaks two
//! rules gets the same answer from every store — and what the balances become, with the
//! arithmetic asserted in release. A backend reads the [`Holding`]s, asks these functions, and
//! only then writes: the balances they return and the [`Leg`]s they describe.

use crate::domain::{AccountNumber, AccountStatus, Amount, Balance, TransactionType};
use crate::store::ids::{AccountId, CustomerId, TransferId};
use crate::store::movements::{MovementCommand, Refusal};

/// What the ledger reads of an account: only what a movement needs, decoded strictly by the
/// backend (a number, balance or status the domain refuses is a fault, never a default).
#[derive(Clone, Debug)]
pub struct Holding {
    pub id: AccountId,
    pub number: AccountNumber,
    pub customer: CustomerId,
    pub balance: Balance,
    pub status: AccountStatus,
}

/// The caller's account after a deposit, or why not.
pub fn deposit(account: &Holding, amount: Amount) -> Result<Balance, Refusal> {
    ensure_movable(account)?;
    let new_balance = account
        .balance
        .credit(amount)
        .ok_or(Refusal::BalanceLimitExceeded)?;
    assert_eq!(
        new_balance.cents() - account.balance.cents(),
        amount.cents()
    );
    Ok(new_balance)
}

/// The caller's account after a withdrawal, or why not.
pub fn withdraw(account: &Holding, amount: Amount) -> Result<Balance, Refusal> {
    ensure_movable(account)?;
    let new_balance = account
        .balance
        .debit(amount)
        .ok_or(Refusal::InsufficientFunds)?;
    assert_eq!(
        account.balance.cents() - new_balance.cents(),
        amount.cents()
    );
    assert!(new_balance.cents() >= 0);
    Ok(new_balance)
}

/// The source's and the destination's balances after a transfer, or why not. The destination
/// was found by its number (a missing one is [`Refusal::DestinationNotFound`], decided by the
/// backend's read before this).
pub fn transfer(
    source: &Holding,
    destination: &Holding,
    amount: Amount,
) -> Result<(Balance, Balance), Refusal> {
    if destination.id == source.id {
        return Err(Refusal::SameAccount);
    }
    ensure_movable(source)?;
    match destination.status {
        AccountStatus::Active => {}
        AccountStatus::Frozen => return Err(Refusal::DestinationFrozen),
        AccountStatus::Closed => return Err(Refusal::DestinationClosed),
    }
    let source_balance = source
        .balance
        .debit(amount)
        .ok_or(Refusal::InsufficientFunds)?;
    let destination_balance = destination
        .balance
        .credit(amount)
        .ok_or(Refusal::BalanceLimitExceeded)?;
    // The two legs sum to zero: what leaves the source arrives at the destination, no more.
    let debited = source.balance.cents() - source_balance.cents();
    let credited = destination_balance.cents() - destination.balance.cents();
    assert_eq!(debited, amount.cents());
    assert_eq!(debited - credited, 0);
    Ok((source_balance, destination_balance))
}

/// Refuses movements out of (or into) a frozen or closed account of the caller's.
fn ensure_movable(account: &Holding) -> Result<(), Refusal> {
    match account.status {
        AccountStatus::Active => Ok(()),
        AccountStatus::Frozen => Err(Refusal::AccountFrozen),
        AccountStatus::Closed => Err(Refusal::AccountClosed),
    }
}

/// One ledger row to append.
#[derive(Clone, Copy, Debug)]
pub struct Leg<'a> {
    pub account: &'a Holding,
    pub kind: TransactionType,
    pub amount: Amount,
    pub balance_after: Balance,
    pub counterparty: Option<&'a str>,
    pub transfer: Option<TransferId>,
    pub description: &'a str,
}

impl<'a> Leg<'a> {
    /// The one row of a deposit or withdrawal.
    pub fn single(
        account: &'a Holding,
        kind: TransactionType,
        command: &'a MovementCommand,
        balance_after: Balance,
    ) -> Self {
        Leg {
            account,
            kind,
            amount: command.amount,
            balance_after,
            counterparty: None,
            transfer: None,
            description: &command.description,
        }
    }

    /// A transfer's two rows, out then in, each naming the other account.
    pub fn transfer_pair(
        command: &'a MovementCommand,
        transfer: TransferId,
        (source, source_balance): (&'a Holding, Balance),
        (destination, destination_balance): (&'a Holding, Balance),
    ) -> [Self; 2] {
        let out_leg = Leg {
            account: source,
            kind: TransactionType::TransferOut,
            amount: command.amount,
            balance_after: source_balance,
            counterparty: Some(destination.number.as_str()),
            transfer: Some(transfer),
            description: &command.description,
        };
        let in_leg = Leg {
            account: destination,
            kind: TransactionType::TransferIn,
            balance_after: destination_balance,
            counterparty: Some(source.number.as_str()),
            ..out_leg
        };
        [out_leg, in_leg]
    }
}
