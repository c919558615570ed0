//! Users, their credentials and their sessions: the rows authentication reads and the commands
//! that log in, log out, change passwords and register, typed and backend-neutral.
//!
//! Each command that changes something writes its audit row in the same transaction (the
//! context and what happened are part of the command), so an action and its record commit
//! together or not at all. The methods keep the read each caller made before the seam: the
//! by-key reads on an authenticated request's path (`token_owner`, `active_user`, `profile`)
//! use the backend's point read, which on SQLite runs inline when a reader is free; the rest
//! use an ordinary read.
//!
//! Evicting a revoked credential from this server's `AuthCache` is the caller's job, after the
//! command returns (it has then committed).

use crate::domain::profile::Username;
use crate::error::ApiError;
use crate::store::Store;
use crate::store::audit::AuditContext;
use crate::store::ids::{AuditId, UserId};
use crate::store::sqlite;

/// Django's message when a username is taken (compared case-insensitively).
pub const USERNAME_TAKEN: &str = "A user with that username already exists.";

/// What a login checks about the user a username names.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub user_id: UserId,
    pub password_hash: String,
    pub is_active: bool,
    /// Stamped into the JWTs a login issues (see migration V5).
    pub auth_generation: i64,
}

/// The user behind a valid opaque token.
#[derive(Clone, Copy, Debug)]
pub struct TokenOwner {
    pub user_id: UserId,
    /// Staff or superuser.
    pub is_staff: bool,
    /// Unix seconds at which the token stops working.
    pub expires_at: i64,
}

/// What a JWT check needs about its user: whether it may act as staff, and the generation its
/// JWTs must carry (see migration V5).
#[derive(Clone, Copy, Debug)]
pub struct ActiveUser {
    /// Staff or superuser.
    pub is_staff: bool,
    pub auth_generation: i64,
}

/// Who a user is, as `GET /api/me/` shows it: never the password hash.
#[derive(Clone, Debug)]
pub struct Profile {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub is_staff: bool,
    pub is_superuser: bool,
}

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

/// A new opaque token for a user who has just logged in.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub user: UserId,
    /// Only the hash is stored; the token itself is shown to the client once.
    pub token_sha256: [u8; 32],
    /// How long the token works, from the moment it is stored.
    pub ttl_seconds: i64,
    pub context: AuditContext,
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

/// A validated registration: the user and its customer profile.
#[derive(Clone, Debug)]
pub struct Registration {
    pub username: Username,
    pub email: String,
    pub password_hash: String,
    pub profile: sqlite::customers::ProfileChanges,
    /// The request; its actor becomes the new user.
    pub context: AuditContext,
}

/// A staff account with every permission (`bankd createsuperuser`).
#[derive(Clone, Debug)]
pub struct NewSuperuser {
    pub username: Username,
    pub email: String,
    pub password_hash: String,
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
    /// The owner of an unexpired opaque token of an active user. A by-key read on every
    /// authenticated request the cache misses.
    pub async fn token_owner(
        &self,
        token_sha256: [u8; 32],
        now: i64,
    ) -> Result<Option<TokenOwner>, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read_point(move |conn| sqlite::users::token_owner(conn, &token_sha256, now))
                    .await
            }
        }
    }

    /// The user behind a JWT, if it exists and is active. A by-key read on every JWT request
    /// the cache misses, and on every refresh.
    pub async fn active_user(&self, user: UserId) -> Result<Option<ActiveUser>, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read_point(move |conn| sqlite::users::active_user(conn, user))
                    .await
            }
        }
    }

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

    /// An active user's profile (`None` once deactivated).
    pub async fn profile(&self, user: UserId) -> Result<Option<Profile>, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read_point(move |conn| sqlite::users::profile(conn, user))
                    .await
            }
        }
    }

    /// The credentials of the user `username` names, case-insensitively like Django's
    /// `ModelBackend` with a case-insensitive unique username.
    pub async fn credentials(&self, username: String) -> Result<Option<Credentials>, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| sqlite::users::credentials(conn, &username))
                    .await
            }
        }
    }

    /// Whether `username` is taken, compared case-insensitively.
    pub async fn username_exists(&self, username: String) -> Result<bool, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| sqlite::users::username_exists(conn, &username))
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

    /// Stores a new opaque token and audits the login (`login`, then `token_issued`); returns
    /// the id of the `token_issued` row.
    pub async fn issue_token(&self, command: NewToken) -> Result<AuditId, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| sqlite::users::issue_token(conn, &command))
                    .await
            }
        }
    }

    /// Audits a login that issued a JWT pair; returns the id of the `token_issued` row.
    pub async fn record_jwt_login(
        &self,
        user: UserId,
        context: AuditContext,
    ) -> Result<AuditId, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| sqlite::users::record_login(conn, &context, user, "jwt"))
                    .await
            }
        }
    }

    /// Audits an access token minted from a refresh token.
    pub async fn record_jwt_refresh(
        &self,
        user: UserId,
        context: AuditContext,
    ) -> Result<AuditId, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| sqlite::users::record_jwt_refresh(conn, &context, user))
                    .await
            }
        }
    }

    /// Audits a failed login in its own write: the attempted username, never the password.
    pub async fn record_login_failure(
        &self,
        username: String,
        context: AuditContext,
    ) -> Result<AuditId, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| sqlite::users::record_login_failure(conn, &context, &username))
                    .await
            }
        }
    }

    /// Revokes one opaque token (logout) and audits it.
    pub async fn revoke_token(
        &self,
        user: UserId,
        token_sha256: [u8; 32],
        context: AuditContext,
    ) -> Result<AuditId, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| {
                    sqlite::users::revoke_token(conn, &context, user, &token_sha256)
                })
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

    /// Creates the user and its customer profile and audits the registration, in one write.
    /// A username taken meanwhile is the DRF field error, not a 500.
    pub async fn register(
        &self,
        registration: Registration,
    ) -> Result<(UserId, AuditId), ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| sqlite::users::register(conn, &registration))
                    .await
            }
        }
    }

    /// Creates a superuser (`bankd createsuperuser`).
    pub async fn create_superuser(&self, superuser: NewSuperuser) -> Result<UserId, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| sqlite::users::create_superuser(conn, &superuser))
                    .await
            }
        }
    }

    /// Audits a caller refused a staff route (`403`).
    pub async fn record_permission_denied(
        &self,
        method: String,
        path: String,
        context: AuditContext,
    ) -> Result<AuditId, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| {
                    sqlite::users::record_permission_denied(conn, &context, &method, &path)
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

/// TEMPORARY, like `Store::sqlite`: `app.rs` still hands `auth::watch` the SQLite handle (it is
/// outside this change); once it passes `state.store.clone()`, delete this.
impl From<sqlite::Db> for Store {
    fn from(db: sqlite::Db) -> Self {
        Self::Sqlite(db)
    }
}
