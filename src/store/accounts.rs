//! Accounts: the row every account query answers, typed.

use serde::Serialize;

use crate::domain::{AccountNumber, AccountStatus, AccountType, Balance};
use crate::store::ids::{AccountId, CustomerId, UserId};

/// One account, decoded strictly from its row.
#[derive(Clone, Debug, Serialize)]
pub struct Account {
    pub id: AccountId,
    #[serde(serialize_with = "crate::store::display")]
    pub account_number: AccountNumber,
    #[serde(serialize_with = "crate::store::display")]
    pub account_type: AccountType,
    pub nickname: String,
    #[serde(serialize_with = "crate::store::display")]
    pub balance: Balance,
    #[serde(serialize_with = "crate::store::display")]
    pub status: AccountStatus,
    pub customer: CustomerId,
    pub created_at: String,
    pub updated_at: String,
}

impl crate::store::Store {
    /// The account `id` if it belongs to `user`'s live profile, else `404` (someone else's
    /// account and a missing one look the same). A by-key read: runs inline when a reader is
    /// free (`sqlite::Db::read_point`).
    pub async fn find_account(
        &self,
        user: UserId,
        id: AccountId,
    ) -> Result<Account, crate::error::ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read_point(move |conn| {
                    crate::store::sqlite::accounts::find_by_id_and_owner(conn, id.get(), user.get())
                })
                .await
            }
        }
    }
}
