//! Money movement on PostgreSQL (`bankd::store::postgres::ledger::move_money`) against a real
//! server: every refusal comes back typed and changes nothing; a posting's legs, balances,
//! audit row and key are written together or not at all; and under concurrency across several
//! pools (several "nodes" on one database) there is no overdraft, money is conserved, every
//! balance equals its ledger history, and one idempotency key moves money once.
//!
//! Needs `BANKD_TEST_DATABASE_URL` (see tests/postgres_schema.rs for the pattern): each test
//! creates its own database with a random name and drops it at the end. Without the URL each
//! test says it was skipped and passes, except under `CI=true`, where it fails.

// The PostgreSQL test database (created per test, skipped without a server); each binary
// uses part of it.
#[allow(dead_code)]
#[path = "support/postgres.rs"]
mod pg_support;

use pg_support::PgDatabase;
use std::time::Duration;

use bankd::domain::{AccountNumber, Amount};
use bankd::error::{ApiError, ErrorCode};
use bankd::store::audit::{AuditContext, Outcome};
use bankd::store::ids::{AccountId, UserId};
use bankd::store::movements::{
    Answer, Idempotency, MovementAnswer, MovementCommand, MovementKind, Posted, Refusal,
};
use bankd::store::postgres::connect::{PoolSettings, pool};
use bankd::store::postgres::ledger;
use deadpool_postgres::Pool;

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
    /// The database is migrated.
    async fn create(test: &str) -> Option<Self> {
        PgDatabase::migrated(test, SETTINGS).await.map(Self)
    }

    async fn execute(&self, sql: &str) {
        self.client().await.batch_execute(sql).await.expect(sql);
    }

    async fn integer(&self, sql: &str) -> i64 {
        self.client()
            .await
            .query_one(sql, &[])
            .await
            .expect(sql)
            .get(0)
    }

    async fn drop_database(self) {
        self.0.drop_database().await;
    }
}

const T0: &str = "2026-01-01T00:00:00.000000Z";

/// `accounts` accounts, account `n` (1-based) number `ACC-00000000n`-style, owned by user `n`
/// through customer `n`, each holding `cents`.
fn owners_with_accounts(accounts: i64, cents: i64) -> String {
    let mut sql = String::new();
    for n in 1..=accounts {
        sql.push_str(&format!(
            "INSERT INTO users (id, username, email, password_hash, date_joined)
                 VALUES ({n}, 'user{n}', '', 'x', '{T0}');
             INSERT INTO customers (id, user_id, full_name, email, created_at, updated_at)
                 VALUES ({n}, {n}, 'Customer {n}', '', '{T0}', '{T0}');
             INSERT INTO accounts (id, account_number, customer_id, balance_cents, created_at, updated_at)
                 VALUES ({n}, '{}', {n}, {cents}, '{T0}', '{T0}');",
            number(n)
        ));
    }
    sql
}

fn number(n: i64) -> String {
    format!("ACC-{n:09}")
}

/// A test rendering: the refusal or posting's `Debug` as the body, so tests can read the typed
/// result back out of the answer.
fn render(result: &Result<Posted, Refusal>) -> Result<Answer, ApiError> {
    Ok(match result {
        Ok(posted) => Answer {
            status: 200,
            code: None,
            body: format!("{posted:?}"),
        },
        Err(refusal) => Answer {
            status: 400,
            code: Some(ErrorCode::InsufficientFunds),
            body: format!("{refusal:?}"),
        },
    })
}

fn failing_render(_: &Result<Posted, Refusal>) -> Result<Answer, ApiError> {
    Err(ApiError::internal("a body that does not serialize"))
}

fn command(user: i64, account: i64, kind: MovementKind, cents: i64) -> MovementCommand {
    MovementCommand {
        user: UserId::new(user),
        account: AccountId::new(account),
        kind,
        amount: Amount::from_cents(cents).expect("a valid amount"),
        description: "test".to_owned(),
        idempotency: None,
        audit: AuditContext::default(),
        render,
    }
}

fn transfer_to(n: i64) -> MovementKind {
    MovementKind::Transfer {
        destination: AccountNumber::parse(&number(n)).expect("an account number"),
    }
}

fn keyed(command: MovementCommand, key: &str, fingerprint: [u8; 32]) -> MovementCommand {
    MovementCommand {
        idempotency: Some(Idempotency {
            key: key.to_owned(),
            fingerprint,
        }),
        ..command
    }
}

/// Everything a posting may change: balances and posting counts, ledger rows, transfers, keys.
async fn snapshot(database: &TestDatabase) -> (Vec<(i64, i64, i64)>, i64, i64, i64) {
    let accounts = database
        .client()
        .await
        .query(
            "SELECT id, balance_cents, transaction_count FROM accounts ORDER BY id",
            &[],
        )
        .await
        .expect("accounts")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    (
        accounts,
        database.integer("SELECT count(*) FROM transactions").await,
        database.integer("SELECT count(*) FROM transfers").await,
        database
            .integer("SELECT count(*) FROM idempotency_keys")
            .await,
    )
}

/// The answer of a fresh movement; panics on a replay, a reused key or a fault.
fn fresh(answer: Result<MovementAnswer, ApiError>) -> (Answer, Outcome) {
    match answer {
        Ok(MovementAnswer::Fresh {
            answer, outcome, ..
        }) => (answer, outcome),
        other => panic!("not a fresh movement: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// One movement at a time: refusals, postings, audit, keys, faults.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_refusal_is_returned_typed_audited_and_changes_nothing() {
    let Some(database) = TestDatabase::create("every_refusal_is_typed").await else {
        return;
    };
    // Accounts 1..=7 of users 1..=7 hold 100.00; 3 is frozen, 7 closed, 5 and 6 full.
    database.execute(&owners_with_accounts(7, 10_000)).await;
    let max = bankd::limits::BALANCE_CENTS_MAX;
    database
        .execute(&format!(
            "UPDATE accounts SET status = 'frozen' WHERE id = 3;
             UPDATE accounts SET status = 'closed' WHERE id = 7;
             UPDATE accounts SET balance_cents = {max} WHERE id IN (5, 6);
             UPDATE customers SET deleted_at = '{T0}' WHERE id = 4;"
        ))
        .await;
    let cases = [
        (
            command(1, 2, MovementKind::Deposit, 100),
            Refusal::AccountNotFound,
        ),
        (
            command(1, 99, MovementKind::Withdrawal, 100),
            Refusal::AccountNotFound,
        ),
        (
            command(4, 4, MovementKind::Deposit, 100),
            Refusal::AccountNotFound,
        ),
        (
            command(3, 3, MovementKind::Deposit, 100),
            Refusal::AccountFrozen,
        ),
        (command(3, 3, transfer_to(1), 100), Refusal::AccountFrozen),
        (
            command(7, 7, MovementKind::Deposit, 100),
            Refusal::AccountClosed,
        ),
        (
            command(1, 1, MovementKind::Withdrawal, 10_001),
            Refusal::InsufficientFunds,
        ),
        (
            command(1, 1, transfer_to(2), 10_001),
            Refusal::InsufficientFunds,
        ),
        (
            command(6, 6, MovementKind::Deposit, 1),
            Refusal::BalanceLimitExceeded,
        ),
        (
            command(1, 1, transfer_to(5), 1),
            Refusal::BalanceLimitExceeded,
        ),
        (
            command(1, 1, transfer_to(999), 1),
            Refusal::DestinationNotFound,
        ),
        (command(1, 1, transfer_to(1), 1), Refusal::SameAccount),
        (command(1, 1, transfer_to(3), 1), Refusal::DestinationFrozen),
        (command(1, 1, transfer_to(7), 1), Refusal::DestinationClosed),
    ];
    for (index, (command, refusal)) in cases.into_iter().enumerate() {
        let before = snapshot(&database).await;

        let (answer, outcome) = fresh(ledger::move_money(&database.pool, &command).await);

        assert_eq!(answer.body, format!("{refusal:?}"), "{command:?}");
        assert_eq!(outcome, Outcome::Failure);
        assert_eq!(
            snapshot(&database).await,
            before,
            "{command:?} changed something"
        );
        let audited = database.integer("SELECT count(*) FROM audit_pending").await;
        assert_eq!(
            audited,
            index as i64 + 1,
            "{command:?} was not audited once"
        );
    }
    database.drop_database().await;
}

#[tokio::test]
async fn a_transfer_writes_its_legs_balances_and_audit_row_together() {
    let Some(database) = TestDatabase::create("a_transfer_writes_together").await else {
        return;
    };
    database.execute(&owners_with_accounts(2, 10_000)).await;

    let result = ledger::move_money(&database.pool, &command(1, 1, transfer_to(2), 4_000)).await;

    let Ok(MovementAnswer::Fresh {
        answer,
        outcome,
        audit,
    }) = result
    else {
        panic!("transfer not fresh: {result:?}");
    };
    assert_eq!(outcome, Outcome::Success);
    let transfer: i64 = database.integer("SELECT id FROM transfers").await;
    assert!(
        answer.body.contains(&format!("TransferId({transfer})")),
        "{}",
        answer.body
    );
    let client = database.client().await;
    let legs: Vec<(i64, String, i64, i64, String, i64, String)> = client
        .query(
            "SELECT account_id, transaction_type, amount_cents, balance_after_cents,
                 counterparty_account_number, transfer_id, created_at
             FROM transactions ORDER BY id",
            &[],
        )
        .await
        .expect("legs")
        .iter()
        .map(|row| {
            (
                row.get(0),
                row.get(1),
                row.get(2),
                row.get(3),
                row.get(4),
                row.get(5),
                row.get(6),
            )
        })
        .collect();
    assert_eq!(legs.len(), 2);
    assert_eq!(
        (
            legs[0].0,
            &legs[0].1[..],
            legs[0].2,
            legs[0].3,
            &legs[0].4[..],
            legs[0].5
        ),
        (1, "transfer_out", 4_000, 6_000, &number(2)[..], transfer)
    );
    assert_eq!(
        (
            legs[1].0,
            &legs[1].1[..],
            legs[1].2,
            legs[1].3,
            &legs[1].4[..],
            legs[1].5
        ),
        (2, "transfer_in", 4_000, 14_000, &number(1)[..], transfer)
    );
    // The posting time is bankd's stored form, later than the fixtures' updated_at.
    assert_eq!(legs[0].6, legs[1].6);
    assert_eq!(legs[0].6.len(), T0.len());
    assert!(
        legs[0].6.as_str() > T0 && legs[0].6.ends_with('Z'),
        "{}",
        legs[0].6
    );
    let balances = snapshot(&database).await.0;
    assert_eq!(balances, [(1, 6_000, 1), (2, 14_000, 1)]);
    let pending = client
        .query_one(
            "SELECT pending_id, action, object_type, object_id, outcome, details
             FROM audit_pending",
            &[],
        )
        .await
        .expect("exactly one pending audit row");
    assert_eq!(pending.get::<_, i64>(0), audit.get());
    assert_eq!(
        (
            pending.get::<_, &str>(1),
            pending.get::<_, &str>(2),
            pending.get::<_, i64>(3),
            pending.get::<_, &str>(4),
        ),
        ("transfer", "account", 1, "success")
    );
    assert_eq!(
        pending.get::<_, &str>(5),
        format!(
            r#"{{"amount":"40.00","status":200,"to_account_number":"{}","transfer_id":{transfer}}}"#,
            number(2)
        )
    );
    drop(client);
    database.drop_database().await;
}

#[tokio::test]
async fn a_deposit_and_a_withdrawal_post_one_row_each_with_the_balance_after() {
    let Some(database) = TestDatabase::create("deposit_and_withdrawal").await else {
        return;
    };
    database.execute(&owners_with_accounts(1, 10_000)).await;

    let (deposit, _) = fresh(
        ledger::move_money(&database.pool, &command(1, 1, MovementKind::Deposit, 2_550)).await,
    );
    let (withdrawal, _) = fresh(
        ledger::move_money(
            &database.pool,
            &command(1, 1, MovementKind::Withdrawal, 12_550),
        )
        .await,
    );

    let first: i64 = database.integer("SELECT min(id) FROM transactions").await;
    assert_eq!(
        deposit.body,
        format!("Deposit {{ transaction: TransactionId({first}), new_balance: Balance(12550) }}")
    );
    assert!(
        withdrawal.body.starts_with("Withdrawal {"),
        "{}",
        withdrawal.body
    );
    assert!(
        withdrawal.body.ends_with("new_balance: Balance(0) }"),
        "{}",
        withdrawal.body
    );
    let rows: Vec<(String, i64, i64)> = database
        .client()
        .await
        .query(
            "SELECT transaction_type, amount_cents, balance_after_cents FROM transactions ORDER BY id",
            &[],
        )
        .await
        .expect("rows")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    assert_eq!(
        rows,
        [
            ("deposit".to_owned(), 2_550, 12_550),
            ("withdrawal".to_owned(), 12_550, 0)
        ]
    );
    assert_eq!(snapshot(&database).await.0, [(1, 0, 2)]);
    database.drop_database().await;
}

#[tokio::test]
async fn a_render_that_fails_rolls_the_whole_movement_back() {
    let Some(database) = TestDatabase::create("a_render_that_fails").await else {
        return;
    };
    database.execute(&owners_with_accounts(2, 10_000)).await;
    let before = snapshot(&database).await;
    let command = MovementCommand {
        render: failing_render,
        ..keyed(command(1, 1, transfer_to(2), 100), "k", [1; 32])
    };

    let result = ledger::move_money(&database.pool, &command).await;

    assert!(matches!(result, Err(ApiError::Internal(_))), "{result:?}");
    assert_eq!(snapshot(&database).await, before);
    assert_eq!(
        database.integer("SELECT count(*) FROM audit_pending").await,
        0
    );
    // The key was not kept in flight: the same request runs afresh.
    let retry = MovementCommand { render, ..command };
    let (answer, _) = fresh(ledger::move_money(&database.pool, &retry).await);
    assert_eq!(answer.status, 200);
    database.drop_database().await;
}

#[tokio::test]
async fn a_key_replays_its_answer_refuses_another_request_and_expires() {
    let Some(database) = TestDatabase::create("a_key_replays").await else {
        return;
    };
    database.execute(&owners_with_accounts(1, 10_000)).await;
    let withdraw = |cents, fingerprint| {
        keyed(
            command(1, 1, MovementKind::Withdrawal, cents),
            "k",
            fingerprint,
        )
    };

    let (first, _) = fresh(ledger::move_money(&database.pool, &withdraw(100, [1; 32])).await);
    let after_first = snapshot(&database).await;
    let replay = ledger::move_money(&database.pool, &withdraw(100, [1; 32])).await;
    let reused = ledger::move_money(&database.pool, &withdraw(200, [2; 32])).await;
    let after_replays = snapshot(&database).await;
    database
        .execute("UPDATE idempotency_keys SET expires_at = 0")
        .await;
    let (after_expiry, _) =
        fresh(ledger::move_money(&database.pool, &withdraw(200, [2; 32])).await);

    let Ok(MovementAnswer::Replayed { status, body }) = replay else {
        panic!("replay: {replay:?}");
    };
    assert_eq!((status, body), (first.status, first.body));
    assert!(
        matches!(reused, Ok(MovementAnswer::KeyReused)),
        "{reused:?}"
    );
    assert_eq!(after_replays, after_first);
    assert_eq!(after_expiry.status, 200);
    assert_eq!(snapshot(&database).await.0, [(1, 9_700, 2)]);
    assert_eq!(
        database
            .integer("SELECT count(*) FROM idempotency_keys")
            .await,
        1
    );
    database.drop_database().await;
}

#[tokio::test]
async fn an_unreachable_database_is_a_503_with_retry_after_not_a_panic() {
    let Some(database) = TestDatabase::create("an_unreachable_database").await else {
        return;
    };
    let mut gone = database.url.clone();
    gone.config.dbname("bankd_no_such_database");
    let gone = pool(&gone, SETTINGS).expect("a pool connects lazily");

    let result = ledger::move_money(&gone, &command(1, 1, MovementKind::Deposit, 100)).await;

    let Err(error) = result else {
        panic!("moved money without a database: {result:?}");
    };
    assert_eq!(error.status().as_u16(), 503);
    assert!(
        matches!(
            &error,
            ApiError::Detail {
                code: ErrorCode::ServiceUnavailable,
                ..
            }
        ),
        "{error:?}"
    );
    let response = axum::response::IntoResponse::into_response(error);
    assert_eq!(response.headers()["retry-after"], "1");
    database.drop_database().await;
}

#[tokio::test]
async fn a_connection_killed_mid_transaction_is_a_503_and_moves_nothing() {
    let Some(database) = TestDatabase::create("a_connection_killed").await else {
        return;
    };
    database.execute(&owners_with_accounts(2, 10_000)).await;
    // Hold account 2's row lock, so the movement waits inside its transaction; then kill the
    // movement's server process while it waits.
    let mut holder = database.client().await;
    let blocker = holder.transaction().await.expect("begin");
    blocker
        .execute("SELECT 1 FROM accounts WHERE id = 2 FOR UPDATE", &[])
        .await
        .expect("lock account 2");
    let node = database.another_pool();
    let movement = tokio::spawn(async move {
        ledger::move_money(&node, &command(1, 1, transfer_to(2), 100)).await
    });
    let killer = database.another_pool();
    let killer = killer.get().await.expect("a connection");
    let mut killed = false;
    for _ in 0..100 {
        let row = killer
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .expect("terminate");
        if row.get::<_, i64>(0) > 0 {
            killed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(killed, "the movement never waited on the lock");

    let result = movement.await.expect("no panic");
    blocker.rollback().await.expect("rollback");

    let Err(error) = result else {
        panic!("a killed movement answered: {result:?}");
    };
    assert_eq!(error.status().as_u16(), 503, "{error:?}");
    assert_eq!(
        snapshot(&database).await.0,
        [(1, 10_000, 0), (2, 10_000, 0)]
    );
    assert_eq!(
        database.integer("SELECT count(*) FROM audit_pending").await,
        0
    );
    drop(killer);
    drop(holder);
    database.drop_database().await;
}

// ---------------------------------------------------------------------------------------------
// Many movements at once, through several pools: several bankd nodes on one database.
// ---------------------------------------------------------------------------------------------

/// Three pools on the test database, as three bankd nodes would have.
fn three_nodes(database: &TestDatabase) -> [Pool; 3] {
    [
        database.another_pool(),
        database.another_pool(),
        database.another_pool(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_concurrent_withdrawals_over_three_nodes_overdraw_nothing() {
    let Some(database) = TestDatabase::create("thirty_concurrent_withdrawals").await else {
        return;
    };
    database.execute(&owners_with_accounts(1, 10_000)).await;
    let nodes = three_nodes(&database);
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(30));

    let mut tasks = Vec::new();
    for attempt in 0..30 {
        let node = nodes[attempt % 3].clone();
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            ledger::move_money(&node, &command(1, 1, MovementKind::Withdrawal, 1_000)).await
        }));
    }
    let mut posted = 0;
    let mut refused = 0;
    for task in tasks {
        let (answer, outcome) = fresh(task.await.expect("no panic"));
        match outcome {
            Outcome::Success => posted += 1,
            _ => {
                assert_eq!(answer.body, "InsufficientFunds");
                refused += 1;
            }
        }
    }

    assert_eq!((posted, refused), (10, 20));
    assert_eq!(snapshot(&database).await.0, [(1, 0, 10)]);
    assert_eq!(
        database.integer("SELECT count(*) FROM transactions").await,
        10
    );
    let lowest = database
        .integer("SELECT min(balance_after_cents) FROM transactions")
        .await;
    assert_eq!(lowest, 0);
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_sent_to_three_nodes_at_once_moves_money_once() {
    let Some(database) = TestDatabase::create("one_key_three_nodes").await else {
        return;
    };
    database.execute(&owners_with_accounts(1, 10_000)).await;
    let nodes = three_nodes(&database);
    let senders = 9;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(senders));

    let mut tasks = Vec::new();
    for sender in 0..senders {
        let node = nodes[sender % 3].clone();
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            let withdrawal = keyed(
                command(1, 1, MovementKind::Withdrawal, 1_000),
                "same-key",
                [7; 32],
            );
            start.wait().await;
            ledger::move_money(&node, &withdrawal).await
        }));
    }
    let mut fresh_answers = Vec::new();
    let mut replays = Vec::new();
    let mut in_flight = 0;
    for task in tasks {
        match task.await.expect("no panic") {
            Ok(MovementAnswer::Fresh { answer, .. }) => fresh_answers.push(answer),
            Ok(MovementAnswer::Replayed { status, body }) => replays.push((status, body)),
            Err(ApiError::Detail {
                status,
                code: ErrorCode::IdempotencyInProgress,
                ..
            }) if status.as_u16() == 409 => in_flight += 1,
            other => panic!("neither the movement, a replay nor in flight: {other:?}"),
        }
    }

    eprintln!(
        "one key, {senders} senders: 1 moved money, {} replayed, {in_flight} in flight",
        replays.len()
    );
    assert_eq!(
        fresh_answers.len(),
        1,
        "money moved {} times",
        fresh_answers.len()
    );
    let first = &fresh_answers[0];
    assert_eq!(first.status, 200);
    for (status, body) in &replays {
        assert_eq!((*status, body), (first.status, &first.body));
    }
    assert_eq!(1 + replays.len() + in_flight, senders);
    assert_eq!(snapshot(&database).await, (vec![(1, 9_000, 1)], 1, 0, 1));
    // Once the first has committed, every node replays it.
    for node in &nodes {
        let again = keyed(
            command(1, 1, MovementKind::Withdrawal, 1_000),
            "same-key",
            [7; 32],
        );
        let replay = ledger::move_money(node, &again).await;
        assert!(
            matches!(&replay, Ok(MovementAnswer::Replayed { body, .. }) if *body == first.body),
            "{replay:?}"
        );
    }
    database.drop_database().await;
}

/// A small reproducible pseudo-random sequence (a linear congruential generator), so a failure
/// can be replayed; no dependency.
struct Sequence(u64);

impl Sequence {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_concurrent_transfers_conserve_money_and_every_balance_is_its_history() {
    let Some(database) = TestDatabase::create("random_concurrent_transfers").await else {
        return;
    };
    const ACCOUNTS: i64 = 10;
    const OPENING_CENTS: i64 = 10_000;
    const TASKS: u64 = 8;
    const TRANSFERS_PER_TASK: usize = 500;
    database
        .execute(&owners_with_accounts(ACCOUNTS, OPENING_CENTS))
        .await;
    let nodes = three_nodes(&database);
    let retried_before = ledger::retried();

    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let node = nodes[task as usize % 3].clone();
        tasks.push(tokio::spawn(async move {
            let mut random = Sequence(task + 1);
            let mut posted = 0;
            for _ in 0..TRANSFERS_PER_TASK {
                let source = random.below(ACCOUNTS as u64) as i64 + 1;
                let destination = random.below(ACCOUNTS as u64) as i64 + 1;
                // Up to 40.00: a source often cannot cover it, so refusals happen too.
                let cents = random.below(4_000) as i64 + 1;
                let transfer = command(source, source, transfer_to(destination), cents);
                let (answer, outcome) = fresh(ledger::move_money(&node, &transfer).await);
                match outcome {
                    Outcome::Success => posted += 1,
                    _ if source == destination => assert_eq!(answer.body, "SameAccount"),
                    _ => assert_eq!(answer.body, "InsufficientFunds"),
                }
            }
            posted
        }));
    }
    let mut posted = 0;
    for task in tasks {
        posted += task.await.expect("no panic");
    }

    assert!(posted > 0);
    assert_eq!(
        ledger::retried(),
        retried_before,
        "ordered locks need no retry"
    );
    let total = database
        .integer("SELECT sum(balance_cents)::bigint FROM accounts")
        .await;
    assert_eq!(
        total,
        ACCOUNTS * OPENING_CENTS,
        "money was created or destroyed"
    );
    assert_eq!(
        database.integer("SELECT count(*) FROM transfers").await,
        posted
    );
    assert_eq!(
        database.integer("SELECT count(*) FROM transactions").await,
        2 * posted
    );
    let client = database.client().await;
    // Every transfer has exactly two legs, out and in, that sum to zero.
    let unbalanced: i64 = client
        .query_one(
            "SELECT count(*) FROM (
                 SELECT t.id FROM transfers t JOIN transactions l ON l.transfer_id = t.id
                 GROUP BY t.id, t.amount_cents
                 HAVING count(*) <> 2
                     OR sum(CASE WHEN l.transaction_type = 'transfer_in' THEN l.amount_cents
                                 ELSE -l.amount_cents END) <> 0
                     OR max(l.amount_cents) <> t.amount_cents) unbalanced",
            &[],
        )
        .await
        .expect("legs")
        .get(0);
    assert_eq!(unbalanced, 0);
    for account in 1..=ACCOUNTS {
        let history = client
            .query(
                "SELECT transaction_type, amount_cents, balance_after_cents, created_at
                 FROM transactions WHERE account_id = $1 ORDER BY id",
                &[&account],
            )
            .await
            .expect("history");
        let mut balance = OPENING_CENTS;
        let mut previous_time = String::new();
        for row in &history {
            let amount: i64 = row.get(1);
            balance += match row.get::<_, &str>(0) {
                "transfer_in" => amount,
                _ => -amount,
            };
            assert!(balance >= 0, "account {account} went negative");
            assert_eq!(
                row.get::<_, i64>(2),
                balance,
                "account {account}: balance_after"
            );
            let time: String = row.get(3);
            assert!(
                time >= previous_time,
                "account {account}: posting time went back"
            );
            previous_time = time;
        }
        let (stored, postings): (i64, i64) = {
            let row = client
                .query_one(
                    "SELECT balance_cents, transaction_count FROM accounts WHERE id = $1",
                    &[&account],
                )
                .await
                .expect("account");
            (row.get(0), row.get(1))
        };
        assert_eq!(
            stored, balance,
            "account {account}: balance is not its history"
        );
        assert_eq!(postings, history.len() as i64, "account {account}");
    }
    drop(client);
    database.drop_database().await;
}

/// Not a test: the figure docs/POSTGRESQL.md records. Transfers per second through
/// `move_money` with `BANKD_MEASURE_TASKS` (32) tasks on one pool of as many connections, for
/// `BANKD_MEASURE_SECONDS` (15), among 1,000 accounts (as bench/postgres/locking.sh), then the
/// money is checked. Run: `cargo test --test postgres_ledger -- --ignored --nocapture measure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn measure_transfers_per_second_on_one_pool() {
    let Some(database) = TestDatabase::create("measure_transfers").await else {
        return;
    };
    let setting = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    let tasks = setting("BANKD_MEASURE_TASKS", 32);
    let seconds = setting("BANKD_MEASURE_SECONDS", 15);
    const ACCOUNTS: i64 = 1_000;
    const OPENING_CENTS: i64 = 100_000_000;
    database
        .execute(&owners_with_accounts(ACCOUNTS, OPENING_CENTS))
        .await;
    let settings = PoolSettings {
        pool_size_max: tasks as usize,
        ..SETTINGS
    };
    let node = pool(&database.url, settings).expect("the measured pool");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);

    let started = std::time::Instant::now();
    let mut workers = Vec::new();
    for task in 0..tasks {
        let node = node.clone();
        workers.push(tokio::spawn(async move {
            let mut random = Sequence(task + 1);
            let mut latencies = Vec::new();
            while tokio::time::Instant::now() < deadline {
                let source = random.below(ACCOUNTS as u64) as i64 + 1;
                let destination =
                    (source + random.below(ACCOUNTS as u64 - 1) as i64) % ACCOUNTS + 1;
                let transfer = command(source, source, transfer_to(destination), 100);
                let one = std::time::Instant::now();
                let (_, outcome) = fresh(ledger::move_money(&node, &transfer).await);
                assert_eq!(outcome, Outcome::Success);
                latencies.push(one.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("no panic"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let percentile = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];

    eprintln!(
        "move_money: {tasks} tasks, one pool, {seconds} s: {} transfers, {:.0}/s, p50 {:?}, \
         p99 {:?}, retried {}",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        percentile(50),
        percentile(99),
        ledger::retried()
    );
    let total = database
        .integer("SELECT sum(balance_cents)::bigint FROM accounts")
        .await;
    assert_eq!(total, ACCOUNTS * OPENING_CENTS);
    node.close();
    database.drop_database().await;
}
