//! The `Idempotency-Key` header and the registry of keys whose request is still in flight.
//!
//! The writer runs a keyed movement and stores its answer in one job, so two requests with the
//! same key can never both move money. The in-flight registry adds the contract's `409`: while
//! the first request with a key is being processed, a duplicate is told so at once instead of
//! queueing behind it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::{StatusCode, request::Parts};

use crate::error::{ApiError, ErrorCode};

/// Longest key accepted, in characters.
pub const IDEMPOTENCY_KEY_CHARS_MAX: usize = 255;

/// The request's `Idempotency-Key`, if it sent one.
#[derive(Clone, Debug)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None));
        };
        let bytes = value.as_bytes();
        let valid = (1..=IDEMPOTENCY_KEY_CHARS_MAX).contains(&bytes.len())
            && bytes.iter().all(|b| (0x20..=0x7e).contains(b));
        if !valid {
            return Err(ApiError::rule(
                ErrorCode::InvalidIdempotencyKey,
                "Idempotency-Key must be 1 to 255 printable ASCII characters.",
            ));
        }
        Ok(Self(Some(String::from_utf8_lossy(bytes).into_owned())))
    }
}

/// Keys (per user) whose first request has not answered yet.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Mutex<HashSet<(i64, String)>>>);

/// Holds a key as in flight until dropped.
pub struct InFlightGuard {
    registry: InFlight,
    entry: (i64, String),
}

impl InFlight {
    /// Marks `key` of `user_id` as in flight, or answers `409` if it already is.
    pub fn claim(&self, user_id: i64, key: &str) -> Result<InFlightGuard, ApiError> {
        let entry = (user_id, key.to_owned());
        let mut keys = self
            .0
            .lock()
            .map_err(|_| ApiError::internal("in-flight registry poisoned"))?;
        if !keys.insert(entry.clone()) {
            return Err(ApiError::detail(
                StatusCode::CONFLICT,
                ErrorCode::IdempotencyInProgress,
                "A request with this Idempotency-Key is still being processed. Retry later.",
            ));
        }
        Ok(InFlightGuard {
            registry: self.clone(),
            entry,
        })
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Ok(mut keys) = self.registry.0.lock() {
            keys.remove(&self.entry);
        }
    }
}
