//! `bankd backup FILE`: a consistent copy of a live database, taken with SQLite's online backup
//! API while the server keeps serving writes.
//!
//! Why the backup API and not a file copy: copying `bank.db` while the server runs can catch a
//! checkpoint halfway and misses whatever is still in `bank.db-wal`; the backup API copies the
//! database as of one committed transaction, WAL included.
//!
//! Why the copy cannot restart forever: on its own, `sqlite3_backup_step` opens and closes a
//! read transaction per step, and any commit by another connection between two steps restarts
//! the copy from page one; under a steady transfer load a large database might never finish.
//! Here the source connection holds one read transaction for the whole copy instead, so every
//! step reads the same snapshot. In WAL mode (which bankd always uses) a reader never blocks the
//! writer: the server keeps committing into the WAL, which only stops being checkpointed past
//! our snapshot until the copy ends. Steps of `PAGES_PER_STEP` with a short pause leave disk
//! bandwidth to the server between them.
//!
//! Why a temporary file: the copy is written to `FILE.partial-<pid>` next to `FILE`, fsynced,
//! and renamed over `FILE` only when complete, so a crash or a full disk never leaves half a
//! backup under the final name.

use std::ffi::c_int;
use std::fmt;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use rusqlite::backup::{Backup, StepResult};

use crate::limits::SQLITE_BUSY_TIMEOUT_MS;
use crate::store::sqlite::verify::open_read_only;

/// Pages copied per step: 4 MiB with the default 4 KiB page.
const PAGES_PER_STEP: c_int = 1024;

/// Pause between steps, to leave the disk to the server for a moment.
const PAUSE_BETWEEN_STEPS: Duration = Duration::from_millis(2);

/// How long the source may answer `BUSY`/`LOCKED` in a row before the backup gives up: the
/// same patience every bankd connection has for a lock.
const BUSY_WAIT_MAX: Duration = Duration::from_millis(SQLITE_BUSY_TIMEOUT_MS as u64);

/// What a finished backup reports.
#[derive(Debug)]
pub struct BackupSummary {
    pub source: PathBuf,
    pub destination: PathBuf,
    /// Pages in the copy and their size in bytes (`page_count * page_size` is the file size).
    pub page_count: u64,
    pub page_size: u64,
    /// The copy's size on disk, in bytes.
    pub file_bytes: u64,
    pub elapsed: Duration,
}

impl fmt::Display for BackupSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Backed up {} to {}: {} pages of {} bytes, {} bytes in {} ms.",
            self.source.display(),
            self.destination.display(),
            self.page_count,
            self.page_size,
            self.file_bytes,
            self.elapsed.as_millis()
        )
    }
}

/// Copies the database at `source` to `destination`. Refuses to replace an existing
/// `destination` unless `overwrite`.
pub fn backup(source: &Path, destination: &Path, overwrite: bool) -> Result<BackupSummary, String> {
    backup_in_steps(source, destination, overwrite, PAGES_PER_STEP)
}

/// `backup` with the step size as a parameter, so tests can force a many-step copy of a small
/// database.
fn backup_in_steps(
    source: &Path,
    destination: &Path,
    overwrite: bool,
    pages_per_step: c_int,
) -> Result<BackupSummary, String> {
    let started = Instant::now();
    check_destination(source, destination, overwrite)?;
    let mut source_conn = open_read_only(source)?;
    let partial = PartialFile::new(destination)?;
    let mut copy = Connection::open(&partial.path)
        .map_err(|e| format!("cannot create {}: {e}", partial.path.display()))?;

    let (page_count, page_size) = copy_snapshot(&mut source_conn, &mut copy, pages_per_step)?;
    // A cheap sanity read of the copy before it takes the final name.
    copy.query_row("SELECT count(*) FROM sqlite_schema", [], |row| {
        row.get::<_, i64>(0)
    })
    .map_err(|e| format!("the copy is unreadable: {e}"))?;
    copy.close()
        .map_err(|(_, e)| format!("cannot close {}: {e}", partial.path.display()))?;

    let file_bytes = partial.persist(destination)?;
    Ok(BackupSummary {
        source: source.to_owned(),
        destination: destination.to_owned(),
        page_count,
        page_size,
        file_bytes,
        elapsed: started.elapsed(),
    })
}

/// Refuses an existing destination without `overwrite`, the source itself, and a destination
/// with a non-empty `-wal` file beside it: SQLite would replay that WAL onto the new copy and
/// corrupt it. An empty `-wal` is harmless and normal: a read-only reader such as `bankd verify`
/// leaves one behind, because it may not delete it.
fn check_destination(source: &Path, destination: &Path, overwrite: bool) -> Result<(), String> {
    let shown = destination.display();
    if fs::symlink_metadata(destination).is_ok() {
        if !overwrite {
            return Err(format!(
                "{shown} already exists; pass --force to overwrite it"
            ));
        }
        if destination.is_dir() {
            return Err(format!("{shown} is a directory"));
        }
        if let (Ok(source), Ok(target)) = (source.canonicalize(), destination.canonicalize())
            && source == target
        {
            return Err(format!("{shown} is the database being backed up"));
        }
    }
    let wal = sidecar(destination, "-wal");
    if fs::metadata(&wal).is_ok_and(|metadata| metadata.len() > 0) {
        return Err(format!(
            "{} is not empty: a server may be using {shown}, or it was not shut down cleanly; \
             stop it or move both files away first",
            wal.display()
        ));
    }
    Ok(())
}

/// Copies one committed snapshot of `source` into `copy`; returns its page count and size.
fn copy_snapshot(
    source: &mut Connection,
    copy: &mut Connection,
    pages_per_step: c_int,
) -> Result<(u64, u64), String> {
    let read_error = |e: rusqlite::Error| format!("cannot read the database: {e}");
    let journal_mode: String = source
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .map_err(read_error)?;
    let page_size: u64 = source
        .pragma_query_value(None, "page_size", |row| {
            row.get::<_, i64>(0).map(i64::unsigned_abs)
        })
        .map_err(read_error)?;
    let snapshot = source.transaction().map_err(read_error)?;
    // Outside WAL mode a held read transaction would stop every commit until the copy ends, so
    // there the snapshot is not pinned and SQLite restarts the copy after a commit instead.
    if journal_mode.eq_ignore_ascii_case("wal") {
        snapshot
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| {
                row.get::<_, i64>(0)
            })
            .map_err(read_error)?;
    }
    let backup =
        Backup::new(&snapshot, copy).map_err(|e| format!("cannot start the backup: {e}"))?;
    let mut busy_since: Option<Instant> = None;
    loop {
        let step = backup
            .step(pages_per_step)
            .map_err(|e| format!("backup failed: {e}"))?;
        match step {
            StepResult::Done => break,
            StepResult::More => busy_since = None,
            // BUSY/LOCKED are transient (another connection holds a lock): retry, within reason.
            _ => {
                let since = *busy_since.get_or_insert_with(Instant::now);
                if since.elapsed() > BUSY_WAIT_MAX {
                    return Err(format!(
                        "backup gave up: the database stayed locked for {} ms",
                        BUSY_WAIT_MAX.as_millis()
                    ));
                }
            }
        }
        thread::sleep(PAUSE_BETWEEN_STEPS);
    }
    let page_count = u64::try_from(backup.progress().pagecount).unwrap_or(0);
    Ok((page_count, page_size))
}

/// The copy while it is being written, removed again unless it is persisted.
struct PartialFile {
    path: PathBuf,
    persisted: bool,
}

impl PartialFile {
    /// `FILE.partial-<pid>` in `destination`'s directory: the same file system, so the final
    /// rename is atomic; the pid keeps two concurrent backups apart.
    fn new(destination: &Path) -> Result<Self, String> {
        let name = destination
            .file_name()
            .ok_or_else(|| format!("{} is not a file name", destination.display()))?;
        let mut partial_name = name.to_owned();
        partial_name.push(format!(".partial-{}", std::process::id()));
        let path = destination.with_file_name(partial_name);
        // Left over from a crashed run that had our pid: never anyone's data.
        let _ = fs::remove_file(&path);
        // Owner-only from its first byte (the copy holds the generated keys too); the rename
        // keeps the mode, and SQLite gives the copy's journal the same one.
        crate::store::sqlite::create_private_file(&path);
        Ok(Self {
            path,
            persisted: false,
        })
    }

    /// Flushes the copy to disk, renames it to `destination`, flushes the directory entry, and
    /// returns the file's size.
    fn persist(mut self, destination: &Path) -> Result<u64, String> {
        let io_error = |what: &str, e: std::io::Error| format!("cannot {what}: {e}");
        File::open(&self.path)
            .and_then(|file| file.sync_all())
            .map_err(|e| io_error("flush the copy to disk", e))?;
        fs::rename(&self.path, destination)
            .map_err(|e| io_error(&format!("rename the copy to {}", destination.display()), e))?;
        self.persisted = true;
        sync_directory_of(destination)?;
        fs::metadata(destination)
            .map(|metadata| metadata.len())
            .map_err(|e| io_error("read the copy's size", e))
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = fs::remove_file(&self.path);
            let _ = fs::remove_file(sidecar(&self.path, "-journal"));
        }
    }
}

/// Flushes the directory holding `path`, so a rename into it survives a power cut.
pub(crate) fn sync_directory_of(path: &Path) -> Result<(), String> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(directory)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| format!("cannot flush the directory {}: {e}", directory.display()))
}

/// `bank.db` + `-wal` → `bank.db-wal`.
pub(crate) fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// A WAL database with a `pairs` table whose rows always come in pairs summing to zero,
    /// padded so that it spans many pages.
    fn live_database(path: &Path) -> Connection {
        let conn = Connection::open(path).expect("open");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("wal");
        conn.execute_batch(
            "CREATE TABLE pairs (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL, padding BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
             INSERT INTO pairs (amount, padding) SELECT 1 - 2 * (i % 2), zeroblob(512) FROM n;",
        )
        .expect("fill");
        conn
    }

    #[test]
    fn a_backup_of_a_database_being_written_is_one_consistent_snapshot() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let source = dir.path().join("live.db");
        let destination = dir.path().join("copy.db");
        let writer = live_database(&source);
        let stop = Arc::new(AtomicBool::new(false));
        let writing = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut commits = 0;
                while !stop.load(Ordering::Relaxed) {
                    writer
                        .execute_batch(
                            "BEGIN IMMEDIATE;
                             INSERT INTO pairs (amount, padding) VALUES (7, zeroblob(512));
                             INSERT INTO pairs (amount, padding) VALUES (-7, zeroblob(512));
                             COMMIT;",
                        )
                        .expect("write");
                    commits += 1;
                }
                commits
            })
        };

        // One page per step: hundreds of steps, each racing the writer.
        let summary = backup_in_steps(&source, &destination, false, 1).expect("backup");
        stop.store(true, Ordering::Relaxed);
        let commits = writing.join().expect("writer thread");

        assert!(commits > 0, "the writer was blocked");
        assert!(summary.page_count > 100, "{summary}");
        let copy = Connection::open(&destination).expect("open the copy");
        let (rows, total): (i64, i64) = copy
            .query_row("SELECT count(*), sum(amount) FROM pairs", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .expect("read the copy");
        assert!(rows >= 2000 && rows % 2 == 0, "{rows} rows");
        assert_eq!(total, 0, "the copy holds half a commit");
        let integrity: String = copy
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .expect("integrity_check");
        assert_eq!(integrity, "ok");
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .filter_map(Result::ok)
            .filter(|entry| entry.file_name().to_string_lossy().contains(".partial-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn an_existing_destination_is_refused_without_overwrite() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let source = dir.path().join("live.db");
        let destination = dir.path().join("copy.db");
        drop(live_database(&source));
        fs::write(&destination, b"keep me").expect("write");

        let error = backup(&source, &destination, false).expect_err("refused");

        assert!(error.contains("--force"), "{error}");
        assert_eq!(fs::read(&destination).expect("read"), b"keep me");
    }

    #[test]
    fn a_destination_with_a_live_wal_is_refused_even_with_overwrite() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let source = dir.path().join("live.db");
        let destination = dir.path().join("copy.db");
        drop(live_database(&source));
        fs::write(dir.path().join("copy.db-wal"), b"frames").expect("write");

        let error = backup(&source, &destination, true).expect_err("refused");

        assert!(error.contains("copy.db-wal is not empty"), "{error}");
        assert!(!destination.exists());
    }

    #[test]
    fn the_database_cannot_be_backed_up_onto_itself() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let source = dir.path().join("live.db");
        drop(live_database(&source));

        let error = backup(&source, &source, true).expect_err("refused");

        assert!(error.contains("being backed up"), "{error}");
    }
}
