//! `bankd verify`: proves, from the database alone, that the books balance and history was not
//! edited.
//!
//! Every check runs inside one read transaction, so on a live database (WAL mode, the server
//! still writing) they all see the same committed snapshot and a movement committed halfway
//! through cannot look like a discrepancy. The connection is opened read-only and never runs
//! migrations: verifying must not change what it verifies, and a mistyped path must be an
//! error, not a new empty bank that "verifies".
//!
//! Each ledger check is one set-based query (a `GROUP BY` or an indexed correlated subquery) that
//! returns only the rows that are wrong, so the cost is a few scans of the ledger whatever the
//! number of accounts, and a sound database sends nothing back to Rust. The audit chain is the
//! exception: its hashes can only be recomputed in Rust, row by row (`audit::verify_chain`).
//! Stored statements are recomputed from the ledger the same way (`statements.rs`).

mod statements;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, Row};

use crate::domain::money::format_cents;
use crate::limits::SQLITE_BUSY_TIMEOUT_MS;
use crate::store::sqlite::audit;

/// Problems printed per check; the rest are only counted ("... and 7 more"). One bad balance
/// is often a thousand, and the first twenty say what happened as well as all of them.
pub const PROBLEMS_LISTED_MAX: usize = 20;

/// `PRAGMA cache_size` for the verify connection: negative means KiB, so this is 64 MiB.
const VERIFY_CACHE_KIB_NEGATED: i64 = -64 * 1024;

/// Everything `verify` found, in the order the checks ran.
#[derive(Debug)]
pub struct Report {
    pub database: PathBuf,
    /// Row counts of the snapshot, for the report's first line.
    pub accounts: u64,
    pub ledger_rows: u64,
    pub transfers: u64,
    pub checks: Vec<Check>,
    /// How long the checks took, for the verdict line.
    pub elapsed: Duration,
}

/// One invariant and what broke it.
#[derive(Debug)]
pub struct Check {
    /// What must hold, as the report prints it.
    pub name: &'static str,
    /// The first `PROBLEMS_LISTED_MAX` problems, one line each, naming the account, transfer or
    /// row and the expected and found values.
    pub problems: Vec<String>,
    /// How many problems there are in all, listed or not.
    pub problem_count: u64,
    /// Shown after an OK (e.g. how many audit rows the chain covers); may be empty.
    pub note: String,
}

impl Check {
    pub fn passed(&self) -> bool {
        self.problem_count == 0
    }
}

impl Report {
    /// True only when every check passed.
    pub fn is_sound(&self) -> bool {
        self.checks.iter().all(Check::passed)
    }

    pub fn failed_count(&self) -> usize {
        self.checks.iter().filter(|check| !check.passed()).count()
    }
}

/// Opens an existing database read-only, without creating it and without migrations.
///
/// `SQLITE_OPEN_READ_ONLY` still reads a WAL-mode database another process is writing (it
/// shares the `-shm` index), and SQLite never creates a missing file with it; the explicit
/// existence check is only there to say so in words rather than "unable to open database file".
pub fn open_read_only(path: &Path) -> Result<Connection, String> {
    if !path.is_file() {
        return Err(format!("database {} does not exist", path.display()));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
    conn.busy_timeout(Duration::from_millis(u64::from(SQLITE_BUSY_TIMEOUT_MS)))
        .map_err(|e| format!("cannot configure database {}: {e}", path.display()))?;
    Ok(conn)
}

/// Runs every check on the database at `path`. `Err` means it could not be checked at all (no
/// such file, not a bankd database); a database that was checked and found broken is an `Ok`
/// report that is not sound.
pub fn verify(path: &Path, recorded_head: Option<&audit::ChainHead>) -> Result<Report, String> {
    let started = Instant::now();
    let mut conn = open_read_only(path)?;
    // The checks revisit the ledger's pages several times; 64 MiB of page cache instead of
    // SQLite's 2 MiB roughly halves the system time on a 3-million-row ledger. It costs only
    // this short-lived process.
    conn.pragma_update(None, "cache_size", VERIFY_CACHE_KIB_NEGATED)
        .map_err(|e| format!("cannot configure database {}: {e}", path.display()))?;
    // A deferred transaction takes its snapshot at the first read and keeps it to the end.
    let snapshot = conn
        .transaction()
        .map_err(|e| format!("cannot start a read transaction: {e}"))?;
    let (accounts, ledger_rows, transfers) = snapshot
        .query_row(
            "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM transactions),
                    (SELECT count(*) FROM transfers)",
            [],
            |row| {
                let count = |i: usize| row.get::<_, i64>(i).map(i64::unsigned_abs);
                Ok((count(0)?, count(1)?, count(2)?))
            },
        )
        .map_err(|e| format!("{} is not a readable bankd database: {e}", path.display()))?;
    let checks = vec![
        balance_equals_ledger_sum(&snapshot),
        balance_equals_latest_balance_after(&snapshot),
        transaction_count_equals_ledger_rows(&snapshot),
        no_negative_balance(&snapshot),
        transfers_have_two_legs(&snapshot),
        statements::statement_figures_match_the_ledger(&snapshot),
        statements::statement_ids_have_no_gaps(&snapshot),
        audit_chain_is_unbroken(&snapshot, recorded_head),
        audit_filter_tables_match_the_log(&snapshot),
        integrity_check(&snapshot),
        foreign_keys_resolve(&snapshot),
    ];
    Ok(Report {
        database: path.to_owned(),
        accounts,
        ledger_rows,
        transfers,
        checks,
        elapsed: started.elapsed(),
    })
}

/// A ledger row's signed effect on its account, in SQL.
const SIGNED_AMOUNT: &str = "CASE WHEN transaction_type IN ('deposit', 'transfer_in') \
     THEN amount_cents ELSE -amount_cents END";

fn balance_equals_ledger_sum(conn: &Connection) -> Check {
    // The ledger table is clustered by account (migration V3): one sequential scan delivers the
    // rows already grouped. `NOT INDEXED` keeps SQLite on the table itself.
    let sql = format!(
        "SELECT account.id, account.account_number, account.balance_cents,
                coalesce(ledger.total_cents, 0)
         FROM accounts AS account
         LEFT JOIN (SELECT account_id, sum({SIGNED_AMOUNT}) AS total_cents
                    FROM transactions NOT INDEXED GROUP BY account_id) AS ledger
                ON ledger.account_id = account.id
         WHERE account.balance_cents IS NOT coalesce(ledger.total_cents, 0)
         ORDER BY account.id"
    );
    run_query_check(
        conn,
        "every balance equals the sum of its ledger rows",
        &sql,
        |row| {
            Ok(format!(
                "{}: balance {}, ledger rows sum to {}",
                account_label(row, 0, 1)?,
                format_cents(row.get(2)?),
                format_cents(row.get(3)?)
            ))
        },
    )
}

fn balance_equals_latest_balance_after(conn: &Connection) -> Check {
    // The correlated subquery is one seek per account to the end of its range of the ledger
    // table (keyed account_id, created_at, id), then one probe of transactions_id.
    let sql = "SELECT account.id, account.account_number, account.balance_cents,
                      latest.id, coalesce(latest.balance_after_cents, 0)
               FROM accounts AS account
               LEFT JOIN transactions AS latest ON latest.id =
                    (SELECT id FROM transactions WHERE account_id = account.id
                     ORDER BY created_at DESC, id DESC LIMIT 1)
               WHERE account.balance_cents IS NOT coalesce(latest.balance_after_cents, 0)
               ORDER BY account.id";
    run_query_check(
        conn,
        "every balance equals the balance_after of its latest ledger row",
        sql,
        |row| {
            let latest = match row.get::<_, Option<i64>>(3)? {
                Some(id) => format!("transaction {id}"),
                None => "no ledger rows".to_owned(),
            };
            Ok(format!(
                "{}: balance {}, latest balance_after {} ({latest})",
                account_label(row, 0, 1)?,
                format_cents(row.get(2)?),
                format_cents(row.get(4)?)
            ))
        },
    )
}

fn transaction_count_equals_ledger_rows(conn: &Connection) -> Check {
    let sql = "SELECT account.id, account.account_number, account.transaction_count,
                      coalesce(ledger.row_count, 0)
               FROM accounts AS account
               LEFT JOIN (SELECT account_id, count(*) AS row_count
                          FROM transactions GROUP BY account_id) AS ledger
                      ON ledger.account_id = account.id
               WHERE account.transaction_count IS NOT coalesce(ledger.row_count, 0)
               ORDER BY account.id";
    run_query_check(
        conn,
        "every transaction_count equals its number of ledger rows",
        sql,
        |row| {
            Ok(format!(
                "{}: transaction_count {}, ledger rows {}",
                account_label(row, 0, 1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?
            ))
        },
    )
}

fn no_negative_balance(conn: &Connection) -> Check {
    // The schema's CHECKs forbid both, so a hit means they were bypassed
    // (`PRAGMA ignore_check_constraints`) or the file was edited outside SQLite.
    let sql = "SELECT 'account ' || id || ' (' || account_number || ')', balance_cents,
                      'balance'
               FROM accounts WHERE balance_cents < 0
               UNION ALL
               SELECT 'transaction ' || id || ' (account ' || account_id || ')',
                      balance_after_cents, 'balance_after'
               FROM transactions WHERE balance_after_cents < 0";
    run_query_check(conn, "no balance is negative", sql, |row| {
        Ok(format!(
            "{}: {} {}",
            row.get::<_, String>(0)?,
            row.get::<_, String>(2)?,
            format_cents(row.get(1)?)
        ))
    })
}

fn transfers_have_two_legs(conn: &Connection) -> Check {
    // No index leads with `transactions.transfer_id` (nothing else needs one), so the legs are
    // summarised per transfer in one scan and sort, then joined to `transfers` by key; joining
    // first would make SQLite build a throwaway index over the whole ledger. A sound transfer
    // has exactly one transfer_out on its source and one transfer_in on its destination, both
    // of its amount, and nothing else; such legs sum to zero. A leg naming a transfer that does
    // not exist is a dangling reference, which `foreign_keys_resolve` reports.
    let sql = "WITH legs AS (
                   SELECT transfer_id,
                          count(*) AS leg_count,
                          sum(transaction_type = 'transfer_out') AS out_count,
                          sum(CASE WHEN transaction_type = 'transfer_out' THEN amount_cents END)
                              AS out_cents,
                          max(CASE WHEN transaction_type = 'transfer_out' THEN account_id END)
                              AS out_account,
                          sum(transaction_type = 'transfer_in') AS in_count,
                          sum(CASE WHEN transaction_type = 'transfer_in' THEN amount_cents END)
                              AS in_cents,
                          max(CASE WHEN transaction_type = 'transfer_in' THEN account_id END)
                              AS in_account
                   FROM transactions WHERE transfer_id IS NOT NULL GROUP BY transfer_id)
               SELECT transfer.id, transfer.source_account_id, transfer.destination_account_id,
                      transfer.amount_cents, coalesce(legs.leg_count, 0),
                      coalesce(legs.out_count, 0), legs.out_cents, legs.out_account,
                      coalesce(legs.in_count, 0), legs.in_cents, legs.in_account
               FROM transfers AS transfer
               LEFT JOIN legs ON legs.transfer_id = transfer.id
               WHERE legs.leg_count IS NOT 2
                  OR legs.out_count IS NOT 1 OR legs.in_count IS NOT 1
                  OR legs.out_account IS NOT transfer.source_account_id
                  OR legs.in_account IS NOT transfer.destination_account_id
                  OR legs.out_cents IS NOT transfer.amount_cents
                  OR legs.in_cents IS NOT transfer.amount_cents
               ORDER BY transfer.id";
    run_query_check(
        conn,
        "every transfer has two legs (out of the source, into the destination) that sum to zero",
        sql,
        |row| {
            let amount = format_cents(row.get(3)?);
            let out_cents: Option<i64> = row.get(6)?;
            let in_cents: Option<i64> = row.get(9)?;
            let net = in_cents.unwrap_or(0) - out_cents.unwrap_or(0);
            Ok(format!(
                "transfer {}: expected transfer_out of {amount} from account {} and transfer_in \
                 of {amount} to account {}, found {} leg(s) summing to {} (transfer_out: {}; \
                 transfer_in: {})",
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(4)?,
                format_cents(net),
                describe_legs(row.get(5)?, out_cents, row.get(7)?),
                describe_legs(row.get(8)?, in_cents, row.get(10)?),
            ))
        },
    )
}

/// "none", "0.03 on account 3", or "2 legs, 0.06 in all" for one direction of a transfer.
fn describe_legs(count: i64, cents: Option<i64>, account: Option<i64>) -> String {
    match (count, cents, account) {
        (0, _, _) => "none".to_owned(),
        (1, Some(cents), Some(account)) => format!("{} on account {account}", format_cents(cents)),
        (count, cents, _) => format!("{count} legs, {} in all", format_cents(cents.unwrap_or(0))),
    }
}

fn audit_filter_tables_match_the_log(conn: &Connection) -> Check {
    // The staff audit filters read these tables up to `indexed_through` (migration V4): every
    // row up to there must be in them, and every entry must name a row that says the same.
    let sql = "SELECT 'audit row ' || l.id || ' (actor ' || l.actor_user_id || ') is missing from audit_by_actor'
               FROM audit_log l
               WHERE l.id <= (SELECT indexed_through FROM audit_index_state)
                 AND l.actor_user_id IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM audit_by_actor x
                                 WHERE x.actor_user_id = l.actor_user_id AND x.audit_id = l.id)
               UNION ALL
               SELECT 'audit row ' || l.id || ' (' || l.object_type || ' ' || l.object_id || ') is missing from audit_by_object'
               FROM audit_log l
               WHERE l.id <= (SELECT indexed_through FROM audit_index_state)
                 AND l.object_type IS NOT NULL AND l.object_id IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM audit_by_object x
                                 WHERE x.object_type = l.object_type AND x.object_id = l.object_id
                                   AND x.audit_id = l.id)
               UNION ALL
               SELECT 'audit_by_actor entry (' || x.actor_user_id || ', ' || x.audit_id || ') matches no audit row'
               FROM audit_by_actor x
               WHERE NOT EXISTS (SELECT 1 FROM audit_log l
                                 WHERE l.id = x.audit_id AND l.actor_user_id = x.actor_user_id)
               UNION ALL
               SELECT 'audit_by_object entry (' || x.object_type || ' ' || x.object_id || ', ' || x.audit_id || ') matches no audit row'
               FROM audit_by_object x
               WHERE NOT EXISTS (SELECT 1 FROM audit_log l
                                 WHERE l.id = x.audit_id AND l.object_type = x.object_type
                                   AND l.object_id = x.object_id)";
    run_query_check(
        conn,
        "the audit filter tables agree with the audit log",
        sql,
        |row| row.get(0),
    )
}

fn audit_chain_is_unbroken(conn: &Connection, recorded_head: Option<&audit::ChainHead>) -> Check {
    let name = "the audit hash chain is unbroken";
    match audit::verify_chain(conn, recorded_head) {
        Ok((rows, head)) => Check {
            note: match head {
                Some(head) => {
                    format!("{rows} rows; head {head} — record it to detect later truncation")
                }
                None => format!("{rows} rows"),
            },
            ..passed(name)
        },
        // The chain stops at its first broken link: everything after it is unproven anyway.
        Err(broken) => failed(name, vec![broken], 1),
    }
}

fn integrity_check(conn: &Connection) -> Check {
    // `integrity_check` reports at most 100 errors by default, which is plenty to act on.
    run_query_check(
        conn,
        "SQLite integrity_check",
        "PRAGMA integrity_check",
        |row| row.get::<_, String>(0),
    )
    .without_ok_row()
}

fn foreign_keys_resolve(conn: &Connection) -> Check {
    run_query_check(
        conn,
        "every foreign key resolves (foreign_key_check)",
        "PRAGMA foreign_key_check",
        |row| {
            // WITHOUT ROWID tables (auth_tokens, ...) have no rowid to name.
            let rowid = match row.get::<_, Option<i64>>(1)? {
                Some(rowid) => format!("row {rowid}"),
                None => "a row".to_owned(),
            };
            Ok(format!(
                "{} {rowid} references a missing {} row",
                row.get::<_, String>(0)?,
                row.get::<_, String>(2)?
            ))
        },
    )
}

impl Check {
    /// `integrity_check` answers a single row "ok" when sound: that row is not a problem.
    fn without_ok_row(self) -> Self {
        if self.problem_count == 1 && self.problems.first().is_some_and(|line| line == "ok") {
            passed(self.name)
        } else {
            self
        }
    }
}

/// Runs a query whose every row is a problem, keeping the first `PROBLEMS_LISTED_MAX` and
/// counting the rest. A query that fails (a missing table, a corrupt page) is itself a problem:
/// the other checks still run, so one broken thing does not hide the others.
fn run_query_check(
    conn: &Connection,
    name: &'static str,
    sql: &str,
    describe: impl Fn(&Row<'_>) -> rusqlite::Result<String>,
) -> Check {
    let outcome = (|| {
        let mut statement = conn.prepare(sql)?;
        let mut rows = statement.query([])?;
        let mut problems = Vec::new();
        let mut problem_count = 0;
        while let Some(row) = rows.next()? {
            problem_count += 1;
            if problems.len() < PROBLEMS_LISTED_MAX {
                problems.push(describe(row)?);
            }
        }
        Ok::<_, rusqlite::Error>((problems, problem_count))
    })();
    match outcome {
        Ok((problems, problem_count)) => failed(name, problems, problem_count),
        Err(error) => failed(name, vec![format!("could not run the check: {error}")], 1),
    }
}

fn passed(name: &'static str) -> Check {
    failed(name, Vec::new(), 0)
}

fn failed(name: &'static str, problems: Vec<String>, problem_count: u64) -> Check {
    Check {
        name,
        problems,
        problem_count,
        note: String::new(),
    }
}

/// "account 3 (ACC-123456789)" from the id and number columns.
fn account_label(row: &Row<'_>, id: usize, number: usize) -> rusqlite::Result<String> {
    Ok(format!(
        "account {} ({})",
        row.get::<_, i64>(id)?,
        row.get::<_, String>(number)?
    ))
}

/// The report as `bankd verify` prints it: a header, one `OK` / `FAILED` line per check with
/// its problems indented below, and a verdict.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Verifying {} ({} accounts, {} ledger rows, {} transfers)",
            self.database.display(),
            self.accounts,
            self.ledger_rows,
            self.transfers
        )?;
        for check in &self.checks {
            if check.passed() {
                match check.note.as_str() {
                    "" => writeln!(f, "OK      {}", check.name)?,
                    note => writeln!(f, "OK      {} ({note})", check.name)?,
                }
                continue;
            }
            let plural = if check.problem_count == 1 { "" } else { "s" };
            writeln!(
                f,
                "FAILED  {} ({} problem{plural})",
                check.name, check.problem_count
            )?;
            for problem in &check.problems {
                writeln!(f, "        - {problem}")?;
            }
            let unlisted = check
                .problem_count
                .saturating_sub(check.problems.len() as u64);
            if unlisted > 0 {
                writeln!(f, "        ... and {unlisted} more")?;
            }
        }
        let seconds = self.elapsed.as_secs_f64();
        match self.failed_count() {
            0 => write!(
                f,
                "Database is sound: all {} checks passed in {seconds:.1} s.",
                self.checks.len()
            ),
            failed => write!(
                f,
                "Database is NOT sound: {failed} of {} checks failed ({seconds:.1} s).",
                self.checks.len()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(checks: Vec<Check>) -> Report {
        Report {
            database: PathBuf::from("bank.db"),
            accounts: 2,
            ledger_rows: 3,
            transfers: 1,
            checks,
            elapsed: Duration::from_millis(1234),
        }
    }

    #[test]
    fn a_failed_check_lists_its_first_problems_and_counts_the_rest() {
        let problems = (1..=PROBLEMS_LISTED_MAX)
            .map(|n| format!("account {n}"))
            .collect();
        let text = report(vec![passed("first"), failed("second", problems, 27)]).to_string();
        assert!(text.contains("OK      first\n"), "{text}");
        assert!(text.contains("FAILED  second (27 problems)\n"), "{text}");
        assert!(text.contains("        - account 20\n"), "{text}");
        assert!(text.contains("        ... and 7 more\n"), "{text}");
        assert!(
            text.ends_with("Database is NOT sound: 1 of 2 checks failed (1.2 s)."),
            "{text}"
        );
    }

    #[test]
    fn a_sound_report_says_so() {
        let text = report(vec![passed("first")]).to_string();
        assert!(
            text.ends_with("Database is sound: all 1 checks passed in 1.2 s."),
            "{text}"
        );
    }

    #[test]
    fn a_missing_database_is_an_error_and_is_not_created() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("absent.db");
        let error = verify(&path, None).expect_err("no database to verify");
        assert!(error.contains("does not exist"), "{error}");
        assert!(!path.exists());
    }
}
