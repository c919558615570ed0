//! Schema migrations, embedded in the binary from `migrations/` by refinery.

use rusqlite::Connection;

refinery::embed_migrations!("migrations/sqlite");

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

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;
    use crate::store::sqlite::audit::{self, AuditContext, AuditEvent, Outcome};

    type LedgerRow = (
        i64,
        i64,
        i64,
        String,
        i64,
        i64,
        Option<String>,
        Option<i64>,
        String,
    );

    fn ledger(conn: &Connection) -> Vec<LedgerRow> {
        conn.prepare(
            "SELECT id, account_id, customer_id, transaction_type, amount_cents, balance_after_cents,
                    counterparty_account_number, transfer_id, created_at
             FROM transactions ORDER BY id",
        )
        .expect("select")
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
    }

    /// A database made by the V2 layout (ledger in id order with two indexes, audit with three)
    /// holding a consistent history, upgraded to the current layout: every row is kept, ids and
    /// all, and `bankd verify` finds it sound.
    #[test]
    fn a_v2_database_with_history_upgrades_to_the_clustered_ledger_intact() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("bank.db");
        let mut conn = super::super::open_connection(&path).expect("open");
        migrations::runner()
            .set_target(refinery::Target::Version(2))
            .run(&mut conn)
            .expect("V1 and V2");
        conn.execute_batch(
            "INSERT INTO users (id, username, email, password_hash, date_joined)
                 VALUES (1, 'ann', 'a@example.com', 'x', '2026-01-01T00:00:00.000000Z'),
                        (2, 'bob', 'b@example.com', 'x', '2026-01-01T00:00:00.000000Z');
             INSERT INTO customers (id, user_id, full_name, email, created_at, updated_at)
                 VALUES (1, 1, 'Ann', 'a@example.com', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'),
                        (2, 2, 'Bob', 'b@example.com', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
             INSERT INTO accounts (id, account_number, customer_id, created_at, updated_at)
                 VALUES (1, 'ACC-000000001', 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'),
                        (2, 'ACC-000000002', 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'),
                        (3, 'ACC-000000003', 2, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');",
        )
        .expect("owners");
        // Deposits into every account, then transfers hopping between them, in time order, with
        // balances kept exactly as the ledger would.
        let numbers = ["ACC-000000001", "ACC-000000002", "ACC-000000003"];
        let customers = [1_i64, 1, 2];
        let mut balances = [0_i64; 3];
        let mut counts = [0_i64; 3];
        let at = |n: i64| {
            format!(
                "2026-02-01T00:00:{:02}.{:06}Z",
                n / 1_000_000,
                n % 1_000_000
            )
        };
        let mut clock = 0_i64;
        let leg = |conn: &Connection,
                   account: usize,
                   kind: &str,
                   amount: i64,
                   balance: i64,
                   counterparty: Option<&str>,
                   transfer: Option<i64>,
                   time: &str| {
            conn.execute(
                "INSERT INTO transactions (account_id, customer_id, transaction_type, amount_cents,
                     balance_after_cents, counterparty_account_number, transfer_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    account as i64 + 1,
                    customers[account],
                    kind,
                    amount,
                    balance,
                    counterparty,
                    transfer,
                    time
                ],
            )
            .expect("leg");
        };
        for account in 0..3 {
            clock += 1;
            balances[account] += 10_000;
            counts[account] += 1;
            leg(
                &conn,
                account,
                "deposit",
                10_000,
                balances[account],
                None,
                None,
                &at(clock),
            );
        }
        for n in 0..60_usize {
            clock += 1;
            let (from, to) = (n % 3, (n * 2 + 1) % 3);
            if from == to {
                continue;
            }
            let amount = 1 + (n as i64 * 37) % 500;
            let time = at(clock);
            let transfer: i64 = conn
                .query_row(
                    "INSERT INTO transfers (source_account_id, destination_account_id, amount_cents, created_at)
                     VALUES (?1, ?2, ?3, ?4) RETURNING id",
                    params![from as i64 + 1, to as i64 + 1, amount, time],
                    |r| r.get(0),
                )
                .expect("transfer");
            balances[from] -= amount;
            balances[to] += amount;
            counts[from] += 1;
            counts[to] += 1;
            leg(
                &conn,
                from,
                "transfer_out",
                amount,
                balances[from],
                Some(numbers[to]),
                Some(transfer),
                &time,
            );
            leg(
                &conn,
                to,
                "transfer_in",
                amount,
                balances[to],
                Some(numbers[from]),
                Some(transfer),
                &time,
            );
            let context = AuditContext {
                actor_user_id: Some(customers[from]),
                client_ip: "127.0.0.1".to_owned(),
                request_id: format!("r{n}"),
                client_request_id: None,
            };
            let event = AuditEvent {
                action: "transfer",
                object: Some(("account", from as i64 + 1)),
                outcome: Outcome::Success,
                details: serde_json::json!({ "transfer_id": transfer }),
            };
            audit::record_before_v5(&conn, &context, &event).expect("audit");
        }
        for account in 0..3 {
            conn.execute(
                "UPDATE accounts SET balance_cents = ?1, transaction_count = ?2 WHERE id = ?3",
                params![balances[account], counts[account], account as i64 + 1],
            )
            .expect("balances");
        }
        let before = ledger(&conn);
        let audit_rows: i64 = conn
            .query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0))
            .expect("audit rows");

        let applied = run(&mut conn).expect("the later migrations");

        assert_eq!(
            applied,
            [
                "V3__ledger_clustered_by_account",
                "V4__audit_filters_indexed_in_bulk",
                "V5__audit_client_request_id",
                "V6__auth_revocation",
                "V7__statements_cannot_be_deleted"
            ]
        );
        assert_eq!(ledger(&conn), before);
        let (by_actor, by_object, through): (i64, i64, i64) = conn
            .query_row(
                "SELECT (SELECT count(*) FROM audit_by_actor), (SELECT count(*) FROM audit_by_object),
                        (SELECT indexed_through FROM audit_index_state)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("filter tables");
        assert_eq!(
            (by_actor, by_object, through),
            (audit_rows, audit_rows, audit_rows)
        );
        drop(conn);
        let report = crate::store::sqlite::verify::verify(&path, None).expect("verify runs");
        assert!(report.is_sound(), "{report}");
    }
}
