//! Who is calling: `AuthUser` from `Authorization: Token <key>` (DRF's opaque token) or
//! `Authorization: Bearer <jwt>` (simplejwt's access token), and `StaffUser` for the admin
//! routes. Token checks are answered from `AuthCache` when possible, so an authenticated
//! request usually costs no database read. A cache fill states the cache epoch it saw before
//! its read, so a revocation that lands in between is never undone (see `auth/cache.rs`).

use axum::extract::FromRequestParts;
use axum::http::{StatusCode, header, request::Parts};

use crate::auth::{CachedOwner, USER_CACHE_SECONDS, token_sha256};
use crate::error::{ApiError, ErrorCode};
use crate::http::extract::RequestContext;
use crate::jwt::{self, TokenType};
use crate::state::AppState;
use crate::store::ids::UserId;

/// An authenticated caller, by opaque token (`Authorization: Token <key>`) or JWT
/// (`Authorization: Bearer <access>`).
#[derive(Clone, Copy, Debug)]
pub struct AuthUser {
    pub user_id: UserId,
    pub is_staff: bool,
    /// SHA-256 of the presented opaque token (for logout); `None` for a JWT.
    pub token_sha256: Option<[u8; 32]>,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(ApiError::not_authenticated)?;
        let header = header.to_str().map_err(|_| ApiError::invalid_token())?;
        let mut words = header.split_ascii_whitespace();
        let keyword = words.next().unwrap_or_default();
        let is_token = keyword.eq_ignore_ascii_case("token");
        if !is_token && !keyword.eq_ignore_ascii_case("bearer") {
            // Like DRF, another scheme means "no credentials of ours".
            return Err(ApiError::not_authenticated());
        }
        let credential = match (words.next(), words.next()) {
            (Some(credential), None) => credential,
            (None, _) => {
                return Err(ApiError::detail(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::AuthenticationFailed,
                    "Invalid token header. No credentials provided.",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::detail(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::AuthenticationFailed,
                    "Invalid token header. Token string should not contain spaces.",
                ));
            }
        };
        let now = chrono::Utc::now().timestamp();
        if is_token {
            opaque_token_user(state, credential, now).await
        } else {
            jwt_user(state, credential, now).await
        }
    }
}

async fn opaque_token_user(state: &AppState, key: &str, now: i64) -> Result<AuthUser, ApiError> {
    if key.len() != 40 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid_token());
    }
    let sha256 = token_sha256(&key.to_ascii_lowercase());
    let owner = match state.auth_cache.token(&sha256, now) {
        Some(owner) => owner,
        None => {
            let seen = state.auth_cache.epoch();
            let owner = state
                .store
                .token_owner(sha256, now)
                .await?
                .ok_or_else(ApiError::invalid_token)?;
            let cached = CachedOwner {
                user_id: owner.user_id,
                is_staff: owner.is_staff,
                // Opaque tokens are revoked by deleting them; the generation is for JWTs.
                auth_generation: 0,
                expires_at: owner.expires_at,
            };
            state.auth_cache.remember_token(sha256, cached, seen);
            cached
        }
    };
    Ok(AuthUser {
        user_id: owner.user_id,
        is_staff: owner.is_staff,
        token_sha256: Some(sha256),
    })
}

async fn jwt_user(state: &AppState, token: &str, now: i64) -> Result<AuthUser, ApiError> {
    let claims = jwt::verify(&state.keys.jwt, token, TokenType::Access, now)
        .ok_or_else(ApiError::jwt_not_valid)?;
    let user_id = UserId::new(claims.user_id);
    let owner = match state.auth_cache.user(user_id, now) {
        Some(owner) => owner,
        None => {
            let seen = state.auth_cache.epoch();
            let user = state
                .store
                .active_user(user_id)
                .await?
                .ok_or_else(ApiError::jwt_not_valid)?;
            let owner = CachedOwner {
                user_id,
                is_staff: user.is_staff,
                auth_generation: user.auth_generation,
                expires_at: now + USER_CACHE_SECONDS,
            };
            state.auth_cache.remember_user(owner, seen);
            owner
        }
    };
    // A JWT issued before the user's sessions were last revoked (a password change) is dead.
    if claims.auth_generation != owner.auth_generation {
        return Err(ApiError::jwt_not_valid());
    }
    Ok(AuthUser {
        user_id,
        is_staff: owner.is_staff,
        token_sha256: None,
    })
}

/// An authenticated caller who is staff or a superuser. Anyone else gets `403` (and an audit
/// row saying so) before the handler runs: authorization is a type, not an `if`.
#[derive(Clone, Copy, Debug)]
pub struct StaffUser(pub AuthUser);

impl FromRequestParts<AppState> for StaffUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if user.is_staff {
            return Ok(StaffUser(user));
        }
        let context = RequestContext::from_request_parts(parts, state)
            .await?
            .audit_as(&user);
        let path = parts.uri.path().to_owned();
        let method = parts.method.to_string();
        let audit_id = state
            .store
            .record_permission_denied(method, path, context)
            .await?;
        tracing::info!(
            user_id = user.user_id.get(),
            audit_id = audit_id.get(),
            "permission denied"
        );
        Err(ApiError::permission_denied())
    }
}
