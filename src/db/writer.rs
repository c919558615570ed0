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

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::checkpoint::Checkpointer;
use super::durability::Syncer;
use crate::error::ApiError;

/// Delivers a job's result once the commit's outcome is known.
pub(super) type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A unit of work for the writer thread.
trait Job: Send {
    /// Runs inside the open transaction and returns how to answer the caller after commit.
    fn run(self: Box<Self>, conn: &Connection) -> Completion;
    /// Answers the caller without running (the transaction could not be opened).
    fn abandon(self: Box<Self>, cause: String);
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
        Box::new(move |commit| {
            let result = match (outcome, commit) {
                (Ok(value), Ok(())) => Ok(value),
                (Ok(_), Err(cause)) => Err(ApiError::internal(format!("commit failed: {cause}"))),
                (Err(error), _) => Err(error),
            };
            // The caller may have gone away (client disconnected); the work is committed
            // regardless, exactly as if the response had been lost on the wire.
            let _ = reply.send(result);
        })
    }

    fn abandon(self: Box<Self>, cause: String) {
        let _ = self.reply.send(Err(ApiError::internal(cause)));
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
    if outcome.is_err() {
        conn.prepare_cached("ROLLBACK TO job")?.execute([])?;
    }
    conn.prepare_cached("RELEASE job")?.execute([])?;
    outcome
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
    thread: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
    counters: Arc<Counters>,
}

impl Writer {
    pub fn start(
        conn: Connection,
        checkpointer: Checkpointer,
        syncer: Option<Syncer>,
        maintenance: Maintenance,
        batch_max: usize,
        queue_max: usize,
    ) -> Self {
        let (sender, receiver) = sync_channel::<Box<dyn Job>>(queue_max.max(1));
        let counters = Arc::new(Counters::default());
        let thread_counters = counters.clone();
        let thread = std::thread::Builder::new()
            .name("bankd-writer".to_owned())
            .spawn(move || {
                super::checkpoint::install_hook(&conn);
                writer_loop(
                    conn,
                    &checkpointer,
                    syncer,
                    maintenance,
                    receiver,
                    batch_max.max(1),
                    &thread_counters,
                );
            })
            .ok();
        Self {
            sender: Arc::new(Mutex::new(Some(sender))),
            thread: Arc::new(Mutex::new(thread)),
            counters,
        }
    }

    pub async fn submit<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
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
    conn: Connection,
    checkpointer: &Checkpointer,
    mut syncer: Option<Syncer>,
    maintenance: Maintenance,
    receiver: Receiver<Box<dyn Job>>,
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
        if let Err(error) = conn
            .prepare_cached("BEGIN IMMEDIATE")
            .and_then(|mut s| s.execute([]))
        {
            let cause = format!("cannot begin a write transaction: {error}");
            tracing::error!(%cause, "writer");
            for job in batch {
                job.abandon(cause.clone());
            }
            continue;
        }
        let completions: Vec<Completion> = batch.into_iter().map(|job| job.run(&conn)).collect();
        if maintained.elapsed() >= maintenance.every {
            maintained = Instant::now();
            if let Err(error) = run_in_savepoint(&conn, |conn| Ok((maintenance.run)(conn)?)) {
                tracing::warn!(?error, "writer maintenance failed; it will be retried");
            }
        }
        let commit = conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]))
            .map(|_| ())
            .map_err(|e| e.to_string());
        if let Err(cause) = &commit {
            tracing::error!(%cause, jobs = completions.len(), "commit failed; batch refused");
            let _ = conn.execute_batch("ROLLBACK");
        } else {
            counters.commits.fetch_add(1, Ordering::Relaxed);
        }
        let committed = commit.is_ok();
        match (&syncer, committed) {
            // Answered once the WAL is on disk, while this thread goes on (durability.rs).
            (Some(syncer), true) => syncer.after_commit(completions),
            _ => {
                for complete in completions {
                    complete(commit.clone());
                }
            }
        }
        if committed {
            checkpointer.after_commit(&conn);
        }
    }
    if let Some(syncer) = &mut syncer {
        syncer.stop();
    }
    // The queue is closed and drained: fold the WAL back into the main file so a stopped
    // database is one self-contained file.
    if let Err(error) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::warn!(%error, "checkpoint at shutdown failed");
    }
}
