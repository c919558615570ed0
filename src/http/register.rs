//! Registration and opaque-token authentication (contract §2).
//!
//! `POST /api/register/` creates the user and its customer profile in one write;
//! `POST /api/get-token/` trades credentials for a token; `POST /api/logout/` revokes it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use crate::app::AppState;
use crate::auth;
use crate::db::audit::{self, AuditContext, AuditEvent, Outcome};
use crate::db::{customers, users};
use crate::domain::password::{Password, UserAttributes};
use crate::domain::profile::{Email, FullName, Username};
use crate::domain::time::now_rfc3339;
use crate::error::ApiError;
use crate::http::customers::read_profile;
use crate::http::extract::{AuthUser, Body, RequestContext};
use crate::http::form::Fields;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/register", post(register))
        .route("/api/get-token", post(get_token))
        .route("/api/logout", post(logout))
}

async fn register(
    State(state): State<AppState>,
    ctx: RequestContext,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::new(&body);
    let username = fields.required("username", Username::parse);
    let password_text = fields.required_untrimmed("password", |text| Ok(text.to_owned()));
    let password2 = fields.optional("password2", false, |text| Ok(text.to_owned()));
    let profile = read_profile(&mut fields, false);
    let mut errors = fields.errors;

    if let (Some(password), Some(Some(confirmation))) = (&password_text, &password2)
        && password != confirmation
    {
        errors.add("password", "Password fields didn't match.");
    }
    // Django validates the password against the user's other attributes, as given.
    let text_of = |name: &str| {
        body.get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let password = password_text.as_deref().and_then(|text| {
        let (username_text, full_name, email) =
            (text_of("username"), text_of("full_name"), text_of("email"));
        let attributes = UserAttributes {
            username: &username_text,
            full_name: &full_name,
            email: &email,
        };
        Password::parse(text, &attributes)
            .map_err(|messages| messages.into_iter().for_each(|m| errors.add("password", m)))
            .ok()
    });
    if let Some(name) = &username {
        let name = name.as_str().to_owned();
        if state
            .db
            .read(move |conn| users::username_exists(conn, &name))
            .await?
        {
            errors.add("username", users::USERNAME_TAKEN);
        }
    }
    errors.into_result()?;
    let (Some(username), Some(password)) = (username, password) else {
        return Err(ApiError::internal("validated registration is incomplete"));
    };

    let password_hash = state.hasher.hash(password.expose().to_owned()).await?;
    let email = profile.email.clone().unwrap_or_default();
    let (created_username, created_email) = (username.to_string(), email.clone());
    let audit_context = ctx.audit();
    let (user_id, audit_id) = state
        .db
        .write(move |conn| {
            let now = now_rfc3339();
            let new_user = users::NewUser {
                username: username.as_str(),
                email: &email,
                password_hash: &password_hash,
                is_staff: false,
                is_superuser: false,
                now: &now,
            };
            let user_id = users::insert(conn, &new_user)?;
            customers::insert(conn, user_id, &profile, &now)?;
            let event = AuditEvent {
                action: "register",
                object: Some(("user", user_id)),
                outcome: Outcome::Success,
                details: json!({ "username": username.as_str() }),
            };
            let audit_id = audit::record(conn, &audit_context.with_actor(user_id), &event)?;
            Ok((user_id, audit_id))
        })
        .await?;
    tracing::info!(username = %created_username, user_id, audit_id, "user registered");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "username": created_username, "email": created_email })),
    ))
}

const BAD_CREDENTIALS: &str = "Unable to log in with provided credentials.";

async fn get_token(
    State(state): State<AppState>,
    ctx: RequestContext,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::new(&body);
    let username = fields.required("username", |text| Ok(text.to_owned()));
    let password = fields.required_untrimmed("password", |text| Ok(text.to_owned()));
    fields.finish()?;
    let (Some(username), Some(password)) = (username, password) else {
        return Err(ApiError::internal("validated login is incomplete"));
    };

    let lookup = username.clone();
    let credentials = state
        .db
        .read(move |conn| users::credentials(conn, &lookup))
        .await?;
    // Unknown users are checked against a dummy hash, so both failures take the same time.
    let stored_hash = credentials.as_ref().map(|c| c.password_hash.clone());
    let password_ok = state.hasher.verify(password, stored_hash).await?;
    let user_id = match credentials {
        Some(c) if password_ok && c.is_active => c.user_id,
        _ => {
            let audit_id = record_login_failure(&state, ctx.audit(), &username).await?;
            tracing::info!(%username, audit_id, "login failed");
            return Err(ApiError::non_field(BAD_CREDENTIALS));
        }
    };

    let auth::NewToken { token, sha256 } = auth::new_token()?;
    let ttl = i64::try_from(state.config.token_ttl_seconds).unwrap_or(i64::MAX);
    let audit_context = ctx.audit().with_actor(user_id);
    let audit_id = state
        .db
        .write(move |conn| {
            let now = chrono::Utc::now();
            users::delete_expired_tokens(conn, now.timestamp())?;
            let expires_at = now.timestamp().saturating_add(ttl);
            users::insert_token(conn, &sha256, user_id, &now_rfc3339(), expires_at)?;
            record_login(conn, &audit_context, user_id, "token")
        })
        .await?;
    tracing::info!(%username, user_id, audit_id, "token issued");
    Ok(Json(json!({ "token": token })))
}

async fn logout(State(state): State<AppState>, user: AuthUser) -> Result<StatusCode, ApiError> {
    let token = user.token_sha256;
    state
        .db
        .write(move |conn| users::delete_token(conn, &token))
        .await?;
    tracing::info!(user_id = user.user_id, "token revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Audits a successful login and the credential it issued (`kind`: "token" or "jwt").
/// Returns the id of the `token_issued` row.
pub fn record_login(
    conn: &rusqlite::Connection,
    context: &AuditContext,
    user_id: i64,
    kind: &str,
) -> Result<i64, ApiError> {
    for action in ["login", "token_issued"] {
        let event = AuditEvent {
            action,
            object: Some(("user", user_id)),
            outcome: Outcome::Success,
            details: json!({ "kind": kind }),
        };
        let audit_id = audit::record(conn, context, &event)?;
        if action == "token_issued" {
            return Ok(audit_id);
        }
    }
    Err(ApiError::internal("unreachable"))
}

/// Audits a failed login in its own write. The attempted username is recorded; the password
/// never is.
pub async fn record_login_failure(
    state: &AppState,
    context: AuditContext,
    username: &str,
) -> Result<i64, ApiError> {
    let event_details = json!({ "username": username });
    state
        .db
        .write(move |conn| {
            let event = AuditEvent {
                action: "login_failed",
                object: None,
                outcome: Outcome::Failure,
                details: event_details,
            };
            audit::record(conn, &context, &event)
        })
        .await
}

/// Validates an email for registration and profiles.
pub fn parse_email(text: &str) -> Result<String, String> {
    Email::parse(text).map(|e| e.as_str().to_owned())
}

/// Validates a full name for registration and profiles.
pub fn parse_full_name(text: &str) -> Result<String, String> {
    FullName::parse(text).map(|n| n.as_str().to_owned())
}
