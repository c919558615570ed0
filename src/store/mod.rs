//! The storage seam: everything above this module (HTTP handlers, the CLI, auth) speaks typed
//! commands and queries to a [`Store`] and never sees a connection, a row or SQL.
//!
//! # An enum over backends, not a trait
//!
//! `Store` is an enum with one variant per backend (today `Sqlite`; PostgreSQL is the next).
//! Every method matches on the backend and calls its implementation. Chosen over a trait because:
//!
//! * the set of backends is closed and small, and lives in this crate: an enum makes adding one
//!   a compile error at every method that does not handle it yet, which is the checklist;
//! * the methods are `async` and return borrowed-free futures; a `dyn` trait object would box
//!   every future (an allocation per request on the hot path) or need `async_trait`, and a
//!   generic `AppState<S: Store>` would spread a type parameter through every handler and layer;
//! * static dispatch: a `match` on a one-variant enum compiles to nothing, so the seam costs the
//!   SQLite path nothing (BENCHMARKS.md, issue 13's A/B).
//!
//! # What lives where
//!
//! * `ids.rs` — typed row ids (`UserId`, `AccountId`, ...).
//! * `ordering.rs` — a list's typed `?ordering=` terms, shared by the lists that take them.
//! * one module per resource (`accounts.rs`, `movements.rs`, ...) — the commands, queries and
//!   row types of that resource, backend-neutral, and the `impl Store` methods that dispatch them.
//! * `copy.rs` — `bankd copy FROM TO`: a whole bank, row for row, between any two databases.
//! * `sqlite/` — the SQLite backend: all SQL, the reader pool, the commit pipeline
//!   (`sqlite/commit/`), migrations, backup, verify.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod cards;
pub mod copy;
pub mod customers;
pub mod ids;
pub mod maintenance;
pub mod movements;
pub mod ordering;
pub mod postgres;
pub mod sqlite;
pub mod statements;
pub mod transactions;
pub mod users;

use crate::config::Config;
use crate::error::ApiError;

/// One page of a list: at most `limit` rows after skipping `offset` (DRF's page number
/// pagination, already validated by the HTTP layer).
#[derive(Clone, Copy, Debug)]
pub struct PageWindow {
    pub limit: u32,
    pub offset: u64,
}

/// What `/metrics` shows of the store.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreStats {
    /// Write transactions committed (each holds a batch of jobs).
    pub commits: u64,
    /// Write jobs run.
    pub jobs: u64,
    /// Write jobs waiting.
    pub queued: u64,
    /// Open read connections.
    pub readers_open: u64,
    /// Idle read connections.
    pub readers_idle: u64,
}

/// The bank's storage, whichever database is underneath. Cheap to clone (handles only).
#[derive(Clone)]
pub enum Store {
    /// The embedded SQLite file (`database.path`), the default.
    Sqlite(sqlite::Db),
}

impl Store {
    /// Opens the configured database, applies pending migrations and starts its background work.
    pub fn open(config: &Config) -> Result<Self, String> {
        let db = sqlite::Db::open(
            &config.database_path,
            sqlite::DbSettings::from_config(config),
        )?;
        Ok(Self::Sqlite(db))
    }

    /// The generated secret `name` (JWT signing key, card hashing key), created on first use and
    /// kept in the database so that every restart, and every node of a bank, shares it.
    pub fn stored_secret(&self, name: &str) -> Result<crate::config::Secret, String> {
        match self {
            Self::Sqlite(db) => sqlite::settings::load(db.path(), name),
        }
    }

    /// The store's counters for `/metrics`: write transactions and jobs, the write queue, and
    /// the read connections.
    pub fn stats(&self) -> StoreStats {
        match self {
            Self::Sqlite(db) => {
                let writer = db.writer_stats();
                let pool = db.reader_pool_state();
                StoreStats {
                    commits: writer.commits,
                    jobs: writer.jobs,
                    queued: writer.queued,
                    readers_open: u64::from(pool.connections),
                    readers_idle: u64::from(pool.idle_connections),
                }
            }
        }
    }

    /// Why the store stopped answering (storage fault), or `None` while it is healthy.
    pub fn durability_lost(&self) -> Option<String> {
        match self {
            Self::Sqlite(db) => db.durability_lost(),
        }
    }

    /// Resolves once the store has lost durability: the server then stops (fail-stop).
    pub async fn wait_durability_lost(&self) {
        match self {
            Self::Sqlite(db) => db.wait_durability_lost().await,
        }
    }

    /// Whether the store answers and its schema is current (`/readyz`).
    pub async fn is_ready(&self) -> Result<bool, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read_point(|conn| Ok(sqlite::migrate::is_current(conn)?))
                    .await
            }
        }
    }

    /// Starts the store's background work that needs the async runtime (pruning expired
    /// idempotency keys and tokens); the rest (checkpoints, audit indexing) runs on the store's
    /// own threads from `open`. Call once, inside a runtime; `shutdown` stops all of it.
    pub fn start_background(&self) {
        match self {
            Self::Sqlite(db) => db.start_background(),
        }
    }

    /// Stops background work, finishes queued writes and closes the store.
    pub async fn shutdown(self) {
        match self {
            Self::Sqlite(db) => db.shutdown().await,
        }
    }
}
