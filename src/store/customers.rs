//! Customer profiles: the row, the profile fields a command carries, and the `Store` methods
//! for the caller's own profile (create, find, change, delete). Every query takes the owner:
//! another user's profile is simply not found.

use chrono::NaiveDate;

use crate::domain::account::Gender;
use crate::error::ApiError;
use crate::store::ids::{CustomerId, UserId};
use crate::store::{Store, sqlite};

/// One customer profile, decoded strictly: a gender or date of birth the domain refuses is a
/// corrupt row (an internal error), never a plausible default. Not `Serialize`: the API's shape
/// is `http::customers::CustomerBody`, built from it.
#[derive(Clone, Debug)]
pub struct Customer {
    pub id: CustomerId,
    /// The owner's login name (joined from `users`).
    pub username: String,
    pub full_name: String,
    pub email: String,
    pub phone_number: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub gender: Option<Gender>,
    pub created_at: String,
    pub updated_at: String,
}

/// Validated profile fields. The outer `Option` is "was the field sent" (for `PATCH`), the
/// inner one is an explicit `null` / blank for the optional fields. A create takes every
/// required field (`full_name`, `email`) as sent.
#[derive(Clone, Debug, Default)]
pub struct ProfileChanges {
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub phone_number: Option<Option<String>>,
    pub date_of_birth: Option<Option<NaiveDate>>,
    pub gender: Option<Option<Gender>>,
}

impl Store {
    /// `user`'s live profile, if any (a user has at most one). A by-key read.
    pub async fn find_own_customer(&self, user: UserId) -> Result<Option<Customer>, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read_point(move |conn| sqlite::customers::find_for_user(conn, user.get()))
                    .await
            }
        }
    }

    /// The profile `id` if it is `user`'s and live, else `404`. A by-key read.
    pub async fn find_customer(&self, user: UserId, id: CustomerId) -> Result<Customer, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read_point(move |conn| {
                    sqlite::customers::find_by_id_and_owner(conn, id.get(), user.get())
                })
                .await
            }
        }
    }

    /// Creates `user`'s profile; refused (non-field error) when one exists.
    pub async fn create_customer(
        &self,
        user: UserId,
        profile: ProfileChanges,
    ) -> Result<Customer, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| {
                    sqlite::customers::insert(
                        conn,
                        user.get(),
                        &profile,
                        &crate::domain::time::now_rfc3339(),
                    )
                })
                .await
            }
        }
    }

    /// Applies the fields that were sent to the profile `id`; `404` when it is not `user`'s.
    pub async fn change_customer(
        &self,
        user: UserId,
        id: CustomerId,
        changes: ProfileChanges,
    ) -> Result<Customer, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| {
                    sqlite::customers::update(
                        conn,
                        id.get(),
                        user.get(),
                        &changes,
                        &crate::domain::time::now_rfc3339(),
                    )
                })
                .await
            }
        }
    }

    /// Deletes the profile (kept for the bank's records, hidden from the user); refused while
    /// it has open accounts.
    pub async fn delete_customer(&self, user: UserId, id: CustomerId) -> Result<(), ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| {
                    sqlite::customers::delete(
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
