//! Users, their opaque API tokens and the audit rows of logging in and out: the SQL behind
//! `store/users.rs` (passwords and session revocation are in `users/passwords.rs`). Rows
//! decode strictly: a flag that is not 0 or 1 is a corrupt row (an internal error), never read
//! as "true".

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::json;

use crate::domain::time::now_rfc3339;
use crate::error::ApiError;
use crate::store::audit::{AuditContext, AuditEvent, Outcome};
use crate::store::ids::{AuditId, UserId};
use crate::store::sqlite::{audit, customers, is_unique_violation};
use crate::store::users::{
    ActiveUser, Credentials, NewSuperuser, NewToken, Profile, Registration, TokenOwner,
    USERNAME_TAKEN,
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

/// Columns `index` (`is_staff`) and `index + 1` (`is_superuser`): whether the user may act as
/// staff. Both are decoded (SQL's `OR` would read a corrupt 2 as true).
fn staff_or_superuser(row: &Row<'_>, index: usize) -> rusqlite::Result<bool> {
    let is_staff = flag(row, index)?;
    let is_superuser = flag(row, index + 1)?;
    Ok(is_staff || is_superuser)
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
            "SELECT u.id, u.is_staff, u.is_superuser, t.expires_at
             FROM auth_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_sha256 = ?1 AND t.expires_at > ?2 AND u.is_active",
        )?
        .query_row(params![token_sha256.as_slice(), now_unix], |row| {
            Ok(TokenOwner {
                user_id: row.get(0)?,
                is_staff: staff_or_superuser(row, 1)?,
                expires_at: row.get(3)?,
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
            "SELECT is_staff, is_superuser, auth_generation FROM users
             WHERE id = ?1 AND is_active",
        )?
        .query_row([user_id], |row| {
            Ok(ActiveUser {
                is_staff: staff_or_superuser(row, 0)?,
                auth_generation: row.get(2)?,
            })
        })
        .optional()?)
}

/// Whether a user is a superuser.
pub fn is_superuser(conn: &Connection, user_id: UserId) -> Result<bool, ApiError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM users WHERE id = ?1 AND is_superuser")?
        .exists([user_id])?)
}

mod passwords;

pub use passwords::{
    UserRef, change_password, force_password_reset, last_revocation, password_owner,
    password_reset_user, prune_revocations, record_password_change_failure,
    reset_password_with_token, revocations_after, revoke_sessions, set_password_hash,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::users::{ChangePassword, ChangedBy, ForceReset, ResetWithToken};

    fn migrated() -> Connection {
        let mut conn = Connection::open_in_memory().expect("in-memory database");
        crate::store::sqlite::migrate::run(&mut conn).expect("migrations");
        conn
    }

    fn user(conn: &Connection, username: &str) -> UserId {
        let new_user = NewUser {
            username,
            email: "",
            password_hash: "hash",
            is_staff: false,
            is_superuser: false,
            now: "2026-01-01T00:00:00Z",
        };
        insert(conn, &new_user).expect("a user")
    }

    fn token(conn: &Connection, user_id: UserId, byte: u8) -> [u8; 32] {
        insert_token(conn, &[byte; 32], user_id, "2026-01-01T00:00:00Z", i64::MAX)
            .expect("a token");
        [byte; 32]
    }

    #[test]
    fn a_flag_that_is_neither_0_nor_1_is_a_corrupt_row_not_true() {
        let conn = migrated();
        let alice = user(&conn, "alice");
        // The CHECK constraint keeps such a value out; a damaged file is what lets one in.
        conn.pragma_update(None, "ignore_check_constraints", true)
            .expect("pragma");
        conn.execute("UPDATE users SET is_staff = 2 WHERE id = ?1", [alice])
            .expect("corrupt the row");

        assert!(profile(&conn, alice).is_err());
        assert!(active_user(&conn, alice).is_err());
        assert!(token_owner(&conn, &token(&conn, alice, 1), 0).is_err());
    }

    #[test]
    fn a_password_change_keeps_only_the_token_it_was_made_with_and_is_recorded() {
        let conn = migrated();
        let alice = user(&conn, "alice");
        let kept = token(&conn, alice, 1);
        let other = token(&conn, alice, 2);
        let generation = active_user(&conn, alice).expect("read").expect("active");

        let command = ChangePassword {
            user: alice,
            password_hash: "new".to_owned(),
            keep: Some(kept),
            by: ChangedBy::User,
            context: AuditContext::default(),
        };
        change_password(&conn, &command).expect("changed");

        assert!(token_owner(&conn, &kept, 0).expect("read").is_some());
        assert!(token_owner(&conn, &other, 0).expect("read").is_none());
        let after = active_user(&conn, alice).expect("read").expect("active");
        assert_eq!(after.auth_generation, generation.auth_generation + 1);
        let revoked = revocations_after(&conn, 0).expect("read");
        assert_eq!(revoked.users, vec![alice]);
    }

    #[test]
    fn a_reset_token_sets_a_password_once() {
        let conn = migrated();
        let alice = user(&conn, "alice");
        let force = ForceReset {
            user: alice,
            unusable_hash: "!unusable".to_owned(),
            reset_token_sha256: [9; 32],
            now: 100,
            expires_at: 200,
            context: AuditContext::default(),
        };
        force_password_reset(&conn, &force).expect("forced");
        let reset = ResetWithToken {
            user: alice,
            token_sha256: [9; 32],
            password_hash: "new".to_owned(),
            now: 150,
            context: AuditContext::default(),
        };

        let first = reset_password_with_token(&conn, &reset).expect("first");
        let second = reset_password_with_token(&conn, &reset).expect("second");

        assert!(first.is_some());
        assert!(second.is_none(), "a reset token works once");
        let owner = password_owner(&conn, UserRef::Id(alice))
            .expect("read")
            .expect("a user");
        assert_eq!(owner.password_hash, "new");
    }
}
