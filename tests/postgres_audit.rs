//! The audit chain on PostgreSQL: `audit_pending` rows sealed into `audit_log` by
//! `store::postgres::audit`, with exactly the ids and hashes SQLite would give them (SQLite's
//! own `verify_chain` accepts a sealed chain), one chain however many sealers run, and
//! `store::postgres::verify` finding a broken link or a balance that its ledger does not give.
//!
//! Needs `BANKD_TEST_DATABASE_URL` like `tests/postgres_schema.rs` (whose pattern this follows):
//! each test creates its own database with a random name and drops it at the end; without the
//! URL each test says it was skipped and passes, except under `CI=true`, where it fails. Rows
//! are arranged with plain SQL, so each test shows exactly the state it checks.

use bankd::store::audit::chain::{CanonicalRow, ChainHead, ChainWalk, GENESIS_HASH, chain_hash};
use bankd::store::postgres::audit::{run_sealer, seal_pending};
use bankd::store::postgres::connect::{DatabaseUrl, PoolSettings, pool};
use bankd::store::postgres::migrate;
use deadpool_postgres::{Object, Pool};
use std::time::Duration;

const SETTINGS: PoolSettings = PoolSettings {
    pool_size_max: 4,
    statement_timeout: Duration::from_secs(30),
    connect_timeout: Duration::from_secs(10),
};

/// A migrated database of its own on the test cluster, dropped by [`TestDatabase::drop_database`].
struct TestDatabase {
    name: String,
    url: DatabaseUrl,
    admin: Pool,
    pool: Pool,
}

impl TestDatabase {
    /// `None` (the test is skipped) without `BANKD_TEST_DATABASE_URL`, except under `CI=true`.
    async fn create(test: &str) -> Option<Self> {
        let Ok(url) = std::env::var("BANKD_TEST_DATABASE_URL") else {
            let why = format!(
                "PostgreSQL test `{test}` cannot run: BANKD_TEST_DATABASE_URL is not set \
                 (start a server with tests/pg/cluster.sh start DIR)"
            );
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{why}; under CI=true the PostgreSQL tests are required"
            );
            eprintln!("{why}; skipped");
            return None;
        };
        let admin_url = DatabaseUrl::parse(&url).expect("BANKD_TEST_DATABASE_URL parses");
        let admin = pool(&admin_url, SETTINGS).expect("admin pool");
        let mut random = [0_u8; 8];
        getrandom::fill(&mut random).expect("random bytes");
        let name = format!("bankd_test_{}", hex::encode(random));
        admin
            .get()
            .await
            .expect("the test server answers")
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("CREATE DATABASE");
        let mut test_url = admin_url.clone();
        test_url.config.dbname(&name);
        let pool = pool(&test_url, SETTINGS).expect("test pool");
        let database = Self {
            name,
            url: test_url,
            admin,
            pool,
        };
        let mut client = database.client().await;
        migrate::run(&mut client).await.expect("migrations apply");
        drop(client);
        Some(database)
    }

    /// Another node's pool on the same database.
    fn another_pool(&self) -> Pool {
        pool(&self.url, SETTINGS).expect("a second pool")
    }

    async fn client(&self) -> Object {
        self.pool
            .get()
            .await
            .expect("a connection to the test database")
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
        self.pool.close();
        self.admin
            .get()
            .await
            .expect("the test server answers")
            .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .await
            .expect("DROP DATABASE");
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
    // Let them drain what is left, then stop them.
    for _ in 0..500 {
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
