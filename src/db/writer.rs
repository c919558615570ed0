//! The single writer: one thread owns the only connection that writes, and commits in groups.
//!
//! Why one writer: SQLite allows one writing transaction at a time anyway; funnelling every
//! write through one thread turns lock contention (and `SQLITE_BUSY`) into a queue, and lets
//! the writer group commits. Why `BEGIN IMMEDIATE`: it takes the write lock before the first
//! read, so a job's "check balance, then update" can never interleave with another writer.
//!
//! Group commit: the thread blocks for the first job, then takes every job already waiting (up
//! to `database.write_batch_max`) into one transaction, each inside its own `SAVEPOINT`. A job that
//! fails rolls back to its savepoint alone. After `COMMIT` succeeds the batch's answers go to the
//! syncer threads, which give them once the WAL is fsynced (`durability.rs`) while this thread
//! runs the next batch; if `COMMIT` fails, every job in the batch gets an error and none is
//! acknowledged. With one
//! client nothing waits for a batch to fill: a lone job commits at once. The queue is bounded:
//! when full, callers get `503` with `Retry-After` instead of memory growing without bound.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::checkpoint::Checkpointer;
use super::durability::{self, Poison, Syncer};
use crate::error::ApiError;

/// Whether a batch's commit is known to be on disk, for its jobs' callers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Settled {
    /// Committed and fsynced: answer what the job returned.
    Durable,
    /// Rolled back, failed, or committed without a successful fsync: answer `503`.
    NotDurable,
}

/// Delivers a job's result once the commit's outcome is known.
pub(super) type Completion = Box<dyn FnOnce(Settled) + Send>;

/// A unit of work for the writer thread.
trait Job: Send {
    /// Runs inside the open transaction and returns how to answer the caller after commit.
    fn run(self: Box<Self>, conn: &Connection) -> Completion;
    /// Answers the caller with `error` without running.
    fn abandon(self: Box<Self>, error: ApiError);
}

struct Closure<F, T> {
    work: F,
    reply: oneshot::Sender<Result<T, ApiError>>,
}

impl<F, T> Job for Closure<F, T>
where
    F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> Completion {
        let Closure { work, reply } = *self;
        let outcome = run_in_savepoint(conn, work);
        Box::new(move |settled| {
            // A batch that is not durable answers every job alike, even one that failed on its
            // own: its error may be the very one that made SQLite roll the batch back.
            let result = match settled {
                Settled::Durable => outcome,
                Settled::NotDurable => Err(durability::refusal()),
            };
            // The caller may have gone away (client disconnected); the work is committed
            // regardless, exactly as if the response had been lost on the wire.
            let _ = reply.send(result);
        })
    }

    fn abandon(self: Box<Self>, error: ApiError) {
        let _ = self.reply.send(Err(error));
    }
}

/// Runs `work` inside `SAVEPOINT job`; an error or a panic rolls back to it.
fn run_in_savepoint<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    conn.prepare_cached("SAVEPOINT job")?.execute([])?;
    let outcome = catch_unwind(AssertUnwindSafe(|| work(conn)))
        .unwrap_or_else(|_| Err(ApiError::internal("write job panicked")));
    if conn.is_autocommit() {
        // SQLite rolled the whole transaction back (SQLITE_FULL, IOERR, NOMEM...): the savepoint
        // is gone, and `RELEASE` would now commit on its own. The writer sees the lost
        // transaction and fails the batch.
        return outcome.and(Err(ApiError::internal("the transaction was rolled back")));
    }
    if outcome.is_err() {
        conn.prepare_cached("ROLLBACK TO job")?.execute([])?;
    }
    conn.prepare_cached("RELEASE job")?.execute([])?;
    outcome
}

thread_local! {
    /// Set by the writer around its own `COMMIT`: the only commit its connection's commit hook
    /// lets through.
    static COMMIT_ALLOWED: Cell<bool> = const { Cell::new(false) };
}

/// Makes every commit on the writer connection other than the writer's own `COMMIT` a rollback.
/// Belt and braces for the autocommit check: if SQLite ever ends the transaction behind a job's
/// back, a statement the job runs afterwards would otherwise commit alone, in autocommit.
fn install_commit_guard(conn: &Connection) -> rusqlite::Result<()> {
    conn.commit_hook(Some(|| !COMMIT_ALLOWED.with(Cell::get)))
}

/// Runs the writer's `COMMIT`, the one commit the guard allows.
fn commit(conn: &Connection) -> rusqlite::Result<()> {
    COMMIT_ALLOWED.with(|allowed| allowed.set(true));
    let committed = conn
        .prepare_cached("COMMIT")
        .and_then(|mut statement| statement.execute([]));
    COMMIT_ALLOWED.with(|allowed| allowed.set(false));
    committed.map(|_| ())
}

/// Bookkeeping the writer does inside a batch's transaction at most every `every` (e.g.
/// indexing the audit log's new rows in bulk). It runs in its own savepoint: if it fails, it
/// changes nothing and the batch commits without it.
pub struct Maintenance {
    pub every: Duration,
    pub run: fn(&Connection) -> rusqlite::Result<()>,
}

/// Counters exposed by `/metrics`.
#[derive(Clone, Copy, Debug, Default)]
pub struct WriterStats {
    pub commits: u64,
    pub jobs: u64,
    pub queued: u64,
}

#[derive(Default)]
struct Counters {
    commits: AtomicU64,
    jobs: AtomicU64,
    queued: AtomicU64,
}

/// The sending half of the job queue.
type JobSender = SyncSender<Box<dyn Job>>;

/// The handle used to submit work; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    sender: Arc<Mutex<Option<JobSender>>>,
    /// Checked before queueing, so a poisoned database refuses at once.
    poison: Poison,
    thread: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
    counters: Arc<Counters>,
}

/// What the writer thread owns besides its connection and queue.
pub struct WriterParts {
    pub checkpointer: Checkpointer,
    /// `None`: the connection is `synchronous=FULL` and `COMMIT` fsyncs itself.
    pub syncer: Option<Syncer>,
    pub maintenance: Maintenance,
    pub poison: Poison,
}

impl Writer {
    pub fn start(conn: Connection, parts: WriterParts, batch_max: usize, queue_max: usize) -> Self {
        let (sender, receiver) = sync_channel::<Box<dyn Job>>(queue_max.max(1));
        let counters = Arc::new(Counters::default());
        let thread_counters = counters.clone();
        let poison = parts.poison.clone();
        let thread = std::thread::Builder::new()
            .name("bankd-writer".to_owned())
            .spawn(move || {
                super::checkpoint::install_hook(&conn);
                if let Err(error) = install_commit_guard(&conn) {
                    // Without the guard the autocommit checks still stand; it is a second line.
                    tracing::warn!(%error, "cannot install the writer's commit guard");
                }
                writer_loop(&conn, parts, &receiver, batch_max.max(1), &thread_counters);
            })
            .ok();
        Self {
            sender: Arc::new(Mutex::new(Some(sender))),
            poison,
            thread: Arc::new(Mutex::new(thread)),
            counters,
        }
    }

    pub async fn submit<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.poison.check()?;
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Closure { work, reply });
        let sender = self
            .sender
            .lock()
            .map_err(|_| ApiError::internal("writer lock poisoned"))?
            .clone()
            .ok_or_else(|| ApiError::internal("writer stopped"))?;
        match sender.try_send(job) {
            Ok(()) => {
                self.counters.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_)) => return Err(ApiError::unavailable()),
            Err(TrySendError::Disconnected(_)) => return Err(ApiError::internal("writer stopped")),
        }
        answer
            .await
            .map_err(|_| ApiError::internal("writer dropped a job"))?
    }

    pub fn stats(&self) -> WriterStats {
        let jobs = self.counters.jobs.load(Ordering::Relaxed);
        WriterStats {
            commits: self.counters.commits.load(Ordering::Relaxed),
            jobs,
            queued: self
                .counters
                .queued
                .load(Ordering::Relaxed)
                .saturating_sub(jobs),
        }
    }

    /// Closes the queue, lets the thread finish what is queued, and waits for it.
    pub async fn shutdown(&self) {
        if let Ok(mut sender) = self.sender.lock() {
            sender.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn writer_loop(
    conn: &Connection,
    mut parts: WriterParts,
    receiver: &Receiver<Box<dyn Job>>,
    batch_max: usize,
    counters: &Counters,
) {
    let mut maintained = Instant::now();
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < batch_max {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        counters
            .jobs
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        if parts.poison.is_set() {
            // Jobs queued before the poisoning: refused, not run (fail-stop, durability.rs).
            for job in batch {
                job.abandon(durability::refusal());
            }
            continue;
        }
        if let Err(error) = conn
            .prepare_cached("BEGIN IMMEDIATE")
            .and_then(|mut s| s.execute([]))
        {
            let cause = format!("cannot begin a write transaction: {error}");
            tracing::error!(%cause, "writer");
            for job in batch {
                job.abandon(ApiError::internal(cause.clone()));
            }
            continue;
        }
        let Some(completions) = run_batch(conn, batch, &parts, &mut maintained) else {
            continue;
        };
        if let Err(error) = commit(conn) {
            // The WAL may hold part of this batch; whether it survives is for recovery to say.
            parts.poison.set(format!("COMMIT failed: {error}"));
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            durability::settle(completions, Settled::NotDurable);
            continue;
        }
        counters.commits.fetch_add(1, Ordering::Relaxed);
        match &parts.syncer {
            // Answered once the WAL is on disk, while this thread goes on (durability.rs).
            Some(syncer) => syncer.after_commit(completions),
            // `synchronous=FULL`: the COMMIT fsynced the WAL itself.
            None if parts.poison.is_set() => {
                durability::settle(completions, Settled::NotDurable);
            }
            None => durability::settle(completions, Settled::Durable),
        }
        parts.checkpointer.after_commit(conn);
    }
    if let Some(syncer) = &mut parts.syncer {
        syncer.stop();
    }
    if parts.poison.is_set() {
        // Copying frames that may never have reached the disk into the main file would only
        // blur what recovery finds; the restarted server checkpoints what survived.
        return;
    }
    // The queue is closed and drained: fold the WAL back into the main file so a stopped
    // database is one self-contained file.
    if let Err(error) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::warn!(%error, "checkpoint at shutdown failed");
    }
}

/// Runs a batch's jobs (and the maintenance, when due) inside the open transaction. `None` when
/// SQLite rolled the transaction back on its own: the database is then poisoned, every job of
/// the batch has been answered as failed, and the jobs after the one that lost it did not run
/// (they would have run in autocommit, each committing alone).
fn run_batch(
    conn: &Connection,
    batch: Vec<Box<dyn Job>>,
    parts: &WriterParts,
    maintained: &mut Instant,
) -> Option<Vec<Completion>> {
    let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    for job in jobs.by_ref() {
        completions.push(job.run(conn));
        if conn.is_autocommit() {
            break;
        }
    }
    if !conn.is_autocommit() && maintained.elapsed() >= parts.maintenance.every {
        *maintained = Instant::now();
        let run = parts.maintenance.run;
        if let Err(error) = run_in_savepoint(conn, |conn| Ok(run(conn)?)) {
            tracing::warn!(?error, "writer maintenance failed; it will be retried");
        }
    }
    if !conn.is_autocommit() {
        return Some(completions);
    }
    parts.poison.set(format!(
        "SQLite rolled back a write transaction on its own ({} jobs answered, {} not run)",
        completions.len(),
        jobs.len()
    ));
    durability::settle(completions, Settled::NotDurable);
    for job in jobs {
        job.abandon(durability::refusal());
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::channel;

    use axum::http::StatusCode;

    use super::*;

    fn no_maintenance(_: &Connection) -> rusqlite::Result<()> {
        Ok(())
    }

    /// A writer (without a syncer: `synchronous=FULL`) on a fresh database with one table, and
    /// the poison it shares.
    fn writer(dir: &std::path::Path) -> (Writer, Poison, std::path::PathBuf) {
        let path = dir.join("writer.db");
        let conn = super::super::open_connection(&path).expect("open");
        conn.execute_batch("CREATE TABLE t (v BLOB NOT NULL)")
            .expect("schema");
        // Room for a few small rows but not for a large one: that insert fails SQLITE_FULL.
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |row| row.get(0))
            .expect("page count");
        conn.pragma_update(None, "max_page_count", pages + 8)
            .expect("max_page_count");
        let poison = Poison::default();
        let parts = WriterParts {
            checkpointer: Checkpointer::start(&path, &poison),
            syncer: None,
            maintenance: Maintenance {
                every: Duration::from_secs(3_600),
                run: no_maintenance,
            },
            poison: poison.clone(),
        };
        (Writer::start(conn, parts, 16, 64), poison, path)
    }

    fn insert(bytes: i64) -> impl FnOnce(&Connection) -> Result<(), ApiError> + Send + 'static {
        move |conn| {
            conn.execute("INSERT INTO t (v) VALUES (zeroblob(?1))", [bytes])?;
            Ok(())
        }
    }

    fn rows(path: &std::path::Path) -> i64 {
        let conn = super::super::open_connection(path).expect("open");
        conn.query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .expect("count")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_that_makes_sqlite_roll_back_the_batch_fails_every_job_and_nothing_commits_alone()
    {
        // Arrange: hold the writer in a job so that the next three queue into one batch.
        let dir = tempfile::tempdir().expect("temporary directory");
        let (writer, poison, path) = writer(dir.path());
        let (release, released) = channel::<()>();
        let blocker = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .submit(move |_| {
                        let _ = released.recv();
                        Ok(())
                    })
                    .await
            }
        });
        while writer.stats().jobs < 1 {
            tokio::task::yield_now().await;
        }
        let mut batch = Vec::new();
        for bytes in [100, 10_000_000, 100] {
            let writer = writer.clone();
            batch.push(tokio::spawn(
                async move { writer.submit(insert(bytes)).await },
            ));
        }
        while writer.stats().queued < 3 {
            tokio::task::yield_now().await;
        }

        // Act: the batch [small, too large for the database, small] runs.
        release.send(()).expect("the blocker waits");
        blocker.await.expect("joined").expect("the blocker commits");
        let mut statuses = Vec::new();
        for job in batch {
            let answer = job.await.expect("joined");
            statuses.push(answer.err().map(|error| error.status()));
        }

        // Assert: every job is refused with 503, none of them committed, and the writer refuses
        // whatever comes next.
        assert_eq!(
            statuses,
            vec![Some(StatusCode::SERVICE_UNAVAILABLE); 3],
            "every job of the lost batch is answered as failed"
        );
        assert!(poison.is_set());
        assert_eq!(rows(&path), 0, "no job of the lost batch committed");
        let later = writer.submit(insert(100)).await;
        assert_eq!(
            later.err().map(|error| error.status()),
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert_eq!(rows(&path), 0);
        writer.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_that_writes_on_after_sqlite_rolled_back_its_transaction_commits_nothing() {
        // Arrange: a job that swallows the SQLITE_FULL (which rolled the transaction back) and
        // writes again: in autocommit, that insert would commit on its own.
        let dir = tempfile::tempdir().expect("temporary directory");
        let (writer, poison, path) = writer(dir.path());
        let careless = |conn: &Connection| {
            let _ = insert(10_000_000)(conn);
            let _ = insert(100)(conn);
            Ok(())
        };

        // Act
        let answer = writer.submit(careless).await;

        // Assert: refused, poisoned, and the second insert's commit was turned into a rollback.
        assert_eq!(
            answer.err().map(|error| error.status()),
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert!(poison.is_set());
        assert_eq!(
            rows(&path),
            0,
            "nothing committed outside the writer's COMMIT"
        );
        writer.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_whose_own_statement_fails_alone_leaves_the_writer_healthy() {
        // Arrange: a constraint failure undoes one statement only; SQLite keeps the transaction.
        let dir = tempfile::tempdir().expect("temporary directory");
        let (writer, poison, path) = writer(dir.path());
        let refused = |conn: &Connection| {
            conn.execute("INSERT INTO t (v) VALUES (NULL)", [])?;
            Ok(())
        };

        // Act
        let failed = writer.submit(refused).await;
        let next = writer.submit(insert(100)).await;

        // Assert: only that job failed (500: a bug, not a storage fault); the writer goes on.
        assert_eq!(
            failed.err().map(|error| error.status()),
            Some(StatusCode::INTERNAL_SERVER_ERROR)
        );
        assert!(next.is_ok(), "{next:?}");
        assert!(!poison.is_set());
        assert_eq!(rows(&path), 1);
        writer.shutdown().await;
    }
}
