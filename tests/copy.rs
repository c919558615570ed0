//! `bankd copy FROM TO`, run as the real binary: a bank made by a real `bankd serve` (users,
//! tokens, accounts, deposits, transfers, a card, a statement, an idempotency key, audit rows)
//! is copied SQLite → SQLite, and SQLite → PostgreSQL → SQLite; the result verifies, holds every
//! row of every table exactly as the original did (the derived audit filter tables aside), and
//! serves: an old token still works and the balances are the same. A copy into a target that
//! is not empty is refused and changes nothing.
//!
//! The PostgreSQL test needs `BANKD_TEST_DATABASE_URL` (see tests/postgres_schema.rs): without
//! it, it says it was skipped and passes, except under `CI=true`, where it fails.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use bankd::store::postgres::connect::PoolSettings;
use reqwest::StatusCode;
use rusqlite::types::Value as SqlValue;
use serde_json::{Value, json};

// Part of the shared harness is for the other test binaries (see `tests/support/mod.rs`).
#[allow(dead_code)]
#[path = "support/mod.rs"]
mod support;

use support::child::{ChildServer, bankd_command, request, without_throttling};
use support::postgres::PgDatabase;

const PASSWORD: &str = "a-strong-password123";

/// Tables the target rebuilds rather than copies (migration V4), and refinery's own history
/// (its `applied_on` is when the target was migrated).
const NOT_COPIED: &[&str] = &[
    "audit_by_actor",
    "audit_by_object",
    "audit_index_state",
    "refinery_schema_history",
];

/// What a client saw of the bank before it was copied.
struct Seen {
    token: String,
    account_id: i64,
    balance: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_to_sqlite_copies_every_row_and_the_copy_serves() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let bank = dir.path().join("bank.db");
    let bank2 = dir.path().join("bank2.db");
    let seen = make_bank(dir.path(), &bank).await;

    let output = bankd(dir.path(), &["copy", path_str(&bank), path_str(&bank2)]);

    let stdout = assert_success(&output);
    assert!(stdout.contains("Database is sound"), "{stdout}");
    let progress = stderr(&output);
    assert!(progress.contains("copied transactions: "), "{progress}");
    assert!(progress.contains("copied audit_log: "), "{progress}");
    assert_same_rows(&bank, &bank2);
    assert_copy_into_is_refused(dir.path(), &bank, &bank2);
    assert_serves(dir.path(), &bank2, &seen).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_to_postgresql_and_back_copies_every_row_and_the_copy_serves() {
    let Some(database) = TestDatabase::create("sqlite_to_postgresql_and_back").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let bank = dir.path().join("bank.db");
    let bank2 = dir.path().join("bank2.db");
    let seen = make_bank(dir.path(), &bank).await;

    let there = run_blocking(dir.path(), &["copy", path_str(&bank), &database.url_text]).await;
    let stdout = assert_success(&there);
    // The PostgreSQL copy is verified there too (`store::postgres::verify`).
    assert!(stdout.contains("Database is sound"), "{stdout}");
    let back = run_blocking(dir.path(), &["copy", &database.url_text, path_str(&bank2)]).await;
    let stdout = assert_success(&back);
    assert!(stdout.contains("Database is sound"), "{stdout}");

    assert_same_rows(&bank, &bank2);
    let verify = bankd(dir.path(), &["verify", "--database", path_str(&bank2)]);
    assert!(assert_success(&verify).contains("Database is sound"));
    // Every identity sequence is past the copied ids, so the next row gets a fresh one.
    let client = database.pool.get().await.expect("a connection");
    for table in [
        "users",
        "customers",
        "accounts",
        "transfers",
        "transactions",
        "cards",
    ] {
        let row = client
            .query_one(
                &format!(
                    "SELECT (SELECT last_value FROM {table}_id_seq), \
                     (SELECT coalesce(max(id), 0) FROM {table})"
                ),
                &[],
            )
            .await
            .expect("read the sequence");
        let (last, max): (i64, i64) = (row.get(0), row.get(1));
        assert!(max > 0, "{table} was copied empty");
        assert_eq!(last, max, "{table}'s sequence");
    }
    // A second copy into the PostgreSQL bank is refused and leaves it as it was.
    let users_before: i64 = client
        .query_one("SELECT count(*) FROM transactions", &[])
        .await
        .expect("count")
        .get(0);
    let again = run_blocking(dir.path(), &["copy", path_str(&bank), &database.url_text]).await;
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("must be empty"),
        "{}",
        stderr(&again)
    );
    let users_after: i64 = client
        .query_one("SELECT count(*) FROM transactions", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(users_before, users_after);
    drop(client);
    assert_serves(dir.path(), &bank2, &seen).await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_bank_copied_while_its_server_moves_money_is_a_consistent_snapshot() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let bank = dir.path().join("bank.db");
    let bank2 = dir.path().join("bank2.db");
    let seen = make_bank(dir.path(), &bank).await;
    let mut command = bankd_command(dir.path());
    without_throttling(&mut command).env("BANKD_LOG_LEVEL", "warn");
    let mut server = ChildServer::start(command, &bank);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = std::sync::Arc::new(tokio::sync::Notify::new());
    let load = {
        let (address, token, stop) = (server.address.clone(), seen.token.clone(), stop.clone());
        let started = started.clone();
        let path = format!("/api/accounts/{}/deposit/", seen.account_id);
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut deposits = 0_u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let body = Some(json!({ "amount": "0.01" }));
                let (status, body) = request(
                    &client,
                    &address,
                    reqwest::Method::POST,
                    &path,
                    &token,
                    body,
                )
                .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                deposits += 1;
                if deposits == 5 {
                    started.notify_one();
                }
            }
            deposits
        })
    };
    // The copy starts once money is moving, and it keeps moving until the copy is done.
    started.notified().await;

    let output = run_blocking(dir.path(), &["copy", path_str(&bank), path_str(&bank2)]).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let deposits = load.await.expect("the load task");
    let status = server.terminate();
    assert!(status.success(), "bankd serve exited with {status}");

    // Sound: balances, ledger, transfers and the audit chain all from one moment.
    let stdout = assert_success(&output);
    assert!(stdout.contains("Database is sound"), "{stdout}");
    assert!(deposits > 5, "no deposit ran during the copy");
}

#[test]
fn a_source_that_is_not_a_bank_is_refused_and_no_target_is_created() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let source = dir.path().join("other.db");
    rusqlite::Connection::open(&source)
        .and_then(|conn| conn.execute_batch("CREATE TABLE notes (text TEXT)"))
        .expect("a SQLite file that is not a bank");
    let target = dir.path().join("target.db");

    let output = bankd(dir.path(), &["copy", path_str(&source), path_str(&target)]);

    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("not a bankd database"),
        "{}",
        stderr(&output)
    );
    assert!(!target.exists(), "the refused copy left a target behind");
}

// ---------------------------------------------------------------------------------------------
// the bank

/// Runs `bankd serve` on `database` and makes a bit of everything through the API; stops it.
/// A superuser (a true flag) comes first and a password change (a revocation) last, both from
/// the command line.
async fn make_bank(dir: &Path, database: &Path) -> Seen {
    let made = bankd_command(dir)
        .args([
            "createsuperuser",
            "--username",
            "admin",
            "--database",
            path_str(database),
        ])
        .env("BANKD_SUPERUSER_PASSWORD", PASSWORD)
        .env("BANKD_LOG_LEVEL", "warn")
        .output()
        .expect("run bankd createsuperuser");
    assert_success(&made);
    let mut command = bankd_command(dir);
    without_throttling(&mut command).env("BANKD_LOG_LEVEL", "warn");
    let mut server = ChildServer::start(command, database);
    let client = reqwest::Client::new();
    let address = server.address.clone();
    let call = |method: reqwest::Method, path: &str, token: &str, body: Option<Value>| {
        let (client, address) = (client.clone(), address.clone());
        let (path, token) = (path.to_owned(), token.to_owned());
        async move { request(&client, &address, method, &path, &token, body).await }
    };
    let mut tokens = Vec::new();
    let mut accounts = Vec::new();
    for name in ["alice", "bob"] {
        let body = json!({
            "username": name,
            "password": PASSWORD,
            "full_name": format!("{name} Example"),
            "email": format!("{name}@example.com"),
        });
        let (status, body) = call(reqwest::Method::POST, "/api/register/", "", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let login = json!({ "username": name, "password": PASSWORD });
        let (status, body) = call(reqwest::Method::POST, "/api/get-token/", "", Some(login)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let token = body["token"].as_str().expect("token").to_owned();
        let (status, account) = call(
            reqwest::Method::POST,
            "/api/accounts/",
            &token,
            Some(json!({})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{account}");
        let id = account["id"].as_i64().expect("account id");
        let number = account["account_number"]
            .as_str()
            .expect("number")
            .to_owned();
        let path = format!("/api/accounts/{id}/deposit/");
        let (status, body) = call(
            reqwest::Method::POST,
            &path,
            &token,
            Some(json!({ "amount": "500.00" })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        tokens.push(token);
        accounts.push((id, number));
    }
    let (alice, (alice_account, _)) = (&tokens[0], &accounts[0]);
    let (_, bob_number) = &accounts[1];
    for cents in ["12.34", "0.07", "100.00"] {
        let path = format!("/api/accounts/{alice_account}/transfer/");
        let body = json!({ "to_account_number": bob_number, "amount": cents });
        let (status, body) = call(reqwest::Method::POST, &path, alice, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // A withdrawal under an idempotency key, so idempotency_keys has a row.
    let response = client
        .post(format!("{address}/api/accounts/{alice_account}/withdraw/"))
        .header("Authorization", format!("Token {alice}"))
        .header("Idempotency-Key", "copy-test-key-1")
        .json(&json!({ "amount": "1.00" }))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::OK);
    let card = json!({ "account": alice_account, "card_type": "debit" });
    let (status, body) = call(reqwest::Method::POST, "/api/cards/", alice, Some(card)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let today = chrono::Utc::now().date_naive().to_string();
    let path = format!("/api/accounts/{alice_account}/statements/");
    let range = json!({ "start_date": today, "end_date": today });
    let (status, body) = call(reqwest::Method::POST, &path, alice, Some(range)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let path = format!("/api/accounts/{alice_account}/");
    let (status, account) = call(reqwest::Method::GET, &path, alice, None).await;
    assert_eq!(status, StatusCode::OK, "{account}");
    let balance = account["balance"].as_str().expect("balance").to_owned();
    assert_eq!(balance, "386.59");
    let status = server.terminate();
    assert!(status.success(), "bankd serve exited with {status}");
    let mut changed = bankd_command(dir)
        .args([
            "changepassword",
            "bob",
            "--password-stdin",
            "--database",
            path_str(database),
        ])
        .env("BANKD_LOG_LEVEL", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run bankd changepassword");
    use std::io::Write;
    changed
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"another-strong-password456\n")
        .expect("write the password");
    assert_success(&changed.wait_with_output().expect("changepassword ends"));
    Seen {
        token: alice.clone(),
        account_id: *alice_account,
        balance,
    }
}

/// Serves `database` and checks that the token issued before the copy still works and sees
/// the same balance.
async fn assert_serves(dir: &Path, database: &Path, seen: &Seen) {
    let mut command = bankd_command(dir);
    without_throttling(&mut command).env("BANKD_LOG_LEVEL", "warn");
    let mut server = ChildServer::start(command, database);
    let client = reqwest::Client::new();
    let path = format!("/api/accounts/{}/", seen.account_id);
    let (status, account) = request(
        &client,
        &server.address,
        reqwest::Method::GET,
        &path,
        &seen.token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["balance"], seen.balance.as_str());
    // And the copy takes new writes: its ids continue after the copied ones.
    let path = format!("/api/accounts/{}/deposit/", seen.account_id);
    let (status, body) = request(
        &client,
        &server.address,
        reqwest::Method::POST,
        &path,
        &seen.token,
        Some(json!({ "amount": "1.00" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let status = server.terminate();
    assert!(status.success(), "bankd serve exited with {status}");
}

/// Every table of `a` but the derived ones, row for row equal in `b` (values and storage
/// classes both), and no table more or less.
#[track_caller]
fn assert_same_rows(a: &Path, b: &Path) {
    let (a, b) = (open(a), open(b));
    let tables = table_names(&a);
    assert_eq!(tables, table_names(&b));
    assert!(tables.len() >= 13, "{tables:?}");
    for table in &tables {
        let (left, right) = (rows(&a, table), rows(&b, table));
        assert_eq!(left, right, "table {table} differs");
    }
    for table in [
        "users",
        "auth_tokens",
        "transactions",
        "audit_log",
        "settings",
    ] {
        assert!(
            !rows(&a, table).is_empty(),
            "{table} was empty in the source"
        );
    }
    for table in [
        "idempotency_keys",
        "cards",
        "statements",
        "transfers",
        "auth_revocations",
    ] {
        assert!(
            !rows(&a, table).is_empty(),
            "{table} was empty in the source"
        );
    }
}

/// A copy into `target` (which holds a bank) is refused, and `target` is unchanged.
#[track_caller]
fn assert_copy_into_is_refused(dir: &Path, source: &Path, target: &Path) {
    let before = std::fs::read(target).expect("read the target");
    let output = bankd(dir, &["copy", path_str(source), path_str(target)]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("must be empty"),
        "{}",
        stderr(&output)
    );
    assert_eq!(before, std::fs::read(target).expect("read the target"));
}

fn open(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("open the database")
}

fn table_names(conn: &rusqlite::Connection) -> Vec<String> {
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .expect("list tables");
    statement
        .query_map([], |row| row.get::<_, String>(0))
        .expect("list tables")
        .map(|name| name.expect("a table name"))
        .filter(|name| !NOT_COPIED.contains(&name.as_str()))
        .collect()
}

fn rows(conn: &rusqlite::Connection, table: &str) -> Vec<Vec<SqlValue>> {
    let mut statement = conn
        .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
        .expect("read a table");
    let width = statement.column_count();
    statement
        .query_map([], |row| {
            (0..width)
                .map(|i| row.get::<_, SqlValue>(i))
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .expect("read a table")
        .map(|row| row.expect("a row"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// the bankd binary and the PostgreSQL test database

fn bankd(dir: &Path, args: &[&str]) -> Output {
    bankd_command(dir)
        .args(args)
        .env("BANKD_LOG_LEVEL", "warn")
        .output()
        .expect("run bankd")
}

async fn run_blocking(dir: &Path, args: &[&str]) -> Output {
    let dir = dir.to_owned();
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        bankd(&dir, &args)
    })
    .await
    .expect("blocking task")
}

#[track_caller]
fn assert_success(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "bankd failed ({:?})\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        stderr(output)
    );
    stdout
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

const SETTINGS: PoolSettings = PoolSettings {
    pool_size_max: 2,
    statement_timeout: Duration::from_secs(30),
    connect_timeout: Duration::from_secs(10),
};

/// A database of its own on the test cluster (as in tests/postgres_schema.rs), with its URL
/// for the command line.
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

    async fn drop_database(self) {
        self.0.drop_database().await;
    }
}
