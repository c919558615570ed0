//! Passwords and session revocation: a user's own change, a staff-forced reset, a reset with
//! the one-time token, and the revocation records that reach other servers' caches. Every
//! command that sets a password ends the user's sessions in the same transaction.

use crate::error::ApiError;
use crate::store::Store;
use crate::store::audit::AuditContext;
use crate::store::ids::{AuditId, UserId};
use crate::store::sqlite;
use crate::store::users::ActiveUser;

/// What changing a password needs: the current hash and the attributes Django's similarity
/// validator compares the new password with.
#[derive(Clone, Debug)]
pub struct PasswordOwner {
    pub user_id: UserId,
    pub username: String,
    pub email: String,
    /// The live customer profile's full name, empty without one.
    pub full_name: String,
    pub password_hash: String,
}

/// Who set a new password (the audit row's `by`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangedBy {
    /// The user, knowing the old password.
    User,
    /// An operator, with `bankd changepassword`.
    Cli,
}

impl ChangedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Cli => "cli",
        }
    }
}

/// A new password hash for a user: every session but `keep` ends with it.
#[derive(Clone, Debug)]
pub struct ChangePassword {
    pub user: UserId,
    pub password_hash: String,
    /// The opaque token the change was made with, which keeps working.
    pub keep: Option<[u8; 32]>,
    pub by: ChangedBy,
    pub context: AuditContext,
}

/// Staff end every session of a user, make its password unusable and store a one-time reset
/// token for it.
#[derive(Clone, Debug)]
pub struct ForceReset {
    pub user: UserId,
    /// A hash no password matches (Django's `!` prefix).
    pub unusable_hash: String,
    pub reset_token_sha256: [u8; 32],
    /// Unix seconds: now, as the revocation is recorded.
    pub now: i64,
    /// Unix seconds at which the reset token stops working.
    pub expires_at: i64,
    pub context: AuditContext,
}

/// A user sets a new password with the one-time token staff handed over.
#[derive(Clone, Debug)]
pub struct ResetWithToken {
    pub user: UserId,
    pub token_sha256: [u8; 32],
    pub password_hash: String,
    /// Unix seconds: the token must still be live at this time.
    pub now: i64,
    pub context: AuditContext,
}

/// Revocations recorded after a given one, for servers that did not make them.
#[derive(Clone, Debug, Default)]
pub struct Revocations {
    /// The users whose sessions were all revoked, oldest revocation first.
    pub users: Vec<UserId>,
    /// The id of the last revocation read (the one given when there are none).
    pub last: i64,
}

impl Store {
    /// An active user a staff member wants to reset (`None`: no such active user). Unlike
    /// `active_user`, not on any hot path, so an ordinary read.
    pub async fn reset_target(&self, user: UserId) -> Result<Option<ActiveUser>, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| sqlite::users::active_user(conn, user))
                    .await
            }
        }
    }

    /// Whether a user is a superuser.
    pub async fn is_superuser(&self, user: UserId) -> Result<bool, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| sqlite::users::is_superuser(conn, user))
                    .await
            }
        }
    }

    /// Stores a new password hash, revokes every session but `keep` and audits, in one
    /// transaction.
    pub async fn change_password(&self, command: ChangePassword) -> Result<AuditId, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| sqlite::users::change_password(conn, &command))
                    .await
            }
        }
    }

    /// Audits a wrong old password on a password change, like a failed login.
    pub async fn record_password_change_failure(
        &self,
        user: UserId,
        context: AuditContext,
    ) -> Result<AuditId, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| {
                    sqlite::users::record_password_change_failure(conn, &context, user)
                })
                .await
            }
        }
    }

    /// Ends every session of a user, makes its password unusable and stores its reset token,
    /// in one transaction.
    pub async fn force_password_reset(&self, command: ForceReset) -> Result<AuditId, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| sqlite::users::force_password_reset(conn, &command))
                    .await
            }
        }
    }

    /// The user a live reset token belongs to, without consuming it.
    pub async fn password_reset_user(
        &self,
        token_sha256: [u8; 32],
        now: i64,
    ) -> Result<Option<UserId>, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| sqlite::users::password_reset_user(conn, &token_sha256, now))
                    .await
            }
        }
    }

    /// Consumes the reset token and sets the new password, revoking every session, in one
    /// transaction. `Ok(None)` when the token is no longer the user's live token (another
    /// request took it first, or it expired): nothing changed.
    pub async fn reset_password_with_token(
        &self,
        command: ResetWithToken,
    ) -> Result<Option<AuditId>, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| sqlite::users::reset_password_with_token(conn, &command))
                    .await
            }
        }
    }

    /// A user by id, for a password change (`None`: no such user).
    pub async fn password_owner(&self, user: UserId) -> Result<Option<PasswordOwner>, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| {
                    sqlite::users::password_owner(conn, sqlite::users::UserRef::Id(user))
                })
                .await
            }
        }
    }

    /// A user by username, case-insensitively, for `bankd changepassword`.
    pub async fn password_owner_named(
        &self,
        username: String,
    ) -> Result<Option<PasswordOwner>, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| {
                    let user = sqlite::users::UserRef::Username(&username);
                    sqlite::users::password_owner(conn, user)
                })
                .await
            }
        }
    }

    /// The id of the newest revocation (where a starting server begins to watch).
    pub async fn last_revocation(&self) -> Result<i64, ApiError> {
        match self {
            Self::Sqlite(db) => db.read(sqlite::users::last_revocation).await,
        }
    }

    /// The revocations recorded after revocation `after` (at most 1,000 at a time).
    pub async fn revocations_after(&self, after: i64) -> Result<Revocations, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| sqlite::users::revocations_after(conn, after))
                    .await
            }
        }
    }

    /// Deletes up to 1,000 revocation records older than `before_unix` (they have reached
    /// every cache).
    pub async fn prune_revocations(&self, before_unix: i64) -> Result<usize, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| sqlite::users::prune_revocations(conn, before_unix))
                    .await
            }
        }
    }
}
