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
//! runs the next batch. With one client nothing waits for a batch to fill: a lone job commits at
//! once.
//!
//! Faults (fail-stop, `durability.rs`): if `COMMIT` fails, or a job's statement failed in a way
//! that made SQLite roll the whole transaction back (`is_autocommit()` is true after it), the
//! database is poisoned and every job of the batch is answered `503`; the jobs after the one that
//! lost the transaction do not run, since each would otherwise run and commit alone in
//! autocommit. The connection's commit hook also vetoes any commit but the writer's own `COMMIT`.
//!
//! The queue is bounded: when full, callers get `503` with `Retry-After` instead of memory
//! growing without bound.

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
pub(in crate::store::sqlite) enum Settled {
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
    let release = || conn.prepare_cached("RELEASE job")?.execute([]);
    let ended = match outcome {
        Ok(_) => release(),
        Err(_) => conn
            .prepare_cached("ROLLBACK TO job")
            .and_then(|mut statement| statement.execute([]))
            .and_then(|_| release()),
    };
    if let Err(error) = ended {
        // The job's changes can be neither undone alone nor told apart from the batch's: give
        // up the whole transaction, which the writer then treats as lost (every job answered
        // 503, the database poisoned) instead of committing a job that is answered as failed.
        let _ = conn.execute_batch("ROLLBACK");
        return Err(error.into());
    }
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
/// the transaction was lost (SQLite rolled it back on its own, or `run_in_savepoint` did because
/// a savepoint could not be ended): the database is then poisoned, every job of
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
        "the write transaction was lost mid-batch, rolled back by SQLite on its own or because \
         a savepoint could not be ended ({} jobs answered 503, {} not run)",
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
mod tests;
