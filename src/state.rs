//! The application state every handler reaches through axum's `State`.

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
    pub store: Store,
    pub config: Arc<Config>,
    pub hasher: PasswordHasherPool,
    pub in_flight: crate::http::idempotency::InFlight,
    pub keys: Arc<Keys>,
    pub auth_cache: Arc<crate::auth::AuthCache>,
    pub throttle: Arc<crate::http::throttle::Throttle>,
    pub metrics: Arc<crate::http::metrics::Metrics>,
    /// Bounds concurrent statement work (`statements.concurrent_max`).
    pub statements: Arc<crate::http::statements::StatementGate>,
}

/// Signing and hashing keys, from configuration or generated once and kept in the database.
pub struct Keys {
    pub jwt: Secret,
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
