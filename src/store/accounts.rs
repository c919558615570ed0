//! Accounts: the row every account query answers, typed, and the commands and queries of the
//! account resource (open, list, find, change, close). Balances change only in a backend's
//! `ledger.rs`.

use crate::domain::{AccountNumber, AccountStatus, AccountType, Balance};
use crate::error::ApiError;
use crate::store::ids::{AccountId, CustomerId, UserId};
use crate::store::ordering::OrderTerm;
use crate::store::{PageWindow, Store, sqlite};

/// One account, decoded strictly from its row. Not `Serialize`: the API's shape is
/// `http::accounts::AccountBody`, built from it.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: AccountId,
    pub account_number: AccountNumber,
    pub account_type: AccountType,
    pub nickname: String,
    pub balance: Balance,
    pub status: AccountStatus,
    pub customer: CustomerId,
    pub created_at: String,
    pub updated_at: String,
}

/// Which of the customer's accounts to list.
#[derive(Clone, Copy, Debug)]
pub enum StatusFilter {
    /// Active and frozen (the default).
    Open,
    Only(AccountStatus),
}

/// What an account list may be ordered by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountOrderField {
    CreatedAt,
    Balance,
    Id,
    AccountNumber,
    Nickname,
}

/// The account list's query: whose, which statuses, in which order (empty: oldest first).
#[derive(Clone, Debug)]
pub struct AccountList {
    pub user: UserId,
    pub status: StatusFilter,
    pub ordering: Vec<OrderTerm<AccountOrderField>>,
}

/// Opening an account for `user`'s profile.
#[derive(Clone, Debug)]
pub struct OpenAccount {
    pub user: UserId,
    pub account_type: AccountType,
    /// Already checked against `NICKNAME_CHARS_MAX`; may be blank.
    pub nickname: String,
    /// `max_accounts_per_customer`: an open (non-closed) account past it is refused.
    pub max_open_accounts: u32,
}

/// Changing an open account's type and/or nickname (`None`: leave as is).
#[derive(Clone, Debug)]
pub struct ChangeAccount {
    pub user: UserId,
    pub id: AccountId,
    pub account_type: Option<AccountType>,
    pub nickname: Option<String>,
}

impl Store {
    /// The account `id` if it belongs to `user`'s live profile, else `404` (someone else's
    /// account and a missing one look the same). A by-key read: runs inline when a reader is
    /// free (`sqlite::Db::read_point`).
    pub async fn find_account(&self, user: UserId, id: AccountId) -> Result<Account, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read_point(move |conn| {
                    sqlite::accounts::find_by_id_and_owner(conn, id.get(), user.get())
                })
                .await
            }
        }
    }

    /// One page of the caller's accounts and how many match in all. A user without a profile
    /// has none.
    pub async fn list_accounts(
        &self,
        query: AccountList,
        window: PageWindow,
    ) -> Result<(u64, Vec<Account>), ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| sqlite::accounts::list_for_user(conn, &query, window))
                    .await
            }
        }
    }

    /// Opens an account with a fresh random number. Refused without a customer profile, and
    /// past `max_open_accounts` (`account_limit_reached`).
    pub async fn open_account(&self, command: OpenAccount) -> Result<Account, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| {
                    sqlite::accounts::open(conn, &command, &crate::domain::time::now_rfc3339())
                })
                .await
            }
        }
    }

    /// Changes an account's type and/or nickname. `404` when it is not the caller's; refused
    /// when it is closed.
    pub async fn change_account(&self, command: ChangeAccount) -> Result<Account, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| {
                    sqlite::accounts::update(conn, &command, &crate::domain::time::now_rfc3339())
                })
                .await
            }
        }
    }

    /// Closes an empty, active account and cancels its cards; its history stays. Refused when
    /// it is frozen, already closed or holds money.
    pub async fn close_account(&self, user: UserId, id: AccountId) -> Result<(), ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| {
                    sqlite::accounts::close(
                        conn,
                        id.get(),
                        user.get(),
                        &crate::domain::time::now_rfc3339(),
                    )
                })
                .await
            }
        }
    }
}
