//! Who is using a database file: an advisory lock (`flock`) on the database file itself, so
//! `bankd restore` can refuse to swap a database out from under a running server.
//!
//! Every bankd process that writes the database (`serve`, `migrate`, `createsuperuser`) holds a
//! *shared* lock for as long as it runs; `restore` takes an *exclusive* one, without waiting.
//! So a restore fails at once while any of them runs, and any of them fails at once while a
//! restore runs. The kernel drops a lock when its process dies, even by `SIGKILL`, so a crashed
//! server never blocks a restore.
//!
//! Why `flock` on the database file and not a pid file or SQLite's own locks: a pid file goes
//! stale when a process is killed and a recycled pid makes it lie; SQLite's locks in WAL mode
//! are taken only around transactions (an idle server holds none a second process can test
//! without disturbing it). `flock` locks are independent of the POSIX record locks SQLite uses,
//! so the two never interfere. The lock is advisory: a process other than bankd (the `sqlite3`
//! shell) is not seen, which is why DEPLOYMENT.md says to stop bankd and such tools first.

use std::fs::{File, TryLockError};
use std::path::Path;

/// A held lock on a database file; released when dropped (or when the process exits).
#[derive(Debug)]
pub struct DatabaseLock {
    _file: File,
}

impl DatabaseLock {
    /// The lock a process using the database holds: many may hold it at once. `Ok(None)` when
    /// there is no file yet (then there is nothing a restore could replace); `Err` while a
    /// restore holds the exclusive lock.
    pub fn shared(path: &Path) -> Result<Option<Self>, String> {
        let Some(file) = open_existing(path)? else {
            return Ok(None);
        };
        match file.try_lock_shared() {
            Ok(()) => Ok(Some(Self { _file: file })),
            Err(TryLockError::WouldBlock) => Err(format!(
                "{} is being restored by `bankd restore`; try again when it has finished",
                path.display()
            )),
            Err(TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
        }
    }

    /// The lock `bankd restore` holds while it replaces the file: no other holder at all.
    /// `Ok(None)` when there is no file to replace.
    pub fn exclusive(path: &Path) -> Result<Option<Self>, String> {
        let Some(file) = open_existing(path)? else {
            return Ok(None);
        };
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { _file: file })),
            Err(TryLockError::WouldBlock) => Err(format!(
                "{} is in use by a running bankd (serve, migrate or createsuperuser); \
                 stop it first (systemctl stop bankd)",
                path.display()
            )),
            Err(TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
        }
    }
}

/// Opens the file for locking only (read access is enough for `flock`); `None` if missing.
fn open_existing(path: &Path) -> Result<Option<File>, String> {
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot open {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_holders_coexist_and_exclude_an_exclusive_one() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("bank.db");
        std::fs::write(&path, b"").expect("create");

        let first = DatabaseLock::shared(&path).expect("first").expect("a file");
        let second = DatabaseLock::shared(&path)
            .expect("second")
            .expect("a file");
        let refused = DatabaseLock::exclusive(&path).expect_err("refused while shared");
        drop((first, second));
        let exclusive = DatabaseLock::exclusive(&path)
            .expect("free")
            .expect("a file");
        let shared_refused = DatabaseLock::shared(&path).expect_err("refused while exclusive");
        drop(exclusive);

        assert!(refused.contains("in use"), "{refused}");
        assert!(
            shared_refused.contains("being restored"),
            "{shared_refused}"
        );
    }

    #[test]
    fn a_missing_file_has_no_lock_and_is_not_created() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("absent.db");

        assert!(DatabaseLock::shared(&path).expect("no error").is_none());
        assert!(DatabaseLock::exclusive(&path).expect("no error").is_none());
        assert!(!path.exists());
    }
}
