//! Passwords and session revocation: a change, a forced reset, a reset with the one-time
//! token, and the `auth_revocations` records other servers' caches follow. Every path that
//! sets a password revokes the user's sessions in the same transaction (`revoke_sessions`).

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use crate::error::ApiError;
use crate::store::audit::{AuditContext, AuditEvent, Outcome};
use crate::store::ids::{AuditId, UserId};
use crate::store::sqlite::audit;
use crate::store::users::{ChangePassword, ForceReset, PasswordOwner, ResetWithToken, Revocations};

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
