//! `bankd restore BACKUP`: puts a backup in place of the database, safely.
//!
//! In order, each step only once the previous one succeeded:
//!
//! 1. **Nobody is using the database**: take the exclusive `DatabaseLock` (see `lock.rs`);
//!    a running `bankd serve` holds a shared one, so the restore is refused, and a server
//!    started during the restore refuses to start. The lock is held to the end.
//! 2. **The backup is sound**: the same checks as `bankd verify`; a backup that fails any of
//!    them is refused and nothing is changed.
//! 3. **Copy, not move**: the backup is copied with SQLite's backup API (its own `-wal`, if it
//!    has one, included) to a temporary file beside the database, fsynced (`backup.rs`), so the
//!    final step is a rename within one file system. The backup file itself is never touched.
//! 4. **Keep what was there**: the current database gets a second name,
//!    `bank.db.before-restore-<UTC time>` (a hard link, so `bank.db` never stops existing), and
//!    its `-wal` and `-journal` move to that name's sidecars, where SQLite will replay them if
//!    the old database is ever opened. `-shm` is only an index of the WAL and is deleted.
//!    A stale `-wal` left beside the restored file would be replayed into it and corrupt it.
//! 5. **Swap atomically**: rename the temporary file over `bank.db`, fsync the directory.
//! 6. **Check the result** where it will run: `bankd verify` again, on `bank.db`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::store::sqlite::backup::{self, sidecar};
use crate::store::sqlite::lock::DatabaseLock;
use crate::store::sqlite::verify::{self, Report};

/// What a finished restore did, for the command to print.
#[derive(Debug)]
pub struct Restored {
    /// The database as it was before, under its new name; `None` when there was none.
    pub kept_aside: Option<PathBuf>,
    /// `bankd verify` of the backup, before anything changed.
    pub backup_report: Report,
    /// `bankd verify` of the restored database, in place.
    pub restored_report: Report,
}

/// Why a restore did not happen (or did not finish). Whatever the cause, the database is
/// either untouched or, after step 5, the restored one; the old one is never deleted.
#[derive(Debug)]
pub struct RestoreError {
    pub message: String,
    /// The backup's verify report when that is why it was refused, for the command to print.
    pub backup_report: Option<Report>,
}

impl From<String> for RestoreError {
    fn from(message: String) -> Self {
        Self {
            message,
            backup_report: None,
        }
    }
}

/// Replaces the database at `database` with a verified copy of `backup_path` (see the module
/// comment for the steps). `now` names the kept-aside file (`20261203T124500Z`).
pub fn restore(backup_path: &Path, database: &Path, now: &str) -> Result<Restored, RestoreError> {
    refuse_same_file(backup_path, database)?;
    let _lock = DatabaseLock::exclusive(database)?;

    let backup_report = verify::verify(backup_path, None)?;
    if !backup_report.is_sound() {
        return Err(RestoreError {
            message: format!(
                "the backup {} is not sound ({} of {} checks failed); nothing was changed",
                backup_path.display(),
                backup_report.failed_count(),
                backup_report.checks.len()
            ),
            backup_report: Some(backup_report),
        });
    }

    let staging = Staging::new(database)?;
    backup::backup(backup_path, &staging.path, true)?;
    // The restored file keeps the permissions the database had (0600 under bankd's UMask).
    if let Ok(metadata) = fs::metadata(database) {
        fs::set_permissions(&staging.path, metadata.permissions())
            .map_err(|e| format!("cannot set the permissions of the copy: {e}"))?;
    }
    let kept_aside = keep_aside(database, now)?;
    fs::rename(&staging.path, database).map_err(|e| {
        format!(
            "cannot rename {} to {}: {e}",
            staging.path.display(),
            database.display()
        )
    })?;
    backup::sync_directory_of(database)?;

    let restored_report = verify::verify(database, None)?;
    Ok(Restored {
        kept_aside,
        backup_report,
        restored_report,
    })
}

/// Restoring a file onto itself would keep it aside and then fail to read it.
fn refuse_same_file(backup_path: &Path, database: &Path) -> Result<(), String> {
    if let (Ok(backup), Ok(target)) = (backup_path.canonicalize(), database.canonicalize())
        && backup == target
    {
        return Err(format!(
            "{} is the database itself; restore from a backup file",
            backup_path.display()
        ));
    }
    Ok(())
}

/// Gives the current database its kept-aside name (step 4); `None` when there is none.
fn keep_aside(database: &Path, now: &str) -> Result<Option<PathBuf>, String> {
    if fs::symlink_metadata(database).is_err() {
        return Ok(None);
    }
    let mut name = database.as_os_str().to_owned();
    name.push(format!(".before-restore-{now}"));
    let aside = PathBuf::from(name);
    fs::hard_link(database, &aside).map_err(|e| {
        format!(
            "cannot keep the current database as {}: {e}; nothing was changed",
            aside.display()
        )
    })?;
    for suffix in ["-wal", "-journal"] {
        let from = sidecar(database, suffix);
        if fs::symlink_metadata(&from).is_ok() {
            fs::rename(&from, sidecar(&aside, suffix))
                .map_err(|e| format!("cannot move {} aside: {e}", from.display()))?;
        }
    }
    let shm = sidecar(database, "-shm");
    match fs::remove_file(&shm) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot remove {}: {e}", shm.display())),
    }
    Ok(Some(aside))
}

/// The copy of the backup beside the database until it is renamed over it; removed on failure.
struct Staging {
    path: PathBuf,
}

impl Staging {
    fn new(database: &Path) -> Result<Self, String> {
        let mut name = database
            .file_name()
            .ok_or_else(|| format!("{} is not a file name", database.display()))?
            .to_owned();
        name.push(format!(".restoring-{}", std::process::id()));
        let path = database.with_file_name(name);
        // Left over from a crashed restore that had our pid: never anyone's data.
        let _ = fs::remove_file(&path);
        Ok(Self { path })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // After a successful rename there is nothing left under this name.
        let _ = fs::remove_file(&self.path);
        let _ = fs::remove_file(sidecar(&self.path, "-wal"));
        let _ = fs::remove_file(sidecar(&self.path, "-shm"));
    }
}
