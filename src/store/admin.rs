//! Staff (contract §8): lists of every customer's data, unscoped by owner, with typed filters,
//! the audit log, and freezing an account.
//!
//! Filters are values (ids, enums, days, names to look up), never SQL: each backend turns them
//! into its own query (`sqlite/admin.rs`). A name filter (`username`, `account_number`) is
//! compared for equality only, so any text is a valid filter; one that names nothing matches
//! no row. Only `http::admin` calls these, and only behind the `StaffUser` extractor.

use chrono::NaiveDate;
use serde_json::Value;

use crate::domain::{AccountStatus, TransactionType};
use crate::error::ApiError;
use crate::store::accounts::Account;
use crate::store::audit::{AuditContext, Outcome};
use crate::store::customers::Customer;
use crate::store::ids::{AccountId, AuditId, CustomerId, UserId};
use crate::store::transactions::Transaction;
use crate::store::{PageWindow, Store, sqlite};

/// Whole UTC days, both ends inclusive (`?date_from=` / `?date_to=`); `None` is unbounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayRange {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Filters of the staff customer list (live profiles only).
#[derive(Clone, Debug, Default)]
pub struct CustomerFilter {
    pub user: Option<UserId>,
    /// The owner's username, case-insensitively (as at login).
    pub username: Option<String>,
}

/// Filters of the staff account list.
#[derive(Clone, Debug, Default)]
pub struct AccountFilter {
    pub customer: Option<CustomerId>,
    pub user: Option<UserId>,
    pub status: Option<AccountStatus>,
    pub account_number: Option<String>,
    /// The owner's username, case-insensitively.
    pub username: Option<String>,
}

/// Filters of the staff transaction list.
#[derive(Clone, Debug, Default)]
pub struct TransactionFilter {
    pub account: Option<AccountId>,
    /// The account owner's login.
    pub user: Option<UserId>,
    /// The account owner's username, case-insensitively.
    pub username: Option<String>,
    pub account_number: Option<String>,
    pub transaction_type: Option<TransactionType>,
    pub days: DayRange,
}

/// Filters of the audit log.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Who acted.
    pub actor: Option<UserId>,
    /// The account acted on (rows whose object is that account).
    pub account: Option<AccountId>,
    /// The actor's username, case-insensitively; with `actor`, both must name the same user.
    pub username: Option<String>,
    /// The account's number; with `account`, both must name the same account.
    pub account_number: Option<String>,
    /// The exact action code (`deposit`, `card_issued`, ...).
    pub action: Option<String>,
    pub days: DayRange,
}

/// An account as staff see it: with its owner's username next to the customer id.
#[derive(Clone, Debug)]
pub struct StaffAccount {
    pub account: Account,
    pub username: String,
}

/// A ledger row as staff see it: with the account owner's username.
#[derive(Clone, Debug)]
pub struct StaffTransaction {
    pub transaction: Transaction,
    pub username: String,
}

/// One row of the audit log, decoded strictly (an unknown outcome or details that are not JSON
/// are an internal error, never a default).
#[derive(Clone, Debug)]
pub struct AuditRow {
    pub id: AuditId,
    pub created_at: String,
    /// `None` for anonymous actors (a failed login, a refused token).
    pub actor_user_id: Option<UserId>,
    pub client_ip: String,
    /// The server's id of the request.
    pub request_id: String,
    /// The client's own `X-Request-Id`, if it sent one.
    pub client_request_id: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<i64>,
    pub outcome: Outcome,
    pub details: Value,
    /// The row's chain hash, lowercase hex.
    pub hash: String,
}

/// An audit row with its actor's username (`None` for anonymous actors).
#[derive(Clone, Debug)]
pub struct StaffAuditRow {
    pub row: AuditRow,
    pub actor_username: Option<String>,
}

/// Freeze (or unfreeze) any account, audited as `account_frozen` / `account_unfrozen`. A closed
/// account stays closed; one already in the asked state is left as it is (audited with
/// `changed: false`).
#[derive(Clone, Debug)]
pub struct SetAccountFrozen {
    pub account: AccountId,
    pub frozen: bool,
    pub audit: AuditContext,
}

impl SetAccountFrozen {
    /// The audit action this command records.
    pub fn action(&self) -> &'static str {
        if self.frozen {
            "account_frozen"
        } else {
            "account_unfrozen"
        }
    }
}

impl Store {
    /// One page of live customer profiles, oldest first, and how many match.
    pub async fn staff_customers(
        &self,
        filter: CustomerFilter,
        window: PageWindow,
    ) -> Result<(u64, Vec<Customer>), ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| sqlite::admin::customers(conn, &filter, window))
                    .await
            }
        }
    }

    /// One page of accounts, oldest first, and how many match.
    pub async fn staff_accounts(
        &self,
        filter: AccountFilter,
        window: PageWindow,
    ) -> Result<(u64, Vec<StaffAccount>), ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| sqlite::admin::accounts(conn, &filter, window))
                    .await
            }
        }
    }

    /// One page of ledger rows, newest first, and how many match.
    pub async fn staff_transactions(
        &self,
        filter: TransactionFilter,
        window: PageWindow,
    ) -> Result<(u64, Vec<StaffTransaction>), ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| sqlite::admin::transactions(conn, &filter, window))
                    .await
            }
        }
    }

    /// One page of the audit log, newest first, and how many rows match.
    pub async fn staff_audit(
        &self,
        filter: AuditFilter,
        window: PageWindow,
    ) -> Result<(u64, Vec<StaffAuditRow>), ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| sqlite::admin::audit(conn, &filter, window))
                    .await
            }
        }
    }

    /// Applies the freeze or unfreeze and records its audit row in the same transaction;
    /// returns the account as it now is and the audit id. `404` for no such account.
    pub async fn set_account_frozen(
        &self,
        command: SetAccountFrozen,
    ) -> Result<(Account, AuditId), ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| sqlite::admin::set_frozen(conn, &command))
                    .await
            }
        }
    }
}
