//! Passwords (issue #12 item 3): a user changes its own (`POST /api/password/change/`), staff
//! force a reset (`POST /api/admin/users/{id}/reset-password/`), and the customer sets a new
//! one with the one-time reset token staff handed over (`POST /api/password/reset/`).
//!
//! Every path ends in `db::users::revoke_sessions` in the same transaction as the new hash, then
//! `AuthCache::revoke_user` after the commit: the user's other opaque tokens are deleted and
//! its `auth_generation` moves on, so every JWT issued before stops working too.
//!
//! A forced reset is what a bank's help desk does when an account may be compromised: every
//! session ends at once, the password becomes unusable (Django's `!` prefix, which no argon2
//! check can match), and staff receive a one-time token, valid for an hour, to hand to the
//! customer through a verified channel. Staff never learn or choose the new password.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use crate::auth;
use crate::domain::password::{Password, UserAttributes};
use crate::domain::time::format_time;
use crate::error::{ApiError, FieldErrors};
use crate::http::extract::{AuthUser, Body, Id, RequestContext, StaffUser};
use crate::http::form::{Fields, max_chars};
use crate::http::throttle::AuthThrottle;
use crate::limits::PASSWORD_CHARS_MAX;
use crate::state::AppState;
use crate::store::sqlite::audit::{self, AuditContext, AuditEvent, Outcome};
use crate::store::sqlite::users::{self, PasswordOwner, UserRef};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/password/change", post(change))
        .route("/api/password/reset", post(reset_with_token))
        .route("/api/admin/users/{id}/reset-password", post(force_reset))
}

/// Django's `PasswordChangeForm` message for a wrong old password.
const OLD_PASSWORD_WRONG: &str =
    "Your old password was entered incorrectly. Please enter it again.";
const RESET_TOKEN_INVALID: &str = "This reset token is invalid or has expired.";
/// How long a reset token staff hand out stays usable, in seconds.
const RESET_TOKEN_TTL_SECONDS: i64 = 60 * 60;

async fn change(
    State(state): State<AppState>,
    user: AuthUser,
    ctx: RequestContext,
    Body(body): Body,
) -> Result<StatusCode, ApiError> {
    let mut fields = Fields::new(&body);
    let old = fields.required_untrimmed("old_password", |t| max_chars(t, PASSWORD_CHARS_MAX));
    let new = fields.required_untrimmed("new_password", |t| max_chars(t, PASSWORD_CHARS_MAX));
    fields.finish()?;
    let (Some(old), Some(new)) = (old, new) else {
        return Err(ApiError::internal(
            "validated password change is incomplete",
        ));
    };
    let owner = find_owner(&state, UserRef::Id(user.user_id.get())).await?;
    // A stolen session must not become a way around the failed-login limit: wrong old
    // passwords use up the same per-username allowance as wrong logins.
    let failures_key = format!("login-failures:{}", owner.username.to_lowercase());
    let limit = state.config.throttle_failed_logins_per_user_per_minute;
    let reservation = state.throttle.reserve(&failures_key, limit)?;
    let old_ok = state
        .hasher
        .verify(old, Some(owner.password_hash.clone()))
        .await?;
    if !old_ok {
        let audit_id =
            record_change_failure(&state, ctx.audit_as(&user), user.user_id.get()).await?;
        tracing::info!(
            user_id = user.user_id.get(),
            audit_id,
            "password change refused"
        );
        return Err(ApiError::field("old_password", OLD_PASSWORD_WRONG));
    }
    state.throttle.refund(reservation);
    let password = validate_new(&owner, &new, "new_password")?;
    let hash = state.hasher.hash(password.expose().to_owned()).await?;
    let event = AuditEvent {
        action: "password_changed",
        object: Some(("user", user.user_id.get())),
        outcome: Outcome::Success,
        details: json!({ "by": "user" }),
    };
    // The token this change was made with keeps working; every other credential ends.
    let keep = user.token_sha256;
    replace_password(
        &state,
        ctx.audit_as(&user),
        user.user_id.get(),
        hash,
        keep,
        event,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn force_reset(
    State(state): State<AppState>,
    StaffUser(staff): StaffUser,
    ctx: RequestContext,
    Id(user_id): Id,
) -> Result<impl IntoResponse, ApiError> {
    let target = state
        .store
        .sqlite()
        .read(move |conn| users::active_user(conn, user_id))
        .await?
        .ok_or_else(ApiError::not_found)?;
    // Whoever holds a reset token can take the account over, so only a superuser may reset an
    // account that is itself staff.
    if target.is_staff && !is_superuser(&state, staff.user_id.get()).await? {
        return Err(ApiError::permission_denied());
    }
    let auth::NewToken { token, sha256 } = auth::new_token()?;
    let unusable = format!("!{}", auth::new_token()?.token);
    let now = chrono::Utc::now().timestamp();
    let expires_at = now + RESET_TOKEN_TTL_SECONDS;
    let event = AuditEvent {
        action: "password_reset_forced",
        object: Some(("user", user_id)),
        outcome: Outcome::Success,
        details: json!({ "reset_token_expires_at": expires_at }),
    };
    let context = ctx.audit_as(&staff);
    let audit_id = state
        .store
        .sqlite()
        .write(move |conn| {
            users::set_password_hash(conn, user_id, &unusable)?;
            users::revoke_sessions(conn, user_id, None, now)?;
            users::insert_password_reset(conn, user_id, &sha256, expires_at)?;
            audit::record(conn, &context, &event)
        })
        .await?;
    state.auth_cache.revoke_user(user_id);
    tracing::info!(
        staff_user_id = staff.user_id.get(),
        user_id,
        audit_id,
        "password reset forced"
    );
    let expires = chrono::DateTime::from_timestamp(expires_at, 0).unwrap_or_default();
    Ok(Json(json!({
        "user": user_id,
        "reset_token": token,
        "expires_at": format_time(expires),
    })))
}

async fn reset_with_token(
    State(state): State<AppState>,
    _throttle: AuthThrottle,
    ctx: RequestContext,
    Body(body): Body,
) -> Result<StatusCode, ApiError> {
    let mut fields = Fields::new(&body);
    let token = fields.required("reset_token", |text| {
        let well_formed = text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit());
        well_formed
            .then(|| auth::token_sha256(&text.to_ascii_lowercase()))
            .ok_or_else(|| RESET_TOKEN_INVALID.to_owned())
    });
    let new = fields.required_untrimmed("new_password", |t| max_chars(t, PASSWORD_CHARS_MAX));
    fields.finish()?;
    let (Some(sha256), Some(new)) = (token, new) else {
        return Err(ApiError::internal("validated password reset is incomplete"));
    };
    let now = chrono::Utc::now().timestamp();
    let user_id = state
        .store
        .sqlite()
        .read(move |conn| users::password_reset_user(conn, &sha256, now))
        .await?
        .ok_or_else(|| ApiError::field("reset_token", RESET_TOKEN_INVALID))?;
    let owner = find_owner(&state, UserRef::Id(user_id)).await?;
    let password = validate_new(&owner, &new, "new_password")?;
    let hash = state.hasher.hash(password.expose().to_owned()).await?;
    let context = ctx.audit().with_actor(user_id);
    let audit_id = state
        .store
        .sqlite()
        .write(move |conn| {
            // Taking the token in the same transaction as the new hash makes it one-time even
            // when two requests race with it.
            if users::take_password_reset(conn, &sha256, now)? != Some(user_id) {
                return Err(ApiError::field("reset_token", RESET_TOKEN_INVALID));
            }
            users::set_password_hash(conn, user_id, &hash)?;
            users::revoke_sessions(conn, user_id, None, now)?;
            let event = AuditEvent {
                action: "password_changed",
                object: Some(("user", user_id)),
                outcome: Outcome::Success,
                details: json!({ "by": "reset_token" }),
            };
            audit::record(conn, &context, &event)
        })
        .await?;
    state.auth_cache.revoke_user(user_id);
    tracing::info!(user_id, audit_id, "password set with a reset token");
    Ok(StatusCode::NO_CONTENT)
}

/// Stores a new hash, revokes every session but `keep` and audits, in one transaction; then
/// drops the user from this server's cache.
async fn replace_password(
    state: &AppState,
    context: AuditContext,
    user_id: i64,
    hash: String,
    keep: Option<[u8; 32]>,
    event: AuditEvent<'static>,
) -> Result<(), ApiError> {
    let audit_id = state
        .store
        .sqlite()
        .write(move |conn| {
            users::set_password_hash(conn, user_id, &hash)?;
            let now = chrono::Utc::now().timestamp();
            users::revoke_sessions(conn, user_id, keep.as_ref(), now)?;
            audit::record(conn, &context, &event)
        })
        .await?;
    state.auth_cache.revoke_user(user_id);
    tracing::info!(user_id, audit_id, "password changed");
    Ok(())
}

/// Audits a wrong old password like a failed login: someone holding the session is guessing.
async fn record_change_failure(
    state: &AppState,
    context: AuditContext,
    user_id: i64,
) -> Result<i64, ApiError> {
    state
        .store
        .sqlite()
        .write(move |conn| {
            let event = AuditEvent {
                action: "password_change_failed",
                object: Some(("user", user_id)),
                outcome: Outcome::Failure,
                details: json!({ "reason": "old_password" }),
            };
            audit::record(conn, &context, &event)
        })
        .await
}

async fn find_owner(state: &AppState, user: UserRef<'static>) -> Result<PasswordOwner, ApiError> {
    state
        .store
        .sqlite()
        .read(move |conn| users::password_owner(conn, user))
        .await?
        .ok_or_else(ApiError::not_found)
}

async fn is_superuser(state: &AppState, user_id: i64) -> Result<bool, ApiError> {
    state
        .store
        .sqlite()
        .read(move |conn| users::is_superuser(conn, user_id))
        .await
}

/// Django's validators on a new password, against the user's own attributes.
fn validate_new(owner: &PasswordOwner, text: &str, field: &str) -> Result<Password, ApiError> {
    let attributes = UserAttributes {
        username: &owner.username,
        full_name: &owner.full_name,
        email: &owner.email,
    };
    Password::parse(text, &attributes).map_err(|messages| {
        let mut errors = FieldErrors::default();
        messages.into_iter().for_each(|m| errors.add(field, m));
        ApiError::Fields(errors)
    })
}
