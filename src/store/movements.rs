//! Money movement as one typed command: deposit, withdraw or transfer on the caller's account.
//!
//! [`Store::move_money`] runs a [`MovementCommand`] as ONE write: it replays the answer stored
//! under a known idempotency key (or reports the key reused with another request), posts the
//! movement in the backend's ledger, writes the audit row, and stores the answer under the key —
//! all in one transaction, so after a crash either all of them exist or none.
//!
//! # Posted or refused, like TigerBeetle's result codes
//!
//! The ledger answers `Result<Posted, Refusal>`. A [`Refusal`] is a closed set of reasons the
//! client caused (insufficient funds, a frozen account, ...): it is decided before the ledger's
//! first write, so a refused movement has changed nothing, and it is audited and remembered under
//! the key like a success (its replay is refused the same way). A database fault is not a
//! refusal: it is an `Err(ApiError)` of the whole command, rolls everything back and stores
//! nothing, so a retry runs afresh.
//!
//! # Who renders the answer
//!
//! What the client is told for a result (status, the contract's JSON body) is the HTTP layer's
//! business, but the answer must be stored under the idempotency key in the same transaction as
//! the movement, before the HTTP layer sees the result. So the command carries a plain function,
//! [`MovementCommand::render`], supplied by the layer above: the store calls it once inside the
//! write and stores what it returns. A `fn` pointer (not a boxed closure, not a trait object)
//! costs no allocation and keeps the store free of any HTTP type: the store sees only a status
//! number, a code and a string. Rendering may fail (a body that does not serialize): that is
//! a fault like a database error, and rolls the movement back. The audit row is built from the typed result itself (the ids in
//! [`Posted`]) plus the status and code of that answer; its JSON is fixed here, shared by every
//! backend, because `bankd verify` hashes it.

pub mod rules;

use serde_json::{Value, json};

use crate::domain::{AccountNumber, Amount, Balance};
use crate::error::{ApiError, ErrorCode};
use crate::store::Store;
use crate::store::audit::{AuditContext, Outcome};
use crate::store::ids::{AccountId, AuditId, TransactionId, TransferId, UserId};

/// Which movement, with what only that movement needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MovementKind {
    /// Money arrives on the account.
    Deposit,
    /// Money leaves the account.
    Withdrawal,
    /// Money leaves the account for another one, of any customer, named by its number.
    Transfer { destination: AccountNumber },
}

impl MovementKind {
    /// The audit action and metrics label of the movement.
    pub fn action(&self) -> &'static str {
        match self {
            Self::Deposit => "deposit",
            Self::Withdrawal => "withdrawal",
            Self::Transfer { .. } => "transfer",
        }
    }
}

/// One movement request, validated: the command [`Store::move_money`] runs.
#[derive(Debug)]
pub struct MovementCommand {
    /// The caller; the account must belong to their live customer profile.
    pub user: UserId,
    /// The account money arrives on (deposit) or leaves (withdrawal, transfer).
    pub account: AccountId,
    pub kind: MovementKind,
    pub amount: Amount,
    /// Free text recorded on every ledger row of the movement (may be empty).
    pub description: String,
    /// The client's idempotency key and the fingerprint of its request, if it sent a key.
    pub idempotency: Option<Idempotency>,
    /// Who asked and from where, for the audit row.
    pub audit: AuditContext,
    /// What the client is told for a result (see the module doc); called once, inside the
    /// write, for a fresh movement.
    pub render: fn(&Result<Posted, Refusal>) -> Result<Answer, ApiError>,
}

/// An idempotency key and the request it was first sent with.
#[derive(Clone, Debug)]
pub struct Idempotency {
    /// The key as the client sent it (scoped to the user).
    pub key: String,
    /// A digest of the request (method, path, canonical body): the same key with another
    /// request is refused rather than answered with the first request's answer.
    pub fingerprint: [u8; 32],
}

/// What the ledger did: the posting's typed id and the balance the client is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Posted {
    Deposit {
        transaction: TransactionId,
        new_balance: Balance,
    },
    Withdrawal {
        transaction: TransactionId,
        new_balance: Balance,
    },
    /// Both legs are ledger rows sharing `transfer`.
    Transfer {
        transfer: TransferId,
        source_balance: Balance,
    },
}

/// Why the ledger refused a movement: exactly the refusals it makes, each decided before its
/// first write (so a refused movement changed nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The account is not the caller's (or does not exist): the same answer either way. The
    /// HTTP layer answers this before the ledger only for invalid bodies; a valid body's
    /// ownership is checked here, inside the movement's transaction.
    AccountNotFound,
    /// The account is frozen: nothing moves in or out.
    AccountFrozen,
    /// The account is closed: nothing moves in or out.
    AccountClosed,
    /// The account's balance does not cover the amount.
    InsufficientFunds,
    /// The credited account (the deposit's, or the transfer's destination) would pass the
    /// maximum balance.
    BalanceLimitExceeded,
    /// No account has the transfer's destination number.
    DestinationNotFound,
    /// The transfer's destination is its source.
    SameAccount,
    /// The transfer's destination is frozen.
    DestinationFrozen,
    /// The transfer's destination is closed.
    DestinationClosed,
}

/// What the client is told for one result, as the layer above renders it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status, as a number (stored with the key, audited).
    pub status: u16,
    /// The machine-readable code of a refusal whose body carries one (field errors carry
    /// none); the audit row records it.
    pub code: Option<ErrorCode>,
    /// The body, exactly as sent (stored with the key and replayed byte for byte).
    pub body: String,
}

/// How [`Store::move_money`] ended.
#[derive(Debug)]
pub enum MovementAnswer {
    /// The movement ran now, posted or refused: its answer, how it ended, its audit row.
    Fresh {
        answer: Answer,
        outcome: Outcome,
        audit: AuditId,
    },
    /// The key was already used with this very request: the answer given then, unchanged.
    Replayed { status: u16, body: String },
    /// The key was already used with a different request: nothing ran.
    KeyReused,
}

impl Store {
    /// Runs one movement (see the module doc): replay, posting or refusal, audit row and stored
    /// answer in one write job. `Err` only for a fault of the store (nothing was written).
    pub async fn move_money(&self, command: MovementCommand) -> Result<MovementAnswer, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| crate::store::sqlite::ledger::execute(conn, &command))
                    .await
            }
        }
    }
}

/// The audit row's details of a fresh movement: `amount`, `status`, the transfer's
/// `to_account_number`, then the posting's `transaction_id` / `transfer_id` or the refusal's
/// `code` when its answer carries one. The keys, their order and their JSON types are those
/// of every row ever written (`bankd verify` hashes the text), so never change them.
pub fn audit_details(
    command: &MovementCommand,
    result: &Result<Posted, Refusal>,
    answer: &Answer,
) -> Result<Value, ApiError> {
    let mut details = json!({ "amount": command.amount.to_string(), "status": answer.status });
    if let MovementKind::Transfer { destination } = &command.kind {
        details["to_account_number"] = Value::from(destination.as_str());
    }
    match result {
        Ok(Posted::Deposit { transaction, .. } | Posted::Withdrawal { transaction, .. }) => {
            details["transaction_id"] = Value::from(transaction.get());
        }
        Ok(Posted::Transfer { transfer, .. }) => {
            details["transfer_id"] = Value::from(transfer.get());
        }
        Err(_) => {
            if let Some(code) = answer.code {
                details["code"] = serde_json::to_value(code)
                    .map_err(|e| ApiError::internal(format!("error code as JSON: {e}")))?;
            }
        }
    }
    Ok(details)
}
