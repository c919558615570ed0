//! Accounts: the row every account query answers, typed.

use serde::Serialize;

use crate::domain::{AccountNumber, AccountStatus, AccountType, Balance};
use crate::store::ids::{AccountId, CustomerId};

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
