//! `bankd serve` as a child process on port 0, for the test crates that need a real process
//! (SIGKILL, SIGTERM, its stderr). Each includes this file with `#[path]`; not every crate uses
//! every item.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

/// `bankd` run inside `dir` with no `BANKD_*` variable inherited from the developer's
/// environment; callers add their own afterwards.
pub fn bankd_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bankd"));
    for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("BANKD_")) {
        command.env_remove(key);
    }
    command.current_dir(dir);
    command
}

/// A running `bankd serve`; killed and reaped when dropped, so a failing test leaves nothing
/// behind.
pub struct ChildServer {
    child: Child,
    /// `http://127.0.0.1:<port>` without a trailing slash.
    pub address: String,
}

impl ChildServer {
    /// Runs `bankd serve --listen 127.0.0.1:0 --database <database>` from `command` (from
    /// `bankd_command`, with any environment and stderr already set) and waits for the line
    /// announcing its URL.
    pub fn start(mut command: Command, database: &Path) -> Self {
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--database"])
            .arg(database)
            .stdout(Stdio::piped())
            .spawn()
            .expect("bankd starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let address = loop {
            line.clear();
            let read = stdout.read_line(&mut line).expect("read the banner");
            assert!(read > 0, "bankd exited before printing its address");
            if let Some(url) = line.trim().strip_prefix("bankd listening on ") {
                break url.trim_end_matches('/').to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on (or dies of) a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Self { child, address }
    }

    /// SIGKILL: no shutdown code runs at all.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// Sends a signal by name (`HUP`, `TERM`, ...) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// The exit status, if the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// SIGTERM, as an operator would, then waits (with a generous guard) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "bankd did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends a request with an optional token and JSON body; returns the status and the JSON body
/// (`null` when there is none).
pub async fn request(
    client: &reqwest::Client,
    address: &str,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client.request(method, format!("{address}{path}"));
    if !token.is_empty() {
        request = request.header("Authorization", format!("Token {token}"));
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}
