//! The application state every handler reaches through axum's `State`, and how it is built.
//!
//! Everything here is built once, at start-up, by [`AppState::build`], and shared by every
//! request for the life of the server: state that must be the same for all requests (the store,
//! the caches, the counters) lives here, and nowhere else. Background work is not here: the
//! store owns and stops its own (`Store::start_background`, `Store::shutdown`), and `App::run`
//! starts and stops the auth revocation watcher.

use std::sync::Arc;

use crate::auth::PasswordHasherPool;
use crate::config::{Config, Secret};
use crate::store::Store;

/// What every handler can reach: one `Arc`, so the clone that axum makes for every layer and
/// `State` extractor of every request is one atomic increment. (As a struct of a dozen `Arc`s
/// its clones and drops were ~10% of the server's CPU under the single-account read
/// benchmark, `bench/profile.sh --scenario reads`.)
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<SharedState>);

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// The fields behind [`AppState`].
pub struct SharedState {
    /// The bank's storage (`store/`): every read and write of every handler goes through it.
    /// Shared because it owns the reader pool and the single writer thread, of which there is
    /// one per database. Also watched by `App::run`, which stops on a durability loss.
    pub store: Store,
    /// The configuration the server was started with, read by handlers (limits, TTLs, the
    /// public URL), the layers (allowed hosts, trusted proxies, CORS, the request timeout) and
    /// `server.rs` (connection limits). Never changes while the server runs.
    pub config: Arc<Config>,
    /// The password hashing threads (argon2), used by login, registration and password changes.
    /// Shared so the number of threads hashing at once is bounded for the whole server (every
    /// core but one, so that money movement keeps a core).
    pub hasher: PasswordHasherPool,
    /// The `Idempotency-Key`s whose first request is still running (`http/idempotency.rs`),
    /// used by the movement handler to answer a concurrent retry `409` instead of running it
    /// twice. Shared: the retry may arrive on any connection.
    pub in_flight: crate::http::idempotency::InFlight,
    /// The JWT signing key and the card-number hashing key, read by the auth extractor, token
    /// issuing and card handlers. Loaded once (configured, or generated and kept in the store).
    pub keys: Arc<Keys>,
    /// Tokens and users already checked (`auth/cache.rs`), read by the auth extractor on every
    /// authenticated request and evicted by logout, password changes and the revocation watcher.
    /// Shared so that an eviction is seen by every request at once.
    pub auth_cache: Arc<crate::auth::AuthCache>,
    /// Request counters per client IP and user (`http/throttle.rs`), used by login, password
    /// reset and movements. Shared: a limit counts every connection of a client.
    pub throttle: Arc<crate::http::throttle::Throttle>,
    /// Counters and latencies for `/metrics` (`http/metrics.rs`), written by `around_request`
    /// for every request, by the movement handler and by `server.rs` for connections.
    pub metrics: Arc<crate::http::metrics::Metrics>,
    /// Bounds concurrent statement work (`statements.concurrent_max`), used by the statement
    /// handlers. Shared: the bound holds across all requests.
    pub statements: Arc<crate::http::statements::StatementGate>,
}

impl AppState {
    /// Opens (and migrates) the store and builds everything the handlers share.
    pub fn build(config: Config) -> Result<Self, String> {
        let store = Store::open(&config)?;
        let keys = Keys::load(&config, &store)?;
        // Password hashing may use every core but one: money movement keeps a core.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let hasher = PasswordHasherPool::new(cores.saturating_sub(1).max(1))?;
        let statements = Arc::new(crate::http::statements::StatementGate::new(
            config.statements_concurrent_max,
            std::time::Duration::from_millis(config.statements_queue_wait_ms),
        ));
        Ok(Self(Arc::new(SharedState {
            store,
            config: Arc::new(config),
            hasher,
            in_flight: Default::default(),
            keys: Arc::new(keys),
            auth_cache: Default::default(),
            throttle: Default::default(),
            metrics: Default::default(),
            statements,
        })))
    }
}

/// Signing and hashing keys, from configuration or generated once and kept in the database.
pub struct Keys {
    /// Signs and verifies JWTs (`jwt.rs`).
    pub jwt: Secret,
    /// Keys the hash under which card numbers are stored and looked up.
    pub cards: Secret,
}

impl Keys {
    /// The configured keys, else those generated once and kept in the store.
    pub(crate) fn load(config: &Config, store: &Store) -> Result<Self, String> {
        let load = |name: &str, configured: &Option<Secret>| match configured {
            Some(secret) => Ok(secret.clone()),
            None => store.stored_secret(name),
        };
        Ok(Keys {
            jwt: load("jwt_secret", &config.jwt_secret)?,
            cards: load("cards_hash_key", &config.cards_hash_key)?,
        })
    }
}
