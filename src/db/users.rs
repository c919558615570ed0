//! Users and their opaque API tokens.

use rusqlite::{Connection, OptionalExtension, params};

use crate::db::is_unique_violation;
use crate::error::ApiError;

/// What authentication needs to know about a user.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub user_id: i64,
    pub password_hash: String,
    pub is_active: bool,
}

/// The user behind a valid token.
#[derive(Clone, Copy, Debug)]
pub struct TokenOwner {
    pub user_id: i64,
    pub is_staff: bool,
    /// Unix seconds at which the token stops working.
    pub expires_at: i64,
}

/// A new user row.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub now: &'a str,
}

pub const USERNAME_TAKEN: &str = "A user with that username already exists.";

/// Whether a username is taken, compared case-insensitively.
pub fn username_exists(conn: &Connection, username: &str) -> Result<bool, ApiError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM users WHERE lower(username) = lower(?1)")?
        .exists([username])?)
}

/// Inserts a user; a username taken meanwhile becomes the DRF field error, not a 500.
pub fn insert(conn: &Connection, user: &NewUser<'_>) -> Result<i64, ApiError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO users (username, email, password_hash, is_staff, is_superuser, date_joined)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .insert(params![
            user.username,
            user.email,
            user.password_hash,
            user.is_staff,
            user.is_superuser,
            user.now
        ]);
    match inserted {
        Ok(id) => Ok(id),
        Err(e) if is_unique_violation(&e) => Err(ApiError::field("username", USERNAME_TAKEN)),
        Err(e) => Err(e.into()),
    }
}

/// Looks a user up for login, case-insensitively like Django's `ModelBackend` with a
/// case-insensitive unique username.
pub fn credentials(conn: &Connection, username: &str) -> Result<Option<Credentials>, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, password_hash, is_active FROM users WHERE lower(username) = lower(?1)",
        )?
        .query_row([username], |row| {
            Ok(Credentials {
                user_id: row.get(0)?,
                password_hash: row.get(1)?,
                is_active: row.get(2)?,
            })
        })
        .optional()?)
}

/// Stores a token's hash with its expiry.
pub fn insert_token(
    conn: &Connection,
    token_sha256: &[u8; 32],
    user_id: i64,
    now: &str,
    expires_at: i64,
) -> Result<(), ApiError> {
    conn.prepare_cached(
        "INSERT INTO auth_tokens (token_sha256, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![token_sha256.as_slice(), user_id, now, expires_at])?;
    Ok(())
}

/// The owner of an unexpired token of an active user.
pub fn token_owner(
    conn: &Connection,
    token_sha256: &[u8; 32],
    now_unix: i64,
) -> Result<Option<TokenOwner>, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT u.id, u.is_staff OR u.is_superuser, t.expires_at
             FROM auth_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_sha256 = ?1 AND t.expires_at > ?2 AND u.is_active",
        )?
        .query_row(params![token_sha256.as_slice(), now_unix], |row| {
            Ok(TokenOwner {
                user_id: row.get(0)?,
                is_staff: row.get(1)?,
                expires_at: row.get(2)?,
            })
        })
        .optional()?)
}

/// Whether the user exists and is active, and if so whether it is staff.
pub fn active_user_is_staff(conn: &Connection, user_id: i64) -> Result<Option<bool>, ApiError> {
    Ok(conn
        .prepare_cached("SELECT is_staff OR is_superuser FROM users WHERE id = ?1 AND is_active")?
        .query_row([user_id], |row| row.get(0))
        .optional()?)
}

/// Who a user is, as `GET /api/me/` shows it: never the password hash.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Profile {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub is_staff: bool,
    pub is_superuser: bool,
}

/// An active user's profile (`None` once deactivated, like a token that stopped working).
pub fn profile(conn: &Connection, user_id: i64) -> Result<Option<Profile>, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, username, email, is_staff, is_superuser FROM users WHERE id = ?1 AND is_active",
        )?
        .query_row([user_id], |row| {
            Ok(Profile {
                id: row.get(0)?,
                username: row.get(1)?,
                email: row.get(2)?,
                is_staff: row.get(3)?,
                is_superuser: row.get(4)?,
            })
        })
        .optional()?)
}

/// Revokes one token; returns whether it existed.
pub fn delete_token(conn: &Connection, token_sha256: &[u8; 32]) -> Result<bool, ApiError> {
    Ok(conn
        .prepare_cached("DELETE FROM auth_tokens WHERE token_sha256 = ?1")?
        .execute([token_sha256.as_slice()])?
        > 0)
}

/// Removes up to 1,000 expired tokens (the background pruner calls it until none are left).
pub fn delete_expired_tokens(conn: &Connection, now_unix: i64) -> Result<usize, ApiError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM auth_tokens WHERE token_sha256 IN
                 (SELECT token_sha256 FROM auth_tokens WHERE expires_at <= ?1 LIMIT 1000)",
        )?
        .execute([now_unix])?)
}
