//! Runs the real `bankd` binary: `migrate`, `createsuperuser`, configuration errors,
//! `--version`, graceful shutdown, signals and half-sent requests, and durability across a SIGKILL.
//!
//! Every command runs in its own temporary directory with no `BANKD_*` variables inherited, so
//! a developer's `bank.toml` or environment cannot change the outcome.

// Part of the shared harness is for the other test binaries (see `tests/support/mod.rs`).
#[path = "cli/serve.rs"]
mod serve;
#[path = "cli/signals.rs"]
mod signals;
#[allow(dead_code)]
#[path = "support/mod.rs"]
mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

use serve::Server;

const PASSWORD: &str = "a-strong-password123";

/// `bankd` with a clean environment, run inside `dir`.
fn bankd(dir: &Path) -> Command {
    let mut command = support::child::bankd_command(dir);
    command.env("BANKD_LOG_LEVEL", "warn");
    command
}

fn database(dir: &TempDir) -> String {
    dir.path().join("bank.db").display().to_string()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `createsuperuser` with `password` on standard input.
fn createsuperuser(dir: &TempDir, username: &str, password: &str) -> Output {
    let mut child = bankd(dir.path())
        .args([
            "createsuperuser",
            "--username",
            username,
            "--email",
            "a@example.com",
        ])
        .args(["--password-stdin", "--database", &database(dir)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bankd starts");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{password}").expect("write the password");
    drop(stdin);
    child.wait_with_output().expect("bankd finishes")
}

/// The migration lines of `migrate --list` that mention V1.
fn v1_lines(dir: &TempDir) -> Vec<String> {
    let output = bankd(dir.path())
        .args(["migrate", "--list", "--database", &database(dir)])
        .output()
        .expect("bankd runs");
    assert!(
        output.status.success(),
        "migrate --list: {}",
        stderr(&output)
    );
    stdout(&output)
        .lines()
        .filter(|line| line.contains("V1__"))
        .map(str::to_owned)
        .collect()
}

fn shows_pending(line: &str) -> bool {
    line.starts_with("[ ]") || line.to_lowercase().contains("pending")
}

fn shows_applied(line: &str) -> bool {
    line.starts_with("[X]") || line.to_lowercase().contains("applied")
}

#[test]
fn migrate_list_on_a_fresh_database_shows_v1_pending_and_applies_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");

    let before = v1_lines(&dir);
    let again = v1_lines(&dir);

    assert_eq!(before.len(), 1, "{before:?}");
    assert!(shows_pending(&before[0]), "{before:?}");
    assert_eq!(again, before, "--list must not apply anything");
    assert!(
        !std::path::Path::new(&database(&dir)).exists(),
        "--list must not create the database"
    );
}

#[test]
fn migrate_applies_v1_once_and_then_lists_it_as_applied() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let migrate = || {
        bankd(dir.path())
            .args(["migrate", "--database", &database(&dir)])
            .output()
            .expect("bankd runs")
    };

    let first = migrate();
    let second = migrate();

    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stdout(&first).contains("V1"), "{}", stdout(&first));
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        !stdout(&second).contains("V1"),
        "applied twice: {}",
        stdout(&second)
    );
    let lines = v1_lines(&dir);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        shows_applied(&lines[0]) && !shows_pending(&lines[0]),
        "{lines:?}"
    );
}

#[tokio::test]
async fn createsuperuser_reads_the_password_from_stdin_and_the_user_can_log_in() {
    let dir = tempfile::tempdir().expect("temporary directory");

    let output = createsuperuser(&dir, "admin", PASSWORD);

    assert!(output.status.success(), "{}", stderr(&output));
    let server = Server::start(&dir);
    let token = server.login("admin", PASSWORD).await;
    assert_eq!(token.len(), 40);
}

#[test]
fn createsuperuser_refuses_a_weak_password_with_a_message_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");

    let weak = createsuperuser(&dir, "admin", "short");
    let common = createsuperuser(&dir, "admin", "password");
    let strong = createsuperuser(&dir, "admin", PASSWORD);

    for refused in [weak, common] {
        assert!(!refused.status.success());
        let message = stderr(&refused);
        assert!(message.contains("password"), "{message}");
    }
    assert!(strong.status.success(), "{}", stderr(&strong));
}

#[test]
fn createsuperuser_refuses_a_username_that_exists_in_any_case() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let first = createsuperuser(&dir, "admin", PASSWORD);
    assert!(first.status.success(), "{}", stderr(&first));

    let duplicate = createsuperuser(&dir, "ADMIN", PASSWORD);

    assert!(!duplicate.status.success());
    assert!(
        stderr(&duplicate).contains("already exists"),
        "{}",
        stderr(&duplicate)
    );
}

#[test]
fn createsuperuser_takes_the_password_from_the_environment() {
    let dir = tempfile::tempdir().expect("temporary directory");

    let output = bankd(dir.path())
        .args([
            "createsuperuser",
            "--username",
            "envadmin",
            "--database",
            &database(&dir),
        ])
        .env("BANKD_SUPERUSER_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .output()
        .expect("bankd runs");

    assert!(output.status.success(), "{}", stderr(&output));
    let weak = bankd(dir.path())
        .args([
            "createsuperuser",
            "--username",
            "envadmin2",
            "--database",
            &database(&dir),
        ])
        .env("BANKD_SUPERUSER_PASSWORD", "12345678")
        .stdin(Stdio::null())
        .output()
        .expect("bankd runs");
    assert!(!weak.status.success());
}

#[test]
fn a_bad_configuration_value_stops_start_up_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config_file = dir.path().join("custom.toml");
    std::fs::write(&config_file, "[server]\nlisten = \"nope\"\n").expect("write config");
    let config_file = config_file.display().to_string();
    let runs = [
        bankd(dir.path())
            .arg("serve")
            .env("BANKD_LISTEN", "nope")
            .output(),
        bankd(dir.path())
            .args(["serve", "--listen", "nope"])
            .output(),
        bankd(dir.path())
            .args(["--config", &config_file, "serve"])
            .output(),
    ];

    for run in runs {
        let output = run.expect("bankd runs");
        assert!(!output.status.success());
        let message = stderr(&output);
        assert_eq!(message.trim().lines().count(), 1, "{message}");
        assert!(message.contains("server.listen"), "{message}");
    }
    assert!(
        !dir.path().join("bank.db").exists(),
        "no database on a bad start"
    );
}

#[test]
fn an_unknown_bankd_variable_is_named_in_one_warning_and_the_command_goes_on() {
    let dir = tempfile::tempdir().expect("temporary directory");

    let output = bankd(dir.path())
        .env("BANKD_LISTNE", "127.0.0.1:9")
        .env("BANKD_LISTEN", "127.0.0.1:0")
        .args(["migrate", "--list", "--database", &database(&dir)])
        .output()
        .expect("bankd runs");

    assert!(output.status.success(), "{}", stderr(&output));
    let log = stderr(&output);
    assert_eq!(log.matches("BANKD_LISTNE").count(), 1, "{log}");
    assert!(
        !log.contains("BANKD_LISTEN,") && !log.contains("=BANKD_LISTEN"),
        "{log}"
    );
}

#[test]
fn version_and_help_answer() {
    let dir = tempfile::tempdir().expect("temporary directory");

    let version = bankd(dir.path())
        .arg("--version")
        .output()
        .expect("bankd runs");
    let help = bankd(dir.path())
        .arg("--help")
        .output()
        .expect("bankd runs");

    assert!(version.status.success());
    assert_eq!(
        stdout(&version).trim(),
        format!("bankd {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(help.status.success());
    for command in ["serve", "migrate", "createsuperuser"] {
        assert!(stdout(&help).contains(command), "{}", stdout(&help));
    }
}

/// Runs `changepassword USERNAME --password-stdin` with `password` on standard input.
fn changepassword(dir: &TempDir, username: &str, password: &str) -> Output {
    let mut child = bankd(dir.path())
        .args(["changepassword", username, "--password-stdin"])
        .args(["--database", &database(dir)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bankd starts");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{password}").expect("write the password");
    drop(stdin);
    child.wait_with_output().expect("bankd finishes")
}

#[tokio::test]
async fn changepassword_sets_the_password_and_a_running_server_stops_honouring_old_tokens() {
    let dir = tempfile::tempdir().expect("temporary directory");
    assert!(createsuperuser(&dir, "admin", PASSWORD).status.success());
    let server = support::child::ChildServer::start(bankd(dir.path()), Path::new(&database(&dir)));
    let client = reqwest::Client::new();
    let call = |method, path: &'static str, token: String, body| {
        let (client, address) = (client.clone(), server.address.clone());
        async move { support::child::request(&client, &address, method, path, &token, body).await }
    };
    let credentials =
        |password: &str| Some(serde_json::json!({ "username": "admin", "password": password }));
    let (_, body) = call(
        reqwest::Method::POST,
        "/api/get-token/",
        String::new(),
        credentials(PASSWORD),
    )
    .await;
    let token = body["token"].as_str().expect("a token").to_owned();
    // Cached by the server from here on.
    let (status, _) = call(
        reqwest::Method::GET,
        "/api/admin/customers/",
        token.clone(),
        None,
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK);

    let output = changepassword(&dir, "ADMIN", "a-new-strong-secret-9");

    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("Password changed successfully"),
        "{}",
        stdout(&output)
    );
    // The server learns of the revocation by watching the database (about once a second); wait
    // for it rather than assume a speed, and fail only if it never happens.
    let mut revoked = false;
    for _ in 0..100 {
        let (status, _) = call(
            reqwest::Method::GET,
            "/api/admin/customers/",
            token.clone(),
            None,
        )
        .await;
        if status == reqwest::StatusCode::UNAUTHORIZED {
            revoked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(revoked, "the old token still works on the running server");
    let (old, _) = call(
        reqwest::Method::POST,
        "/api/get-token/",
        String::new(),
        credentials(PASSWORD),
    )
    .await;
    let (new, _) = call(
        reqwest::Method::POST,
        "/api/get-token/",
        String::new(),
        credentials("a-new-strong-secret-9"),
    )
    .await;
    assert_eq!(old, reqwest::StatusCode::BAD_REQUEST);
    assert_eq!(new, reqwest::StatusCode::OK);
}

#[test]
fn changepassword_refuses_an_unknown_user_and_a_weak_password_without_echoing_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    assert!(createsuperuser(&dir, "admin", PASSWORD).status.success());

    let unknown = changepassword(&dir, "nobody", "a-new-strong-secret-9");
    let weak = changepassword(&dir, "admin", "admin123");

    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("does not exist"),
        "{}",
        stderr(&unknown)
    );
    assert!(!weak.status.success());
    assert!(stderr(&weak).contains("password"), "{}", stderr(&weak));
    assert!(
        !stderr(&weak).contains("admin123"),
        "the password is never echoed"
    );
}
