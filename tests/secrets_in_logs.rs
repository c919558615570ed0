//! Runs the real `bankd serve` with debug logging, in JSON and in pretty format, through every
//! route that sees a secret (registration, both logins, a failed login, JWT refresh, a card
//! issue, a keyed deposit, logout), then reads everything it wrote to stderr: no password,
//! token, JWT, full card number or CVV may appear (issue 4, item 9).

use std::fs::File;
use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

// Part of the shared harness is for the other test binaries (see `tests/support/mod.rs`).
#[allow(dead_code)]
#[path = "support/mod.rs"]
mod support;

use support::child::{ChildServer, bankd_command};

const PASSWORD: &str = "a-strong-password123";
const WRONG_PASSWORD: &str = "wrong-password-7731";
/// A well-formed opaque token that was never issued.
const BOGUS_TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";

/// `bankd serve` on port 0 with its stderr going to a file.
struct Server {
    process: ChildServer,
    client: reqwest::Client,
}

impl Server {
    fn start(dir: &Path, log_format: &str, stderr: File) -> Self {
        let mut command = bankd_command(dir);
        command
            .env("BANKD_LOG_FORMAT", log_format)
            .env("BANKD_LOG_LEVEL", "debug")
            .stderr(stderr);
        Self {
            process: ChildServer::start(command, &dir.join("bank.db")),
            client: reqwest::Client::new(),
        }
    }

    /// Sends a request with an optional `Authorization` value and JSON body; asserts `expected`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
        body: Option<Value>,
        expected: StatusCode,
    ) -> Value {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.process.address))
            .header("Idempotency-Key", "log-test-key");
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, expected, "{path}: {body}");
        body
    }

    /// SIGTERM, then waits for the process to exit.
    fn stop(&mut self) {
        self.process.terminate();
    }
}

fn field(body: &Value, name: &str) -> String {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} is not a string in {body}"))
        .to_owned()
}

/// Everything secret a session handled, and the logs it produced.
struct Session {
    secrets: Vec<String>,
    card_number: String,
    cvv: String,
    logs: String,
}

/// Runs one server in `log_format` through the session and returns its logs and secrets.
async fn logged_session(log_format: &str) -> Session {
    let dir = tempfile::tempdir().expect("temporary directory");
    let log_path = dir.path().join("stderr.log");
    let mut server = Server::start(
        dir.path(),
        log_format,
        File::create(&log_path).expect("a log file"),
    );
    let post = Method::POST;
    let registration = json!({
        "username": "logged", "password": PASSWORD, "password2": PASSWORD,
        "full_name": "Logged Customer", "email": "logged@example.com",
    });
    server
        .call(
            post.clone(),
            "/api/register/",
            None,
            Some(registration),
            StatusCode::CREATED,
        )
        .await;
    let credentials = json!({ "username": "logged", "password": PASSWORD });
    let login = server
        .call(
            post.clone(),
            "/api/get-token/",
            None,
            Some(credentials.clone()),
            StatusCode::OK,
        )
        .await;
    let token = field(&login, "token");
    let wrong = json!({ "username": "logged", "password": WRONG_PASSWORD });
    server
        .call(
            post.clone(),
            "/api/get-token/",
            None,
            Some(wrong.clone()),
            StatusCode::BAD_REQUEST,
        )
        .await;
    server
        .call(
            post.clone(),
            "/api/token/",
            None,
            Some(wrong),
            StatusCode::UNAUTHORIZED,
        )
        .await;
    let pair = server
        .call(
            post.clone(),
            "/api/token/",
            None,
            Some(credentials),
            StatusCode::OK,
        )
        .await;
    let (access, refresh) = (field(&pair, "access"), field(&pair, "refresh"));
    let refreshed = server
        .call(
            post.clone(),
            "/api/token/refresh/",
            None,
            Some(json!({ "refresh": refresh })),
            StatusCode::OK,
        )
        .await;
    let new_access = field(&refreshed, "access");
    let as_token = format!("Token {token}");
    let as_bearer = format!("Bearer {access}");
    let account = server
        .call(
            post.clone(),
            "/api/accounts/",
            Some(&as_bearer),
            Some(json!({})),
            StatusCode::CREATED,
        )
        .await;
    let account_id = account["id"].as_i64().expect("an account id");
    let card = server
        .call(
            post.clone(),
            "/api/cards/",
            Some(&as_token),
            Some(json!({ "account": account_id, "card_type": "debit" })),
            StatusCode::CREATED,
        )
        .await;
    server
        .call(
            post.clone(),
            &format!("/api/accounts/{account_id}/deposit/"),
            Some(&format!("Bearer {new_access}")),
            Some(json!({ "amount": "12.34" })),
            StatusCode::OK,
        )
        .await;
    server
        .call(
            Method::GET,
            &format!("/api/cards/{}/", card["id"]),
            Some(&as_token),
            None,
            StatusCode::OK,
        )
        .await;
    server
        .call(
            Method::GET,
            "/api/accounts/",
            Some(&format!("Token {BOGUS_TOKEN}")),
            None,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    server
        .call(
            post,
            "/api/logout/",
            Some(&as_token),
            None,
            StatusCode::NO_CONTENT,
        )
        .await;
    server.stop();

    let logs = std::fs::read_to_string(&log_path).expect("the captured logs");
    let signatures = [&access, &refresh, &new_access]
        .map(|jwt| jwt.rsplit('.').next().expect("a signature").to_owned());
    let mut secrets = vec![
        PASSWORD.to_owned(),
        WRONG_PASSWORD.to_owned(),
        BOGUS_TOKEN.to_owned(),
        token,
        access,
        refresh,
        new_access,
    ];
    secrets.extend(signatures);
    Session {
        secrets,
        card_number: field(&card, "card_number"),
        cvv: field(&card, "cvv"),
        logs,
    }
}

/// Asserts the session's logs are real (they logged the requests) and hold no secret.
fn assert_no_secret_in(session: &Session) {
    let logs = &session.logs;
    assert!(
        logs.contains("/api/cards") && logs.contains("/api/get-token"),
        "the requests were not logged: {logs}"
    );
    for secret in &session.secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "{secret} is in the logs:\n{logs}"
        );
    }
    let number = &session.card_number;
    assert!(
        !logs.contains(number.as_str()),
        "the card number is in the logs:\n{logs}"
    );
    assert!(
        !logs.contains(&number[..12]),
        "the card number's first digits are in the logs:\n{logs}"
    );
    // Three digits turn up everywhere (times, latencies); a logged CVV would be named or quoted.
    assert!(
        !logs.to_lowercase().contains("cvv"),
        "a CVV is mentioned:\n{logs}"
    );
    assert!(
        !logs.contains(&format!("\"{}\"", session.cvv)),
        "the CVV is in the logs:\n{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_at_debug_level_hold_no_secret() {
    let session = logged_session("json").await;

    assert_no_secret_in(&session);
    for line in session.logs.lines().filter(|line| !line.trim().is_empty()) {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "not a JSON log line: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pretty_logs_at_debug_level_hold_no_secret() {
    let session = logged_session("pretty").await;

    assert_no_secret_in(&session);
    assert!(
        serde_json::from_str::<Value>(session.logs.lines().next().unwrap_or_default()).is_err(),
        "pretty logs are not JSON"
    );
}
