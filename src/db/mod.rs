//! All SQL lives under `db/`: synchronous functions over a `&Connection`, run on blocking
//! threads; only reads of a few rows by key may run on the async runtime (`Db::read_point`).
//!
//! `Db` holds a pool of read-only connections and one writer thread that owns the only
//! connection allowed to write. `Db::read` borrows a pooled connection on a blocking thread
//! (`Db::read_point`, for by-key reads, borrows one inline when it can);
//! `Db::write` sends a job to the writer, which runs it inside `BEGIN IMMEDIATE` (see
//! `writer.rs`). Every connection gets the same pragmas:
//!
//! * `journal_mode=WAL` — readers never block the writer and the writer never blocks readers.
//! * `synchronous=FULL` — the WAL is fsynced at every commit, so an acknowledged movement
//!   survives a crash or power loss (NORMAL could lose the last commits on power loss). The
//!   writer alone runs NORMAL because its commits are fsynced by a syncer thread before any
//!   caller is answered (`durability.rs`).
//! * `foreign_keys=ON` — SQLite leaves it off by default.
//! * `temp_store=MEMORY` — savepoint journals and sorts never touch a temporary file.
//! * `busy_timeout` — another process (`bankd createsuperuser`, `bankd backup`) may hold the
//!   lock briefly; wait for it instead of failing.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod backup;
pub mod cards;
mod checkpoint;
pub mod customers;
mod durability;
pub mod idempotency;
pub mod ledger;
pub mod lock;
pub mod migrate;
pub mod restore;
pub mod settings;
pub mod statements;
pub mod transactions;
pub mod users;
pub mod verify;
pub mod verify_json;
mod writer;

use std::path::Path;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use crate::error::ApiError;
use crate::limits::SQLITE_BUSY_TIMEOUT_MS;

pub use writer::WriterStats;

/// The writer's page cache: negative means KiB in SQLite's `cache_size` (here 32 MiB).
const WRITER_CACHE_KIB_NEGATED: i64 = -32_768;

/// How often the writer copies new audit rows into the audit filter tables (migration V4): often
/// enough that each copy is small (a few ms at most), rarely enough that an actor's entries
/// from many batches share a page.
const AUDIT_INDEXING_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// Prepared statements kept per connection (rusqlite's default is 16).
const STATEMENT_CACHE_CAPACITY: usize = 128;

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
    // Statement journals (the pages a SAVEPOINT may have to restore) and sort spills stay in
    // memory: by default a statement journal past 64 KiB spills to a file in /var/tmp, and the
    // writer's batches always passed that (a third of its write() traffic, BENCHMARKS.md).
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Room for every statement a connection prepares (lists build one per filter combination
    // and account count), so the hot ones are never evicted and re-parsed.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
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
        // Commits are made durable by the syncer threads before anyone is answered, so the writer
        // need not wait for the fsync itself (durability.rs). Without a syncer it stays FULL.
        let syncer = writer_conn.path().and_then(durability::Syncer::start);
        if syncer.is_some() {
            writer_conn
                .pragma_update(None, "synchronous", "NORMAL")
                .map_err(|e| format!("cannot configure database {}: {e}", path.display()))?;
        }
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
                checkpoint::Checkpointer::start(path),
                syncer,
                writer::Maintenance {
                    every: AUDIT_INDEXING_INTERVAL,
                    run: audit::index_new_rows,
                },
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

    /// Runs `f` right here, on the calling async thread, when a pooled connection is free (else
    /// like `read`). Only for reads of a few rows found by key: they take a few microseconds,
    /// less than handing them to a blocking thread and waking the task again, which was the
    /// largest single cost of a read request (BENCHMARKS.md). Lists and statements, whose cost
    /// grows with the page or the date range, use `read`.
    pub async fn read_point<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        match self.readers.try_get() {
            Some(conn) => f(&conn),
            None => self.read(f).await,
        }
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
    serializer.collect_str(&crate::domain::money::Cents(*cents))
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
