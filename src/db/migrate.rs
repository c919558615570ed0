//! Schema migrations, embedded in the binary from `migrations/` by refinery.

use rusqlite::Connection;

refinery::embed_migrations!("migrations");

/// One migration's state for `bankd migrate --list`.
pub struct MigrationState {
    pub name: String,
    pub applied: bool,
}

/// Applies pending migrations; returns the names of those applied now.
pub fn run(conn: &mut Connection) -> Result<Vec<String>, String> {
    let report = migrations::runner()
        .set_abort_divergent(true)
        .run(conn)
        .map_err(|e| format!("migration failed: {e}"))?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect())
}

/// Every embedded migration and whether the database has applied it.
pub fn list(conn: &mut Connection) -> Result<Vec<MigrationState>, String> {
    let runner = migrations::runner();
    // A database that never ran a migration has no history table yet: everything is pending.
    let has_history: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'refinery_schema_history'",
            [],
            |row| row.get(0),
        )
        .map_err(|e| format!("cannot read the database: {e}"))?;
    let applied = if has_history {
        runner
            .get_applied_migrations(conn)
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
pub fn is_current(conn: &Connection) -> rusqlite::Result<bool> {
    let latest_embedded = migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0);
    let latest_applied: Option<i64> = conn.query_row(
        "SELECT max(version) FROM refinery_schema_history",
        [],
        |row| row.get(0),
    )?;
    Ok(latest_applied == Some(latest_embedded))
}
