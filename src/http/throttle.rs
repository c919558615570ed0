//! Rate limits (contract §2): per client IP on the auth routes, per username on failed logins,
//! per user on money movement. Fixed one-minute windows in memory: a limit of N allows N
//! requests per key per window, then `429` with `Retry-After` until the window ends.
//!
//! Every limit *reserves before it spends*: a slot is taken under the lock before the work it
//! guards starts (an argon2 verification, a movement), so N requests arriving at the same
//! instant cannot all pass a check that only counts them afterwards. A login that turns out to
//! be right gives its slot back (`refund`), so only failures use up a username's allowance.
//!
//! Memory is bounded without a pass over every key: keys live in two generations, `current`
//! and `previous`, and every `WINDOW` the older generation is dropped whole. A key's window is
//! at most `WINDOW` long, so a key untouched for a whole generation is already stale when it is
//! dropped; a key touched again moves into `current`. At most `KEYS_MAX` keys are remembered;
//! past that a *new* key is refused (fail closed) rather than forgetting someone's failures.
//!
//! Limits live in memory, so a restart resets them; that is fine for their purpose (slowing
//! guessing and floods), and keeps them off the database's hot path.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::http::extract::RequestContext;
use crate::state::AppState;

const WINDOW: Duration = Duration::from_secs(60);
/// Keys remembered at most, across both generations (each key is at most a prefix plus a
/// 150-character username, so this bounds the maps to a few tens of MiB).
const KEYS_MAX: usize = 200_000;

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

impl Window {
    fn is_live(&self, now: Instant) -> bool {
        now.duration_since(self.started) < WINDOW
    }
}

/// The two generations of windows; see the module documentation.
struct Generations {
    current: HashMap<String, Window>,
    previous: HashMap<String, Window>,
    /// When `current` became current.
    rotated: Instant,
}

impl Default for Generations {
    fn default() -> Self {
        Self {
            current: HashMap::new(),
            previous: HashMap::new(),
            rotated: Instant::now(),
        }
    }
}

/// Counters per key.
#[derive(Default)]
pub struct Throttle {
    windows: Mutex<Generations>,
}

/// A slot taken by `Throttle::reserve`: spent unless handed back with `Throttle::refund`.
#[must_use = "a reservation is either kept (spent) or refunded"]
pub struct Reservation {
    key: String,
    /// The window the slot was taken from; a refund after it ended has nothing to give back.
    window_started: Instant,
}

impl Throttle {
    /// Counts one request for `key`; refuses it when the key already used `limit` requests in
    /// its window. A limit of 0 means no limit.
    pub fn hit(&self, key: &str, limit: u32) -> Result<(), ApiError> {
        self.reserve(key, limit).map(|_| ())
    }

    /// Takes one of `key`'s `limit` slots in the current window before the guarded work starts,
    /// or refuses (`429`) when none is left. `Ok(None)` when the limit is 0 (off).
    pub fn reserve(&self, key: &str, limit: u32) -> Result<Option<Reservation>, ApiError> {
        if limit == 0 {
            return Ok(None);
        }
        let window_started = self.update(key, |window| {
            if window.count >= limit {
                return Err(throttled(window));
            }
            window.count += 1;
            Ok(window.started)
        })?;
        Ok(Some(Reservation {
            key: key.to_owned(),
            window_started,
        }))
    }

    /// Gives a reserved slot back (the guarded attempt succeeded and should not count).
    pub fn refund(&self, reservation: Option<Reservation>) {
        let Some(reservation) = reservation else {
            return;
        };
        let Ok(mut generations) = self.windows.lock() else {
            return;
        };
        if let Some(window) = generations.current.get_mut(&reservation.key)
            && window.started == reservation.window_started
        {
            window.count = window.count.saturating_sub(1);
        }
    }

    fn update<T>(
        &self,
        key: &str,
        change: impl FnOnce(&mut Window) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let now = Instant::now();
        let mut generations = self
            .windows
            .lock()
            .map_err(|_| ApiError::internal("throttle poisoned"))?;
        // The generation dropped here holds only windows untouched for at least `WINDOW`, all
        // stale; dropping a map is one deallocation per key, once a minute, not per request.
        if now.duration_since(generations.rotated) >= WINDOW {
            let previous = std::mem::take(&mut generations.current);
            generations.previous = previous;
            generations.rotated = now;
        }
        let carried = generations.previous.remove(key);
        if !generations.current.contains_key(key) {
            if generations.current.len() + generations.previous.len() >= KEYS_MAX {
                tracing::warn!("throttle is full; refusing a new key until a window ends");
                return Err(ApiError::Throttled {
                    wait_seconds: WINDOW.as_secs(),
                });
            }
            let fresh = Window {
                started: now,
                count: 0,
            };
            generations
                .current
                .insert(key.to_owned(), carried.unwrap_or(fresh));
        }
        let window = generations
            .current
            .get_mut(key)
            .ok_or_else(|| ApiError::internal("throttle key vanished"))?;
        if !window.is_live(now) {
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
    fn a_reservation_counts_at_once_and_a_refund_gives_it_back() {
        let throttle = Throttle::default();
        let first = throttle.reserve("user", 2).expect("a slot");
        let _second = throttle.reserve("user", 2).expect("a slot");
        assert!(throttle.reserve("user", 2).is_err(), "both slots are taken");
        throttle.refund(first);
        assert!(
            throttle.reserve("user", 2).is_ok(),
            "the refunded slot is free"
        );
        assert!(throttle.reserve("user", 2).is_err());
        assert!(matches!(throttle.reserve("user", 0), Ok(None)));
    }

    #[test]
    fn a_full_throttle_refuses_new_keys_but_still_serves_known_ones() {
        let throttle = Throttle::default();
        for n in 0..KEYS_MAX {
            throttle.hit(&n.to_string(), 5).expect("room");
        }
        assert!(throttle.hit("one-too-many", 5).is_err());
        assert!(throttle.hit("0", 5).is_ok());
    }
}
