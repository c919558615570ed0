//! All SQL lives under `store/sqlite/`: synchronous functions over a `&Connection`, run on
//! blocking threads; only reads of a few rows by key may run on the async runtime
//! (`Db::read_point`).
//!
//! `Db` holds a pool of read-only connections and one writer thread that owns the only
//! connection allowed to write. `Db::read` borrows a pooled connection on a blocking thread
//! (`Db::read_point`, for by-key reads, borrows one inline when it can);
//! `Db::write` sends a job to the writer, which runs it inside `BEGIN IMMEDIATE` (the commit
//! pipeline, `commit/`). Every connection gets the same pragmas:
//!
//! * `journal_mode=WAL` — readers never block the writer and the writer never blocks readers.
//! * `synchronous` — `FULL` on every connection but the writer, which runs `NORMAL` because its
//!   commits are fsynced by a syncer thread before any caller is answered. The decision and its
//!   argument live in one place, `commit/mod.rs`, which also sets the pragma.
//! * `foreign_keys=ON` — SQLite leaves it off by default.
//! * `temp_store=MEMORY` — savepoint journals and sorts never touch a temporary file.
//! * `busy_timeout` — another process (`bankd createsuperuser`, `bankd backup`) may hold the
//!   lock briefly; wait for it instead of failing.
//!
//! Background work: the commit pipeline's threads (syncers, checkpointer, the writer's audit
//! indexing) start with `Db::open`; pruning expired rows starts with `Db::start_background`
//! (`background.rs`). `Db::shutdown` stops all of it.
//!
//! After a storage fault (a failed fsync, `COMMIT` or checkpoint, or a transaction SQLite rolled
//! back on its own) the database is *poisoned*: every `read`, `read_point` and `write` answers
//! `503` and the server stops, so that its supervisor restarts it (fail-stop, `durability.rs`).

pub mod accounts;
pub mod admin;
pub mod audit;
mod background;
pub mod backup;
pub mod cards;
pub(crate) mod commit;
pub mod customers;
pub mod idempotency;
pub mod ids;
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

use std::path::Path;

use commit::{checkpoint, durability, writer};

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use crate::error::ApiError;
use crate::limits::{
    AUDIT_INDEXING_INTERVAL, SQLITE_BUSY_TIMEOUT_MS, STATEMENT_CACHE_CAPACITY, WRITER_CACHE_KIB,
};

pub use writer::WriterStats;

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
    /// The database file, for the few start-up reads that run before the writer serves.
    path: std::sync::Arc<std::path::PathBuf>,
    readers: r2d2::Pool<SqliteConnectionManager>,
    writer: writer::Writer,
    /// Set once a commit may not be on disk: every read and write is then refused
    /// (durability.rs).
    poison: durability::Poison,
    /// The tasks `start_background` spawned on the runtime, aborted by `shutdown`.
    background: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

/// Applies the pragmas every connection needs.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_millis(u64::from(
        SQLITE_BUSY_TIMEOUT_MS,
    )))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    commit::synchronous_full(conn)?;
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

/// Opens a connection with bankd's pragmas, creating the file if needed (owner-only, see
/// `create_private_file`).
pub fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    create_private_file(path);
    let conn = Connection::open(path)?;
    configure(&conn)?;
    Ok(conn)
}

/// Creates `path` empty with mode `0600` when it does not exist yet, and warns when an existing
/// file can be read by group or others.
///
/// The database holds the generated JWT and card keys (`settings`), so only its owner may read
/// it. SQLite would create it `0644` (less the umask), and it gives the `-wal`, `-shm` and
/// `-journal` files the same mode as the database file, so creating the file first with `0600`
/// makes all of them private without touching the process umask (which would change every
/// other file the process writes). An existing file keeps the mode its operator gave it: it is
/// only reported, once per open.
///
/// Failures are left to SQLite, which opens the path next and reports them in its own words.
pub(crate) fn create_private_file(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        if created.is_err()
            && let Ok(metadata) = std::fs::metadata(path)
        {
            let mode = metadata.permissions().mode() & 0o777;
            if metadata.is_file() && mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{mode:o}"),
                    "the database file can be read by other users; it holds keys: chmod 600 it"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
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
            .pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
            .map_err(|e| format!("cannot configure database {}: {e}", path.display()))?;
        migrate::run(&mut writer_conn)?;
        settle_recovered_wal(&writer_conn)
            .map_err(|e| format!("cannot checkpoint database {}: {e}", path.display()))?;
        let poison = durability::Poison::default();
        // `synchronous` for the writer: decided and set in commit/mod.rs.
        let syncer = commit::start_syncer(&writer_conn, &poison)
            .map_err(|e| format!("cannot configure database {}: {e}", path.display()))?;
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
            path: std::sync::Arc::new(path.to_path_buf()),
            readers,
            writer: writer::Writer::start(
                writer_conn,
                writer::WriterParts {
                    checkpointer: checkpoint::Checkpointer::start(path, &poison),
                    syncer,
                    maintenance: writer::Maintenance {
                        every: AUDIT_INDEXING_INTERVAL,
                        run: audit::index_new_rows,
                    },
                    poison: poison.clone(),
                },
                settings.write_batch_max,
                settings.write_queue_max,
            ),
            poison,
            background: Default::default(),
        })
    }

    /// Starts the background work that runs on the async runtime (`background.rs`: pruning
    /// expired idempotency keys and tokens), until `shutdown`. Call once, inside a runtime.
    pub fn start_background(&self) {
        let pruner = tokio::spawn(background::prune_expired(self.clone()));
        if let Ok(mut tasks) = self.background.lock() {
            tasks.push(pruner.abort_handle());
        }
    }

    /// Runs `f` on a pooled read-only connection on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.poison.check()?;
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
        self.poison.check()?;
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

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why the database stopped answering (a failed fsync, commit or checkpoint, or a
    /// transaction SQLite rolled back on its own), or `None` while it is healthy.
    pub fn durability_lost(&self) -> Option<String> {
        self.poison.cause()
    }

    /// Resolves once the database is poisoned: the server then stops, so that its supervisor
    /// restarts it and WAL recovery shows what is on disk (durability.rs).
    pub async fn wait_durability_lost(&self) {
        self.poison.wait().await;
    }

    /// Connections in the reader pool, for `/metrics`.
    pub fn reader_pool_state(&self) -> r2d2::State {
        self.readers.state()
    }

    /// Counters for `/metrics` and the benchmarks.
    pub fn writer_stats(&self) -> WriterStats {
        self.writer.stats()
    }

    /// Stops the background tasks, then the writer after the jobs already queued, and
    /// checkpoints the WAL into the main file.
    pub async fn shutdown(self) {
        if let Ok(mut tasks) = self.background.lock() {
            for task in tasks.drain(..) {
                task.abort();
            }
        }
        self.writer.shutdown().await;
    }
}

/// Copies whatever WAL recovery found into the main file and fsyncs it, before anything is read.
/// After a failed fsync the previous process stopped (durability.rs), but the kernel may still
/// cache WAL pages it never wrote; a checkpoint rewrites their content into the database file
/// and fsyncs that, so what this process serves, including idempotent replays, is on disk. On
/// a cleanly stopped database the WAL is empty and this costs nothing.
fn settle_recovered_wal(conn: &Connection) -> rusqlite::Result<()> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
    if busy != 0 {
        // Another process (`bankd backup`) reads an older snapshot; the frames it blocks are
        // copied by the first checkpoint after it finishes.
        tracing::warn!(
            "the WAL could not be fully checkpointed at startup: another process reads it"
        );
    }
    Ok(())
}

// A database error the client did not cause is an internal error (logged, `500`). The
// conversions live here, with the backend, so the error type above the store knows no driver.
impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> Self {
        Self::internal(format!("sqlite: {error}"))
    }
}

impl From<r2d2::Error> for ApiError {
    fn from(error: r2d2::Error) -> Self {
        Self::internal(format!("connection pool: {error}"))
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

/// Column `index` parsed by a domain type's `parse`: text the domain refuses is a corrupt row,
/// reported as a conversion error (an internal error to the client), never replaced by a default.
pub(crate) fn decode<T>(
    row: &rusqlite::Row<'_>,
    index: usize,
    parse: impl FnOnce(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    parse(&text).ok_or_else(|| corrupt(index, format!("unexpected value {text:?}")))
}

/// Column `index`, integer cents, checked by a money type's `from_cents` (`Balance`: never
/// negative, never above the maximum).
pub(crate) fn decode_cents<T>(
    row: &rusqlite::Row<'_>,
    index: usize,
    from_cents: impl FnOnce(i64) -> Option<T>,
) -> rusqlite::Result<T> {
    let cents: i64 = row.get(index)?;
    from_cents(cents).ok_or_else(|| corrupt(index, format!("cents out of range: {cents}")))
}

/// `decode` for a nullable column: `NULL` is `None`, text the domain refuses is an error.
pub(crate) fn decode_optional<T>(
    row: &rusqlite::Row<'_>,
    index: usize,
    parse: impl FnOnce(&str) -> Option<T>,
) -> rusqlite::Result<Option<T>> {
    match row.get_ref(index)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        _ => decode(row, index, parse).map(Some),
    }
}

fn corrupt(index: usize, why: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, why.into())
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn once_durability_is_lost_every_read_and_write_is_refused_with_503() {
        // Arrange: a healthy database, then a fault (here set directly; tests/durability.rs and
        // writer.rs cause real ones).
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = Db::open(&dir.path().join("bank.db"), DbSettings::default()).expect("open");
        assert!(
            db.read_point(|conn| Ok(migrate::is_current(conn)?))
                .await
                .is_ok()
        );
        db.poison.set("a test fault");

        // Act
        let point = db.read_point(|_| Ok(())).await;
        let read = db.read(|_| Ok(())).await;
        let write = db.write(|_| Ok(())).await;
        db.wait_durability_lost().await;

        // Assert: `/readyz` reads with `read_point`, so it answers 503 too.
        for (what, answer) in [("read_point", point), ("read", read), ("write", write)] {
            let status = answer.err().map(|error| error.status());
            assert_eq!(status, Some(StatusCode::SERVICE_UNAVAILABLE), "{what}");
        }
        assert_eq!(db.durability_lost().as_deref(), Some("a test fault"));
        db.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_background_pruner_deletes_expired_keys_at_once_and_stops_with_the_store() {
        // Arrange: one expired and one live idempotency key.
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = Db::open(&dir.path().join("bank.db"), DbSettings::default()).expect("open");
        let now = chrono::Utc::now().timestamp();
        db.write(move |conn| {
            conn.execute(
                "INSERT INTO users (id, username, email, password_hash, date_joined)
                 VALUES (1, 'u', '', 'x', '2026-01-01T00:00:00Z')",
                [],
            )?;
            for (key, expires_at) in [("expired", now - 1), ("live", now + 3_600)] {
                conn.execute(
                    "INSERT INTO idempotency_keys (user_id, idempotency_key, fingerprint,
                         response_status, response_body, created_at, expires_at)
                     VALUES (1, ?1, zeroblob(32), 200, '{}', '2026-01-01T00:00:00Z', ?2)",
                    rusqlite::params![key, expires_at],
                )?;
            }
            Ok(())
        })
        .await
        .expect("seeded");
        async fn keys(db: &Db) -> Result<Vec<String>, ApiError> {
            db.read(|conn| {
                let mut statement =
                    conn.prepare("SELECT idempotency_key FROM idempotency_keys ORDER BY 1")?;
                let keys = statement
                    .query_map([], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(keys)
            })
            .await
        }

        // Act: the first sweep runs as soon as the background work starts.
        db.start_background();
        let mut remaining = keys(&db).await.expect("read");
        for _ in 0..500 {
            if remaining == ["live"] {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            remaining = keys(&db).await.expect("read");
        }

        // Assert: only the live key is left, and shutdown stops the pruner.
        assert_eq!(remaining, ["live"]);
        let pruner = db.background.lock().expect("lock")[0].clone();
        assert!(!pruner.is_finished(), "the pruner waits for its next sweep");
        db.shutdown().await;
        for _ in 0..100 {
            if pruner.is_finished() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(pruner.is_finished(), "shutdown aborted the pruner");
    }
}
