//! `bankd serve` as a child process: its banner, graceful SIGTERM, and durability across a
//! SIGKILL (every acknowledged transfer is there after a restart, exactly once).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::task::JoinSet;

use super::support::child::{ChildServer, request};
use super::{PASSWORD, bankd, database};

/// A `bankd serve` child process on port 0, with a client.
pub struct Server {
    process: ChildServer,
    client: reqwest::Client,
}

impl Server {
    /// Starts `bankd serve` on the directory's database and waits for its banner.
    pub fn start(dir: &TempDir) -> Server {
        let mut command = bankd(dir.path());
        command.stderr(Stdio::null());
        Server {
            process: ChildServer::start(command, Path::new(&database(dir))),
            client: reqwest::Client::new(),
        }
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        request(
            &self.client,
            &self.process.address,
            method,
            path,
            token,
            body,
        )
        .await
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let (status, body) = self.request(reqwest::Method::GET, path, token, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, token: &str, body: Value, expected: StatusCode) -> Value {
        let (status, body) = self
            .request(reqwest::Method::POST, path, token, Some(body))
            .await;
        assert_eq!(status, expected, "POST {path}: {body}");
        body
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let body = json!({ "username": username, "password": password });
        let body = self.post("/api/get-token/", "", body, StatusCode::OK).await;
        body["token"].as_str().expect("a token").to_owned()
    }

    /// SIGKILL: no shutdown code runs at all.
    fn kill(&mut self) {
        self.process.kill();
    }

    /// SIGTERM, then waits for the exit status.
    fn terminate(&mut self) -> std::process::ExitStatus {
        self.process.terminate()
    }
}

/// Registers `alice` with two accounts, the first holding 100.00; returns the token, both ids
/// and the second account's number.
async fn alice_with_two_accounts(server: &Server) -> (String, i64, i64, String) {
    let body = json!({
        "username": "alice", "password": PASSWORD, "full_name": "Alice Example",
        "email": "alice@example.com",
    });
    server
        .post("/api/register/", "", body, StatusCode::CREATED)
        .await;
    let token = server.login("alice", PASSWORD).await;
    let first = server
        .post("/api/accounts/", &token, json!({}), StatusCode::CREATED)
        .await;
    let second = server
        .post("/api/accounts/", &token, json!({}), StatusCode::CREATED)
        .await;
    let first_id = first["id"].as_i64().expect("id");
    let path = format!("/api/accounts/{first_id}/deposit/");
    server
        .post(&path, &token, json!({ "amount": "100.00" }), StatusCode::OK)
        .await;
    let second_number = second["account_number"]
        .as_str()
        .expect("number")
        .to_owned();
    (
        token,
        first_id,
        second["id"].as_i64().expect("id"),
        second_number,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_transfers_survive_a_sigkill() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut server = Server::start(&dir);
    let (token, source, destination, destination_number) = alice_with_two_accounts(&server).await;
    let (client, address) = (server.client.clone(), server.process.address.clone());
    let mut transfers = JoinSet::new();
    for _ in 0..40 {
        let request = client
            .post(format!("{address}/api/accounts/{source}/transfer/"))
            .header("Authorization", format!("Token {token}"))
            .json(&json!({ "to_account_number": destination_number, "amount": "1.00" }));
        transfers.spawn(async move {
            let response = request.send().await.ok()?;
            if response.status() != StatusCode::OK {
                return None;
            }
            let body: Value = response.json().await.ok()?;
            body["transfer_id"].as_i64()
        });
    }

    let mut acknowledged = Vec::new();
    while let Some(outcome) = transfers.join_next().await {
        if let Some(transfer_id) = outcome.expect("transfer task") {
            acknowledged.push(transfer_id);
            if acknowledged.len() == 20 {
                server.kill();
            }
        }
    }
    assert!(
        acknowledged.len() >= 20,
        "only {} acknowledged",
        acknowledged.len()
    );
    let server = Server::start(&dir);

    let outgoing = server
        .get(
            "/api/transactions/?transaction_type=transfer_out&page_size=100",
            &token,
        )
        .await;
    let recorded: Vec<i64> = outgoing["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|row| row["transfer_id"].as_i64().expect("transfer_id"))
        .collect();
    for transfer_id in &acknowledged {
        let times = recorded.iter().filter(|id| *id == transfer_id).count();
        assert_eq!(
            times, 1,
            "acknowledged transfer {transfer_id} recorded {times} times"
        );
    }
    let moved = recorded.len() as i64;
    let mut unique = recorded.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        recorded.len(),
        "a transfer id repeats: {recorded:?}"
    );
    let incoming = server
        .get(
            "/api/transactions/?transaction_type=transfer_in&page_size=100",
            &token,
        )
        .await;
    assert_eq!(incoming["count"], moved);
    let balance = |body: Value| body["balance"].as_str().expect("balance").to_owned();
    let source_balance = balance(
        server
            .get(&format!("/api/accounts/{source}/"), &token)
            .await,
    );
    let destination_balance = balance(
        server
            .get(&format!("/api/accounts/{destination}/"), &token)
            .await,
    );
    assert_eq!(source_balance, format!("{}.00", 100 - moved));
    assert_eq!(destination_balance, format!("{moved}.00"));
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly_and_keeps_the_data() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut server = Server::start(&dir);
    let (token, source, _, _) = alice_with_two_accounts(&server).await;

    let status = server.terminate();

    assert!(status.success(), "exit status {status}");
    let wal: PathBuf = dir.path().join("bank.db-wal");
    let wal_bytes = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_bytes, 0, "the WAL was not checkpointed");
    let server = Server::start(&dir);
    let account = server
        .get(&format!("/api/accounts/{source}/"), &token)
        .await;
    assert_eq!(account["balance"], "100.00");
}
