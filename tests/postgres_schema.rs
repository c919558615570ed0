//! The PostgreSQL schema (`migrations/postgres/`) applied through the store's own migration
//! module, and the constraints that hold the bank together checked against a real server: a
//! negative balance is refused, ledger, transfer, statement and audit rows cannot be updated,
//! deleted or truncated, and migrating twice (or from two nodes at once) applies everything
//! exactly once.
//!
//! Needs `BANKD_TEST_DATABASE_URL`, a libpq URL of a server where the user may create
//! databases; `.ci/run` starts a throwaway cluster with `tests/pg/cluster.sh` and sets it. Each
//! test creates its own database with a random name and drops it at the end. Without the URL
//! each test says it was skipped and passes, except under `CI=true`, where it fails.

// The PostgreSQL test database (created per test, skipped without a server); each binary
// uses part of it.
#[allow(dead_code)]
#[path = "support/postgres.rs"]
mod pg_support;

use bankd::store::postgres::connect::PoolSettings;
use bankd::store::postgres::migrate;
use deadpool_postgres::Object;
use pg_support::PgDatabase;
use std::time::Duration;

const SETTINGS: PoolSettings = PoolSettings {
    pool_size_max: 4,
    statement_timeout: Duration::from_secs(30),
    connect_timeout: Duration::from_secs(10),
};

/// A database of its own on the test cluster, dropped by [`TestDatabase::drop_database`].
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
        PgDatabase::create(test, SETTINGS).await.map(Self)
    }

    /// Migrates through the store's module, as `bankd migrate` will.
    async fn migrate(&self) -> Vec<String> {
        let mut client = self.client().await;
        migrate::run(&mut client).await.expect("migrations apply")
    }

    async fn drop_database(self) {
        self.0.drop_database().await;
    }
}

/// One customer with one account holding 100.00, and a deposit in the ledger, an audit row and
/// a statement: one row in each table whose rows must never change.
const HISTORY: &str = "
    INSERT INTO users (id, username, email, password_hash, date_joined)
        VALUES (1, 'ann', 'ann@example.com', 'x', '2026-01-01T00:00:00.000000Z');
    INSERT INTO customers (id, user_id, full_name, email, created_at, updated_at)
        VALUES (1, 1, 'Ann', 'ann@example.com', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
    INSERT INTO accounts (id, account_number, customer_id, balance_cents, transaction_count, created_at, updated_at)
        VALUES (1, 'ACC-000000001', 1, 10000, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'),
               (2, 'ACC-000000002', 1, 0, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
    INSERT INTO transactions (account_id, customer_id, transaction_type, amount_cents, balance_after_cents, created_at)
        VALUES (1, 1, 'deposit', 10000, 10000, '2026-01-02T00:00:00.000000Z');
    INSERT INTO transfers (source_account_id, destination_account_id, amount_cents, created_at)
        VALUES (1, 2, 1, '2026-01-02T00:00:00.000000Z');
    INSERT INTO audit_log (id, created_at, actor_user_id, client_ip, request_id, action, outcome, details, prev_hash, hash)
        VALUES (1, '2026-01-02T00:00:00.000000Z', 1, '127.0.0.1', 'r1', 'deposit', 'success', '{\"amount\":\"100.00\"}',
                decode(repeat('00', 32), 'hex'), decode(repeat('ab', 32), 'hex'));
    INSERT INTO statements (id, account_id, customer_id, start_date, end_date, opening_balance_cents,
            closing_balance_cents, total_deposits_cents, total_withdrawals_cents, transaction_count,
            last_transaction_id, generated_at)
        VALUES (1, 1, 1, '2026-01-01', '2026-01-31', 0, 10000, 10000, 0, 1, 1, '2026-02-01T00:00:00.000000Z');
";

/// The SQLSTATE of a failed statement, and its message, for the assertions.
async fn refusal(client: &Object, sql: &str) -> (String, String) {
    let error = client
        .batch_execute(sql)
        .await
        .expect_err(&format!("refused: {sql}"));
    let code = error
        .code()
        .map(|code| code.code().to_owned())
        .unwrap_or_default();
    let message = error
        .as_db_error()
        .map(|db| db.message().to_owned())
        .unwrap_or_else(|| error.to_string());
    (code, message)
}

#[tokio::test]
async fn migrations_apply_once_and_a_second_run_applies_nothing() {
    let Some(database) = TestDatabase::create("migrations_apply_once").await else {
        return;
    };

    let first = database.migrate().await;
    let second = database.migrate().await;

    assert_eq!(first, ["V1__initial"]);
    assert!(second.is_empty(), "{second:?}");
    let mut client = database.client().await;
    assert!(migrate::is_current(&client).await.expect("readable"));
    let states = migrate::list(&mut client).await.expect("readable");
    assert!(states.iter().all(|state| state.applied));
    drop(client);
    database.drop_database().await;
}

#[tokio::test]
async fn two_nodes_migrating_at_once_apply_the_schema_once_without_error() {
    let Some(database) = TestDatabase::create("two_nodes_migrating_at_once").await else {
        return;
    };

    let (one, two) = tokio::join!(database.migrate(), database.migrate());

    let mut applied = [one, two].concat();
    applied.sort();
    assert_eq!(applied, ["V1__initial"]);
    database.drop_database().await;
}

#[tokio::test]
async fn a_negative_balance_is_refused_by_the_check_constraint() {
    let Some(database) = TestDatabase::create("a_negative_balance_is_refused").await else {
        return;
    };
    database.migrate().await;
    let client = database.client().await;
    client.batch_execute(HISTORY).await.expect("history");

    let (code, _) = refusal(
        &client,
        "UPDATE accounts SET balance_cents = -1 WHERE id = 1",
    )
    .await;
    let (overdraft_code, _) = refusal(
        &client,
        "UPDATE accounts SET balance_cents = balance_cents - 10001 WHERE id = 1",
    )
    .await;

    assert_eq!(code, "23514", "check_violation");
    assert_eq!(overdraft_code, "23514", "check_violation");
    let balance: i64 = client
        .query_one("SELECT balance_cents FROM accounts WHERE id = 1", &[])
        .await
        .expect("balance")
        .get(0);
    assert_eq!(balance, 10000);
    drop(client);
    database.drop_database().await;
}

#[tokio::test]
async fn ledger_transfer_statement_and_audit_rows_cannot_be_changed_deleted_or_truncated() {
    let Some(database) = TestDatabase::create("history_is_immutable").await else {
        return;
    };
    database.migrate().await;
    let client = database.client().await;
    client.batch_execute(HISTORY).await.expect("history");
    let attempts = [
        (
            "transactions",
            "UPDATE transactions SET amount_cents = 1",
            "transactions are immutable",
        ),
        (
            "transactions",
            "DELETE FROM transactions",
            "transactions are immutable",
        ),
        (
            "transactions",
            "TRUNCATE transactions CASCADE",
            "transactions are immutable",
        ),
        (
            "transfers",
            "UPDATE transfers SET amount_cents = 2",
            "transfers are immutable",
        ),
        (
            "transfers",
            "DELETE FROM transfers",
            "transfers are immutable",
        ),
        (
            "statements",
            "UPDATE statements SET transaction_count = 0",
            "statements are immutable",
        ),
        (
            "statements",
            "DELETE FROM statements",
            "statements are immutable",
        ),
        (
            "audit_log",
            "UPDATE audit_log SET outcome = 'failure'",
            "the audit log is append-only",
        ),
        (
            "audit_log",
            "DELETE FROM audit_log",
            "the audit log is append-only",
        ),
        (
            "audit_log",
            "TRUNCATE audit_log",
            "the audit log is append-only",
        ),
    ];

    for (table, sql, expected) in attempts {
        let (code, message) = refusal(&client, sql).await;

        assert_eq!(code, "P0001", "{sql}: raise_exception from the trigger");
        assert_eq!(message, expected, "{sql}");
        let rows: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(rows, 1, "{sql} left {table} with {rows} rows");
    }
    drop(client);
    database.drop_database().await;
}

#[tokio::test]
async fn a_cancelled_card_stays_cancelled_and_audit_details_must_be_json() {
    let Some(database) = TestDatabase::create("cards_and_audit_details").await else {
        return;
    };
    database.migrate().await;
    let client = database.client().await;
    client.batch_execute(HISTORY).await.expect("history");
    client
        .batch_execute(
            "INSERT INTO cards (account_id, customer_id, card_type, number_hmac, last4, cvv_hmac,
                 expiry_month, expiry_year, status, created_at, updated_at)
             VALUES (1, 1, 'debit', decode(repeat('01', 32), 'hex'), '1234',
                 decode(repeat('02', 32), 'hex'), 12, 2030, 'cancelled', 't', 't')",
        )
        .await
        .expect("a cancelled card");

    let (card_code, card_message) = refusal(&client, "UPDATE cards SET status = 'active'").await;
    let (json_code, _) = refusal(
        &client,
        "INSERT INTO audit_pending (created_at, client_ip, request_id, action, outcome, details)
         VALUES ('t', '127.0.0.1', 'r2', 'login', 'success', '{not json')",
    )
    .await;

    assert_eq!(card_code, "P0001");
    assert_eq!(card_message, "a cancelled card cannot be reactivated");
    assert_eq!(json_code, "22P02", "invalid_text_representation");
    drop(client);
    database.drop_database().await;
}
