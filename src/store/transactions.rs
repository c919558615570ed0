//! Reading the ledger: the transaction row, the typed list filters and ordering, and the
//! `Store` queries that answer them. Only a backend's `ledger.rs` writes ledger rows.
//!
//! `TransactionOrderField` names what the list may be ordered by, never a column: the backend
//! maps fields to its columns (`sqlite/transactions.rs`); the term itself is `store::ordering`'s.

use crate::domain::{AccountNumber, Amount, Balance, TransactionType};
use crate::error::ApiError;
use crate::store::ids::{AccountId, TransactionId, TransferId, UserId};
use crate::store::ordering::OrderTerm;
use crate::store::{PageWindow, Store, sqlite};

/// One ledger row, decoded strictly: a type, amount, balance or account number the domain
/// refuses is a corrupt row (an internal error), never a plausible default. Not `Serialize`: the
/// API's shape is `http::transactions::TransactionBody`, built from it (the list, the detail,
/// the staff list and a statement's page all answer that).
#[derive(Clone, Debug)]
pub struct Transaction {
    pub id: TransactionId,
    pub account: AccountId,
    pub account_number: AccountNumber,
    pub transaction_type: TransactionType,
    /// Always positive; the type says which way it moved.
    pub amount: Amount,
    pub balance_after: Balance,
    /// The other account of a transfer leg; `None` exactly when `transfer_id` is.
    pub counterparty_account_number: Option<AccountNumber>,
    pub transfer_id: Option<TransferId>,
    pub description: String,
    /// RFC 3339 UTC, as the writer stamped it.
    pub created_at: String,
}

/// What a transaction list may be ordered by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionOrderField {
    CreatedAt,
    Id,
    Amount,
    TransactionType,
}

/// The transaction list's filters, already validated at the HTTP edge. Every filter narrows;
/// the default (all `None`, empty) is every transaction of the caller's, newest first.
#[derive(Clone, Debug, Default)]
pub struct TransactionFilters {
    /// Only this account's rows (an account that is not the caller's matches nothing).
    pub account: Option<AccountId>,
    pub transaction_type: Option<TransactionType>,
    /// Inclusive lower bound on `created_at` (start of `date_from`, UTC, RFC 3339).
    pub created_from: Option<String>,
    /// Exclusive upper bound on `created_at` (start of the day after `date_to`, UTC, RFC 3339).
    pub created_before: Option<String>,
    /// Bounds on the amount, in cents (inclusive; zero allowed, unlike an `Amount`).
    pub min_amount_cents: Option<i64>,
    pub max_amount_cents: Option<i64>,
    /// `?search=` terms; each must occur in the description (ASCII case-insensitive).
    pub search: Vec<String>,
    /// `?ordering=` terms; empty means newest first.
    pub ordering: Vec<OrderTerm<TransactionOrderField>>,
}

impl Store {
    /// One page of `user`'s transactions matching `filters`, and how many match in all. An
    /// order that needs a sort (amount, type) over more than `ORDERING_SORT_ROWS_MAX` rows is
    /// refused as a field error on `ordering`.
    pub async fn list_transactions(
        &self,
        user: UserId,
        filters: TransactionFilters,
        window: PageWindow,
    ) -> Result<(u64, Vec<Transaction>), ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| {
                    sqlite::transactions::list_for_user(conn, user.get(), &filters, window)
                })
                .await
            }
        }
    }

    /// The transaction `id` if it is on one of `user`'s accounts, else `404`. A by-key read.
    pub async fn find_transaction(
        &self,
        user: UserId,
        id: TransactionId,
    ) -> Result<Transaction, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read_point(move |conn| {
                    sqlite::transactions::find_by_id_and_owner(conn, id.get(), user.get())
                })
                .await
            }
        }
    }
}
