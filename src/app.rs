//! Building and running the service: `build(config)` opens the database and the router;
//! `run(listener, shutdown)` serves until the shutdown future resolves, then drains the writer.

use std::future::Future;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, header};
use tokio::net::TcpListener;
use tower::Layer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::normalize_path::NormalizePathLayer;

use crate::auth::PasswordHasherPool;
use crate::config::Config;

use crate::state::{AppState, Keys, SharedState};
use crate::store::Store;

/// CORS from `cors.allowed_origins`: none by default (the console is same-origin). Listed
/// origins may call every route with the headers the API uses, and read the headers it sets.
fn cors_layer(config: &Config) -> CorsLayer {
    let origins: Vec<HeaderValue> = config
        .cors_allowed_origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("idempotent-replayed"),
            header::RETRY_AFTER,
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// How often expired idempotency keys and tokens are swept, and how many rows one write
/// deletes: small batches keep each write short, so pruning never holds up money movement.
const PRUNE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);
const PRUNE_BATCH_ROWS: u32 = 1_000;

/// Deletes expired idempotency keys and tokens in the background, batch by batch.
async fn prune_expired(db: crate::store::sqlite::Db) {
    let mut interval = tokio::time::interval(PRUNE_INTERVAL);
    loop {
        interval.tick().await;
        loop {
            let now = chrono::Utc::now().timestamp();
            let deleted = db
                .write(move |conn| {
                    let keys =
                        crate::store::sqlite::idempotency::prune(conn, now, PRUNE_BATCH_ROWS)?;
                    let tokens = crate::store::sqlite::users::delete_expired_tokens(conn, now)?;
                    Ok(keys + tokens)
                })
                .await;
            match deleted {
                Ok(rows) if rows >= PRUNE_BATCH_ROWS as usize => continue,
                Ok(rows) => {
                    if rows > 0 {
                        tracing::debug!(rows, "pruned expired idempotency keys and tokens");
                    }
                    break;
                }
                Err(error) => {
                    tracing::warn!(?error, "pruning expired rows failed; will retry");
                    break;
                }
            }
        }
    }
}

/// Resolves when `shutdown` does or when the database loses durability, whichever is first.
async fn stop_on_durability_loss(db: Store, shutdown: impl Future<Output = ()>) {
    tokio::select! {
        () = shutdown => {},
        () = db.wait_durability_lost() => {},
    }
}

/// A built service, ready to serve.
pub struct App {
    pub state: AppState,
}

impl App {
    /// Opens (and migrates) the database and prepares shared state.
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
        Ok(Self {
            state: AppState(Arc::new(SharedState {
                store,
                config: Arc::new(config),
                hasher,
                in_flight: Default::default(),
                keys: Arc::new(keys),
                auth_cache: Default::default(),
                throttle: Default::default(),
                metrics: Default::default(),
                statements,
            })),
        })
    }

    /// Serves on `listener` (see `server`) until `shutdown` resolves; in-flight requests finish
    /// within the shutdown grace period, then the writer drains its queue and checkpoints the
    /// WAL. If the database loses durability it stops the same way (without the checkpoint)
    /// and returns an error.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let state = self.state.clone();
        let pruner = tokio::spawn(prune_expired(state.store.sqlite().clone()));
        let revocations = tokio::spawn(crate::auth::watch::watch_revocations(
            state.store.sqlite().clone(),
            state.auth_cache.clone(),
        ));
        let router = crate::http::router(state.clone());
        let with_cors = router.clone().layer(cors_layer(&state.config));
        // tower-http's CorsLayer answers *every* `OPTIONS` itself, with an empty `200`, which
        // hid DRF's metadata answer. Only a real preflight (`Origin` and
        // `Access-Control-Request-Method`) goes to it now; any other `OPTIONS` reaches the
        // router, and every other method passes through the CORS layer as before.
        let routed = tower::service_fn(move |request: Request| {
            let headers = request.headers();
            let plain_options = request.method() == Method::OPTIONS
                && !(headers.contains_key(header::ORIGIN)
                    && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD));
            let target = if plain_options {
                router.clone()
            } else {
                with_cors.clone()
            };
            tower::ServiceExt::oneshot(target, request)
        });
        let service = NormalizePathLayer::trim_trailing_slash().layer(routed);
        crate::server::serve(
            listener,
            service,
            crate::server::ConnectionLimits::from_config(&state.config),
            state.metrics.clone(),
            stop_on_durability_loss(state.store.clone(), shutdown),
        )
        .await?;
        pruner.abort();
        revocations.abort();
        let db = state.store.clone();
        db.clone().shutdown().await;
        // Fail-stop (db/durability.rs): exiting non-zero lets the supervisor restart the server
        // and WAL recovery decide what is on disk.
        match db.durability_lost() {
            Some(cause) => Err(std::io::Error::other(format!(
                "stopped because durability was lost: {cause}"
            ))),
            None => Ok(()),
        }
    }
}
