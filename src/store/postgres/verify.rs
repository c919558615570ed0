//! `bankd verify` on PostgreSQL: the checks of `sqlite/verify` that apply to this schema, in
//! the same report (`sqlite::verify::Report`, printed and turned into JSON by the same code).
//!
//! Every check runs in one `REPEATABLE READ READ ONLY` transaction: one snapshot, so on a live
//! bank a movement committed halfway through cannot look like a discrepancy. Each check runs in
//! a savepoint, because a failed statement aborts a PostgreSQL transaction: a check that cannot
//! run is reported as a problem of its own and the others still run, as on SQLite.
//!
//! What is not carried over, and why: SQLite's `integrity_check` (the server checks its own
//! pages; `amcheck` is an operator's tool, not ours), `foreign_key_check` (PostgreSQL enforces
//! foreign keys at every write and cannot be told to skip them short of dropping the
//! constraint), and the audit filter tables (SQLite only; PostgreSQL indexes `audit_log`
//! itself). Added: audit rows still waiting in `audit_pending` longer than
//! [`PENDING_AGE_WARNING_SECS`]. That one is a warning, in the check's note, not a failure: a
//! pending row is not an unsound row, but a sealer that stopped is worth a look.

use std::path::PathBuf;
use std::time::Instant;

use deadpool_postgres::{Pool, Transaction};
use tokio_postgres::{IsolationLevel, Row};

use crate::domain::money::format_cents;
use crate::store::audit::chain::{CanonicalRow, ChainHead, ChainWalk};
use crate::store::sqlite::verify::{Check, PROBLEMS_LISTED_MAX, Report};

/// A pending audit row older than this is reported: sealers run every ~100 ms, so a few
/// seconds means none is running.
pub const PENDING_AGE_WARNING_SECS: f64 = 5.0;

/// Audit rows read per query while the chain is walked: memory stays flat however long it is.
const AUDIT_ROWS_PER_PAGE: i64 = 5_000;

/// Runs every check on the database behind `pool`. `Err` means it could not be checked at all;
/// a database checked and found broken is an `Ok` report that is not sound. `recorded_head`,
/// when given, must still be in the chain with its hash.
pub async fn verify(pool: &Pool, recorded_head: Option<&ChainHead>) -> Result<Report, String> {
    let started = Instant::now();
    let mut client = pool
        .get()
        .await
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    let snapshot = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| format!("cannot start a read transaction: {e}"))?;
    let counts = snapshot
        .query_one(
            "SELECT current_database()::text, (SELECT count(*) FROM accounts),
                    (SELECT count(*) FROM transactions), (SELECT count(*) FROM transfers)",
            &[],
        )
        .await
        .map_err(|e| format!("not a readable bankd database: {e}"))?;
    let count = |i: usize| counts.get::<_, i64>(i).unsigned_abs();
    let mut checks = Vec::new();
    for (name, sql, describe) in LEDGER_CHECKS {
        checks.push(run_query_check(&snapshot, name, sql, *describe).await);
    }
    checks.push(audit_chain_is_unbroken(&snapshot, recorded_head).await);
    checks.push(pending_audit_rows_are_sealed(&snapshot).await);
    // Read-only: nothing to keep, and ending it either way releases the snapshot.
    snapshot
        .rollback()
        .await
        .map_err(|e| format!("cannot end the read transaction: {e}"))?;
    Ok(Report {
        // Never the URL: it may hold a password.
        database: PathBuf::from(format!(
            "PostgreSQL database {}",
            counts.get::<_, String>(0)
        )),
        accounts: count(1),
        ledger_rows: count(2),
        transfers: count(3),
        checks,
        elapsed: started.elapsed(),
    })
}

/// Turns one problem row into its line in the report.
type Describe = fn(&Row) -> Result<String, tokio_postgres::Error>;

/// A ledger row's signed effect on its account, in SQL.
macro_rules! signed_amount {
    () => {
        "CASE WHEN transaction_type IN ('deposit', 'transfer_in') \
         THEN amount_cents ELSE -amount_cents END"
    };
}

/// The set-based checks, in the order SQLite runs them, each a query whose every row is a
/// problem. The SQL is SQLite's with PostgreSQL's spelling (`IS DISTINCT FROM` for `IS NOT`,
/// `FILTER` for summed booleans, `sum()` cast back from numeric to bigint); the names and the
/// problem lines are SQLite's, so a report reads the same on either backend.
const LEDGER_CHECKS: &[(&str, &str, Describe)] = &[
    (
        "every balance equals the sum of its ledger rows",
        concat!(
            "SELECT account.id, account.account_number, account.balance_cents,
                    coalesce(ledger.total_cents, 0)::bigint
             FROM accounts AS account
             LEFT JOIN (SELECT account_id, sum(",
            signed_amount!(),
            ") AS total_cents FROM transactions GROUP BY account_id) AS ledger
                    ON ledger.account_id = account.id
             WHERE account.balance_cents IS DISTINCT FROM coalesce(ledger.total_cents, 0)
             ORDER BY account.id"
        ),
        |row| {
            Ok(format!(
                "{}: balance {}, ledger rows sum to {}",
                account_label(row)?,
                format_cents(row.try_get(2)?),
                format_cents(row.try_get(3)?)
            ))
        },
    ),
    (
        "every balance equals the balance_after of its latest ledger row",
        "SELECT account.id, account.account_number, account.balance_cents,
                latest.id, coalesce(latest.balance_after_cents, 0)
         FROM accounts AS account
         LEFT JOIN transactions AS latest ON latest.id =
              (SELECT id FROM transactions WHERE account_id = account.id
               ORDER BY created_at DESC, id DESC LIMIT 1)
         WHERE account.balance_cents IS DISTINCT FROM coalesce(latest.balance_after_cents, 0)
         ORDER BY account.id",
        |row| {
            let latest = match row.try_get::<_, Option<i64>>(3)? {
                Some(id) => format!("transaction {id}"),
                None => "no ledger rows".to_owned(),
            };
            Ok(format!(
                "{}: balance {}, latest balance_after {} ({latest})",
                account_label(row)?,
                format_cents(row.try_get(2)?),
                format_cents(row.try_get(4)?)
            ))
        },
    ),
    (
        "every transaction_count equals its number of ledger rows",
        "SELECT account.id, account.account_number, account.transaction_count,
                coalesce(ledger.row_count, 0)
         FROM accounts AS account
         LEFT JOIN (SELECT account_id, count(*) AS row_count
                    FROM transactions GROUP BY account_id) AS ledger
                ON ledger.account_id = account.id
         WHERE account.transaction_count IS DISTINCT FROM coalesce(ledger.row_count, 0)
         ORDER BY account.id",
        |row| {
            Ok(format!(
                "{}: transaction_count {}, ledger rows {}",
                account_label(row)?,
                row.try_get::<_, i64>(2)?,
                row.try_get::<_, i64>(3)?
            ))
        },
    ),
    (
        "no balance is negative",
        // The CHECK constraints forbid both; a hit means they were dropped.
        "SELECT 'account ' || id || ' (' || account_number || ')', balance_cents, 'balance'
         FROM accounts WHERE balance_cents < 0
         UNION ALL
         SELECT 'transaction ' || id || ' (account ' || account_id || ')',
                balance_after_cents, 'balance_after'
         FROM transactions WHERE balance_after_cents < 0",
        |row| {
            Ok(format!(
                "{}: {} {}",
                row.try_get::<_, String>(0)?,
                row.try_get::<_, String>(2)?,
                format_cents(row.try_get(1)?)
            ))
        },
    ),
    (
        "every transfer has two legs (out of the source, into the destination) that sum to zero",
        "WITH legs AS (
             SELECT transfer_id,
                    count(*) AS leg_count,
                    count(*) FILTER (WHERE transaction_type = 'transfer_out') AS out_count,
                    sum(amount_cents) FILTER (WHERE transaction_type = 'transfer_out')::bigint
                        AS out_cents,
                    max(account_id) FILTER (WHERE transaction_type = 'transfer_out')
                        AS out_account,
                    count(*) FILTER (WHERE transaction_type = 'transfer_in') AS in_count,
                    sum(amount_cents) FILTER (WHERE transaction_type = 'transfer_in')::bigint
                        AS in_cents,
                    max(account_id) FILTER (WHERE transaction_type = 'transfer_in')
                        AS in_account
             FROM transactions WHERE transfer_id IS NOT NULL GROUP BY transfer_id)
         SELECT transfer.id, transfer.source_account_id, transfer.destination_account_id,
                transfer.amount_cents, coalesce(legs.leg_count, 0),
                coalesce(legs.out_count, 0), legs.out_cents, legs.out_account,
                coalesce(legs.in_count, 0), legs.in_cents, legs.in_account
         FROM transfers AS transfer
         LEFT JOIN legs ON legs.transfer_id = transfer.id
         WHERE legs.leg_count IS DISTINCT FROM 2
            OR legs.out_count IS DISTINCT FROM 1 OR legs.in_count IS DISTINCT FROM 1
            OR legs.out_account IS DISTINCT FROM transfer.source_account_id
            OR legs.in_account IS DISTINCT FROM transfer.destination_account_id
            OR legs.out_cents IS DISTINCT FROM transfer.amount_cents
            OR legs.in_cents IS DISTINCT FROM transfer.amount_cents
         ORDER BY transfer.id",
        |row| {
            let amount = format_cents(row.try_get(3)?);
            let out_cents: Option<i64> = row.try_get(6)?;
            let in_cents: Option<i64> = row.try_get(9)?;
            let net = in_cents.unwrap_or(0) - out_cents.unwrap_or(0);
            Ok(format!(
                "transfer {}: expected transfer_out of {amount} from account {} and transfer_in \
                 of {amount} to account {}, found {} leg(s) summing to {} (transfer_out: {}; \
                 transfer_in: {})",
                row.try_get::<_, i64>(0)?,
                row.try_get::<_, i64>(1)?,
                row.try_get::<_, i64>(2)?,
                row.try_get::<_, i64>(4)?,
                format_cents(net),
                describe_legs(row.try_get(5)?, out_cents, row.try_get(7)?),
                describe_legs(row.try_get(8)?, in_cents, row.try_get(10)?),
            ))
        },
    ),
    (
        "every statement's figures match its ledger rows",
        // As sqlite/verify/statements.rs: the range is [start_date 00:00, end_date + 1 day
        // 00:00) in the ledger's timestamp text, capped at last_transaction_id.
        "WITH bounds AS (
             SELECT s.*, s.start_date || 'T00:00:00.000000Z' AS range_from,
                    to_char(s.end_date::date + 1, 'YYYY-MM-DD') || 'T00:00:00.000000Z'
                        AS range_before
             FROM statements AS s),
         figures AS (
             SELECT b.id, b.account_id, b.opening_balance_cents, b.closing_balance_cents,
                    b.total_deposits_cents, b.total_withdrawals_cents, b.transaction_count,
                    coalesce((SELECT t.balance_after_cents FROM transactions AS t
                              WHERE t.account_id = b.account_id AND t.created_at < b.range_from
                                AND t.id <= b.last_transaction_id
                              ORDER BY t.created_at DESC, t.id DESC LIMIT 1), 0) AS opening,
                    totals.deposits, totals.withdrawals, totals.row_count,
                    (SELECT t.balance_after_cents FROM transactions AS t
                     WHERE t.account_id = b.account_id AND t.created_at >= b.range_from
                       AND t.created_at < b.range_before AND t.id <= b.last_transaction_id
                     ORDER BY t.created_at DESC, t.id DESC LIMIT 1) AS last_balance_after
             FROM bounds AS b
             CROSS JOIN LATERAL (
                 SELECT coalesce(sum(t.amount_cents) FILTER (WHERE t.transaction_type
                                     IN ('deposit', 'transfer_in')), 0)::bigint AS deposits,
                        coalesce(sum(t.amount_cents) FILTER (WHERE t.transaction_type
                                     NOT IN ('deposit', 'transfer_in')), 0)::bigint AS withdrawals,
                        count(*) AS row_count
                 FROM transactions AS t
                 WHERE t.account_id = b.account_id AND t.created_at >= b.range_from
                   AND t.created_at < b.range_before AND t.id <= b.last_transaction_id) AS totals)
         SELECT id, account_id, opening_balance_cents, closing_balance_cents, total_deposits_cents,
                total_withdrawals_cents, transaction_count, opening,
                coalesce(last_balance_after, opening), deposits, withdrawals, row_count
         FROM figures
         WHERE opening_balance_cents IS DISTINCT FROM opening
            OR closing_balance_cents IS DISTINCT FROM coalesce(last_balance_after, opening)
            OR (total_deposits_cents, total_withdrawals_cents, transaction_count)
               IS DISTINCT FROM (deposits, withdrawals, row_count)
         ORDER BY id",
        |row| {
            Ok(format!(
                "statement {} (account {}): stored opening {}, deposits {}, withdrawals {}, \
                 closing {}, {} rows; the ledger gives opening {}, deposits {}, withdrawals {}, \
                 closing {}, {} rows",
                row.try_get::<_, i64>(0)?,
                row.try_get::<_, i64>(1)?,
                format_cents(row.try_get(2)?),
                format_cents(row.try_get(4)?),
                format_cents(row.try_get(5)?),
                format_cents(row.try_get(3)?),
                row.try_get::<_, i64>(6)?,
                format_cents(row.try_get(7)?),
                format_cents(row.try_get(9)?),
                format_cents(row.try_get(10)?),
                format_cents(row.try_get(8)?),
                row.try_get::<_, i64>(11)?,
            ))
        },
    ),
    (
        "no statement was deleted (statement ids have no gaps)",
        "SELECT gap_from, (SELECT min(n.id) FROM statements AS n WHERE n.id > gap_from) - 1
         FROM (SELECT 1::bigint AS gap_from
               WHERE NOT EXISTS (SELECT 1 FROM statements WHERE id = 1)
                 AND EXISTS (SELECT 1 FROM statements)
               UNION ALL
               SELECT s.id + 1 FROM statements AS s
               WHERE s.id < (SELECT max(id) FROM statements)
                 AND NOT EXISTS (SELECT 1 FROM statements AS n WHERE n.id = s.id + 1)) AS gaps
         ORDER BY gap_from",
        |row| {
            let (from, to): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            Ok(if from == to {
                format!("statement {from} is missing")
            } else {
                format!("statements {from} to {to} are missing")
            })
        },
    ),
];

/// "none", "0.03 on account 3", or "2 legs, 0.06 in all" for one direction of a transfer.
fn describe_legs(count: i64, cents: Option<i64>, account: Option<i64>) -> String {
    match (count, cents, account) {
        (0, _, _) => "none".to_owned(),
        (1, Some(cents), Some(account)) => format!("{} on account {account}", format_cents(cents)),
        (count, cents, _) => format!("{count} legs, {} in all", format_cents(cents.unwrap_or(0))),
    }
}

/// "account 3 (ACC-123456789)" from the first two columns.
fn account_label(row: &Row) -> Result<String, tokio_postgres::Error> {
    Ok(format!(
        "account {} ({})",
        row.try_get::<_, i64>(0)?,
        row.try_get::<_, String>(1)?
    ))
}

/// Runs a query whose every row is a problem in a savepoint, keeping the first
/// `PROBLEMS_LISTED_MAX` lines and counting the rest. A query that fails is itself a problem.
async fn run_query_check(
    snapshot: &Transaction<'_>,
    name: &'static str,
    sql: &str,
    describe: Describe,
) -> Check {
    let outcome = async {
        snapshot
            .batch_execute("SAVEPOINT bankd_verify_check")
            .await?;
        match snapshot.query(sql, &[]).await {
            Ok(rows) => {
                snapshot
                    .batch_execute("RELEASE SAVEPOINT bankd_verify_check")
                    .await?;
                let problems = rows
                    .iter()
                    .take(PROBLEMS_LISTED_MAX)
                    .map(describe)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((problems, rows.len() as u64))
            }
            Err(error) => {
                snapshot
                    .batch_execute("ROLLBACK TO SAVEPOINT bankd_verify_check")
                    .await?;
                Err(error)
            }
        }
    }
    .await;
    match outcome {
        Ok((problems, problem_count)) => check(name, problems, problem_count, String::new()),
        Err(error) => check(
            name,
            vec![format!("could not run the check: {error}")],
            1,
            String::new(),
        ),
    }
}

fn check(name: &'static str, problems: Vec<String>, problem_count: u64, note: String) -> Check {
    Check {
        name,
        problems,
        problem_count,
        note,
    }
}

/// Walks `audit_log` from its first row in pages of `AUDIT_ROWS_PER_PAGE`, recomputing every
/// hash with the walk SQLite's `verify_chain` uses, so the messages are the same.
async fn audit_chain_is_unbroken(
    snapshot: &Transaction<'_>,
    recorded_head: Option<&ChainHead>,
) -> Check {
    let name = "the audit hash chain is unbroken";
    let walked = in_savepoint(snapshot, walk_chain(snapshot, recorded_head)).await;
    match walked {
        Ok((rows, Some(head))) => check(
            name,
            Vec::new(),
            0,
            format!("{rows} rows; head {head} — record it to detect later truncation"),
        ),
        Ok((rows, None)) => check(name, Vec::new(), 0, format!("{rows} rows")),
        // The chain stops at its first broken link: everything after it is unproven anyway.
        Err(broken) => check(name, vec![broken], 1, String::new()),
    }
}

async fn walk_chain(
    snapshot: &Transaction<'_>,
    recorded_head: Option<&ChainHead>,
) -> Result<(u64, Option<ChainHead>), String> {
    let unreadable = |e: tokio_postgres::Error| format!("cannot read the audit log: {e}");
    let page = snapshot
        .prepare(
            "SELECT id, created_at, actor_user_id, client_ip, request_id, action, object_type,
                    object_id, outcome, details, client_request_id, prev_hash, hash
             FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .await
        .map_err(unreadable)?;
    let mut walk = ChainWalk::new(recorded_head);
    let mut after = 0_i64;
    loop {
        let rows = snapshot
            .query(&page, &[&after, &AUDIT_ROWS_PER_PAGE])
            .await
            .map_err(unreadable)?;
        for row in &rows {
            let read = |e: tokio_postgres::Error| format!("audit row unreadable: {e}");
            let canonical = CanonicalRow {
                id: row.try_get(0).map_err(read)?,
                created_at: row.try_get(1).map_err(read)?,
                actor_user_id: row.try_get(2).map_err(read)?,
                client_ip: row.try_get(3).map_err(read)?,
                request_id: row.try_get(4).map_err(read)?,
                action: row.try_get(5).map_err(read)?,
                object_type: row.try_get(6).map_err(read)?,
                object_id: row.try_get(7).map_err(read)?,
                outcome: row.try_get(8).map_err(read)?,
                details: row.try_get(9).map_err(read)?,
                client_request_id: row.try_get(10).map_err(read)?,
            };
            let prev_hash: Vec<u8> = row.try_get(11).map_err(read)?;
            let hash: Vec<u8> = row.try_get(12).map_err(read)?;
            walk.step(&canonical, &prev_hash, &hash)?;
            after = canonical.id;
        }
        if (rows.len() as i64) < AUDIT_ROWS_PER_PAGE {
            return walk.finish();
        }
    }
}

/// Runs `check` in a savepoint, rolled back to if it fails so that the next check can run.
async fn in_savepoint<T>(
    snapshot: &Transaction<'_>,
    check: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let sql_error = |e: tokio_postgres::Error| format!("could not run the check: {e}");
    snapshot
        .batch_execute("SAVEPOINT bankd_verify_check")
        .await
        .map_err(sql_error)?;
    let outcome = check.await;
    let end = match outcome {
        Ok(_) => "RELEASE SAVEPOINT bankd_verify_check",
        Err(_) => "ROLLBACK TO SAVEPOINT bankd_verify_check",
    };
    snapshot.batch_execute(end).await.map_err(sql_error)?;
    outcome
}

/// Passes always; the note warns when rows have waited longer than `PENDING_AGE_WARNING_SECS`.
async fn pending_audit_rows_are_sealed(snapshot: &Transaction<'_>) -> Check {
    let name = "pending audit rows are being sealed into the chain";
    let outcome = in_savepoint(snapshot, async {
        snapshot
            .query_one(
                "SELECT count(*),
                    count(*) FILTER (WHERE created_at::timestamptz
                                     < now() - make_interval(secs => $1)),
                    min(created_at)::text
             FROM audit_pending",
                &[&PENDING_AGE_WARNING_SECS],
            )
            .await
            .map_err(|e| format!("could not run the check: {e}"))
    })
    .await;
    let row = match outcome {
        Ok(row) => row,
        Err(error) => {
            return check(name, vec![error], 1, String::new());
        }
    };
    let (pending, stale): (i64, i64) = (row.get(0), row.get(1));
    let note = match (pending, stale) {
        (0, _) => "none pending".to_owned(),
        (pending, 0) => format!("{pending} pending"),
        (pending, stale) => format!(
            "WARNING: {stale} of {pending} pending rows waited over {PENDING_AGE_WARNING_SECS} s \
             (the oldest from {}): is a sealer running?",
            row.get::<_, Option<String>>(2).unwrap_or_default()
        ),
    };
    check(name, Vec::new(), 0, note)
}
