//! One-shot maintenance for the command line: apply or list migrations, back up, restore,
//! verify, and the claim a process holds while it uses the database.
//!
//! Unlike the rest of the store, these work on a database that is *not* open: a backup must not
//! migrate the file it copies, a restore replaces the file, and `migrate --list` must not create
//! one. So they are associated functions that take the configuration, which names the backend
//! (today only the SQLite file `database.path`; issue 14's database URL chooses here), rather
//! than methods of an open `Store`. Each backend implements them its own way: on SQLite they
//! are file-level operations (`sqlite::backup`, `sqlite::restore`, `sqlite::verify`).
//!
//! The reports are re-exported under backend-neutral names, so the CLI prints them without
//! naming the backend.

use std::path::Path;

use crate::config::Config;
use crate::store::{Store, sqlite};

pub use crate::store::sqlite::audit::ChainHead as AuditHead;
pub use crate::store::sqlite::backup::BackupSummary;
pub use crate::store::sqlite::migrate::MigrationState;
pub use crate::store::sqlite::restore::{RestoreError, Restored};
pub use crate::store::sqlite::verify::Report as VerifyReport;

/// A process's claim that it uses the database, held for as long as it runs: `restore` refuses
/// to replace a database while any claim is held (on SQLite, a shared `flock` on the file; see
/// `sqlite/lock.rs`). Released when dropped.
#[derive(Debug)]
pub struct InUse {
    sqlite_lock: Option<sqlite::lock::DatabaseLock>,
}

impl InUse {
    /// Whether there was a database to claim (a missing SQLite file cannot be locked yet).
    pub fn is_held(&self) -> bool {
        self.sqlite_lock.is_some()
    }
}

impl Store {
    /// Claims the configured database for this process (see [`InUse`]); `Err` while a restore
    /// is replacing it.
    pub fn claim_in_use(config: &Config) -> Result<InUse, String> {
        Ok(InUse {
            sqlite_lock: sqlite::lock::DatabaseLock::shared(&config.database_path)?,
        })
    }

    /// Opens (and migrates) the configured database for a one-shot command: like
    /// [`Store::open`], with a single reader, which is all a command needs.
    pub fn open_for_command(config: &Config) -> Result<Self, String> {
        let settings = sqlite::DbSettings {
            readers: 1,
            ..sqlite::DbSettings::from_config(config)
        };
        Ok(Self::Sqlite(sqlite::Db::open(
            &config.database_path,
            settings,
        )?))
    }

    /// Applies pending migrations (creating the database if needed); returns the names of those
    /// applied now.
    pub fn migrate(config: &Config) -> Result<Vec<String>, String> {
        let path = &config.database_path;
        let _claim = Self::claim_in_use(config)?;
        let mut conn = sqlite::open_connection(path)
            .map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
        sqlite::migrate::run(&mut conn)
    }

    /// Every migration and whether the database has applied it. Changes nothing, and creates no
    /// database: a missing one simply has every migration pending.
    pub fn migrations(config: &Config) -> Result<Vec<MigrationState>, String> {
        let path = &config.database_path;
        let _claim = Self::claim_in_use(config)?;
        let mut conn = if path.exists() {
            sqlite::open_connection(path)
        } else {
            rusqlite::Connection::open_in_memory()
        }
        .map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
        sqlite::migrate::list(&mut conn)
    }

    /// Copies the live database to `destination` (SQLite's online backup API), replacing an
    /// existing file only when `overwrite`.
    pub fn backup(
        config: &Config,
        destination: &Path,
        overwrite: bool,
    ) -> Result<BackupSummary, String> {
        sqlite::backup::backup(&config.database_path, destination, overwrite)
    }

    /// Replaces the database with a verified copy of `backup`, keeping the old one aside under a
    /// name stamped `now` (`20261203T124500Z`); refused while the database is in use.
    pub fn restore(config: &Config, backup: &Path, now: &str) -> Result<Restored, RestoreError> {
        sqlite::restore::restore(backup, &config.database_path, now)
    }

    /// Checks the ledger invariants, the audit chain (and that `audit_head`, when given, is still
    /// in it) and the database's own integrity, read-only.
    pub fn verify(config: &Config, audit_head: Option<&AuditHead>) -> Result<VerifyReport, String> {
        sqlite::verify::verify(&config.database_path, audit_head)
    }

    /// The `verify --json` document for a database that could not be checked at all.
    pub fn verify_error_json(config: &Config, error: &str) -> serde_json::Value {
        sqlite::verify_json::error_json(&config.database_path, error)
    }
}
