//! The authentication cache, and revocation that a request in flight cannot undo.
//!
//! A token check that misses the cache reads the database and then stores what it read. If a
//! logout (or a password change) commits and evicts between that read and that store, a naive
//! store puts the revoked credential back, and it works until it expires: days for a token.
//!
//! So every revocation moves an *epoch* on, under the same lock as the eviction, and a fill
//! states the epoch it saw before its read: a fill whose epoch is no longer current is dropped.
//! Either the read came after the revocation's commit (it found nothing to cache), or the fill
//! comes after the eviction (its epoch is stale), or it comes before the eviction (which then
//! removes it). The request in flight is answered with what it read, like any request that
//! began before the logout; the revoked credential never outlives it.
//!
//! The epoch is global rather than per user: a fill does not know its user before its read.
//! Revocations are rare next to requests, so the cost is an occasional extra database read.
//!
//! The revocation API is two calls, `revoke_token` and `revoke_user`, so a future multi-node
//! backend can feed it revocations from other nodes (PostgreSQL LISTEN/NOTIFY); on SQLite the
//! server watches the `auth_revocations` table for revocations made by other processes.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::ids::UserId;

/// Who a credential belongs to, as the cache remembers it.
#[derive(Clone, Copy, Debug)]
pub struct CachedOwner {
    pub user_id: UserId,
    pub is_staff: bool,
    /// The user's `auth_generation` when read; a JWT carrying another one is refused.
    pub auth_generation: i64,
    /// Unix seconds after which the entry (and, for tokens, the token) is dead.
    pub expires_at: i64,
}

/// The revocation count a cache fill saw before its database read (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epoch(u64);

/// Keeps token checks off the database: a request whose token was seen before costs a hash
/// and a map lookup, not a SQLite round trip.
///
/// Opaque tokens are cached by SHA-256 until the token's own expiry and removed when revoked;
/// the cache lives in memory only, so a restart starts it empty and every token is checked
/// against the database once more. JWT users are cached for `USER_CACHE_SECONDS` (the
/// signature and expiry are checked on every request; the cache answers "does this user still
/// exist, is it staff, and which generation must its JWTs carry").
#[derive(Default)]
pub struct AuthCache {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    tokens: HashMap<[u8; 32], CachedOwner>,
    users: HashMap<UserId, CachedOwner>,
    /// Revocations so far; see the module documentation.
    epoch: u64,
}

/// Entries kept before the cache is cleared wholesale (a bound on memory, not a tuning knob).
const AUTH_CACHE_ENTRIES_MAX: usize = 100_000;
/// How long a JWT user's existence, staff flag and generation are trusted without a database
/// check; revocations made through this server evict the entry at once.
pub const USER_CACHE_SECONDS: i64 = 60;

impl AuthCache {
    /// The epoch to hand to `remember_*` after a database read; take it *before* the read.
    pub fn epoch(&self) -> Epoch {
        Epoch(
            self.entries
                .lock()
                .map_or(u64::MAX, |entries| entries.epoch),
        )
    }

    pub fn token(&self, sha256: &[u8; 32], now: i64) -> Option<CachedOwner> {
        let entries = self.entries.lock().ok()?;
        entries
            .tokens
            .get(sha256)
            .copied()
            .filter(|owner| owner.expires_at > now)
    }

    /// Caches a token read from the database, unless a revocation happened since `seen`.
    pub fn remember_token(&self, sha256: [u8; 32], owner: CachedOwner, seen: Epoch) {
        if let Ok(mut entries) = self.entries.lock()
            && entries.epoch == seen.0
        {
            if entries.tokens.len() >= AUTH_CACHE_ENTRIES_MAX {
                entries.tokens.clear();
            }
            entries.tokens.insert(sha256, owner);
        }
    }

    pub fn user(&self, user_id: UserId, now: i64) -> Option<CachedOwner> {
        let entries = self.entries.lock().ok()?;
        entries
            .users
            .get(&user_id)
            .copied()
            .filter(|owner| owner.expires_at > now)
    }

    /// Caches a user read from the database, unless a revocation happened since `seen`.
    pub fn remember_user(&self, owner: CachedOwner, seen: Epoch) {
        if let Ok(mut entries) = self.entries.lock()
            && entries.epoch == seen.0
        {
            if entries.users.len() >= AUTH_CACHE_ENTRIES_MAX {
                entries.users.clear();
            }
            entries.users.insert(owner.user_id, owner);
        }
    }

    /// One token was revoked (logout). Call after the deletion has committed.
    pub fn revoke_token(&self, sha256: &[u8; 32]) {
        self.revoke(|entries| {
            entries.tokens.remove(sha256);
        });
    }

    /// Every session of a user was revoked (password change, reset, deactivation). Call after
    /// the revocation has committed. Scans the token cache: rare, and bounded by its size.
    pub fn revoke_user(&self, user_id: UserId) {
        self.revoke(|entries| {
            entries.users.remove(&user_id);
            entries.tokens.retain(|_, owner| owner.user_id != user_id);
        });
    }

    fn revoke(&self, evict: impl FnOnce(&mut Entries)) {
        match self.entries.lock() {
            Ok(mut entries) => {
                entries.epoch = entries.epoch.wrapping_add(1);
                evict(&mut entries);
            }
            // A poisoned lock means a panic while holding it; `epoch()` and `remember_*` then
            // refuse to cache at all, so nothing stale can be served from it either.
            Err(_) => tracing::error!("auth cache poisoned; caching is off"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(user_id: i64) -> CachedOwner {
        CachedOwner {
            user_id: UserId::new(user_id),
            is_staff: false,
            auth_generation: 0,
            expires_at: i64::MAX,
        }
    }

    #[test]
    fn a_fill_that_read_before_a_revocation_is_not_cached() {
        let cache = AuthCache::default();
        let seen = cache.epoch();
        cache.revoke_token(&[1; 32]);
        cache.remember_token([1; 32], owner(7), seen);
        cache.remember_user(owner(7), seen);
        assert!(cache.token(&[1; 32], 0).is_none());
        assert!(cache.user(UserId::new(7), 0).is_none());

        cache.remember_token([1; 32], owner(7), cache.epoch());
        assert!(cache.token(&[1; 32], 0).is_some());
    }

    #[test]
    fn revoking_a_user_drops_its_tokens_and_entry_only() {
        let cache = AuthCache::default();
        let seen = cache.epoch();
        cache.remember_token([1; 32], owner(7), seen);
        cache.remember_token([2; 32], owner(8), seen);
        cache.remember_user(owner(7), seen);
        cache.revoke_user(UserId::new(7));
        assert!(cache.token(&[1; 32], 0).is_none());
        assert!(cache.user(UserId::new(7), 0).is_none());
        assert!(cache.token(&[2; 32], 0).is_some());
    }
}
