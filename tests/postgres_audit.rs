//! The audit chain on PostgreSQL: `audit_pending` rows sealed into `audit_log` by
//! `store::postgres::audit`, with exactly the ids and hashes SQLite would give them (SQLite's
//! own `verify_chain` accepts a sealed chain), one chain however many sealers run, and
//! `store::postgres::verify` finding a broken link or a balance that its ledger does not give.
//!
//! Needs `BANKD_TEST_DATABASE_URL` like `tests/postgres_schema.rs` (whose pattern this follows):
//! each test creates its own database with a random name and drops it at the end; without the
//! URL each test says it was skipped and passes, except under `CI=true`, where it fails. Rows
//! are arranged with plain SQL, so each test shows exactly the state it checks.

// The PostgreSQL test database (created per test, skipped without a server); each binary
// uses part of it.
#[allow(dead_code)]
#[path = "support/postgres.rs"]
mod pg_support;

use bankd::store::audit::chain::{CanonicalRow, ChainHead, ChainWalk, GENESIS_HASH, chain_hash};
use bankd::store::postgres::audit::{run_sealer, seal_pending};
use bankd::store::postgres::connect::PoolSettings;
use bankd::store::postgres::verify::verify;
use deadpool_postgres::Pool;
use pg_support::PgDatabase;
use std::time::Duration;

const SETTINGS: PoolSettings = PoolSettings {
    pool_size_max: 4,
    statement_timeout: Duration::from_secs(30),
    connect_timeout: Duration::from_secs(10),
};

/// A migrated database of its own on the test cluster, dropped by [`TestDatabase::drop_database`].
struct TestDatabase(PgDatabase);

impl std::ops::Deref for TestDatabase {
    type Target = PgDatabase;

    fn deref(&self) -> &PgDatabase {
        &self.0
    }
}

impl TestDatabase {
    /// `None` (the test is skipped) without `BANKD_TEST_DATABASE_URL`, except under `CI=true`.
    async fn create(test: &str) -> Option<Self> {
        PgDatabase::migrated(test, SETTINGS).await.map(Self)
    }

    async fn execute(&self, sql: &str) {
        self.client()
            .await
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn count(&self, sql: &str) -> i64 {
        self.client()
            .await
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
    }

    /// Every `audit_log` row in id order: its canonical columns and stored hashes.
    async fn chain(&self) -> Vec<(CanonicalRow, Vec<u8>, Vec<u8>)> {
        self.client()
            .await
            .query(
                "SELECT id, created_at, actor_user_id, client_ip, request_id, action, object_type,
                        object_id, outcome, details, client_request_id, prev_hash, hash
                 FROM audit_log ORDER BY id",
                &[],
            )
            .await
            .expect("audit_log reads")
            .iter()
            .map(|row| {
                let canonical = CanonicalRow {
                    id: row.get(0),
                    created_at: row.get(1),
                    actor_user_id: row.get(2),
                    client_ip: row.get(3),
                    request_id: row.get(4),
                    action: row.get(5),
                    object_type: row.get(6),
                    object_id: row.get(7),
                    outcome: row.get(8),
                    details: row.get(9),
                    client_request_id: row.get(10),
                };
                (canonical, row.get(11), row.get(12))
            })
            .collect()
    }

    async fn drop_database(self) {
        self.0.drop_database().await;
    }
}

/// Inserts pending audit rows as requests do: `request_id`s `{prefix}1`…`{prefix}{count}`.
fn pending_rows(prefix: &str, count: usize) -> String {
    (1..=count)
        .map(|n| {
            format!(
                "INSERT INTO audit_pending (created_at, actor_user_id, client_ip, request_id,
                     action, object_type, object_id, outcome, details)
                 VALUES ('2026-01-02T00:00:00.{n:06}Z', 1, '10.0.0.1', '{prefix}{n}', 'deposit',
                         'account', 1, 'success', '{{\"amount\":\"{n}.00\"}}');"
            )
        })
        .collect()
}

/// Three pending rows unlike each other: an anonymous failed login, a deposit with the
/// client's own request id, and a denied action with details that need escaping.
const THREE_PENDING: &str = r#"
    INSERT INTO audit_pending (created_at, actor_user_id, client_ip, request_id, action,
            object_type, object_id, outcome, details, client_request_id)
        VALUES ('2026-01-02T00:00:00.000001Z', NULL, '10.0.0.1', 'r1', 'login_failed',
                NULL, NULL, 'failure', '{"username":"ann"}', NULL),
               ('2026-01-02T00:00:00.000002Z', 1, '10.0.0.2', 'r2', 'deposit',
                'account', 7, 'success', '{"amount":"12.50"}', 'client-42'),
               ('2026-01-02T00:00:00.000003Z', 1, '10.0.0.3', 'r3', 'close_account',
                'account', 7, 'denied', '{"reason":"quote \" and \\ and é"}', NULL);
"#;

#[tokio::test]
async fn pending_rows_are_sealed_in_order_with_the_hashes_sqlite_computes() {
    let Some(database) = TestDatabase::create("pending_rows_are_sealed_in_order").await else {
        return;
    };
    database.execute(THREE_PENDING).await;

    assert_eq!(seal_pending(&database.pool).await, Ok(3));
    assert_eq!(seal_pending(&database.pool).await, Ok(0), "nothing left");
    assert_eq!(
        database.count("SELECT count(*) FROM audit_pending").await,
        0
    );

    let chain = database.chain().await;
    let request_ids: Vec<_> = chain
        .iter()
        .map(|(row, ..)| row.request_id.as_str())
        .collect();
    assert_eq!(request_ids, ["r1", "r2", "r3"], "pending_id order");
    let mut prev = GENESIS_HASH.to_vec();
    for (expected_id, (row, prev_hash, hash)) in (1..).zip(&chain) {
        assert_eq!(row.id, expected_id);
        assert_eq!(
            prev_hash, &prev,
            "row {expected_id} links to the row before"
        );
        assert_eq!(hash.as_slice(), chain_hash(&prev, row), "row {expected_id}");
        prev.clone_from(hash);
    }
    assert_eq!(chain[1].0.client_request_id.as_deref(), Some("client-42"));

    // The same rows in a SQLite database verify with SQLite's own walk: a copied chain holds.
    let mut sqlite = rusqlite::Connection::open_in_memory().expect("in-memory SQLite");
    bankd::store::sqlite::migrate::run(&mut sqlite).expect("SQLite migrations");
    for (row, prev_hash, hash) in &chain {
        sqlite
            .execute(
                "INSERT INTO audit_log (id, created_at, actor_user_id, client_ip, request_id,
                     action, object_type, object_id, outcome, details, prev_hash, hash,
                     client_request_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                rusqlite::params![
                    row.id,
                    row.created_at,
                    row.actor_user_id,
                    row.client_ip,
                    row.request_id,
                    row.action,
                    row.object_type,
                    row.object_id,
                    row.outcome,
                    row.details,
                    prev_hash,
                    hash,
                    row.client_request_id
                ],
            )
            .expect("a sealed row copies into SQLite");
    }
    let (rows, head) = bankd::store::sqlite::audit::verify_chain(&sqlite, None)
        .expect("SQLite verifies the chain PostgreSQL sealed");
    assert_eq!(rows, 3);
    assert_eq!(head.map(|head| head.hash.to_vec()), Some(prev.clone()));

    // Later rows extend the same chain.
    database.execute(&pending_rows("later", 2)).await;
    assert_eq!(seal_pending(&database.pool).await, Ok(2));
    let chain = database.chain().await;
    assert_eq!(chain.len(), 5);
    assert_eq!(chain[3].1, prev, "row 4 links to row 3");

    // Pending rows leave only by the sealer's DELETE: never changed, never truncated.
    database.execute(&pending_rows("kept", 1)).await;
    let client = database.client().await;
    for sql in [
        "UPDATE audit_pending SET details = '{}'",
        "TRUNCATE audit_pending",
    ] {
        let error = client.batch_execute(sql).await.expect_err(sql);
        assert!(
            error
                .as_db_error()
                .is_some_and(|e| e.message() == "pending audit rows are immutable"),
            "{sql}: {error}"
        );
    }
    drop(client);
    database.drop_database().await;
}

/// Walks the sealed chain with the shared walk; panics naming the first broken link.
fn assert_one_unbroken_chain(chain: &[(CanonicalRow, Vec<u8>, Vec<u8>)]) -> Option<ChainHead> {
    let mut walk = ChainWalk::new(None);
    for (row, prev_hash, hash) in chain {
        walk.step(row, prev_hash, hash).expect("one unbroken chain");
    }
    walk.finish().expect("the chain ends where it should").1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sealers_at_once_make_one_chain_without_gaps_or_duplicates() {
    let Some(database) = TestDatabase::create("two_sealers_at_once").await else {
        return;
    };
    const BATCHES: usize = 40;
    const ROWS_PER_BATCH: usize = 10;
    let (one, two) = (database.another_pool(), database.another_pool());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sealer = |pool: Pool| {
        let mut stop = stop_rx.clone();
        tokio::spawn(run_sealer(pool, Duration::from_millis(1), async move {
            let _ = stop.wait_for(|stop| *stop).await;
        }))
    };
    let sealers = [sealer(one.clone()), sealer(two.clone())];
    // Requests keep arriving while both sealers run.
    for batch in 0..BATCHES {
        database
            .execute(&pending_rows(&format!("b{batch}-"), ROWS_PER_BATCH))
            .await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Let them drain what is left (up to 30 s on a loaded machine), then stop them.
    for _ in 0..3_000 {
        if database.count("SELECT count(*) FROM audit_pending").await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop_tx.send(true).expect("sealers listen");
    for sealer in sealers {
        sealer.await.expect("a sealer stops cleanly");
    }

    assert_eq!(
        database.count("SELECT count(*) FROM audit_pending").await,
        0
    );
    let chain = database.chain().await;
    assert_eq!(
        chain.len(),
        BATCHES * ROWS_PER_BATCH,
        "every row sealed once"
    );
    let mut request_ids: Vec<_> = chain
        .iter()
        .map(|(row, ..)| row.request_id.clone())
        .collect();
    request_ids.sort();
    request_ids.dedup();
    assert_eq!(
        request_ids.len(),
        BATCHES * ROWS_PER_BATCH,
        "no row sealed twice"
    );
    let head = assert_one_unbroken_chain(&chain).expect("a head");
    assert_eq!(
        head.id,
        (BATCHES * ROWS_PER_BATCH) as i64,
        "ids 1..=n, no gaps"
    );
    one.close();
    two.close();
    database.drop_database().await;
}

#[tokio::test]
async fn rows_pending_when_the_sealing_node_dies_are_sealed_by_the_next() {
    let Some(database) = TestDatabase::create("rows_pending_when_the_sealer_dies").await else {
        return;
    };
    database.execute(&pending_rows("r", 3)).await;
    // A node in the middle of sealing: its transaction holds the sealer's lock.
    let dying = database.another_pool();
    let holder = dying.get().await.expect("the dying node's connection");
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT pg_try_advisory_xact_lock({})",
            i64::from_be_bytes(*b"bankdaud")
        ))
        .await
        .expect("the dying node takes the lock");
    assert_eq!(
        seal_pending(&database.pool).await,
        Ok(0),
        "another node skips while the lock is held"
    );
    assert_eq!(
        database.count("SELECT count(*) FROM audit_pending").await,
        3
    );

    // The node dies: its session ends, its transaction rolls back, the lock is free.
    drop(holder);
    dying.close();
    let mut sealed = Ok(0);
    for _ in 0..100 {
        sealed = seal_pending(&database.pool).await;
        if sealed != Ok(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sealed, Ok(3));
    assert_one_unbroken_chain(&database.chain().await);
    database.drop_database().await;
}

/// A sound little bank: one customer with two accounts, a deposit of 100.00 into the first and
/// a transfer of 0.01 to the second (both legs), and a statement of the first account's January.
const SOUND_BANK: &str = "
    INSERT INTO users (id, username, email, password_hash, date_joined)
        VALUES (1, 'ann', 'ann@example.com', 'x', '2026-01-01T00:00:00.000000Z');
    INSERT INTO customers (id, user_id, full_name, email, created_at, updated_at)
        VALUES (1, 1, 'Ann', 'ann@example.com', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
    INSERT INTO accounts (id, account_number, customer_id, balance_cents, transaction_count, created_at, updated_at)
        VALUES (1, 'ACC-000000001', 1, 9999, 2, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'),
               (2, 'ACC-000000002', 1, 1, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
    INSERT INTO transfers (id, source_account_id, destination_account_id, amount_cents, created_at)
        VALUES (1, 1, 2, 1, '2026-01-03T00:00:00.000000Z');
    INSERT INTO transactions (id, account_id, customer_id, transaction_type, amount_cents,
            balance_after_cents, counterparty_account_number, transfer_id, created_at)
        VALUES (1, 1, 1, 'deposit', 10000, 10000, NULL, NULL, '2026-01-02T00:00:00.000000Z'),
               (2, 1, 1, 'transfer_out', 1, 9999, 'ACC-000000002', 1, '2026-01-03T00:00:00.000000Z'),
               (3, 2, 1, 'transfer_in', 1, 1, 'ACC-000000001', 1, '2026-01-03T00:00:00.000000Z');
    INSERT INTO statements (id, account_id, customer_id, start_date, end_date, opening_balance_cents,
            closing_balance_cents, total_deposits_cents, total_withdrawals_cents, transaction_count,
            last_transaction_id, generated_at)
        VALUES (1, 1, 1, '2026-01-01', '2026-01-31', 0, 9999, 10000, 1, 2, 3, '2026-02-01T00:00:00.000000Z');
";

/// The report's check of that name.
fn check<'a>(
    report: &'a bankd::store::maintenance::VerifyReport,
    name: &str,
) -> &'a bankd::store::sqlite::verify::Check {
    report
        .checks
        .iter()
        .find(|check| check.name == name)
        .unwrap_or_else(|| panic!("no check named {name:?} in {report}"))
}

const CHAIN_CHECK: &str = "the audit hash chain is unbroken";
const PENDING_CHECK: &str = "pending audit rows are being sealed into the chain";

#[tokio::test]
async fn verify_passes_on_a_sound_bank_with_a_sealed_chain() {
    let Some(database) = TestDatabase::create("verify_passes_on_a_sound_bank").await else {
        return;
    };
    database.execute(SOUND_BANK).await;
    database.execute(THREE_PENDING).await;
    assert_eq!(seal_pending(&database.pool).await, Ok(3));

    let report = verify(&database.pool, None).await.expect("verify runs");

    assert!(report.is_sound(), "{report}");
    assert_eq!(
        (report.accounts, report.ledger_rows, report.transfers),
        (2, 3, 1)
    );
    assert!(
        check(&report, CHAIN_CHECK)
            .note
            .starts_with("3 rows; head 3:"),
        "{report}"
    );
    assert_eq!(check(&report, PENDING_CHECK).note, "none pending");
    assert!(
        !report.database.display().to_string().contains("postgres@"),
        "no URL"
    );

    // The head it printed is accepted back, as `bankd verify --audit-head` will pass it.
    let head = assert_one_unbroken_chain(&database.chain().await).expect("a head");
    let again = verify(&database.pool, Some(&head))
        .await
        .expect("verify runs");
    assert!(again.is_sound(), "{again}");
    database.drop_database().await;
}

#[tokio::test]
async fn verify_names_the_row_whose_hash_is_wrong() {
    let Some(database) = TestDatabase::create("verify_names_the_wrong_hash").await else {
        return;
    };
    database.execute(&pending_rows("r", 2)).await;
    assert_eq!(seal_pending(&database.pool).await, Ok(2));
    // Row 3 links to row 2 correctly but its own hash covers something else. Triggers refuse
    // UPDATE, so a forged row can only be appended.
    database
        .execute(
            "INSERT INTO audit_log (id, created_at, actor_user_id, client_ip, request_id, action,
                 outcome, details, prev_hash, hash)
             SELECT 3, '2026-01-03T00:00:00.000000Z', 1, '10.0.0.9', 'forged', 'deposit',
                    'success', '{}', hash, decode(repeat('ab', 32), 'hex')
             FROM audit_log WHERE id = 2",
        )
        .await;

    let report = verify(&database.pool, None).await.expect("verify runs");

    assert!(!report.is_sound(), "{report}");
    assert_eq!(report.failed_count(), 1, "{report}");
    let chain = check(&report, CHAIN_CHECK);
    assert_eq!(
        chain.problems,
        ["audit chain broken at row 3: the row was modified after it was written"],
        "{report}"
    );
    database.drop_database().await;
}

#[tokio::test]
async fn verify_reports_balances_transfers_and_statements_the_ledger_does_not_give() {
    let Some(database) = TestDatabase::create("verify_reports_a_balance").await else {
        return;
    };
    database.execute(SOUND_BANK).await;
    // A deposit recorded in the ledger but never added to the balance of account 2.
    database
        .execute(
            "INSERT INTO transactions (id, account_id, customer_id, transaction_type, amount_cents,
                 balance_after_cents, created_at)
             VALUES (4, 2, 1, 'deposit', 5000, 5001, '2026-01-04T00:00:00.000000Z');
             UPDATE accounts SET transaction_count = 2 WHERE id = 2;",
        )
        .await;
    // A transfer without legs, and a statement (id 3: 2 is missing) whose figures are not its
    // ledger's.
    database
        .execute(
            "INSERT INTO transfers (id, source_account_id, destination_account_id, amount_cents,
                 created_at)
             VALUES (2, 1, 2, 5, '2026-01-05T00:00:00.000000Z');
             INSERT INTO statements (id, account_id, customer_id, start_date, end_date,
                 opening_balance_cents, closing_balance_cents, total_deposits_cents,
                 total_withdrawals_cents, transaction_count, last_transaction_id, generated_at)
             VALUES (3, 1, 1, '2026-01-01', '2026-01-31', 0, 10000, 10000, 0, 1, 3,
                     '2026-02-01T00:00:00.000000Z');",
        )
        .await;
    // Rows from January still pending in December: no sealer is running.
    database.execute(&pending_rows("stale", 2)).await;

    let report = verify(&database.pool, None).await.expect("verify runs");

    assert!(!report.is_sound(), "{report}");
    assert_eq!(
        check(&report, "every balance equals the sum of its ledger rows").problems,
        ["account 2 (ACC-000000002): balance 0.01, ledger rows sum to 50.01"],
        "{report}"
    );
    assert_eq!(
        check(
            &report,
            "every balance equals the balance_after of its latest ledger row"
        )
        .problems,
        ["account 2 (ACC-000000002): balance 0.01, latest balance_after 50.01 (transaction 4)"],
        "{report}"
    );
    assert_eq!(
        check(
            &report,
            "every transfer has two legs (out of the source, into the destination) that sum to zero"
        )
        .problems,
        [
            "transfer 2: expected transfer_out of 0.05 from account 1 and transfer_in of 0.05 to \
             account 2, found 0 leg(s) summing to 0.00 (transfer_out: none; transfer_in: none)"
        ],
        "{report}"
    );
    assert_eq!(
        check(&report, "every statement's figures match its ledger rows").problems,
        [
            "statement 3 (account 1): stored opening 0.00, deposits 100.00, withdrawals 0.00, \
             closing 100.00, 1 rows; the ledger gives opening 0.00, deposits 100.00, \
             withdrawals 0.01, closing 99.99, 2 rows"
        ],
        "{report}"
    );
    assert_eq!(
        check(
            &report,
            "no statement was deleted (statement ids have no gaps)"
        )
        .problems,
        ["statement 2 is missing"],
        "{report}"
    );
    assert_eq!(report.failed_count(), 5, "{report}");
    let pending = check(&report, PENDING_CHECK);
    assert!(pending.passed(), "a warning, not a failure: {report}");
    assert!(
        pending.note.starts_with("WARNING: 2 of 2 pending rows"),
        "{report}"
    );
    database.drop_database().await;
}
