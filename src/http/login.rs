//! Logging in and out (contract §2): opaque tokens (`get-token`, `logout`) and simplejwt-style
//! JWTs (`token`, `token/refresh`).
//!
//! Both logins share `check_credentials`: an unknown username is verified against a dummy
//! hash so it costs the same time as a wrong password, and both failures are audited.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use crate::auth;
use crate::error::{ApiError, ErrorCode};
use crate::http::extract::{AuthUser, Body, RequestContext};
use crate::http::form::{Fields, max_chars};
use crate::http::throttle::AuthThrottle;
use crate::jwt::{self, TokenType};
use crate::limits::{PASSWORD_CHARS_MAX, USERNAME_CHARS_MAX};
use crate::state::AppState;
use crate::store::ids::UserId;
use crate::store::users::NewToken;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/get-token", post(get_token))
        .route("/api/logout", post(logout))
        .route("/api/token", post(jwt_pair))
        .route("/api/token/refresh", post(jwt_refresh))
}

const BAD_CREDENTIALS: &str = "Unable to log in with provided credentials.";

async fn get_token(
    State(state): State<AppState>,
    _throttle: AuthThrottle,
    ctx: RequestContext,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    let subject = check_credentials(&state, &ctx, &body)
        .await?
        .ok_or_else(|| ApiError::non_field(BAD_CREDENTIALS))?;
    let user_id = UserId::new(subject.user_id);
    let auth::NewToken { token, sha256 } = auth::new_token()?;
    let ttl = i64::try_from(state.config.token_ttl_seconds).unwrap_or(i64::MAX);
    let command = NewToken {
        user: user_id,
        token_sha256: sha256,
        ttl_seconds: ttl,
        context: ctx.audit().with_actor(user_id.get()),
    };
    let audit_id = state.store.issue_token(command).await?;
    tracing::info!(
        user_id = user_id.get(),
        audit_id = audit_id.get(),
        "token issued"
    );
    Ok(Json(json!({ "token": token })))
}

async fn logout(
    State(state): State<AppState>,
    user: AuthUser,
    ctx: RequestContext,
) -> Result<StatusCode, ApiError> {
    // A single JWT cannot be revoked (simplejwt without a blacklist): it expires on its own.
    // A password change revokes all of a user's JWTs at once (`auth_generation`).
    let Some(token) = user.token_sha256 else {
        return Ok(StatusCode::NO_CONTENT);
    };
    let audit_id = state
        .store
        .revoke_token(user.user_id, token, ctx.audit_as(&user))
        .await?;
    state.auth_cache.revoke_token(&token);
    tracing::info!(
        user_id = user.user_id.get(),
        audit_id = audit_id.get(),
        "token revoked"
    );
    Ok(StatusCode::NO_CONTENT)
}

async fn jwt_pair(
    State(state): State<AppState>,
    _throttle: AuthThrottle,
    ctx: RequestContext,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    let subject = check_credentials(&state, &ctx, &body)
        .await?
        .ok_or_else(|| {
            ApiError::detail(
                StatusCode::UNAUTHORIZED,
                ErrorCode::NoActiveAccount,
                "No active account found with the given credentials",
            )
        })?;
    let user_id = subject.user_id;
    let now = chrono::Utc::now().timestamp();
    let access = jwt::issue(
        &state.keys.jwt,
        TokenType::Access,
        subject,
        now,
        state.config.jwt_access_ttl_seconds,
    );
    let refresh = jwt::issue(
        &state.keys.jwt,
        TokenType::Refresh,
        subject,
        now,
        state.config.jwt_refresh_ttl_seconds,
    );
    let (Some(access), Some(refresh)) = (access, refresh) else {
        return Err(ApiError::internal("cannot sign JWT"));
    };
    let user_id = UserId::new(user_id);
    let audit_id = state
        .store
        .record_jwt_login(user_id, ctx.audit().with_actor(user_id.get()))
        .await?;
    tracing::info!(
        user_id = user_id.get(),
        audit_id = audit_id.get(),
        "JWT pair issued"
    );
    Ok(Json(json!({ "access": access, "refresh": refresh })))
}

async fn jwt_refresh(
    State(state): State<AppState>,
    _throttle: AuthThrottle,
    ctx: RequestContext,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::new(&body);
    let refresh = fields.required_untrimmed("refresh", |text| Ok(text.to_owned()));
    fields.finish()?;
    let not_valid = || {
        ApiError::detail(
            StatusCode::UNAUTHORIZED,
            ErrorCode::TokenNotValid,
            "Token is invalid or expired",
        )
    };
    let now = chrono::Utc::now().timestamp();
    let claims = refresh
        .and_then(|token| jwt::verify(&state.keys.jwt, &token, TokenType::Refresh, now))
        .ok_or_else(not_valid)?;
    let user_id = claims.user_id;
    // A refresh token of a user who no longer exists or is inactive, or one issued before the
    // user's sessions were revoked (a password change), mints nothing.
    let user = state
        .store
        .active_user(UserId::new(user_id))
        .await?
        .ok_or_else(not_valid)?;
    if user.auth_generation != claims.auth_generation {
        return Err(not_valid());
    }
    let subject = jwt::Subject {
        user_id,
        auth_generation: claims.auth_generation,
    };
    let access = jwt::issue(
        &state.keys.jwt,
        TokenType::Access,
        subject,
        now,
        state.config.jwt_access_ttl_seconds,
    )
    .ok_or_else(|| ApiError::internal("cannot sign JWT"))?;
    let audit_id = state
        .store
        .record_jwt_refresh(UserId::new(user_id), ctx.audit().with_actor(user_id))
        .await?;
    tracing::info!(user_id, audit_id = audit_id.get(), "JWT access refreshed");
    Ok(Json(json!({ "access": access })))
}

/// Reads `username` and `password` and checks them. `Ok(None)` means wrong credentials (already
/// audited); field errors (missing fields) are returned as `Err`.
async fn check_credentials(
    state: &AppState,
    ctx: &RequestContext,
    body: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<jwt::Subject>, ApiError> {
    let mut fields = Fields::new(body);
    // No account can have a longer username, and a longer password is refused before argon2
    // sees it: both bound the work (and the throttle key) a single request can cost.
    let username = fields.required("username", |text| max_chars(text, USERNAME_CHARS_MAX));
    let password =
        fields.required_untrimmed("password", |text| max_chars(text, PASSWORD_CHARS_MAX));
    fields.finish()?;
    let (Some(username), Some(password)) = (username, password) else {
        return Err(ApiError::internal("validated login is incomplete"));
    };
    // A slot is reserved before the password is checked, so a burst of simultaneous guesses
    // gets at most `limit` argon2 verifications; a right password hands its slot back below.
    let failures_key = format!("login-failures:{}", username.to_lowercase());
    let failures_limit = state.config.throttle_failed_logins_per_user_per_minute;
    let reservation = state.throttle.reserve(&failures_key, failures_limit)?;
    let credentials = state.store.credentials(username.clone()).await?;
    // Unknown users are checked against a dummy hash, so both failures take the same time.
    let stored_hash = credentials.as_ref().map(|c| c.password_hash.clone());
    let password_ok = state.hasher.verify(password, stored_hash).await?;
    match credentials {
        Some(c) if password_ok && c.is_active => {
            state.throttle.refund(reservation);
            Ok(Some(jwt::Subject {
                user_id: c.user_id.get(),
                auth_generation: c.auth_generation,
            }))
        }
        _ => {
            // Audited in its own write: the attempted username, never the password.
            let audit_id = state
                .store
                .record_login_failure(username.clone(), ctx.audit())
                .await?;
            tracing::info!(%username, audit_id = audit_id.get(), "login failed");
            Ok(None)
        }
    }
}
