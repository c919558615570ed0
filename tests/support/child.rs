//! The child-process harness: the real `bankd` binary, for the tests that need a real process
//! (one-shot commands such as `migrate` or `verify`, and `bankd serve` on port 0 for SIGKILL,
//! SIGTERM, SIGHUP, its stderr, or a fault injected under a wrapper such as `strace`).
//!
//! `bankd_command` is the one way to build the command line: the binary run inside a test's
//! directory with no `BANKD_*` variable inherited from the developer's environment. Callers add
//! their environment, arguments and stderr to it; `ChildServer::start` turns one into a running
//! server and reads the address from its banner.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

/// The `bankd` binary cargo built for this test run.
pub const BANKD: &str = env!("CARGO_BIN_EXE_bankd");

/// `bankd` run inside `dir` with no `BANKD_*` variable inherited from the developer's
/// environment; callers add their own afterwards.
pub fn bankd_command(dir: &Path) -> Command {
    clean(Command::new(BANKD), dir)
}

/// Like `bankd_command`, but `bankd` is run by `wrapper` (for example
/// `strace -f -e inject=... --`): the wrapper's program and arguments come first, then the
/// binary. A `ChildServer` started from it knows the server is the wrapper's child (see `kill`).
pub fn bankd_command_under(mut wrapper: Command, dir: &Path) -> Command {
    wrapper.arg(BANKD);
    clean(wrapper, dir)
}

/// Turns the throttles off, as the in-process harness's test defaults do, for servers that
/// register and log in many users from one IP and are not testing throttling.
pub fn without_throttling(command: &mut Command) -> &mut Command {
    command
        .env("BANKD_THROTTLE_AUTH_PER_IP_PER_MINUTE", "0")
        .env("BANKD_THROTTLE_FAILED_LOGINS_PER_USER_PER_MINUTE", "0")
        .env("BANKD_THROTTLE_MOVEMENTS_PER_USER_PER_MINUTE", "0")
}

/// Runs `command` inside `dir` without the developer's `BANKD_*` variables.
fn clean(mut command: Command, dir: &Path) -> Command {
    for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("BANKD_")) {
        command.env_remove(key);
    }
    command.current_dir(dir);
    command
}

/// A running `bankd serve`; killed and reaped when dropped, so a failing test leaves nothing
/// behind.
pub struct ChildServer {
    /// `bankd` itself, or the wrapper that runs it.
    child: Child,
    /// Whether `child` is a wrapper (from `bankd_command_under`) with the server as its child.
    wrapped: bool,
    /// `http://127.0.0.1:<port>` without a trailing slash.
    pub address: String,
}

impl ChildServer {
    /// Runs `bankd serve --listen 127.0.0.1:0 --database <database>` from `command` (from
    /// `bankd_command` or `bankd_command_under`, with any environment and stderr already set)
    /// and waits for the line announcing its URL.
    pub fn start(mut command: Command, database: &Path) -> Self {
        let wrapped = command.get_program() != BANKD;
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
        Self {
            child,
            wrapped,
            address,
        }
    }

    /// SIGKILL: no shutdown code runs at all. Under a wrapper, the server (the wrapper's child,
    /// by its id) is killed first: strace passes neither a SIGKILL nor (with `-o FILE`) a
    /// SIGTERM on, and would leave the server running untraced.
    pub fn kill(&mut self) {
        self.kill_the_wrapped_server();
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    fn kill_the_wrapped_server(&self) {
        if !self.wrapped {
            return;
        }
        let wrapper = self.child.id();
        let children = std::fs::read_to_string(format!("/proc/{wrapper}/task/{wrapper}/children"))
            .unwrap_or_default();
        for server in children.split_whitespace() {
            let _ = Command::new("kill").args(["-KILL", server]).status();
        }
    }

    /// Sends a signal by name (`HUP`, `TERM`, ...) with kill(1), to the process `start`
    /// spawned: under a wrapper that is the wrapper, which may not pass it on (see `kill`).
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
        self.wait_for_exit("after SIGTERM")
    }

    /// Waits (with a generous guard against a hang) for the process to exit by itself;
    /// `when` says what should have stopped it, for the failure message.
    pub fn wait_for_exit(&mut self, when: &str) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "bankd did not stop {when}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill_the_wrapped_server();
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
