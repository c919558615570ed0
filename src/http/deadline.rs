//! The request timeout (`server.request_timeout_seconds`): a request not answered in time,
//! body upload included, gets `503 service_unavailable` with `Retry-After`, and its future is
//! dropped so a stalled client cannot hold a connection's work forever.
//!
//! Dropping a handler cannot leave a money movement half done: a write is a job handed to the
//! writer thread, which commits it (movement and idempotency record in one transaction) or
//! refuses it whether or not anyone still waits for the answer. So the durable outcome of a
//! timed-out movement is whatever the writer decided, and a retry with the same
//! `Idempotency-Key` returns exactly that (the writer runs jobs in order, so the retry's job
//! finds the first one's record).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Runs the rest of the request under the configured deadline.
pub async fn request_deadline(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limit = Duration::from_secs(state.config.request_timeout_seconds);
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                timeout_seconds = limit.as_secs(),
                "request timed out; answered 503"
            );
            ApiError::detail(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ServiceUnavailable,
                "The request took too long. Retry shortly; a retry with the same \
                 Idempotency-Key returns the original outcome.",
            )
            .into_response()
        }
    }
}
