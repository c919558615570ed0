//! `bankd restore BACKUP` and `bankd verify --json`, run as the real binary next to a real
//! `bankd serve` process, as an operator would.
//!
//! A restore must refuse a backup that does not verify and a database a server is using, keep
//! the replaced database (with its WAL) aside, never let a stale WAL be replayed into the
//! restored file, and leave a database that verifies and serves the backup's state.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rusqlite::Connection;
use serde_json::{Value, json};
use tempfile::TempDir;

// Part of the shared harness is for the other test binaries (see `tests/support/mod.rs`).
#[allow(dead_code)]
#[path = "support/mod.rs"]
mod support;

use support::child::{ChildServer, bankd_command, request};

const PASSWORD: &str = "a-strong-password123";

// ---------------------------------------------------------------------------------------------
// restore

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_swaps_in_the_backup_keeps_the_old_database_and_serves_the_backup() {
    let dir = temp_dir();
    let database = dir.path().join("bank.db");
    let backup = dir.path().join("backup.db");
    let mut server = start(&dir, &database);
    let customer = Customer::register(&server).await;
    customer.deposit(&server, "100.00").await;
    assert_success(&bankd(
        &dir,
        &["backup", path_str(&backup), "--database"],
        &database,
    ));
    customer.deposit(&server, "23.45").await;
    stop(&mut server);

    let output = bankd(
        &dir,
        &["restore", path_str(&backup), "--database"],
        &database,
    );

    let stdout = assert_success(&output);
    assert!(stdout.contains("Kept the replaced database as"), "{stdout}");
    assert_eq!(stdout.matches("Database is sound").count(), 2, "{stdout}");
    let aside = kept_aside(&dir);
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(balance_cents(&aside[0]), 12_345, "the old database changed");
    assert_eq!(balance_cents(&database), 10_000);
    assert_no_leftovers(&dir);
    let mut restored = start(&dir, &database);
    assert_eq!(customer.balance(&restored).await, "100.00");
    stop(&mut restored);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_is_refused_while_a_server_uses_the_database_and_changes_nothing() {
    let dir = temp_dir();
    let database = dir.path().join("bank.db");
    let backup = dir.path().join("backup.db");
    let mut server = start(&dir, &database);
    let customer = Customer::register(&server).await;
    assert_success(&bankd(
        &dir,
        &["backup", path_str(&backup), "--database"],
        &database,
    ));
    customer.deposit(&server, "5.00").await;

    let output = bankd(
        &dir,
        &["restore", path_str(&backup), "--database"],
        &database,
    );

    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("in use"), "{}", stderr(&output));
    assert!(kept_aside(&dir).is_empty());
    assert_no_leftovers(&dir);
    assert_eq!(customer.balance(&server).await, "5.00");
    stop(&mut server);
    assert_eq!(balance_cents(&database), 500);
}

#[test]
fn a_backup_that_does_not_verify_is_refused_and_nothing_changes() {
    let dir = temp_dir();
    let database = migrated_database(&dir, "bank.db");
    let backup = migrated_database(&dir, "backup.db");
    let before = fs::read(&database).expect("read");
    // A filter-table entry naming no audit row: two checks fail on it.
    open(&backup)
        .execute_batch("PRAGMA foreign_keys = OFF; INSERT INTO audit_by_actor VALUES (4242, 777);")
        .expect("tamper");

    let output = bankd(
        &dir,
        &["restore", path_str(&backup), "--database"],
        &database,
    );

    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("Database is NOT sound"),
        "{}",
        stdout(&output)
    );
    assert!(
        stderr(&output).contains("nothing was changed"),
        "{}",
        stderr(&output)
    );
    assert_eq!(fs::read(&database).expect("read"), before);
    assert!(kept_aside(&dir).is_empty());
    assert_no_leftovers(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stale_wal_of_a_killed_server_goes_aside_with_its_database_and_is_not_replayed() {
    let dir = temp_dir();
    let database = dir.path().join("bank.db");
    let backup = dir.path().join("backup.db");
    let mut server = start(&dir, &database);
    let customer = Customer::register(&server).await;
    assert_success(&bankd(
        &dir,
        &["backup", path_str(&backup), "--database"],
        &database,
    ));
    customer.deposit(&server, "7.00").await;
    // SIGKILL: no checkpoint, so the deposit is only in bank.db-wal.
    server.kill();
    let wal = dir.path().join("bank.db-wal");
    assert!(fs::metadata(&wal).expect("a WAL").len() > 0);

    let output = bankd(
        &dir,
        &["restore", path_str(&backup), "--database"],
        &database,
    );

    assert_success(&output);
    assert!(!wal.exists() || fs::metadata(&wal).expect("wal").len() == 0);
    assert_eq!(balance_cents(&database), 0, "the old WAL was replayed");
    let aside = kept_aside(&dir);
    assert_eq!(aside.len(), 1, "{aside:?}");
    // Opened under its new name, the old database finds its WAL and the deposit in it.
    assert_eq!(balance_cents(&aside[0]), 700);
}

#[test]
fn a_restore_onto_a_missing_database_creates_it() {
    let dir = temp_dir();
    let backup = migrated_database(&dir, "backup.db");
    let database = dir.path().join("new.db");

    let output = bankd(
        &dir,
        &["restore", path_str(&backup), "--database"],
        &database,
    );

    let stdout = assert_success(&output);
    assert!(stdout.contains("There was no database"), "{stdout}");
    assert_success(&bankd(&dir, &["verify", "--database"], &database));
}

#[test]
fn a_missing_or_unreadable_backup_or_the_database_itself_is_refused_and_changes_nothing() {
    let dir = temp_dir();
    let database = migrated_database(&dir, "bank.db");
    let missing = dir.path().join("absent.db");
    let garbage = dir.path().join("garbage.db");
    fs::write(&garbage, b"not a database at all").expect("write");
    let before = fs::read(&database).expect("read");
    let not_sqlite = bankd(
        &dir,
        &["restore", path_str(&garbage), "--database"],
        &database,
    );

    let absent = bankd(
        &dir,
        &["restore", path_str(&missing), "--database"],
        &database,
    );
    let itself = bankd(
        &dir,
        &["restore", path_str(&database), "--database"],
        &database,
    );

    assert_eq!(absent.status.code(), Some(1));
    assert!(
        stderr(&absent).contains("does not exist"),
        "{}",
        stderr(&absent)
    );
    assert!(!missing.exists());
    assert_eq!(itself.status.code(), Some(1));
    assert!(
        stderr(&itself).contains("the database itself"),
        "{}",
        stderr(&itself)
    );
    assert_eq!(not_sqlite.status.code(), Some(1));
    let said = stderr(&not_sqlite);
    assert!(said.contains("not a database"), "{said}");
    assert_eq!(fs::read(&database).expect("read"), before);
    assert!(kept_aside(&dir).is_empty());
    assert_no_leftovers(&dir);
}

#[test]
fn a_server_refuses_to_start_while_a_restore_holds_the_database() {
    let dir = temp_dir();
    let database = migrated_database(&dir, "bank.db");
    // What `bankd restore` holds while it works.
    let restore_lock = File::open(&database).expect("open");
    restore_lock.try_lock().expect("exclusive lock");

    let mut child = bankd_command(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(&database)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bankd runs");
    // A server that ignores the lock would serve forever: stop it rather than hang the test.
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("try_wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if child.try_wait().expect("try_wait").is_none() {
        let _ = child.kill();
    }
    let output = child.wait_with_output().expect("bankd finishes");

    assert_eq!(
        output.status.code(),
        Some(1),
        "bankd served a locked database"
    );
    assert!(
        stderr(&output).contains("being restored"),
        "{}",
        stderr(&output)
    );
}

// ---------------------------------------------------------------------------------------------
// verify --json

#[test]
fn verify_json_describes_a_sound_database_check_by_check() {
    let dir = temp_dir();
    let database = migrated_database(&dir, "bank.db");

    let output = bankd(&dir, &["verify", "--json", "--database"], &database);

    let document: Value = serde_json::from_str(&assert_success(&output)).expect("one JSON");
    assert_eq!(document["format"], 1);
    assert_eq!(document["ok"], true);
    assert_eq!(
        document["counts"],
        json!({ "accounts": 0, "ledger_rows": 0, "transfers": 0 })
    );
    assert_eq!(document["checks_failed"], 0);
    let checks = document["checks"].as_array().expect("checks");
    assert_eq!(document["checks_total"], checks.len());
    assert!(checks.len() >= 9, "{document}");
    for check in checks {
        assert_eq!(check["status"], "ok", "{check}");
        assert!(
            check["name"].is_string() && check["details"].is_string(),
            "{check}"
        );
        assert_eq!(check["problem_count"], 0, "{check}");
    }
}

#[test]
fn verify_json_names_the_failed_check_and_exits_1() {
    let dir = temp_dir();
    let database = migrated_database(&dir, "bank.db");
    open(&database)
        .execute_batch("PRAGMA foreign_keys = OFF; INSERT INTO audit_by_actor VALUES (4242, 777);")
        .expect("tamper");

    let output = bankd(&dir, &["verify", "--json", "--database"], &database);

    assert_eq!(output.status.code(), Some(1));
    let document: Value = serde_json::from_str(&stdout(&output)).expect("one JSON");
    assert_eq!(document["ok"], false);
    assert!(document["checks_failed"].as_u64() >= Some(1), "{document}");
    let failed: Vec<&Value> = document["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|check| check["status"] == "failed")
        .collect();
    assert!(
        failed.iter().any(
            |check| check["problems"].as_array().is_some_and(|problems| problems
                .iter()
                .any(|p| p.as_str().is_some_and(|p| p.contains("audit_by_actor"))))
        ),
        "{document}"
    );
}

#[test]
fn verify_json_of_a_missing_database_is_still_one_json_document() {
    let dir = temp_dir();
    let database = dir.path().join("absent.db");

    let output = bankd(&dir, &["verify", "--json", "--database"], &database);

    assert_eq!(output.status.code(), Some(1));
    let document: Value = serde_json::from_str(&stdout(&output)).expect("one JSON");
    assert_eq!(document["ok"], false);
    assert!(
        document["error"]
            .as_str()
            .is_some_and(|e| e.contains("does not exist")),
        "{document}"
    );
    assert!(!database.exists());
}

// ---------------------------------------------------------------------------------------------
// helpers

/// A registered customer with one account, driven over HTTP.
struct Customer {
    username: String,
    account: i64,
}

impl Customer {
    async fn register(server: &ChildServer) -> Customer {
        let client = reqwest::Client::new();
        let username = "restored".to_owned();
        let body = json!({
            "username": username, "password": PASSWORD, "password2": PASSWORD,
            "full_name": "Restored Customer", "email": "restored@example.com",
            "phone_number": "+1 (555) 010-0100", "date_of_birth": "1990-01-31", "gender": "O",
        });
        let post = reqwest::Method::POST;
        let (status, body) = request(
            &client,
            &server.address,
            post.clone(),
            "/api/register/",
            "",
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let customer = Customer {
            username,
            account: 0,
        };
        let token = customer.token(server).await;
        let (status, account) = request(
            &client,
            &server.address,
            post,
            "/api/accounts/",
            &token,
            Some(json!({})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{account}");
        Customer {
            account: account["id"].as_i64().expect("account id"),
            ..customer
        }
    }

    async fn token(&self, server: &ChildServer) -> String {
        let body = json!({ "username": self.username, "password": PASSWORD });
        let (status, body) = request(
            &reqwest::Client::new(),
            &server.address,
            reqwest::Method::POST,
            "/api/get-token/",
            "",
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }

    async fn deposit(&self, server: &ChildServer, amount: &str) {
        let token = self.token(server).await;
        let path = format!("/api/accounts/{}/deposit/", self.account);
        let (status, body) = request(
            &reqwest::Client::new(),
            &server.address,
            reqwest::Method::POST,
            &path,
            &token,
            Some(json!({ "amount": amount })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn balance(&self, server: &ChildServer) -> String {
        let token = self.token(server).await;
        let path = format!("/api/accounts/{}/", self.account);
        let (status, body) = request(
            &reqwest::Client::new(),
            &server.address,
            reqwest::Method::GET,
            &path,
            &token,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["balance"].as_str().expect("balance").to_owned()
    }
}

fn start(dir: &TempDir, database: &Path) -> ChildServer {
    let mut command = bankd_command(dir.path());
    command.env("BANKD_LOG_LEVEL", "warn");
    ChildServer::start(command, database)
}

#[track_caller]
fn stop(server: &mut ChildServer) {
    let status = server.terminate();
    assert!(status.success(), "bankd serve exited with {status}");
}

/// Runs `bankd args... database` in `dir` and waits for it.
fn bankd(dir: &TempDir, args: &[&str], database: &Path) -> Output {
    bankd_command(dir.path())
        .args(args)
        .arg(database)
        .env("BANKD_LOG_LEVEL", "warn")
        .output()
        .expect("run bankd")
}

/// A fresh, sound, empty bankd database named `name` in `dir`.
fn migrated_database(dir: &TempDir, name: &str) -> PathBuf {
    let path = dir.path().join(name);
    assert_success(&bankd(dir, &["migrate", "--database"], &path));
    path
}

/// The sum of every balance, read with SQLite directly.
fn balance_cents(database: &Path) -> i64 {
    open(database)
        .query_row(
            "SELECT coalesce(sum(balance_cents), 0) FROM accounts",
            [],
            |row| row.get(0),
        )
        .expect("sum of balances")
}

/// The files restore kept aside (`*.before-restore-<time>`, not their sidecars).
fn kept_aside(dir: &TempDir) -> Vec<PathBuf> {
    file_names(dir)
        .into_iter()
        .filter(|name| name.contains(".before-restore-") && !name.ends_with("-wal"))
        .filter(|name| !name.ends_with("-shm") && !name.ends_with("-journal"))
        .map(|name| dir.path().join(name))
        .collect()
}

#[track_caller]
fn assert_no_leftovers(dir: &TempDir) {
    let leftovers: Vec<String> = file_names(dir)
        .into_iter()
        .filter(|name| name.contains(".restoring-") || name.contains(".partial-"))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

fn file_names(dir: &TempDir) -> Vec<String> {
    fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}

fn open(path: &Path) -> Connection {
    Connection::open(path).expect("open the database")
}

#[track_caller]
fn assert_success(output: &Output) -> String {
    assert!(
        output.status.success(),
        "bankd failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
    stdout(output)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
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
