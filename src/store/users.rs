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
//! Passwords and session revocation are in `users/passwords.rs`.
//!
//! Evicting a revoked credential from this server's `AuthCache` is the caller's job, after the
//! command returns (it has then committed).

use crate::domain::profile::Username;
use crate::error::ApiError;
use crate::store::Store;
use crate::store::audit::AuditContext;
use crate::store::ids::{AuditId, UserId};
use crate::store::sqlite;

mod passwords;

pub use passwords::{
    ChangePassword, ChangedBy, ForceReset, PasswordOwner, ResetWithToken, Revocations,
};

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

/// A validated registration: the user and its customer profile.
#[derive(Clone, Debug)]
pub struct Registration {
    pub username: Username,
    pub email: String,
    pub password_hash: String,
    pub profile: crate::store::customers::ProfileChanges,
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
}
