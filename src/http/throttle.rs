//! Rate limits (contract §2): per client IP on the auth routes, per username on failed logins,
//! per user on money movement. Fixed one-minute windows in memory: a limit of N allows N
//! requests per key per window, then `429` with `Retry-After` until the window ends.
//!
//! Limits live in memory, so a restart resets them; that is fine for their purpose (slowing
//! guessing and floods), and keeps them off the database's hot path.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::error::ApiError;
use crate::http::extract::RequestContext;

const WINDOW: Duration = Duration::from_secs(60);
/// Keys remembered before stale windows are swept.
const KEYS_BEFORE_SWEEP: usize = 10_000;

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

/// Counters per key.
#[derive(Default)]
pub struct Throttle {
    windows: Mutex<HashMap<String, Window>>,
}

impl Throttle {
    /// Counts one request for `key`; refuses it when the key already used `limit` requests in
    /// its window. A limit of 0 means no limit.
    pub fn hit(&self, key: &str, limit: u32) -> Result<(), ApiError> {
        if limit == 0 {
            return Ok(());
        }
        self.update(key, |window| {
            if window.count >= limit {
                return Err(throttled(window));
            }
            window.count += 1;
            Ok(())
        })
    }

    /// Refuses when `key` has already reached `limit` in its window, without counting.
    pub fn check(&self, key: &str, limit: u32) -> Result<(), ApiError> {
        if limit == 0 {
            return Ok(());
        }
        self.update(key, |window| {
            if window.count >= limit {
                Err(throttled(window))
            } else {
                Ok(())
            }
        })
    }

    /// Counts one event for `key` without refusing (e.g. a failed login after the fact).
    pub fn record(&self, key: &str) {
        let _ = self.update(key, |window| {
            window.count = window.count.saturating_add(1);
            Ok(())
        });
    }

    fn update(
        &self,
        key: &str,
        change: impl FnOnce(&mut Window) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut windows = self
            .windows
            .lock()
            .map_err(|_| ApiError::internal("throttle poisoned"))?;
        if windows.len() >= KEYS_BEFORE_SWEEP {
            windows.retain(|_, window| now.duration_since(window.started) < WINDOW);
        }
        let window = windows.entry(key.to_owned()).or_insert(Window {
            started: now,
            count: 0,
        });
        if now.duration_since(window.started) >= WINDOW {
            *window = Window {
                started: now,
                count: 0,
            };
        }
        change(window)
    }
}

fn throttled(window: &Window) -> ApiError {
    let remaining = WINDOW.saturating_sub(window.started.elapsed());
    // Round up: "available in 0 seconds" would invite an immediate, refused retry.
    let seconds = remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0);
    ApiError::Throttled {
        wait_seconds: seconds.max(1),
    }
}

/// Extracting this counts the request against its client IP's auth limit
/// (`throttle.auth_per_ip_per_minute`): put it on every auth route.
pub struct AuthThrottle;

impl FromRequestParts<AppState> for AuthThrottle {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ctx = RequestContext::from_request_parts(parts, state).await?;
        state.throttle.hit(
            &format!("auth-ip:{}", ctx.throttle_key()),
            state.config.throttle_auth_per_ip_per_minute,
        )?;
        Ok(AuthThrottle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_allows_that_many_then_refuses_with_a_wait() {
        let throttle = Throttle::default();
        for _ in 0..3 {
            assert!(throttle.hit("k", 3).is_ok());
        }
        match throttle.hit("k", 3) {
            Err(ApiError::Throttled { wait_seconds }) => assert!((1..=60).contains(&wait_seconds)),
            other => panic!("expected throttled, got {other:?}"),
        }
        assert!(throttle.hit("other", 3).is_ok());
        assert!(throttle.hit("k", 0).is_ok());
    }

    #[test]
    fn check_does_not_count_but_record_does() {
        let throttle = Throttle::default();
        assert!(throttle.check("user", 1).is_ok());
        assert!(throttle.check("user", 1).is_ok());
        throttle.record("user");
        assert!(throttle.check("user", 1).is_err());
    }
}
