//! The `Idempotency-Key` header, the fingerprint of the request it guards, and the registry of
//! keys whose request is still in flight.
//!
//! The writer runs a keyed movement and stores its answer in one job, so two requests with the
//! same key can never both move money. The in-flight registry adds the contract's `409`: while
//! the first request with a key is being processed, a duplicate is told so at once instead of
//! queueing behind it. The fingerprint is computed here because it is made of HTTP things
//! (method, path, body); the store keeps it beside the answer and compares it (store/movements.rs).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::{StatusCode, request::Parts};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorCode};
use crate::store::ids::UserId;

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
pub struct InFlight(Arc<Mutex<HashSet<(UserId, String)>>>);

/// Holds a key as in flight until dropped.
pub struct InFlightGuard {
    registry: InFlight,
    entry: (UserId, String),
}

impl InFlight {
    /// Marks `key` of `user` as in flight, or answers `409` if it already is.
    pub fn claim(&self, user: UserId, key: &str) -> Result<InFlightGuard, ApiError> {
        let entry = (user, key.to_owned());
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

/// `sha256(method \n path \n canonical body)`, where the canonical body has its object keys
/// sorted at every level, so key order and whitespace do not matter but values do.
pub fn fingerprint(method: &str, path: &str, body: &serde_json::Map<String, Value>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b"\n");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical(&Value::Object(body.clone())).as_bytes());
    hasher.finalize().into()
}

fn canonical(value: &Value) -> String {
    fn sort(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let sorted: BTreeMap<&String, Value> =
                    map.iter().map(|(k, v)| (k, sort(v))).collect();
                Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn key_order_does_not_change_the_fingerprint_but_values_do() {
        let a = fingerprint(
            "POST",
            "/api/accounts/1/deposit/",
            &map(json!({"amount": "1.00", "description": "x"})),
        );
        let b = fingerprint(
            "POST",
            "/api/accounts/1/deposit/",
            &map(json!({"description": "x", "amount": "1.00"})),
        );
        let c = fingerprint(
            "POST",
            "/api/accounts/1/deposit/",
            &map(json!({"amount": "2.00", "description": "x"})),
        );
        let d = fingerprint(
            "POST",
            "/api/accounts/2/deposit/",
            &map(json!({"amount": "1.00", "description": "x"})),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}
