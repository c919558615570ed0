//! Users, their opaque API tokens, password resets and session revocations: the SQL behind
//! `store/users.rs`. Rows decode strictly: a flag that is not 0 or 1 is a corrupt row (an
//! internal error), never read as "true".

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::json;

use crate::domain::time::now_rfc3339;
use crate::error::ApiError;
use crate::store::audit::{AuditContext, AuditEvent, Outcome};
use crate::store::ids::{AuditId, UserId};
use crate::store::sqlite::{audit, customers, is_unique_violation};
use crate::store::users::{
    ActiveUser, ChangePassword, Credentials, ForceReset, NewSuperuser, NewToken, PasswordOwner,
    Profile, Registration, ResetWithToken, Revocations, TokenOwner, USERNAME_TAKEN,
};

/// A new user row.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub now: &'a str,
}

/// Column `index` as a boolean stored the SQLite way, strictly: 0 or 1, nothing else.
fn flag(row: &Row<'_>, index: usize) -> rusqlite::Result<bool> {
    match row.get::<_, i64>(index)? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Integer,
            format!("a flag must be 0 or 1, not {other}").into(),
        )),
    }
}

/// Whether a username is taken, compared case-insensitively.
pub fn username_exists(conn: &Connection, username: &str) -> Result<bool, ApiError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM users WHERE lower(username) = lower(?1)")?
        .exists([username])?)
}

/// Inserts a user; a username taken meanwhile becomes the DRF field error, not a 500.
pub fn insert(conn: &Connection, user: &NewUser<'_>) -> Result<UserId, ApiError> {
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
        Ok(id) => Ok(UserId::new(id)),
        Err(e) if is_unique_violation(&e) => Err(ApiError::field("username", USERNAME_TAKEN)),
        Err(e) => Err(e.into()),
    }
}

/// Creates the user and its customer profile and audits the registration (the new user is
/// the actor): one transaction, the caller's.
pub fn register(
    conn: &Connection,
    registration: &Registration,
) -> Result<(UserId, AuditId), ApiError> {
    let now = now_rfc3339();
    let new_user = NewUser {
        username: registration.username.as_str(),
        email: &registration.email,
        password_hash: &registration.password_hash,
        is_staff: false,
        is_superuser: false,
        now: &now,
    };
    let user_id = insert(conn, &new_user)?;
    customers::insert(conn, user_id.get(), &registration.profile, &now)?;
    let event = AuditEvent {
        action: "register",
        object: Some(("user", user_id.get())),
        outcome: Outcome::Success,
        details: json!({ "username": registration.username.as_str() }),
    };
    let context = registration.context.with_actor(user_id.get());
    let audit_id = audit::record(conn, &context, &event)?;
    Ok((user_id, AuditId::new(audit_id)))
}

/// Inserts a superuser (staff too).
pub fn create_superuser(conn: &Connection, superuser: &NewSuperuser) -> Result<UserId, ApiError> {
    let user = NewUser {
        username: superuser.username.as_str(),
        email: &superuser.email,
        password_hash: &superuser.password_hash,
        is_staff: true,
        is_superuser: true,
        now: &now_rfc3339(),
    };
    insert(conn, &user)
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
                is_active: flag(row, 2)?,
                auth_generation: row.get(3)?,
            })
        })
        .optional()?)
}

/// Stores a token's hash with its expiry.
pub fn insert_token(
    conn: &Connection,
    token_sha256: &[u8; 32],
    user_id: UserId,
    now: &str,
    expires_at: i64,
) -> Result<(), ApiError> {
    conn.prepare_cached(
        "INSERT INTO auth_tokens (token_sha256, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![token_sha256.as_slice(), user_id, now, expires_at])?;
    Ok(())
}

/// Stores a new opaque token, expiring `ttl_seconds` from now, and audits the login.
pub fn issue_token(conn: &Connection, command: &NewToken) -> Result<AuditId, ApiError> {
    let now = chrono::Utc::now().timestamp();
    insert_token(
        conn,
        &command.token_sha256,
        command.user,
        &now_rfc3339(),
        now.saturating_add(command.ttl_seconds),
    )?;
    record_login(conn, &command.context, command.user, "token")
}

/// Audits a successful login and the credential it issued (`kind`: "token" or "jwt").
/// Returns the id of the `token_issued` row.
pub fn record_login(
    conn: &Connection,
    context: &AuditContext,
    user_id: UserId,
    kind: &str,
) -> Result<AuditId, ApiError> {
    let event = |action| AuditEvent {
        action,
        object: Some(("user", user_id.get())),
        outcome: Outcome::Success,
        details: json!({ "kind": kind }),
    };
    audit::record(conn, context, &event("login"))?;
    audit::record(conn, context, &event("token_issued")).map(AuditId::new)
}

/// Audits an access token minted from a refresh token.
pub fn record_jwt_refresh(
    conn: &Connection,
    context: &AuditContext,
    user_id: UserId,
) -> Result<AuditId, ApiError> {
    let event = AuditEvent {
        action: "token_issued",
        object: Some(("user", user_id.get())),
        outcome: Outcome::Success,
        details: json!({ "kind": "jwt_refresh" }),
    };
    audit::record(conn, context, &event).map(AuditId::new)
}

/// Audits a failed login. The attempted username is recorded; the password never is.
pub fn record_login_failure(
    conn: &Connection,
    context: &AuditContext,
    username: &str,
) -> Result<AuditId, ApiError> {
    let event = AuditEvent {
        action: "login_failed",
        object: None,
        outcome: Outcome::Failure,
        details: json!({ "username": username }),
    };
    audit::record(conn, context, &event).map(AuditId::new)
}

/// Audits a caller refused a staff route.
pub fn record_permission_denied(
    conn: &Connection,
    context: &AuditContext,
    method: &str,
    path: &str,
) -> Result<AuditId, ApiError> {
    let event = AuditEvent {
        action: "permission_denied",
        object: None,
        outcome: Outcome::Denied,
        details: json!({ "method": method, "path": path }),
    };
    audit::record(conn, context, &event).map(AuditId::new)
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
                is_staff: flag(row, 1)?,
                expires_at: row.get(2)?,
            })
        })
        .optional()?)
}

/// An active user's profile (`None` once deactivated, like a token that stopped working).
pub fn profile(conn: &Connection, user_id: UserId) -> Result<Option<Profile>, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, username, email, is_staff, is_superuser FROM users WHERE id = ?1 AND is_active",
        )?
        .query_row([user_id], |row| {
            Ok(Profile {
                id: row.get(0)?,
                username: row.get(1)?,
                email: row.get(2)?,
                is_staff: flag(row, 3)?,
                is_superuser: flag(row, 4)?,
            })
        })
        .optional()?)
}

/// Revokes one token (logout) and audits it.
pub fn revoke_token(
    conn: &Connection,
    context: &AuditContext,
    user_id: UserId,
    token_sha256: &[u8; 32],
) -> Result<AuditId, ApiError> {
    conn.prepare_cached("DELETE FROM auth_tokens WHERE token_sha256 = ?1")?
        .execute([token_sha256.as_slice()])?;
    let event = AuditEvent {
        action: "token_revoked",
        object: Some(("user", user_id.get())),
        outcome: Outcome::Success,
        details: json!({ "kind": "token" }),
    };
    audit::record(conn, context, &event).map(AuditId::new)
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

/// The user behind a JWT, if it exists and is active.
pub fn active_user(conn: &Connection, user_id: UserId) -> Result<Option<ActiveUser>, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT is_staff OR is_superuser, auth_generation FROM users
             WHERE id = ?1 AND is_active",
        )?
        .query_row([user_id], |row| {
            Ok(ActiveUser {
                is_staff: flag(row, 0)?,
                auth_generation: row.get(1)?,
            })
        })
        .optional()?)
}

/// How a caller names a user.
#[derive(Clone, Copy, Debug)]
pub enum UserRef<'a> {
    Id(UserId),
    Username(&'a str),
}

/// A user by id or by username (case-insensitively), for a password change.
pub fn password_owner(
    conn: &Connection,
    user: UserRef<'_>,
) -> Result<Option<PasswordOwner>, ApiError> {
    let (sql, key): (&str, rusqlite::types::Value) = match user {
        UserRef::Id(id) => ("u.id = ?1", id.get().into()),
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

/// Replaces a user's password hash (or, with Django's `!` prefix, makes it unusable).
pub fn set_password_hash(conn: &Connection, user_id: UserId, hash: &str) -> Result<(), ApiError> {
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
    user_id: UserId,
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

/// A new password hash: every session but `keep` ends, and the change is audited.
pub fn change_password(conn: &Connection, command: &ChangePassword) -> Result<AuditId, ApiError> {
    set_password_hash(conn, command.user, &command.password_hash)?;
    let now = chrono::Utc::now().timestamp();
    revoke_sessions(conn, command.user, command.keep.as_ref(), now)?;
    let event = AuditEvent {
        action: "password_changed",
        object: Some(("user", command.user.get())),
        outcome: Outcome::Success,
        details: json!({ "by": command.by.as_str() }),
    };
    audit::record(conn, &command.context, &event).map(AuditId::new)
}

/// Audits a wrong old password like a failed login: someone holding the session is guessing.
pub fn record_password_change_failure(
    conn: &Connection,
    context: &AuditContext,
    user_id: UserId,
) -> Result<AuditId, ApiError> {
    let event = AuditEvent {
        action: "password_change_failed",
        object: Some(("user", user_id.get())),
        outcome: Outcome::Failure,
        details: json!({ "reason": "old_password" }),
    };
    audit::record(conn, context, &event).map(AuditId::new)
}

/// Makes the password unusable, ends every session, stores the one-time reset token
/// (replacing any earlier one) and audits.
pub fn force_password_reset(conn: &Connection, command: &ForceReset) -> Result<AuditId, ApiError> {
    set_password_hash(conn, command.user, &command.unusable_hash)?;
    revoke_sessions(conn, command.user, None, command.now)?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO password_resets (user_id, token_sha256, expires_at)
         VALUES (?1, ?2, ?3)",
    )?
    .execute(params![
        command.user,
        command.reset_token_sha256.as_slice(),
        command.expires_at
    ])?;
    let event = AuditEvent {
        action: "password_reset_forced",
        object: Some(("user", command.user.get())),
        outcome: Outcome::Success,
        details: json!({ "reset_token_expires_at": command.expires_at }),
    };
    audit::record(conn, &command.context, &event).map(AuditId::new)
}

/// Consumes the reset token and sets the new password. Taking the token in the same
/// transaction as the new hash makes it one-time even when two requests race with it:
/// `None` when the token is no longer the user's live one, and then nothing changed.
pub fn reset_password_with_token(
    conn: &Connection,
    command: &ResetWithToken,
) -> Result<Option<AuditId>, ApiError> {
    let taken: Option<UserId> = conn
        .prepare_cached(
            "DELETE FROM password_resets WHERE token_sha256 = ?1 AND expires_at > ?2
             RETURNING user_id",
        )?
        .query_row(
            params![command.token_sha256.as_slice(), command.now],
            |row| row.get(0),
        )
        .optional()?;
    if taken != Some(command.user) {
        return Ok(None);
    }
    set_password_hash(conn, command.user, &command.password_hash)?;
    revoke_sessions(conn, command.user, None, command.now)?;
    let event = AuditEvent {
        action: "password_changed",
        object: Some(("user", command.user.get())),
        outcome: Outcome::Success,
        details: json!({ "by": "reset_token" }),
    };
    audit::record(conn, &command.context, &event).map(|id| Some(AuditId::new(id)))
}

/// The user a live reset token belongs to, without consuming it.
pub fn password_reset_user(
    conn: &Connection,
    token_sha256: &[u8; 32],
    now_unix: i64,
) -> Result<Option<UserId>, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT user_id FROM password_resets WHERE token_sha256 = ?1 AND expires_at > ?2",
        )?
        .query_row(params![token_sha256.as_slice(), now_unix], |row| row.get(0))
        .optional()?)
}

/// Whether a user is a superuser.
pub fn is_superuser(conn: &Connection, user_id: UserId) -> Result<bool, ApiError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM users WHERE id = ?1 AND is_superuser")?
        .exists([user_id])?)
}

/// The users whose sessions were revoked after revocation `after`, and the last id seen.
pub fn revocations_after(conn: &Connection, after: i64) -> Result<Revocations, ApiError> {
    let mut statement = conn.prepare_cached(
        "SELECT id, user_id FROM auth_revocations WHERE id > ?1 ORDER BY id LIMIT 1000",
    )?;
    let mut revocations = Revocations {
        users: Vec::new(),
        last: after,
    };
    let rows = statement.query_map([after], |row| Ok((row.get(0)?, row.get(1)?)))?;
    for row in rows {
        let (id, user_id): (i64, UserId) = row?;
        revocations.last = id;
        revocations.users.push(user_id);
    }
    Ok(revocations)
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
