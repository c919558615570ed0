//! Passwords (issue #12 item 3): a user changes its own (`POST /api/password/change/`), staff
//! force a reset (`POST /api/admin/users/{id}/reset-password/`), and the customer sets a new
//! one with the one-time reset token staff handed over (`POST /api/password/reset/`).
//!
//! Every path revokes the user's sessions in the same transaction as the new hash (a `Store`
//! command: `change_password`, `force_password_reset`, `reset_password_with_token`), then
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
use serde::Serialize;

use crate::auth;
use crate::domain::password::{Password, UserAttributes};
use crate::domain::time::format_time;
use crate::error::{ApiError, FieldErrors};
use crate::http::extract::{AuthUser, Body, Id, RequestContext, StaffUser};
use crate::http::form::{Fields, max_chars};
use crate::http::throttle::AuthThrottle;
use crate::limits::PASSWORD_CHARS_MAX;
use crate::state::AppState;
use crate::store::ids::UserId;
use crate::store::users::{ChangePassword, ChangedBy, ForceReset, PasswordOwner, ResetWithToken};

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
    let owner = find_owner(&state, user.user_id).await?;
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
        // A wrong old password is audited like a failed login: someone holding the session
        // is guessing.
        let audit_id = state
            .store
            .record_password_change_failure(user.user_id, ctx.audit_as(&user))
            .await?;
        tracing::info!(
            user_id = user.user_id.get(),
            audit_id = audit_id.get(),
            "password change refused"
        );
        return Err(ApiError::field("old_password", OLD_PASSWORD_WRONG));
    }
    state.throttle.refund(reservation);
    let password = validate_new(&owner, &new, "new_password")?;
    let hash = state.hasher.hash(password.expose().to_owned()).await?;
    let command = ChangePassword {
        user: user.user_id,
        password_hash: hash,
        // The token this change was made with keeps working; every other credential ends.
        keep: user.token_sha256,
        by: ChangedBy::User,
        context: ctx.audit_as(&user),
    };
    let audit_id = state.store.change_password(command).await?;
    state.auth_cache.revoke_user(user.user_id);
    tracing::info!(
        user_id = user.user_id.get(),
        audit_id = audit_id.get(),
        "password changed"
    );
    Ok(StatusCode::NO_CONTENT)
}

async fn force_reset(
    State(state): State<AppState>,
    StaffUser(staff): StaffUser,
    ctx: RequestContext,
    Id(user_id): Id,
) -> Result<impl IntoResponse, ApiError> {
    let user = UserId::new(user_id);
    let target = state
        .store
        .reset_target(user)
        .await?
        .ok_or_else(ApiError::not_found)?;
    // Whoever holds a reset token can take the account over, so only a superuser may reset an
    // account that is itself staff.
    if target.is_staff && !state.store.is_superuser(staff.user_id).await? {
        return Err(ApiError::permission_denied());
    }
    let auth::NewToken { token, sha256 } = auth::new_token()?;
    let unusable = format!("!{}", auth::new_token()?.token);
    let now = chrono::Utc::now().timestamp();
    let expires_at = now + RESET_TOKEN_TTL_SECONDS;
    let command = ForceReset {
        user,
        unusable_hash: unusable,
        reset_token_sha256: sha256,
        now,
        expires_at,
        context: ctx.audit_as(&staff),
    };
    let audit_id = state.store.force_password_reset(command).await?;
    state.auth_cache.revoke_user(user);
    tracing::info!(
        staff_user_id = staff.user_id.get(),
        user_id,
        audit_id = audit_id.get(),
        "password reset forced"
    );
    let expires = chrono::DateTime::from_timestamp(expires_at, 0).unwrap_or_default();
    Ok(Json(ResetIssuedBody {
        user,
        reset_token: token,
        expires_at: format_time(expires),
    }))
}

/// The forced reset's answer: the one-time token, shown to staff once, and when it expires.
#[derive(Debug, Serialize)]
pub struct ResetIssuedBody {
    pub user: UserId,
    pub reset_token: String,
    pub expires_at: String,
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
    let invalid = || ApiError::field("reset_token", RESET_TOKEN_INVALID);
    let user = state
        .store
        .password_reset_user(sha256, now)
        .await?
        .ok_or_else(invalid)?;
    let owner = find_owner(&state, user).await?;
    let password = validate_new(&owner, &new, "new_password")?;
    let hash = state.hasher.hash(password.expose().to_owned()).await?;
    let command = ResetWithToken {
        user,
        token_sha256: sha256,
        password_hash: hash,
        now,
        context: ctx.audit().with_actor(user.get()),
    };
    // The store takes the token in the same transaction as the new hash, which makes it
    // one-time even when two requests race with it: the loser is told the token is invalid.
    let audit_id = state
        .store
        .reset_password_with_token(command)
        .await?
        .ok_or_else(invalid)?;
    state.auth_cache.revoke_user(user);
    tracing::info!(
        user_id = user.get(),
        audit_id = audit_id.get(),
        "password set with a reset token"
    );
    Ok(StatusCode::NO_CONTENT)
}

async fn find_owner(state: &AppState, user: UserId) -> Result<PasswordOwner, ApiError> {
    state
        .store
        .password_owner(user)
        .await?
        .ok_or_else(ApiError::not_found)
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
