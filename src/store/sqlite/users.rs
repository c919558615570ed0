//! Users and their opaque API tokens.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::ApiError;
use crate::store::sqlite::is_unique_violation;

/// What authentication needs to know about a user.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub user_id: i64,
    pub password_hash: String,
    pub is_active: bool,
    /// Stamped into the JWTs a login issues (see migration V5).
    pub auth_generation: i64,
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
            "SELECT id, password_hash, is_active, auth_generation FROM users
             WHERE lower(username) = lower(?1)",
        )?
        .query_row([username], |row| {
            Ok(Credentials {
                user_id: row.get(0)?,
                password_hash: row.get(1)?,
                is_active: row.get(2)?,
                auth_generation: row.get(3)?,
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

/// What a JWT check needs about its user: whether it may act as staff, and the generation its
/// JWTs must carry (see migration V5).
#[derive(Clone, Copy, Debug)]
pub struct ActiveUser {
    pub is_staff: bool,
    pub auth_generation: i64,
}

/// The user behind a JWT, if it exists and is active.
pub fn active_user(conn: &Connection, user_id: i64) -> Result<Option<ActiveUser>, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT is_staff OR is_superuser, auth_generation FROM users
             WHERE id = ?1 AND is_active",
        )?
        .query_row([user_id], |row| {
            Ok(ActiveUser {
                is_staff: row.get(0)?,
                auth_generation: row.get(1)?,
            })
        })
        .optional()?)
}

/// What changing a password needs: the current hash and the attributes Django's similarity
/// validator compares the new password with.
#[derive(Clone, Debug)]
pub struct PasswordOwner {
    pub user_id: i64,
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub password_hash: String,
}

/// A user by id or by username (case-insensitively), for a password change.
pub fn password_owner(
    conn: &Connection,
    user: UserRef<'_>,
) -> Result<Option<PasswordOwner>, ApiError> {
    let (sql, key): (&str, rusqlite::types::Value) = match user {
        UserRef::Id(id) => ("u.id = ?1", id.into()),
        UserRef::Username(name) => ("lower(u.username) = lower(?1)", name.to_owned().into()),
    };
    Ok(conn
        .prepare_cached(&format!(
            "SELECT u.id, u.username, u.email, coalesce(c.full_name, ''), u.password_hash
             FROM users u LEFT JOIN customers c ON c.user_id = u.id AND c.deleted_at IS NULL
             WHERE {sql} LIMIT 1"
        ))?
        .query_row([key], |row| {
            Ok(PasswordOwner {
                user_id: row.get(0)?,
                username: row.get(1)?,
                email: row.get(2)?,
                full_name: row.get(3)?,
                password_hash: row.get(4)?,
            })
        })
        .optional()?)
}

/// How a caller names a user.
#[derive(Clone, Copy, Debug)]
pub enum UserRef<'a> {
    Id(i64),
    Username(&'a str),
}

/// Replaces a user's password hash (or, with Django's `!` prefix, makes it unusable).
pub fn set_password_hash(conn: &Connection, user_id: i64, hash: &str) -> Result<(), ApiError> {
    conn.prepare_cached("UPDATE users SET password_hash = ?2 WHERE id = ?1")?
        .execute(params![user_id, hash])?;
    Ok(())
}

/// Revokes every session of a user, in the caller's transaction: deletes its opaque tokens
/// (except `keep`, the one a password change was made with), moves its `auth_generation` on so
/// every JWT issued before stops working, and records the revocation for every server's cache.
/// Returns the new generation.
pub fn revoke_sessions(
    conn: &Connection,
    user_id: i64,
    keep: Option<&[u8; 32]>,
    now_unix: i64,
) -> Result<i64, ApiError> {
    let keep = keep.map(|sha256| sha256.to_vec()).unwrap_or_default();
    conn.prepare_cached("DELETE FROM auth_tokens WHERE user_id = ?1 AND token_sha256 != ?2")?
        .execute(params![user_id, keep])?;
    let generation = conn
        .prepare_cached(
            "UPDATE users SET auth_generation = auth_generation + 1 WHERE id = ?1
             RETURNING auth_generation",
        )?
        .query_row([user_id], |row| row.get(0))?;
    conn.prepare_cached("INSERT INTO auth_revocations (user_id, revoked_at) VALUES (?1, ?2)")?
        .execute(params![user_id, now_unix])?;
    Ok(generation)
}

/// The users whose sessions were revoked after revocation `after`, and the last id seen.
pub fn revocations_after(conn: &Connection, after: i64) -> Result<(Vec<i64>, i64), ApiError> {
    let mut statement = conn.prepare_cached(
        "SELECT id, user_id FROM auth_revocations WHERE id > ?1 ORDER BY id LIMIT 1000",
    )?;
    let mut last = after;
    let mut users = Vec::new();
    let rows = statement.query_map([after], |row| Ok((row.get(0)?, row.get(1)?)))?;
    for row in rows {
        let (id, user_id): (i64, i64) = row?;
        last = id;
        users.push(user_id);
    }
    Ok((users, last))
}

/// The id of the newest revocation (where a starting server begins to watch).
pub fn last_revocation(conn: &Connection) -> Result<i64, ApiError> {
    Ok(conn
        .prepare_cached("SELECT coalesce(max(id), 0) FROM auth_revocations")?
        .query_row([], |row| row.get(0))?)
}

/// Deletes revocation records older than `before_unix` (they have reached every cache).
pub fn prune_revocations(conn: &Connection, before_unix: i64) -> Result<usize, ApiError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM auth_revocations WHERE id IN
                 (SELECT id FROM auth_revocations WHERE revoked_at < ?1 LIMIT 1000)",
        )?
        .execute([before_unix])?)
}

/// Stores a user's one-time password reset token, replacing any earlier one.
pub fn insert_password_reset(
    conn: &Connection,
    user_id: i64,
    token_sha256: &[u8; 32],
    expires_at: i64,
) -> Result<(), ApiError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO password_resets (user_id, token_sha256, expires_at)
         VALUES (?1, ?2, ?3)",
    )?
    .execute(params![user_id, token_sha256.as_slice(), expires_at])?;
    Ok(())
}

/// Consumes a live reset token: deletes it and returns its user, or `None` when it is unknown
/// or expired. Deleting in the same transaction as the password change makes it one-time.
pub fn take_password_reset(
    conn: &Connection,
    token_sha256: &[u8; 32],
    now_unix: i64,
) -> Result<Option<i64>, ApiError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM password_resets WHERE token_sha256 = ?1 AND expires_at > ?2
             RETURNING user_id",
        )?
        .query_row(params![token_sha256.as_slice(), now_unix], |row| row.get(0))
        .optional()?)
}

/// The user a live reset token belongs to, without consuming it.
pub fn password_reset_user(
    conn: &Connection,
    token_sha256: &[u8; 32],
    now_unix: i64,
) -> Result<Option<i64>, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT user_id FROM password_resets WHERE token_sha256 = ?1 AND expires_at > ?2",
        )?
        .query_row(params![token_sha256.as_slice(), now_unix], |row| row.get(0))
        .optional()?)
}

/// Whether a user is a superuser.
pub fn is_superuser(conn: &Connection, user_id: i64) -> Result<bool, ApiError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM users WHERE id = ?1 AND is_superuser")?
        .exists([user_id])?)
}
