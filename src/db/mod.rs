//! All SQL lives under `db/`: synchronous functions over a `&Connection`, run on blocking
//! threads, never on the async runtime.
//!
//! `Db` holds a pool of read-only connections and one writer thread that owns the only
//! connection allowed to write. `Db::read` borrows a pooled connection on a blocking thread;
//! `Db::write` sends a job to the writer, which runs it inside `BEGIN IMMEDIATE` (see
//! `writer.rs`). Every connection gets the same pragmas:
//!
//! * `journal_mode=WAL` — readers never block the writer and the writer never blocks readers.
//! * `synchronous=FULL` — the WAL is fsynced at every commit, so an acknowledged movement
//!   survives a crash or power loss (NORMAL could lose the last commits on power loss).
//! * `foreign_keys=ON` — SQLite leaves it off by default.
//! * `busy_timeout` — another process (`bankd createsuperuser`, `bankd backup`) may hold the
//!   lock briefly; wait for it instead of failing.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod backup;
pub mod cards;
pub mod customers;
pub mod idempotency;
pub mod ledger;
pub mod migrate;
pub mod settings;
pub mod statements;
pub mod transactions;
pub mod users;
pub mod verify;
mod writer;

use std::path::Path;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use crate::error::ApiError;
use crate::limits::SQLITE_BUSY_TIMEOUT_MS;

pub use writer::WriterStats;

/// The writer's page cache: negative means KiB in SQLite's `cache_size` (here 32 MiB).
const WRITER_CACHE_KIB_NEGATED: i64 = -32_768;

/// How many connections and how much queueing.
#[derive(Clone, Copy, Debug)]
pub struct DbSettings {
    pub readers: u32,
    pub write_batch_max: usize,
    pub write_queue_max: usize,
}

impl DbSettings {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            readers: config.database_readers,
            write_batch_max: config.write_batch_max,
            write_queue_max: config.write_queue_max,
        }
    }
}

impl Default for DbSettings {
    fn default() -> Self {
        Self::from_config(&crate::config::Config::default())
    }
}

/// The database: a reader pool and the single writer.
#[derive(Clone)]
pub struct Db {
    readers: r2d2::Pool<SqliteConnectionManager>,
    writer: writer::Writer,
}

/// Applies the pragmas every connection needs.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_millis(u64::from(
        SQLITE_BUSY_TIMEOUT_MS,
    )))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Opens a connection with bankd's pragmas, creating the file if needed.
pub fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    Ok(conn)
}

impl Db {
    /// Opens the database, applies pending migrations, starts the writer thread and fills the
    /// reader pool.
    pub fn open(path: &Path, settings: DbSettings) -> Result<Self, String> {
        let mut writer_conn = open_connection(path)
            .map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
        // The writer touches the hot ledger and index pages on every commit: 32 MiB of page
        // cache keeps them in memory. Readers keep SQLite's 2 MiB default; the OS page cache
        // holds the rest, shared, instead of a private copy per connection.
        writer_conn
            .pragma_update(None, "cache_size", WRITER_CACHE_KIB_NEGATED)
            .map_err(|e| format!("cannot configure database {}: {e}", path.display()))?;
        migrate::run(&mut writer_conn)?;
        let manager = SqliteConnectionManager::file(path).with_init(|conn| {
            configure(conn)?;
            conn.pragma_update(None, "query_only", "ON")
        });
        let readers = r2d2::Pool::builder()
            .max_size(settings.readers)
            .min_idle(Some(1))
            // r2d2's default runs a test query on every checkout, i.e. on every read request. A
            // local file connection cannot go stale like a network one, so the test is pure cost
            // (7% of server time in the read benchmark).
            .test_on_check_out(false)
            .build(manager)
            .map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
        Ok(Self {
            readers,
            writer: writer::Writer::start(
                writer_conn,
                settings.write_batch_max,
                settings.write_queue_max,
            ),
        })
    }

    /// Runs `f` on a pooled read-only connection on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.get()?;
            f(&conn)
        })
        .await
        .map_err(|e| ApiError::internal(format!("read task failed: {e}")))?
    }

    /// Runs `f` on the writer connection inside `BEGIN IMMEDIATE` (in its own savepoint, so an
    /// `Err` undoes only `f`'s changes). Returns once the transaction holding `f` has committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.writer.submit(f).await
    }

    /// Connections in the reader pool, for `/metrics`.
    pub fn reader_pool_state(&self) -> r2d2::State {
        self.readers.state()
    }

    /// Counters for `/metrics` and the benchmarks.
    pub fn writer_stats(&self) -> WriterStats {
        self.writer.stats()
    }

    /// Stops the writer after the jobs already queued and checkpoints the WAL into the main file.
    pub async fn shutdown(self) {
        self.writer.shutdown().await;
    }
}

/// Runs `work` inside a nested savepoint: an `Err` undoes exactly `work`'s changes and leaves
/// the rest of the transaction (e.g. the audit row recording the refusal) intact.
pub fn in_savepoint<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    conn.prepare_cached("SAVEPOINT nested")?.execute([])?;
    let outcome = work(conn);
    if outcome.is_err() {
        conn.prepare_cached("ROLLBACK TO nested")?.execute([])?;
    }
    conn.prepare_cached("RELEASE nested")?.execute([])?;
    outcome
}

/// Whether an error is SQLite refusing a UNIQUE constraint (used to retry account numbers and
/// to turn a username race into a field error).
pub fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// Serializes integer cents as the contract's two-decimal string.
pub fn serialize_cents<S: serde::Serializer>(
    cents: &i64,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&crate::domain::money::format_cents(*cents))
}

/// Serializes optional cents as a two-decimal string or `null`.
pub fn serialize_optional_cents<S: serde::Serializer>(
    cents: &Option<i64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match cents {
        Some(cents) => serialize_cents(cents, serializer),
        None => serializer.serialize_none(),
    }
}
