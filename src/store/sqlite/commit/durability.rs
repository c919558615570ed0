//! Acknowledge a batch only once its commit is on disk, without making the writer wait for it;
//! and stop acknowledging anything once the disk has failed us once (fail-stop).
//!
//! With `synchronous=FULL` SQLite fsyncs the WAL inside `COMMIT`, and the single writer sits idle
//! for the whole fsync (about 45% of its time under the transfer benchmark) before it can start
//! the next batch. Instead the writer connection runs with `synchronous=NORMAL` (no fsync at
//! commit; the WAL is still synced before every checkpoint copies it) and hands each committed
//! batch's answers to the syncer threads, which call `fdatasync` on the WAL file and only then
//! answer the callers. While they sync, the writer runs the next batch; one fsync covers every
//! batch committed before it started.
//!
//! There are [`SYNC_THREADS`] of them: a batch committed while an fsync is in flight gets its
//! own fsync at once instead of waiting for that one to finish (on this machine's ext4, two
//! concurrent `fdatasync`s of the same file overlap: 1.4 – 2× the syncs a second of one thread,
//! `bench/fsync_overlap.py`). Each answer still waits for an fsync that started after its own
//! commit. Each thread syncs through its own descriptor: Linux reports a writeback error once
//! per open file description, so two threads sharing one descriptor could see the error reported
//! to the one whose batch did not need it while the other returns success.
//!
//! # Fail-stop: [`Poison`]
//!
//! A failed fsync cannot be retried: the kernel may already have marked the pages it could not
//! write as clean (PostgreSQL's "fsyncgate"), so a later fsync succeeds without writing them.
//! The same holds when the transaction is no longer ours to commit: `COMMIT` failed, a checkpoint
//! (which fsyncs the WAL and the database) failed, or SQLite rolled the writer's transaction back
//! on its own (`SQLITE_FULL`, `SQLITE_IOERR`, `SQLITE_NOMEM`) in the middle of a batch. Any of
//! these *poisons* the database, like PostgreSQL's `data_sync_retry = off`: from that moment
//!
//! * no write is acknowledged: every job waiting for an fsync, every job in the writer's queue
//!   and every later one is answered `503 service_unavailable` (an unknown outcome: retry with
//!   the same `Idempotency-Key` once the server is back);
//! * no read is answered (`503` too), so data that may not be on disk is not presented as
//!   settled, and `/readyz` answers `503`;
//! * the server stops: `App::run` shuts down gracefully and `bankd serve` exits non-zero, so the
//!   supervisor (`Restart=on-failure`) restarts it and WAL recovery decides what survived. At
//!   startup `Db::open` checkpoints the recovered WAL into the main file (which rewrites and
//!   fsyncs those pages), so whatever the new process shows, and any idempotent replay it
//!   answers, is on disk. The writer skips its shutdown checkpoint once poisoned.
//!
//! # Why no acknowledged write is lost
//!
//! A caller gets success only from a syncer thread, after an `fdatasync` that *started after the
//! `COMMIT` holding its job* returned success and the database was not poisoned at that moment
//! (or, without a syncer, after a `synchronous=FULL` `COMMIT` that fsyncs itself). That fsync
//! wrote the batch's WAL frames and every earlier frame still dirty, and a writeback error on any
//! of them since this descriptor's last fsync is reported to it (per-descriptor error reporting,
//! Linux ≥ 4.13). Earlier frames already synced were synced by an fsync that succeeded, or
//! poisoned the database before this answer. A crash loses only a suffix of the WAL: frames carry
//! a checksum chain and recovery stops at the first frame that does not continue it, so an
//! acknowledged commit never depends on a lost one. A checkpoint only copies frames after SQLite
//! fsynced the WAL, and if it fails the database is poisoned.
//!
//! # Why no failed write is later reported as a success
//!
//! A job whose batch was not known durable is answered `503` (never `200`), and nothing in this
//! process answers afterwards: an idempotent replay is a writer job, so it is refused like every
//! other write, never answered from a stored result that may not be on disk. Inside a batch, the
//! writer checks `is_autocommit()` after every job: if SQLite rolled the transaction back, every
//! job of the batch is answered as failed and the rest do not run, and the writer connection's
//! commit hook vetoes any commit the writer did not issue itself (writer.rs), so no job can
//! commit alone in autocommit. After the restart a replay answers `200` only if recovery kept the
//! movement, which the startup checkpoint has made durable: the truth, not a guess.
//!
//! What a client can notice: for the ~0.1–2 ms an fsync takes, a *read* may already show a
//! movement whose sender has not yet been answered; if the machine loses power in that window
//! the movement is gone (its sender never got a success).

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use axum::http::StatusCode;
use tokio::sync::watch;

use super::writer::{Completion, Settled};
use crate::error::{ApiError, ErrorCode};

/// Threads that fsync the WAL, so that fsyncs of consecutive batches overlap.
pub const SYNC_THREADS: usize = 2;

/// Set once this process can no longer promise that what it commits is on disk; never unset.
/// Cheap to clone: every clone shares the one flag.
#[derive(Clone)]
pub struct Poison {
    /// Why, once poisoned (for the log; never shown to a client).
    cause: Arc<OnceLock<String>>,
    /// Wakes whoever waits for the poisoning (the server, to stop).
    poisoned: watch::Sender<bool>,
}

impl Default for Poison {
    fn default() -> Self {
        Self {
            cause: Arc::default(),
            poisoned: watch::Sender::new(false),
        }
    }
}

impl Poison {
    /// Poisons the database (the first cause is kept and logged once).
    pub fn set(&self, cause: impl Into<String>) {
        let cause = cause.into();
        if self.cause.set(cause.clone()).is_ok() {
            tracing::error!(
                %cause,
                "durability lost: refusing every request and stopping; restart to recover"
            );
        }
        self.poisoned.send_replace(true);
    }

    pub fn is_set(&self) -> bool {
        self.cause.get().is_some()
    }

    /// Why the database was poisoned, if it was.
    pub fn cause(&self) -> Option<String> {
        self.cause.get().cloned()
    }

    /// `Err(503)` once poisoned: the check every read and write makes first.
    pub fn check(&self) -> Result<(), ApiError> {
        if self.is_set() {
            return Err(refusal());
        }
        Ok(())
    }

    /// Resolves once the database is poisoned.
    pub async fn wait(&self) {
        let mut poisoned = self.poisoned.subscribe();
        // `wait_for` fails only if the sender is dropped, and `self` holds it.
        let _ = poisoned.wait_for(|poisoned| *poisoned).await;
    }
}

/// The answer to anything refused once poisoned, and to every job whose commit is not known to
/// be on disk: the outcome is unknown until the restarted server has recovered, so the client is
/// told to retry (with its `Idempotency-Key`), not that the request failed or succeeded.
pub fn refusal() -> ApiError {
    ApiError::detail(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::ServiceUnavailable,
        "The server could not confirm that its storage is safe and is restarting. Retry \
         shortly (a write with the same Idempotency-Key).",
    )
}

/// The writer's handle on the syncer threads.
pub struct Syncer {
    batches: Option<Sender<Vec<Completion>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Syncer {
    /// Starts the syncer on the WAL file of the database at `database_path` (which must exist:
    /// SQLite creates it when a connection first reads a WAL database and keeps it while any
    /// connection is open). `None` if it cannot be opened; the writer then keeps `FULL`.
    pub fn start(database_path: &str, poison: &Poison) -> Option<Self> {
        let wal_path = format!("{database_path}-wal");
        let open = || File::options().write(true).open(Path::new(&wal_path));
        let mut descriptors = Vec::with_capacity(SYNC_THREADS);
        for _ in 0..SYNC_THREADS {
            match open() {
                Ok(file) => descriptors.push(file),
                Err(error) => {
                    tracing::warn!(%error, wal_path, "cannot open the WAL to sync it; commits will sync inline");
                    return None;
                }
            }
        }
        Self::start_with(
            descriptors
                .into_iter()
                .map(|wal| move || wal.sync_data())
                .collect(),
            poison,
        )
    }

    /// One thread per `sync` function (each syncing through its own descriptor).
    fn start_with<F>(syncs: Vec<F>, poison: &Poison) -> Option<Self>
    where
        F: Fn() -> io::Result<()> + Send + 'static,
    {
        let (batches, receiver) = channel();
        let receiver = Arc::new(Mutex::new(receiver));
        let mut threads = Vec::with_capacity(syncs.len());
        for (n, sync) in syncs.into_iter().enumerate() {
            let (receiver, poison) = (receiver.clone(), poison.clone());
            match std::thread::Builder::new()
                .name(format!("bankd-sync-{n}"))
                .spawn(move || sync_loop(sync, &receiver, &poison))
            {
                Ok(thread) => threads.push(thread),
                // One thread is enough to be correct; more only overlap the fsyncs.
                Err(error) => tracing::warn!(%error, "cannot start a syncer thread"),
            }
        }
        if threads.is_empty() {
            tracing::warn!("no syncer thread; commits will sync inline");
            return None;
        }
        Some(Self {
            batches: Some(batches),
            threads,
        })
    }

    /// Hands over a committed batch's answers, to be given once the WAL is on disk.
    pub fn after_commit(&self, completions: Vec<Completion>) {
        let Some(batches) = &self.batches else {
            settle(completions, Settled::NotDurable);
            return;
        };
        if let Err(returned) = batches.send(completions) {
            settle(returned.0, Settled::NotDurable);
        }
    }

    /// Answers everything handed over so far and stops the threads.
    pub fn stop(&mut self) {
        self.batches.take();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Takes every batch waiting (holding the receiver only while taking them, so another thread
/// can take the next ones during this fsync), syncs, answers; until the writer hangs up.
fn sync_loop(
    sync: impl Fn() -> io::Result<()>,
    batches: &Mutex<Receiver<Vec<Completion>>>,
    poison: &Poison,
) {
    loop {
        let waiting: Vec<Vec<Completion>> = {
            let Ok(receiver) = batches.lock() else { return };
            let Ok(first) = receiver.recv() else { return };
            let mut waiting = vec![first];
            waiting.extend(receiver.try_iter());
            waiting
        };
        // Every batch in `waiting` committed before this call: one fsync covers them all. The
        // poison is set before anyone is answered, and checked after a successful fsync: a
        // batch committed after another thread's fsync failed may depend on frames that never
        // reached the disk, so it is not acknowledged either.
        let settled = match sync() {
            Ok(()) if !poison.is_set() => Settled::Durable,
            Ok(()) => Settled::NotDurable,
            Err(error) => {
                poison.set(format!("fsync of the WAL failed: {error}"));
                Settled::NotDurable
            }
        };
        for completions in waiting {
            settle(completions, settled);
        }
    }
}

/// Answers every job of a batch alike.
pub(super) fn settle(completions: Vec<Completion>, settled: Settled) {
    for complete in completions {
        complete(settled);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::channel;
    use std::time::Duration;

    use super::*;

    fn completion(tag: u32, answers: &Sender<(u32, Settled)>) -> Completion {
        let answers = answers.clone();
        Box::new(move |settled| {
            let _ = answers.send((tag, settled));
        })
    }

    #[test]
    fn every_batch_handed_over_is_answered_after_a_sync_and_stop_drains_them() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database = dir.path().join("bank.db");
        std::fs::write(dir.path().join("bank.db-wal"), b"frames").expect("a WAL file");
        let poison = Poison::default();
        let mut syncer = Syncer::start(&database.display().to_string(), &poison).expect("a syncer");
        let (answers, answered) = channel();

        for batch in 0..50 {
            syncer.after_commit(vec![
                completion(batch * 2, &answers),
                completion(batch * 2 + 1, &answers),
            ]);
        }
        syncer.stop();

        let mut tags: Vec<u32> = Vec::new();
        while let Ok((tag, settled)) = answered.recv_timeout(Duration::from_secs(5)) {
            assert_eq!(settled, Settled::Durable, "job {tag}");
            tags.push(tag);
            if tags.len() == 100 {
                break;
            }
        }
        tags.sort_unstable();
        assert_eq!(tags, (0..100).collect::<Vec<_>>());

        // After stop nothing is acknowledged: a late batch gets an error, not a success.
        syncer.after_commit(vec![completion(100, &answers)]);
        let (tag, settled) = answered.recv().expect("an answer");
        assert_eq!(tag, 100);
        assert_eq!(settled, Settled::NotDurable);
        assert!(!poison.is_set());
    }

    #[test]
    fn without_a_wal_file_no_syncer_starts() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database = dir.path().join("absent.db");
        assert!(Syncer::start(&database.display().to_string(), &Poison::default()).is_none());
    }

    #[test]
    fn after_one_failed_fsync_no_batch_is_acknowledged_even_when_later_fsyncs_succeed() {
        // Arrange: the second fsync fails with EIO; every other one "succeeds", as the kernel's
        // would once it has dropped the pages it could not write.
        let calls = Arc::new(AtomicUsize::new(0));
        let sync = {
            let calls = calls.clone();
            move || match calls.fetch_add(1, Ordering::SeqCst) {
                1 => Err(io::Error::from_raw_os_error(5)),
                _ => Ok(()),
            }
        };
        let poison = Poison::default();
        let mut syncer = Syncer::start_with(vec![sync], &poison).expect("a syncer");
        let (answers, answered) = channel();

        // Act: three batches, each handed over after the previous one was answered.
        let mut outcomes = Vec::new();
        for tag in 0..3 {
            syncer.after_commit(vec![completion(tag, &answers)]);
            outcomes.push(
                answered
                    .recv_timeout(Duration::from_secs(5))
                    .expect("an answer"),
            );
        }
        syncer.stop();

        // Assert: the batch before the failure is durable; the failed one and every later one
        // are not, and the database is poisoned.
        assert_eq!(
            outcomes,
            vec![
                (0, Settled::Durable),
                (1, Settled::NotDurable),
                (2, Settled::NotDurable)
            ]
        );
        assert!(poison.is_set());
        assert!(poison.check().is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
