//! Nothing a client sends can forge a log line (issue #11 item 7). The real `bankd serve` logs
//! a failed login with the username as given; a username holding a newline, a carriage
//! return and an ESC sequence must stay inside its own line, escaped, in the pretty format;
//! in JSON it must come back intact from a line that parses.

use std::fs::File;
use std::path::Path;

use serde_json::{Value, json};

// Part of the shared harness is for the other test binaries (see `tests/support/mod.rs`).
#[allow(dead_code)]
#[path = "support/mod.rs"]
mod support;

use support::child::{ChildServer, bankd_command};

/// A username that, written raw, would end the line and start a forged one, then erase it
/// from a terminal and recolour what follows.
const FORGED: &str = "mallory\n2026-12-03T00:00:00.000000Z  INFO staff role granted to mallory\r\u{1b}[2K\u{1b}[32mok\u{85}\u{2028}end";

/// Runs a server in `log_format`, fails one login as `FORGED`, stops it, returns its stderr.
async fn log_of_a_forged_login(log_format: &str) -> String {
    let dir = tempfile::tempdir().expect("temporary directory");
    let log_path = dir.path().join("stderr.log");
    let mut command = bankd_command(dir.path());
    command
        .env("BANKD_LOG_FORMAT", log_format)
        .env("BANKD_LOG_LEVEL", "info")
        .stderr(File::create(&log_path).expect("a log file"));
    let mut server = ChildServer::start(command, &dir.path().join("bank.db"));
    let response = reqwest::Client::new()
        .post(format!("{}/api/get-token/", server.address))
        .json(&json!({ "username": FORGED, "password": "not-the-password-1" }))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST);
    server.terminate();
    read(&log_path)
}

fn read(path: &Path) -> String {
    String::from_utf8(std::fs::read(path).expect("the log")).expect("UTF-8 log")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_username_with_control_characters_cannot_forge_a_pretty_log_line() {
    let log = log_of_a_forged_login("pretty").await;

    let failed: Vec<&str> = log.lines().filter(|l| l.contains("login failed")).collect();
    assert_eq!(failed.len(), 1, "{log}");
    // The whole username is on the login line, escaped.
    assert!(
        failed[0].contains(r"mallory\n2026-12-03T00:00:00.000000Z  INFO staff role granted"),
        "{log}"
    );
    assert!(
        !log.lines()
            .any(|line| line.starts_with("2026-12-03T00:00:00.000000Z")),
        "a forged line: {log}"
    );
    for raw in ['\r', '\u{1b}', '\u{85}', '\u{2028}'] {
        assert!(!log.contains(raw), "{raw:?} written raw: {log:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_username_with_control_characters_stays_inside_its_json_log_line() {
    let log = log_of_a_forged_login("json").await;

    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    let failed: Vec<&Value> = lines
        .iter()
        .filter(|line| line["message"] == "login failed")
        .collect();
    assert_eq!(failed.len(), 1, "{log}");
    assert_eq!(failed[0]["username"], FORGED, "{log}");
    assert!(!log.contains('\u{1b}'), "ESC written raw: {log:?}");
}
