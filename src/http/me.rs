//! `GET /api/me/` (contract §12): who the token belongs to.
//!
//! Clients (and the console) ask this instead of probing a staff route to learn whether the
//! caller is staff: a probe refused with `403` is a real permission denial and is audited, so
//! probing filled the audit log with noise from ordinary browsing.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use serde::Serialize;

use crate::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use crate::store::ids::UserId;
use crate::store::users::Profile;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/me", get(me))
}

/// The caller's id, username, email, `is_staff` and `is_superuser`.
async fn me(State(state): State<AppState>, user: AuthUser) -> Result<Json<MeBody>, ApiError> {
    let profile = state
        .store
        .profile(user.user_id)
        .await?
        // Deactivated between the token check (possibly cached) and this read: the token no
        // longer works, so answer as for any token that stopped working.
        .ok_or_else(ApiError::invalid_token)?;
    Ok(Json(MeBody::from(profile)))
}

/// The `GET /api/me/` body (field order is the contract's).
#[derive(Debug, Serialize)]
pub struct MeBody {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub is_staff: bool,
    pub is_superuser: bool,
}

impl From<Profile> for MeBody {
    fn from(profile: Profile) -> Self {
        Self {
            id: profile.id,
            username: profile.username,
            email: profile.email,
            is_staff: profile.is_staff,
            is_superuser: profile.is_superuser,
        }
    }
}
