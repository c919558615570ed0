//! PostgreSQL schema migrations, embedded in the binary from `migrations/postgres/` by
//! refinery, beside (not mixed with) SQLite's: the two schemas say the same thing in two
//! dialects, and each backend's history table records only its own files.
//!
//! Two things differ from SQLite, where one process owns the file:
//!
//! * **Several nodes may start at once** against one database, each running `migrate` before
//!   it serves. refinery takes no lock, so two would both create its history table or both
//!   apply V1, and one would fail half-way through start-up. [`run`] holds a session-level
//!   advisory lock for the whole run: the second node waits, then finds nothing to apply.
//! * **DDL is transactional** here, so all pending migrations are applied in one transaction
//!   (`set_grouped`): an upgrade across several versions lands whole or not at all.

use tokio_postgres::Client;

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// The advisory lock key that serialises migration runs across nodes: the first eight bytes
/// of "bankdmig" read as an integer, unlikely to collide with another application's keys in a
/// shared database.
const MIGRATION_LOCK_KEY: i64 = i64::from_be_bytes(*b"bankdmig");

/// One migration's state for `bankd migrate --list`.
pub struct MigrationState {
    pub name: String,
    pub applied: bool,
}

/// Applies pending migrations; returns the names of those applied now. Safe to call from many
/// nodes at once (see the module docs).
pub async fn run(client: &mut Client) -> Result<Vec<String>, String> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .map_err(|e| format!("cannot take the migration lock: {e}"))?;
    let outcome = embedded::migrations::runner()
        .set_abort_divergent(true)
        .set_grouped(true)
        .run_async(client)
        .await
        .map_err(|e| format!("migration failed: {e}"));
    // Released whatever happened: the connection may go back to a pool and live on. If the
    // connection itself is gone, so is the lock.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await;
    let report = outcome?;
    unlocked.map_err(|e| format!("cannot release the migration lock: {e}"))?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect())
}

/// Whether the database has refinery's history table, i.e. was ever migrated.
async fn has_history(client: &Client) -> Result<bool, String> {
    let row = client
        .query_one(
            "SELECT to_regclass('refinery_schema_history') IS NOT NULL",
            &[],
        )
        .await
        .map_err(|e| format!("cannot read the database: {e}"))?;
    row.try_get(0)
        .map_err(|e| format!("cannot read the database: {e}"))
}

/// Every embedded migration and whether the database has applied it.
pub async fn list(client: &mut Client) -> Result<Vec<MigrationState>, String> {
    let runner = embedded::migrations::runner();
    let applied = if has_history(client).await? {
        runner
            .get_applied_migrations_async(client)
            .await
            .map_err(|e| format!("cannot read migration history: {e}"))?
    } else {
        Vec::new()
    };
    Ok(runner
        .get_migrations()
        .iter()
        .map(|m| MigrationState {
            name: m.to_string(),
            applied: applied.iter().any(|a| a.version() == m.version()),
        })
        .collect())
}

/// Whether every embedded migration is applied (for `/readyz`). Read-only.
pub async fn is_current(client: &Client) -> Result<bool, String> {
    if !has_history(client).await? {
        return Ok(false);
    }
    let latest_embedded = embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0);
    let row = client
        .query_one(
            "SELECT max(version)::bigint FROM refinery_schema_history",
            &[],
        )
        .await
        .map_err(|e| format!("cannot read migration history: {e}"))?;
    let latest_applied: Option<i64> = row
        .try_get(0)
        .map_err(|e| format!("cannot read migration history: {e}"))?;
    Ok(latest_applied == Some(latest_embedded))
}
