//! Operating bankd: `bankd verify` and `bankd backup`, run as the real binary against a real
//! `bankd serve` process, as an operator would.
//!
//! The server runs as a child process (port 0, its own temporary database) and is driven over
//! HTTP, so a backup really races a second process's writes. The tampering tests edit a copy of
//! a finished database through raw SQL (dropping the immutability triggers where they are in the
//! way) and check that `verify` exits 1 and names the account, transfer or audit row it broke.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rusqlite::Connection;
use serde_json::{Value, json};
use tempfile::TempDir;

// Part of the shared harness is for the other test binaries (see `tests/support/mod.rs`).
#[allow(dead_code)]
#[path = "support/mod.rs"]
mod support;

use support::child::{ChildServer, bankd_command, request, without_throttling};
const PASSWORD: &str = "a-strong-password123";
/// Each customer of `populate` deposits this much into each of their accounts.
const OPENING_DEPOSIT_CENTS: i64 = 100_000; // 1000.00
const CUSTOMERS: usize = 3;
const ACCOUNTS_PER_CUSTOMER: usize = 2;
/// Statements `populate` generates for the last account.
const STATEMENTS: i64 = 3;

// ---------------------------------------------------------------------------------------------
// verify on sound databases

#[tokio::test(flavor = "multi_thread")]
async fn verify_passes_on_a_fresh_database_live_and_stopped() {
    let dir = temp_dir();
    let database = dir.path().join("bank.db");
    let server = Server::start(dir.path(), &database);

    let live = bankd_verify(dir.path(), &database);
    server.stop();
    let stopped = bankd_verify(dir.path(), &database);

    for output in [live, stopped] {
        let stdout = assert_success(&output);
        assert!(
            stdout.contains("(0 accounts, 0 ledger rows, 0 transfers)"),
            "{stdout}"
        );
        assert_eq!(stdout.lines().filter(|l| l.starts_with("OK  ")).count(), 11);
        assert!(stdout.contains("Database is sound"), "{stdout}");
    }
}

#[test]
fn verify_refuses_a_missing_database_and_does_not_create_it() {
    let dir = temp_dir();
    let database = dir.path().join("absent.db");

    let output = bankd_verify(dir.path(), &database);

    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("does not exist"),
        "{}",
        stderr(&output)
    );
    assert!(!database.exists(), "verify created the database");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_passes_on_a_busy_database_while_transfers_continue() {
    let dir = temp_dir();
    let database = dir.path().join("bank.db");
    let server = Server::start(dir.path(), &database);
    let bank = populate(&server.api).await;
    let load = TransferLoad::start(&server, &bank);

    let mut reports = Vec::new();
    for _ in 0..3 {
        load.wait_for_more_transfers(20).await;
        reports.push(run_blocking(dir.path(), &["verify", "--database"], &database).await);
    }
    let transfers = load.stop().await;
    server.stop();
    reports.push(bankd_verify(dir.path(), &database));

    assert!(transfers >= 60, "only {transfers} transfers");
    for output in &reports {
        let stdout = assert_success(output);
        assert!(stdout.contains("Database is sound"), "{stdout}");
    }
}

// ---------------------------------------------------------------------------------------------
// backup

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_during_a_transfer_load_passes_verify_and_serves() {
    let dir = temp_dir();
    let database = dir.path().join("bank.db");
    let copy = dir.path().join("copy.db");
    let server = Server::start(dir.path(), &database);
    let bank = populate(&server.api).await;
    let load = TransferLoad::start(&server, &bank);
    load.wait_for_more_transfers(20).await;

    let before_backup = load.transfers();
    let output = run_blocking(
        dir.path(),
        &["backup", path_str(&copy), "--database"],
        &database,
    )
    .await;
    load.wait_for_more_transfers(20).await;
    let transfers = load.stop().await;
    server.stop();

    let stdout = assert_success(&output);
    assert!(
        stdout.contains("pages of") && stdout.contains("bytes"),
        "{stdout}"
    );
    assert!(
        transfers > before_backup + 20,
        "the server stopped serving writes"
    );
    assert_success(&bankd_verify(dir.path(), &copy));
    // Transfers only move money: every cent deposited is still somewhere in the copy.
    let total: i64 = open(&copy)
        .query_row("SELECT sum(balance_cents) FROM accounts", [], |row| {
            row.get(0)
        })
        .expect("sum of balances");
    assert_eq!(total, bank.deposited_cents());
    assert_no_partial_files(dir.path());

    let restored = Server::start(dir.path(), &copy);
    let token = restored.api.token(&bank.usernames[0]).await;
    let (status, accounts) = restored.api.get("/api/accounts/", &token).await;
    assert_eq!(status, StatusCode::OK, "{accounts}");
    assert_eq!(accounts["count"], ACCOUNTS_PER_CUSTOMER, "{accounts}");
    restored.stop();
}

#[test]
fn backup_refuses_an_existing_file_without_force_and_replaces_it_with_force() {
    let dir = temp_dir();
    let database = dir.path().join("bank.db");
    let target = dir.path().join("existing.db");
    assert_success(&bankd(
        dir.path(),
        &["migrate", "--database", path_str(&database)],
    ));
    std::fs::write(&target, "precious").expect("write the existing file");

    let refused = bankd(
        dir.path(),
        &[
            "backup",
            path_str(&target),
            "--database",
            path_str(&database),
        ],
    );
    let unchanged = std::fs::read_to_string(&target).expect("read the existing file");
    let forced = bankd(
        dir.path(),
        &[
            "backup",
            path_str(&target),
            "--force",
            "--database",
            path_str(&database),
        ],
    );

    assert_eq!(refused.status.code(), Some(1));
    let message = stderr(&refused);
    assert!(
        message.contains("already exists") && message.contains("--force"),
        "{message}"
    );
    assert_eq!(unchanged, "precious");
    assert_success(&forced);
    // verify reads read-only and so leaves an empty `existing.db-wal` behind, which must not
    // stop the next backup from replacing the file.
    assert_success(&bankd_verify(dir.path(), &target));
    assert_success(&bankd(
        dir.path(),
        &[
            "backup",
            path_str(&target),
            "--force",
            "--database",
            path_str(&database),
        ],
    ));
    assert_success(&bankd_verify(dir.path(), &target));
    assert_no_partial_files(dir.path());
}

// ---------------------------------------------------------------------------------------------
// tampering: one test per invariant, each on its own copy of a finished database

#[test]
fn an_edited_balance_is_caught_by_the_ledger_sum_and_latest_balance_checks() {
    let copy = TamperedCopy::new();
    let account = copy.busiest_account();
    let balance = copy.balance(account);
    copy.tamper(&format!(
        "UPDATE accounts SET balance_cents = balance_cents + 100 WHERE id = {account}"
    ));

    let stdout = copy.verify_fails();

    let expected = format!(
        "account {account} (ACC-{}): balance {}, ledger rows sum to {}",
        copy.account_digits(account),
        money(balance + 100),
        money(balance)
    );
    assert_problem(&stdout, "every balance equals the sum", &expected);
    assert_problem(
        &stdout,
        "every balance equals the balance_after",
        &format!("account {account} ("),
    );
}

#[test]
fn an_edited_balance_after_is_caught_by_the_latest_balance_check_alone() {
    let copy = TamperedCopy::new();
    let account = copy.busiest_account();
    let latest = copy.latest_transaction(account);
    copy.tamper(&format!(
        "DROP TRIGGER transactions_no_update;
         UPDATE transactions SET balance_after_cents = balance_after_cents + 1 WHERE id = {latest}"
    ));

    let stdout = copy.verify_fails();

    assert_problem(
        &stdout,
        "every balance equals the balance_after",
        &format!("account {account} ("),
    );
    assert_problem(
        &stdout,
        "every balance equals the balance_after",
        &format!("(transaction {latest})"),
    );
    assert_eq!(failed_checks(&stdout), 1, "{stdout}");
}

#[test]
fn an_edited_transaction_count_is_caught() {
    let copy = TamperedCopy::new();
    let account = copy.busiest_account();
    copy.tamper(&format!(
        "UPDATE accounts SET transaction_count = transaction_count + 1 WHERE id = {account}"
    ));

    let stdout = copy.verify_fails();

    assert_problem(
        &stdout,
        "every transaction_count equals",
        &format!("account {account} ("),
    );
    assert_eq!(failed_checks(&stdout), 1, "{stdout}");
}

#[test]
fn a_negative_balance_is_caught() {
    let copy = TamperedCopy::new();
    let account = copy.busiest_account();
    // The CHECK constraint refuses this, so the tamperer turns CHECKs off first.
    copy.tamper(&format!(
        "PRAGMA ignore_check_constraints = ON;
         UPDATE accounts SET balance_cents = -500 WHERE id = {account}"
    ));

    let stdout = copy.verify_fails();

    assert_problem(
        &stdout,
        "no balance is negative",
        &format!(
            "account {account} (ACC-{}): balance -5.00",
            copy.account_digits(account)
        ),
    );
}

#[test]
fn a_deleted_transfer_leg_is_caught() {
    let copy = TamperedCopy::new();
    let transfer = copy.some_transfer();
    copy.tamper(&format!(
        "DROP TRIGGER transactions_no_delete;
         DELETE FROM transactions WHERE transfer_id = {transfer} AND transaction_type = 'transfer_in'"
    ));

    let stdout = copy.verify_fails();

    assert_problem(
        &stdout,
        "every transfer has two legs",
        &format!("transfer {transfer}: "),
    );
    assert_problem(&stdout, "every transfer has two legs", "found 1 leg(s)");
}

#[test]
fn a_transfer_leg_with_an_edited_amount_is_caught() {
    let copy = TamperedCopy::new();
    let transfer = copy.some_transfer();
    copy.tamper(&format!(
        "DROP TRIGGER transactions_no_update;
         UPDATE transactions SET amount_cents = amount_cents + 1
         WHERE transfer_id = {transfer} AND transaction_type = 'transfer_out'"
    ));

    let stdout = copy.verify_fails();

    assert_problem(
        &stdout,
        "every transfer has two legs",
        &format!("transfer {transfer}: "),
    );
    assert_problem(&stdout, "every transfer has two legs", "summing to -0.01");
}

#[test]
fn an_edited_audit_row_is_caught() {
    let copy = TamperedCopy::new();
    let row = copy.middle_audit_row();
    copy.tamper(&format!(
        "DROP TRIGGER audit_log_no_update;
         UPDATE audit_log SET details = '{{\"amount\": \"0.01\"}}' WHERE id = {row}"
    ));

    let stdout = copy.verify_fails();

    assert_problem(
        &stdout,
        "the audit hash chain is unbroken",
        &format!("audit chain broken at row {row}: the row was modified"),
    );
    assert_eq!(failed_checks(&stdout), 1, "{stdout}");
}

#[test]
fn a_deleted_audit_row_is_caught() {
    let copy = TamperedCopy::new();
    let row = copy.middle_audit_row();
    copy.delete_audit_rows(&format!("= {row}"));

    let stdout = copy.verify_fails();

    assert_problem(
        &stdout,
        "the audit hash chain is unbroken",
        &format!("expected row {row}, found row {}", row + 1),
    );
}

#[test]
fn an_audit_row_missing_from_a_filter_table_is_caught() {
    let copy = TamperedCopy::new();
    let row = copy.query("SELECT min(id) FROM audit_log WHERE action = 'transfer'");
    copy.index_audit_rows();
    copy.tamper(&format!(
        "DELETE FROM audit_by_object WHERE audit_id = {row}"
    ));

    let stdout = copy.verify_fails();

    assert_problem(
        &stdout,
        "the audit filter tables agree with the audit log",
        &format!("audit row {row} (account "),
    );
    assert_eq!(failed_checks(&stdout), 1, "{stdout}");
}

#[test]
fn a_filter_table_entry_naming_the_wrong_actor_is_caught() {
    let copy = TamperedCopy::new();
    let row = copy.query("SELECT max(id) FROM audit_log WHERE action = 'transfer'");
    copy.index_audit_rows();
    copy.tamper(&format!(
        "UPDATE audit_by_actor SET actor_user_id = 999999 WHERE audit_id = {row}"
    ));

    let stdout = copy.verify_fails();

    assert_problem(
        &stdout,
        "the audit filter tables agree with the audit log",
        &format!("audit_by_actor entry (999999, {row}) matches no audit row"),
    );
}

#[test]
fn rows_cut_off_the_end_of_the_audit_log_are_caught_against_a_recorded_head() {
    let copy = TamperedCopy::new();
    let sound = bankd_verify(copy.dir.path(), &copy.path);
    let report = String::from_utf8_lossy(&sound.stdout).into_owned();
    assert_eq!(sound.status.code(), Some(0), "{report}");
    let head = report
        .split("head ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no audit head in the report:\n{report}"))
        .to_owned();
    let last = copy.query("SELECT max(id) FROM audit_log");
    assert!(head.starts_with(&format!("{last}:")), "{head}");
    copy.delete_audit_rows(&format!(">= {}", last - 1));

    // The chain alone is still consistent: only the recorded head reveals the cut.
    let without_head = bankd_verify(copy.dir.path(), &copy.path);
    assert_eq!(without_head.status.code(), Some(0));
    let with_head = bankd(
        copy.dir.path(),
        &[
            "verify",
            "--database",
            path_str(&copy.path),
            "--audit-head",
            &head,
        ],
    );
    let stdout = String::from_utf8_lossy(&with_head.stdout).into_owned();

    assert_eq!(with_head.status.code(), Some(1), "{stdout}");
    assert_problem(
        &stdout,
        "the audit hash chain is unbroken",
        &format!(
            "audit chain ends at row {} but row {last} was recorded earlier",
            last - 2
        ),
    );
}

#[test]
fn a_malformed_audit_head_is_refused_with_a_clear_message() {
    let copy = TamperedCopy::new();
    let output = bankd(
        copy.dir.path(),
        &[
            "verify",
            "--database",
            path_str(&copy.path),
            "--audit-head",
            "12:nothex",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("--audit-head must be ID:HASH"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_index_that_disagrees_with_its_table_is_caught_by_integrity_check() {
    let copy = TamperedCopy::new();
    // Redeclare the index over other columns without rebuilding it: its entries no longer
    // match the rows, which is what a torn write or a bad disk looks like to SQLite.
    copy.tamper(
        "PRAGMA writable_schema = ON;
         UPDATE sqlite_master
            SET sql = 'CREATE UNIQUE INDEX transactions_id ON transactions (amount_cents)'
          WHERE name = 'transactions_id';
         PRAGMA writable_schema = OFF;",
    );

    let stdout = copy.verify_fails();

    assert_problem(&stdout, "SQLite integrity_check", "transactions_id");
}

#[test]
fn a_dangling_foreign_key_is_caught() {
    let copy = TamperedCopy::new();
    let account = copy.busiest_account();
    copy.tamper(&format!(
        "PRAGMA foreign_keys = OFF;
         UPDATE accounts SET customer_id = 999999 WHERE id = {account}"
    ));

    let stdout = copy.verify_fails();

    assert_problem(
        &stdout,
        "every foreign key resolves",
        &format!("accounts row {account} references a missing customers row"),
    );
}

#[test]
fn a_statement_with_an_edited_figure_is_caught() {
    let copy = TamperedCopy::new();
    // Deposits and closing both up by 1.00, so the row still satisfies its own CHECK
    // (opening + deposits - withdrawals = closing) and only the ledger can tell.
    copy.tamper(
        "DROP TRIGGER statements_no_update;
         UPDATE statements SET total_deposits_cents = total_deposits_cents + 100,
                               closing_balance_cents = closing_balance_cents + 100
         WHERE id = 2",
    );

    let stdout = copy.verify_fails();

    assert_problem(
        &stdout,
        "every statement's figures",
        "statement 2 (account ",
    );
    assert_eq!(failed_checks(&stdout), 1, "{stdout}");
}

#[test]
fn a_statement_cannot_be_deleted_and_one_deleted_past_the_trigger_is_caught() {
    let copy = TamperedCopy::new();
    let refused = open(&copy.path)
        .execute("DELETE FROM statements WHERE id = 2", [])
        .expect_err("the trigger refuses the delete");
    assert!(
        refused.to_string().contains("statements are immutable"),
        "{refused}"
    );
    assert_eq!(copy.query("SELECT count(*) FROM statements"), STATEMENTS);

    copy.tamper(
        "DROP TRIGGER IF EXISTS statements_no_delete;
         DELETE FROM statements WHERE id = 2",
    );
    let stdout = copy.verify_fails();

    assert_problem(
        &stdout,
        "no statement was deleted",
        "statement 2 is missing",
    );
    assert_eq!(failed_checks(&stdout), 1, "{stdout}");
}

/// The database, its WAL and shared-memory index, and a backup hold the generated JWT and card
/// keys: none may be readable by anyone but the owner, whatever the umask.
#[tokio::test(flavor = "multi_thread")]
async fn the_database_its_wal_and_shm_and_backups_are_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let dir = temp_dir();
    let database = dir.path().join("bank.db");
    let copy = dir.path().join("copy.db");
    let server = Server::start(dir.path(), &database);
    let (status, body) = server
        .api
        .post(
            "/api/register/",
            "",
            json!({
                "username": "modes",
                "password": PASSWORD,
                "full_name": "Modes",
                "email": "modes@example.com",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let live = ["bank.db", "bank.db-wal", "bank.db-shm"].map(|name| {
        let path = dir.path().join(name);
        format!("{name} {:o}", mode(&path))
    });
    let output = run_blocking(
        dir.path(),
        &["backup", path_str(&copy), "--database"],
        &database,
    )
    .await;
    server.stop();

    assert_success(&output);
    assert_eq!(
        live,
        ["bank.db 600", "bank.db-wal 600", "bank.db-shm 600"].map(String::from)
    );
    assert_eq!(mode(&copy), 0o600, "the backup");
}

/// An existing database someone made world-readable keeps its mode (the operator chose it) but
/// is reported, since it holds the generated keys.
#[test]
fn an_existing_database_readable_by_others_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir();
    let database = dir.path().join("bank.db");
    assert_success(&bankd(
        dir.path(),
        &["migrate", "--database", path_str(&database)],
    ));
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).expect("chmod 644");

    let output = bankd(dir.path(), &["migrate", "--database", path_str(&database)]);

    assert_success(&output);
    let log = stderr(&output);
    assert!(log.contains("can be read by other users"), "{log}");
    let mode = std::fs::metadata(&database)
        .expect("stat")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o644, "the operator's mode is left alone");
}

// ---------------------------------------------------------------------------------------------
// the bankd binary

/// Runs `bankd args...` in `dir` (so no stray `./bank.toml` is read) and waits for it.
fn bankd(dir: &Path, args: &[&str]) -> Output {
    bankd_command(dir)
        .args(args)
        .env("BANKD_LOG_LEVEL", "warn")
        .output()
        .expect("run bankd")
}

fn bankd_verify(dir: &Path, database: &Path) -> Output {
    bankd(dir, &["verify", "--database", path_str(database)])
}

/// Runs `bankd args... database` on a blocking thread, so the load keeps running meanwhile.
async fn run_blocking(dir: &Path, args: &[&str], database: &Path) -> Output {
    let dir = dir.to_owned();
    let mut args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    args.push(path_str(database).to_owned());
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        bankd(&dir, &args)
    })
    .await
    .expect("blocking task")
}

/// Asserts exit status 0 and returns stdout.
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

fn temp_dir() -> TempDir {
    tempfile::tempdir().expect("temporary directory")
}

#[track_caller]
fn assert_no_partial_files(dir: &Path) {
    let partial: Vec<String> = std::fs::read_dir(dir)
        .expect("list directory")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".partial-"))
        .collect();
    assert!(partial.is_empty(), "left behind: {partial:?}");
}

// ---------------------------------------------------------------------------------------------
// reading the verify report

/// How many checks the report marks FAILED.
fn failed_checks(stdout: &str) -> usize {
    stdout.lines().filter(|l| l.starts_with("FAILED  ")).count()
}

/// Asserts the check whose name starts with `check` FAILED with a problem line containing
/// `expected`.
#[track_caller]
fn assert_problem(stdout: &str, check: &str, expected: &str) {
    let mut lines = stdout.lines().skip_while(|line| {
        !line
            .strip_prefix("FAILED  ")
            .is_some_and(|name| name.starts_with(check))
    });
    assert!(lines.next().is_some(), "{check:?} did not fail:\n{stdout}");
    let found = lines
        .take_while(|line| line.starts_with("        "))
        .any(|line| line.contains(expected));
    assert!(found, "{check:?} does not mention {expected:?}:\n{stdout}");
}

fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

// ---------------------------------------------------------------------------------------------
// a bankd serve child process

struct Server {
    process: ChildServer,
    api: Api,
}

/// Talks to a server over HTTP; cheap to clone into load tasks.
#[derive(Clone)]
struct Api {
    /// `http://127.0.0.1:<port>` without a trailing slash.
    address: String,
    client: reqwest::Client,
}

impl Server {
    /// Starts `bankd serve` on port 0 and waits for the line announcing its URL.
    fn start(dir: &Path, database: &Path) -> Server {
        let log = std::fs::File::create(dir.join(format!(
            "server-{}.log",
            database.file_stem().and_then(|s| s.to_str()).unwrap_or("db")
        )))
        .expect("server log");
        let mut command = bankd_command(dir);
        // Throttling is not under test, and every request here comes from one IP.
        without_throttling(&mut command).stderr(log);
        let process = ChildServer::start(command, database);
        let api = Api {
            address: process.address.clone(),
            client: reqwest::Client::new(),
        };
        Server { process, api }
    }

    /// SIGTERM, as an operator would: in-flight requests finish and the WAL is checkpointed.
    fn stop(mut self) {
        let status = self.process.terminate();
        assert!(status.success(), "bankd serve exited with {status}");
    }
}

impl Api {
    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        request(&self.client, &self.address, method, path, token, body).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.request(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.request(reqwest::Method::GET, path, token, None).await
    }

    async fn token(&self, username: &str) -> String {
        let body = json!({ "username": username, "password": PASSWORD });
        let (status, body) = self.post("/api/get-token/", "", body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// a small bank and a steady transfer load

/// Customers, each with funded accounts.
#[derive(Clone)]
struct Bank {
    usernames: Vec<String>,
    /// (token of the owner, account id, account number), for every account.
    accounts: Vec<(String, i64, String)>,
}

impl Bank {
    fn deposited_cents(&self) -> i64 {
        OPENING_DEPOSIT_CENTS * self.accounts.len() as i64
    }
}

/// Registers `CUSTOMERS` customers with `ACCOUNTS_PER_CUSTOMER` funded accounts each, then
/// makes a few transfers and a withdrawal so every kind of ledger row exists.
async fn populate(api: &Api) -> Bank {
    let mut bank = Bank {
        usernames: Vec::new(),
        accounts: Vec::new(),
    };
    for customer in 1..=CUSTOMERS {
        let username = format!("customer{customer}");
        let body = json!({
            "username": username,
            "password": PASSWORD,
            "full_name": format!("Customer {customer}"),
            "email": format!("{username}@example.com"),
        });
        let (status, body) = api.post("/api/register/", "", body).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let token = api.token(&username).await;
        for _ in 0..ACCOUNTS_PER_CUSTOMER {
            let (status, account) = api.post("/api/accounts/", &token, json!({})).await;
            assert_eq!(status, StatusCode::CREATED, "{account}");
            let id = account["id"].as_i64().expect("account id");
            let number = account["account_number"].as_str().expect("number");
            let path = format!("/api/accounts/{id}/deposit/");
            let amount = money(OPENING_DEPOSIT_CENTS);
            let (status, body) = api.post(&path, &token, json!({ "amount": amount })).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            bank.accounts.push((token.clone(), id, number.to_owned()));
        }
        bank.usernames.push(username);
    }
    for round in 0..bank.accounts.len() * 2 {
        transfer(api, &bank, round).await;
    }
    // A withdrawal and a deposit of the same amount keep `deposited_cents` exact.
    let (token, id, _) = &bank.accounts[0];
    for kind in ["withdraw", "deposit"] {
        let path = format!("/api/accounts/{id}/{kind}/");
        let (status, body) = api.post(&path, token, json!({ "amount": "12.34" })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Statements of today, so verify has stored figures to recompute. On the last account, not
    // the busiest one (the first), whose ledger rows other tests edit expecting exactly one
    // check to fail.
    let (token, id, _) = bank.accounts.last().expect("accounts");
    let today = chrono::Utc::now().date_naive().to_string();
    for _ in 0..STATEMENTS {
        let path = format!("/api/accounts/{id}/statements/");
        let range = json!({ "start_date": today, "end_date": today });
        let (status, body) = api.post(&path, token, range).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    bank
}

/// Transfer number `round`: from one account to the next, a few cents, so it never fails.
async fn transfer(api: &Api, bank: &Bank, round: usize) {
    let (token, source, _) = &bank.accounts[round % bank.accounts.len()];
    let (_, _, destination) = &bank.accounts[(round + 1) % bank.accounts.len()];
    let path = format!("/api/accounts/{source}/transfer/");
    let amount = money(1 + (round % 97) as i64);
    let body = json!({ "to_account_number": destination, "amount": amount });
    let (status, body) = api.post(&path, token, body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Tasks that send transfers back to back until stopped.
struct TransferLoad {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl TransferLoad {
    const TASKS: usize = 3;

    fn start(server: &Server, bank: &Bank) -> TransferLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let tasks = (0..Self::TASKS)
            .map(|task| {
                let (stop, done, bank) = (Arc::clone(&stop), Arc::clone(&done), bank.clone());
                let api = server.api.clone();
                tokio::spawn(async move {
                    let mut round = task;
                    while !stop.load(Ordering::Relaxed) {
                        transfer(&api, &bank, round).await;
                        done.fetch_add(1, Ordering::Relaxed);
                        round += Self::TASKS;
                    }
                })
            })
            .collect();
        TransferLoad { stop, done, tasks }
    }

    fn transfers(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Waits until `count` more transfers have succeeded (at most 30 s).
    async fn wait_for_more_transfers(&self, count: u64) {
        let target = self.transfers() + count;
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.transfers() < target {
            assert!(Instant::now() < deadline, "the transfer load stalled");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the tasks (a failed transfer panics its task, which fails here); returns how many
    /// transfers succeeded.
    async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("a transfer failed");
        }
        self.done.load(Ordering::Relaxed)
    }
}

// ---------------------------------------------------------------------------------------------
// tampered copies of one finished database

/// A database made once per test run by a real server and stopped cleanly, so every tampering
/// test starts from the same sound state without paying for registrations again.
fn finished_database() -> &'static Path {
    static FINISHED: OnceLock<(TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = FINISHED.get_or_init(|| {
        // Under the target directory rather than /tmp: a static is never dropped, so this
        // directory outlives the run, and `cargo clean` is the place that should remove it.
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temporary dir");
        let database = dir.path().join("finished.db");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let server = Server::start(dir.path(), &database);
        runtime.block_on(populate(&server.api));
        server.stop();
        assert_success(&bankd_verify(dir.path(), &database));
        (dir, database)
    });
    path
}

/// A copy of `finished_database()` in its own directory, to be tampered with.
struct TamperedCopy {
    dir: TempDir,
    path: PathBuf,
}

impl TamperedCopy {
    fn new() -> TamperedCopy {
        let dir = temp_dir();
        let path = dir.path().join("bank.db");
        // The server stopped cleanly (WAL checkpointed), so the main file is the whole database.
        std::fs::copy(finished_database(), &path).expect("copy the database");
        TamperedCopy { dir, path }
    }

    fn tamper(&self, sql: &str) {
        open(&self.path).execute_batch(sql).expect("tamper");
    }

    /// Deletes the audit rows whose id matches `id_condition` (e.g. `"= 7"`) the way a careful
    /// intruder would: with their entries in the filter tables, which reference them. Whether
    /// the server's writer had indexed those rows before it stopped depends on timing (it does
    /// so every 100 ms), so they are indexed first and the copy is the same on every run.
    fn delete_audit_rows(&self, id_condition: &str) {
        self.index_audit_rows();
        self.tamper(&format!(
            "DROP TRIGGER audit_log_no_delete;
             DELETE FROM audit_by_actor WHERE audit_id {id_condition};
             DELETE FROM audit_by_object WHERE audit_id {id_condition};
             DELETE FROM audit_log WHERE id {id_condition}"
        ));
    }

    /// What the server's writer does every 100 ms, so a test starts with every audit row in the
    /// filter tables (the copy holds far fewer rows than one call indexes).
    fn index_audit_rows(&self) {
        bankd::store::sqlite::audit::index_new_rows(&open(&self.path))
            .expect("index the audit rows");
        assert_eq!(
            self.query("SELECT indexed_through FROM audit_index_state"),
            self.query("SELECT max(id) FROM audit_log")
        );
    }

    fn verify_fails(&self) -> String {
        let output = bankd_verify(self.dir.path(), &self.path);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(output.status.code(), Some(1), "verify passed:\n{stdout}");
        assert!(stdout.contains("Database is NOT sound"), "{stdout}");
        assert!(
            stderr(&output).contains("verification failed"),
            "{}",
            stderr(&output)
        );
        stdout
    }

    fn query(&self, sql: &str) -> i64 {
        open(&self.path)
            .query_row(sql, [], |row| row.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The account with the most ledger rows (lowest id among equals).
    fn busiest_account(&self) -> i64 {
        self.query("SELECT id FROM accounts ORDER BY transaction_count DESC, id LIMIT 1")
    }

    fn balance(&self, account: i64) -> i64 {
        self.query(&format!(
            "SELECT balance_cents FROM accounts WHERE id = {account}"
        ))
    }

    /// The account number's digits, as an integer would lose leading zeros.
    fn account_digits(&self, account: i64) -> String {
        open(&self.path)
            .query_row(
                "SELECT substr(account_number, 5) FROM accounts WHERE id = ?1",
                [account],
                |row| row.get(0),
            )
            .expect("account number")
    }

    fn latest_transaction(&self, account: i64) -> i64 {
        self.query(&format!(
            "SELECT id FROM transactions WHERE account_id = {account}
             ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
    }

    /// A transfer from the middle of the ledger.
    fn some_transfer(&self) -> i64 {
        self.query("SELECT id FROM transfers ORDER BY id LIMIT 1 OFFSET 2")
    }

    /// An audit row with rows after it.
    fn middle_audit_row(&self) -> i64 {
        self.query("SELECT max(id) / 2 FROM audit_log")
    }
}

fn open(path: &Path) -> Connection {
    Connection::open(path).expect("open the database")
}
