//! Acknowledge a batch only once its commit is on disk, without making the writer wait for it.
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
//! commit.
//!
//! Why this keeps the durability promise:
//!
//! * nobody is answered before the WAL frames of their commit are on disk: the fsync starts
//!   after the `COMMIT` that wrote them (same file, so any descriptor's fsync covers them);
//! * a crash can only lose a suffix of commits. WAL frames carry a checksum chain and recovery
//!   stops at the first frame that does not continue it, so a later commit can never survive
//!   without an earlier one it may have depended on (e.g. a balance it read);
//! * a checkpoint never copies frames that are not on disk: SQLite fsyncs the WAL before every
//!   checkpoint (the checkpointer's connection is `FULL`, the writer's `NORMAL` also syncs there).
//!
//! What a client can notice: for the ~0.1–2 ms an fsync takes, a *read* may already show a
//! movement whose sender has not yet been answered; if the machine loses power in that window
//! the movement is gone (its sender never got a success). An idempotent replay runs as a writer
//! job, so it too is answered only after an fsync, never from a commit that is not yet on disk.

use std::fs::File;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::writer::Completion;

/// Threads that fsync the WAL, so that fsyncs of consecutive batches overlap.
pub const SYNC_THREADS: usize = 2;

/// The writer's handle on the syncer threads.
pub struct Syncer {
    batches: Option<Sender<Vec<Completion>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Syncer {
    /// Starts the syncer on the WAL file of the database at `database_path` (which must exist:
    /// SQLite creates it when a connection first reads a WAL database and keeps it while any
    /// connection is open). `None` if it cannot be opened; the writer then keeps `FULL`.
    pub fn start(database_path: &str) -> Option<Self> {
        let wal_path = format!("{database_path}-wal");
        let wal = match File::options().write(true).open(Path::new(&wal_path)) {
            Ok(file) => file,
            Err(error) => {
                tracing::warn!(%error, wal_path, "cannot open the WAL to sync it; commits will sync inline");
                return None;
            }
        };
        let (batches, receiver) = channel();
        let receiver = Arc::new(Mutex::new(receiver));
        let wal = Arc::new(wal);
        let mut threads = Vec::with_capacity(SYNC_THREADS);
        for n in 0..SYNC_THREADS {
            let (wal, receiver) = (wal.clone(), receiver.clone());
            match std::thread::Builder::new()
                .name(format!("bankd-sync-{n}"))
                .spawn(move || sync_loop(&wal, &receiver))
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
            fail(completions, "the syncer has stopped");
            return;
        };
        if let Err(returned) = batches.send(completions) {
            fail(returned.0, "the syncer has stopped");
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
fn sync_loop(wal: &File, batches: &Mutex<Receiver<Vec<Completion>>>) {
    loop {
        let waiting: Vec<Vec<Completion>> = {
            let Ok(receiver) = batches.lock() else { return };
            let Ok(first) = receiver.recv() else { return };
            let mut waiting = vec![first];
            waiting.extend(receiver.try_iter());
            waiting
        };
        // Every batch in `waiting` committed before this call: one fsync covers them all.
        let synced = wal.sync_data().map_err(|error| {
            tracing::error!(%error, "fsync of the WAL failed; the batch is not acknowledged");
            format!("fsync failed: {error}")
        });
        for completions in waiting {
            for complete in completions {
                complete(synced.clone());
            }
        }
    }
}

fn fail(completions: Vec<Completion>, cause: &str) {
    for complete in completions {
        complete(Err(cause.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::channel;
    use std::time::Duration;

    use super::*;

    fn completion(tag: u32, answers: &Sender<(u32, Result<(), String>)>) -> Completion {
        let answers = answers.clone();
        Box::new(move |result| {
            let _ = answers.send((tag, result));
        })
    }

    #[test]
    fn every_batch_handed_over_is_answered_after_a_sync_and_stop_drains_them() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database = dir.path().join("bank.db");
        std::fs::write(dir.path().join("bank.db-wal"), b"frames").expect("a WAL file");
        let mut syncer = Syncer::start(&database.display().to_string()).expect("a syncer");
        let (answers, answered) = channel();

        for batch in 0..50 {
            syncer.after_commit(vec![
                completion(batch * 2, &answers),
                completion(batch * 2 + 1, &answers),
            ]);
        }
        syncer.stop();

        let mut tags: Vec<u32> = Vec::new();
        while let Ok((tag, result)) = answered.recv_timeout(Duration::from_secs(5)) {
            assert_eq!(result, Ok(()), "job {tag}");
            tags.push(tag);
            if tags.len() == 100 {
                break;
            }
        }
        tags.sort_unstable();
        assert_eq!(tags, (0..100).collect::<Vec<_>>());

        // After stop nothing is acknowledged: a late batch gets an error, not a success.
        syncer.after_commit(vec![completion(100, &answers)]);
        let (tag, result) = answered.recv().expect("an answer");
        assert_eq!(tag, 100);
        assert!(result.is_err(), "{result:?}");
    }

    #[test]
    fn without_a_wal_file_no_syncer_starts() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database = dir.path().join("absent.db");
        assert!(Syncer::start(&database.display().to_string()).is_none());
    }
}
