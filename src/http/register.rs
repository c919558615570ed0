//! Registration (contract §2): `POST /api/register/` creates the user and its customer
//! profile in one write, after every validation rule has run.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;

use crate::domain::password::{Password, UserAttributes};
use crate::domain::profile::{Email, FullName, Username};
use crate::error::ApiError;
use crate::http::customers::read_profile;
use crate::http::extract::{Body, RequestContext};
use crate::http::form::Fields;
use crate::http::throttle::AuthThrottle;
use crate::state::AppState;
use crate::store::users::{Registration, USERNAME_TAKEN};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/register", post(register))
}

async fn register(
    State(state): State<AppState>,
    _throttle: AuthThrottle,
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
    if let Some(name) = &username
        && state
            .store
            .username_exists(name.as_str().to_owned())
            .await?
    {
        errors.add("username", USERNAME_TAKEN);
    }
    errors.into_result()?;
    let (Some(username), Some(password)) = (username, password) else {
        return Err(ApiError::internal("validated registration is incomplete"));
    };

    let password_hash = state.hasher.hash(password.expose().to_owned()).await?;
    let email = profile.email.clone().unwrap_or_default();
    let answer = RegisteredBody {
        username: username.to_string(),
        email: email.clone(),
    };
    let registration = Registration {
        username,
        email,
        password_hash,
        profile,
        context: ctx.audit(),
    };
    let (user_id, audit_id) = state.store.register(registration).await?;
    tracing::info!(
        username = %answer.username,
        user_id = user_id.get(),
        audit_id = audit_id.get(),
        "user registered"
    );
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The `POST /api/register/` answer: the new user's username and email (never the password).
#[derive(Debug, Serialize)]
pub struct RegisteredBody {
    pub username: String,
    pub email: String,
}

/// Validates an email for registration and profiles.
pub fn parse_email(text: &str) -> Result<String, String> {
    Email::parse(text).map(|e| e.as_str().to_owned())
}

/// Validates a full name for registration and profiles.
pub fn parse_full_name(text: &str) -> Result<String, String> {
    FullName::parse(text).map(|n| n.as_str().to_owned())
}
