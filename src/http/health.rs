//! Liveness and readiness for supervisors and load balancers (contract §10).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process answers.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers, every migration is applied, and durability has not been lost (after a
/// storage fault the server answers `503` here until it has stopped: the store's fail-stop).
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let ready =
        state.store.durability_lost().is_none() && state.store.is_ready().await.unwrap_or(false);
    if ready {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable" })),
        )
    }
}
