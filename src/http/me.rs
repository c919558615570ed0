//! `GET /api/me/` (contract §12): who the token belongs to.
//!
//! Clients (and the console) ask this instead of probing a staff route to learn whether the
//! caller is staff: a probe refused with `403` is a real permission denial and is audited, so
//! probing filled the audit log with noise from ordinary browsing.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use crate::store::sqlite::users::{self, Profile};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/me", get(me))
}

/// The caller's id, username, email, `is_staff` and `is_superuser`.
async fn me(State(state): State<AppState>, user: AuthUser) -> Result<Json<Profile>, ApiError> {
    let user_id = user.user_id;
    let profile = state
        .store
        .sqlite()
        .read_point(move |conn| users::profile(conn, user_id.get()))
        .await?
        // Deactivated between the token check (possibly cached) and this read: the token no
        // longer works, so answer as for any token that stopped working.
        .ok_or_else(ApiError::invalid_token)?;
    Ok(Json(profile))
}
