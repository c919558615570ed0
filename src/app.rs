//! The composition root: `App::build(config)` builds the application state (`state.rs`);
//! `App::run(listener, shutdown)` starts the background work, serves the HTTP service
//! (`http::service`, every layer) until the shutdown future resolves, then stops the background
//! work and drains the store.

use std::future::Future;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::state::AppState;
use crate::store::Store;

/// A built service, ready to serve.
pub struct App {
    pub state: AppState,
}

impl App {
    /// Checks the configuration's cross-key limits (`limits::check_config`), opens (and
    /// migrates) the store and builds the shared state.
    pub fn build(config: Config) -> Result<Self, String> {
        crate::limits::check_config(&config)?;
        Ok(Self {
            state: AppState::build(config)?,
        })
    }

    /// Serves on `listener` (see `server`) until `shutdown` resolves; in-flight requests finish
    /// within the shutdown grace period, then the background work stops, and the writer drains
    /// its queue and checkpoints the WAL. If the database loses durability it stops the same
    /// way (without the checkpoint) and returns an error.
    ///
    /// Background work, started here and stopped here: the store's own
    /// (`Store::start_background`, stopped by `Store::shutdown`) and auth's revocation watcher
    /// (`auth/watch.rs`), which reads the store into the auth cache.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let state = self.state;
        state.store.start_background();
        let revocations = tokio::spawn(crate::auth::watch::watch_revocations(
            state.store.clone(),
            state.auth_cache.clone(),
        ));
        crate::server::serve(
            listener,
            crate::http::service(state.clone()),
            crate::server::ConnectionLimits::from_config(&state.config),
            state.metrics.clone(),
            stop_on_durability_loss(state.store.clone(), shutdown),
        )
        .await?;
        revocations.abort();
        let store = state.store.clone();
        store.clone().shutdown().await;
        // Fail-stop (store/sqlite/commit/durability.rs): exiting non-zero lets the supervisor
        // restart the server and WAL recovery decide what is on disk.
        match store.durability_lost() {
            Some(cause) => Err(std::io::Error::other(format!(
                "stopped because durability was lost: {cause}"
            ))),
            None => Ok(()),
        }
    }
}

/// Resolves when `shutdown` does or when the store loses durability, whichever is first.
async fn stop_on_durability_loss(store: Store, shutdown: impl Future<Output = ()>) {
    tokio::select! {
        () = shutdown => {},
        () = store.wait_durability_lost() => {},
    }
}
