//! WAL checkpoints off the writer thread.
//!
//! By default SQLite checkpoints inside the `COMMIT` that takes the WAL past 1,000 pages: the
//! committing thread copies every page in the WAL into the database file and fsyncs it. Here
//! that thread is the single writer, so every caller in the next batch waited for the copy
//! (13% of the writer's time in the transfer profile, BENCHMARKS.md). Instead:
//!
//! * the writer connection's WAL hook records how many pages the WAL holds after each commit
//!   (installing the hook turns SQLite's own auto-checkpoint off);
//! * [`CHECKPOINT_PAGES`] past what was last copied, the writer wakes a checkpointer thread,
//!   which runs a `PASSIVE` checkpoint on its own connection while the writer goes on
//!   committing (`PASSIVE` never blocks the writer or readers). It copies everything
//!   committed before it started;
//! * the WAL only starts over from its beginning (and stops growing) once *every* frame is
//!   copied, which a checkpoint racing a busy writer never achieves. So once the WAL holds
//!   [`RESTART_PAGES`], when the checkpointer is idle and has left fewer than
//!   [`WRITER_DELTA_PAGES`] frames uncopied, the writer copies that small remainder itself,
//!   between two batches; its next commit then restarts the WAL;
//! * if commits outrun the checkpointer and the WAL reaches [`WRITER_CHECKPOINT_PAGES`], the
//!   writer checkpoints itself (as SQLite would have), so the WAL cannot grow without bound.
//!
//! Durability is unchanged: a commit is durable once its WAL frames are fsynced (by the syncer,
//! durability.rs, before anyone is answered), and SQLite fsyncs the WAL before a checkpoint
//! copies it; a checkpoint only moves committed pages into the main file. A checkpoint that
//! fails (a busy lock is not a failure: SQLite reports it in the result row) failed to write or
//! fsync the WAL or the database file, so it poisons the database like a failed fsync.

use std::cell::Cell;
use std::os::raw::c_int;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use rusqlite::Connection;
use rusqlite::hooks::Wal;

use super::durability::Poison;

/// Uncopied WAL pages past which the background checkpointer is woken: SQLite's default
/// auto-checkpoint threshold.
pub const CHECKPOINT_PAGES: i32 = 1_000;

/// WAL size (in pages, 4 KiB each: 64 MiB) past which the writer checkpoints itself (at its
/// next commit after the background checkpoint, if one is copying: only one can run at once).
pub const WRITER_CHECKPOINT_PAGES: i32 = 16_384;

/// Longest the writer waits at its WAL limit for a background checkpoint to finish.
const LIMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Uncopied frames the writer is willing to copy itself to let the WAL start over.
pub const WRITER_DELTA_PAGES: i32 = 512;

/// WAL size (in pages: 32 MiB) from which the writer looks for a moment to start it over.
/// Copying the remainder costs the writer two fsyncs and a few hundred page writes, so it
/// does that once per this many pages rather than after every background checkpoint (which
/// had the writer checkpointing 19% of the time).
pub const RESTART_PAGES: i32 = 8_192;

// The thresholds in the order the module doc uses them: the writer copies only a remainder
// smaller than what wakes the checkpointer, looks for a restart well after that, and checkpoints
// itself only past both.
const _: () = assert!(WRITER_DELTA_PAGES < CHECKPOINT_PAGES);
const _: () = assert!(CHECKPOINT_PAGES < RESTART_PAGES);
const _: () = assert!(RESTART_PAGES < WRITER_CHECKPOINT_PAGES);

thread_local! {
    /// Pages in the WAL after the last commit on this thread's connection. Only the writer
    /// thread installs the hook, so each server's writer sees its own count.
    static WAL_PAGES: Cell<i32> = const { Cell::new(0) };
}

fn record_wal_pages(_wal: &Wal, pages: c_int) -> rusqlite::Result<()> {
    WAL_PAGES.with(|cell| cell.set(pages));
    Ok(())
}

/// Installs the WAL hook on the writer connection (which disables SQLite's auto-checkpoint).
pub fn install_hook(conn: &Connection) {
    conn.wal_hook(Some(record_wal_pages));
}

/// Pages in the WAL after the last commit made on this thread.
pub fn wal_pages() -> i32 {
    WAL_PAGES.with(Cell::get)
}

/// When to checkpoint, in WAL pages (the constants above; smaller in tests).
#[derive(Clone, Copy, Debug)]
struct Thresholds {
    wake: i32,
    restart: i32,
    delta: i32,
    limit: i32,
}

impl Thresholds {
    const DEFAULT: Self = Self {
        wake: CHECKPOINT_PAGES,
        restart: RESTART_PAGES,
        delta: WRITER_DELTA_PAGES,
        limit: WRITER_CHECKPOINT_PAGES,
    };
}

/// What the checkpointer thread tells the writer.
#[derive(Default)]
struct Progress {
    /// A checkpoint is under way (set by the writer when it wakes the thread).
    running: AtomicBool,
    /// WAL frames copied by the last completed background checkpoint (0: none since the WAL
    /// last started over).
    copied: AtomicI32,
}

/// The writer's handle on the checkpointer thread.
pub struct Checkpointer {
    thresholds: Thresholds,
    wake: Option<SyncSender<()>>,
    progress: Arc<Progress>,
    /// WAL pages after the previous commit: fewer now means the WAL started over.
    last_pages: Cell<i32>,
    /// Set when a checkpoint fails.
    poison: Poison,
}

impl Checkpointer {
    /// Starts the checkpointer thread with its own connection to `path`. Without one (the
    /// connection cannot be opened), the writer checkpoints itself at the usual threshold.
    pub fn start(path: &Path, poison: &Poison) -> Self {
        Self::start_with(path, Thresholds::DEFAULT, poison)
    }

    fn start_with(path: &Path, thresholds: Thresholds, poison: &Poison) -> Self {
        let progress = Arc::new(Progress::default());
        let wake = match spawn_thread(path, &progress, poison) {
            Ok(wake) => Some(wake),
            Err(error) => {
                tracing::warn!(%error, "no checkpointer thread; the writer will checkpoint");
                None
            }
        };
        Self {
            thresholds,
            wake,
            progress,
            last_pages: Cell::new(0),
            poison: poison.clone(),
        }
    }

    /// Called by the writer after each successful commit (its answers already sent).
    pub fn after_commit(&self, conn: &Connection) {
        let pages = wal_pages();
        if pages < self.last_pages.replace(pages) {
            // The WAL started over: what was copied of the previous one no longer counts.
            self.progress.copied.store(0, Ordering::Release);
        }
        let limits = self.thresholds;
        if pages < limits.wake {
            return;
        }
        let Some(wake) = &self.wake else {
            self.checkpoint_here(conn, pages, Mode::Passive);
            return;
        };
        if pages >= limits.limit {
            // The backstop: wait for a background checkpoint in progress (SQLite does not wait
            // for the checkpoint lock, it fails at once), then copy everything.
            let deadline = std::time::Instant::now() + LIMIT_WAIT;
            while self.progress.running.load(Ordering::Acquire)
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            self.checkpoint_here(conn, pages, Mode::Restart);
            return;
        }
        if self.progress.running.load(Ordering::Acquire) {
            return;
        }
        let copied = self.progress.copied.load(Ordering::Acquire);
        let uncopied = pages - copied;
        if pages >= limits.restart && copied > 0 && uncopied <= limits.delta {
            self.checkpoint_here(conn, pages, Mode::Passive);
            return;
        }
        if uncopied < limits.wake {
            return;
        }
        self.progress.running.store(true, Ordering::Release);
        if let Err(TrySendError::Disconnected(())) = wake.try_send(()) {
            self.progress.running.store(false, Ordering::Release);
            tracing::warn!("checkpointer thread stopped");
        }
    }

    /// Nothing else writes while the writer checkpoints, so this copies every frame left and
    /// the next commit starts the WAL over. `Passive` gives up at once if the background
    /// checkpoint holds the checkpoint lock (it is retried at a later commit); `Restart` waits
    /// for it (and for readers of older snapshots), so the WAL surely starts over.
    fn checkpoint_here(&self, conn: &Connection, pages: i32, mode: Mode) {
        if let Err(error) = checkpoint(conn, mode) {
            self.poison.set(format!(
                "writer checkpoint failed at {pages} WAL pages: {error}"
            ));
        }
        self.progress.copied.store(0, Ordering::Release);
    }
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Passive,
    Restart,
}

/// Runs a checkpoint and returns how many WAL frames have been copied (-1 when another
/// checkpoint held the lock).
fn checkpoint(conn: &Connection, mode: Mode) -> rusqlite::Result<i32> {
    let sql = match mode {
        Mode::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
        Mode::Restart => "PRAGMA wal_checkpoint(RESTART)",
    };
    conn.prepare_cached(sql)?.query_row([], |row| row.get(2))
}

/// Starts the checkpointer thread on its own connection; returns the handle that wakes it.
fn spawn_thread(
    path: &Path,
    progress: &Arc<Progress>,
    poison: &Poison,
) -> Result<SyncSender<()>, String> {
    let conn = crate::store::sqlite::open_connection(path).map_err(|e| e.to_string())?;
    // One pending wake-up is enough: a checkpoint copies everything committed before it.
    let (wake, wakes) = sync_channel(1);
    let (progress, poison) = (progress.clone(), poison.clone());
    std::thread::Builder::new()
        .name("bankd-checkpoint".to_owned())
        .spawn(move || checkpoint_loop(&conn, &wakes, &progress, &poison))
        .map_err(|e| e.to_string())?;
    Ok(wake)
}

/// Runs until the writer drops its handle (at shutdown).
fn checkpoint_loop(conn: &Connection, wakes: &Receiver<()>, progress: &Progress, poison: &Poison) {
    while wakes.recv().is_ok() {
        match checkpoint(conn, Mode::Passive) {
            Ok(copied) => progress.copied.store(copied, Ordering::Release),
            Err(error) => poison.set(format!("background checkpoint failed: {error}")),
        }
        progress.running.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_constant_writes_the_wal_starts_over_and_stays_bounded() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("wal.db");
        let conn = crate::store::sqlite::open_connection(&path).expect("open");
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL;
             CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL);",
        )
        .expect("schema");
        install_hook(&conn);
        let thresholds = Thresholds {
            wake: 40,
            restart: 200,
            delta: 60,
            limit: 400,
        };
        let checkpointer = Checkpointer::start_with(&path, thresholds, &Poison::default());
        let (mut restarts, mut largest, mut previous) = (0, 0, 0);
        for round in 0..3_000_i64 {
            conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
            for i in 0..4_i64 {
                conn.execute(
                    "INSERT OR REPLACE INTO t (k, v) VALUES (?1, randomblob(3000))",
                    [(round * 7 + i * 131) % 2_000],
                )
                .expect("write");
            }
            conn.execute_batch("COMMIT").expect("commit");
            let pages = wal_pages();
            if pages < previous {
                restarts += 1;
            }
            previous = pages;
            largest = largest.max(pages);
            checkpointer.after_commit(&conn);
        }
        // Each commit above writes well under 40 pages: the WAL never passes the writer's limit
        // by more than one commit, and starts over again and again instead of growing.
        assert!(restarts >= 5, "the WAL started over {restarts} times");
        assert!(
            largest < thresholds.limit + 40,
            "the WAL reached {largest} pages"
        );
    }
}
