//! The in-process harness: the real application on port 0 with a fresh database, and a client.
//!
//! In the style of zero-to-production's `spawn_app()`: each test gets its own server, its own
//! database and a `reqwest` client, and talks to it only through HTTP. The app is started
//! exactly as `bankd serve` starts it, through the public `App::build(config)` and
//! `app.run(listener, shutdown)`, so nothing here reaches into the server's internals.
//!
//! The database is chosen in one place, [`TestDatabase`]: today a fresh SQLite file in its own
//! temporary directory. Running the suite against another store means adding a variant there
//! (creating and dropping a scratch database, pointing the configuration at it, and answering
//! `execute_sql` / `query_sql` on it); no test and no other helper names the backend.
//!
//! The test defaults differ from `Config::default()` in one way: the auth throttles are off,
//! because a suite registers and logs in many users from one IP and throttling is not what it
//! is testing. The tests that are about throttling switch them back on in `spawn_app_with`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use bankd::app::App;
use bankd::config::Config;
use reqwest::Method;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Pass as the token to send no `Authorization` header at all.
pub const NO_TOKEN: &str = "";

/// The database a test app runs on; dropping it removes it.
pub struct TestDatabase {
    backend: Backend,
}

/// Where the data lives. One variant per store the suite can run against.
enum Backend {
    /// A SQLite file (not created yet: the app creates and migrates it on start) in a temporary
    /// directory of its own, removed with it.
    Sqlite { path: PathBuf, dir: TempDir },
}

impl TestDatabase {
    /// A fresh, empty database.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("bank.db");
        Self {
            backend: Backend::Sqlite { path, dir },
        }
    }

    /// Points `config` at this database.
    fn configure(&self, config: &mut Config) {
        match &self.backend {
            Backend::Sqlite { path, .. } => config.database_path = path.clone(),
        }
    }

    /// The SQLite file, for the CLI (`bankd createsuperuser --database`) and raw SQL.
    pub fn sqlite_path(&self) -> &Path {
        match &self.backend {
            Backend::Sqlite { path, .. } => path,
        }
    }

    /// A directory that lives as long as the database, for files a test writes beside it.
    pub fn dir(&self) -> &Path {
        match &self.backend {
            Backend::Sqlite { dir, .. } => dir.path(),
        }
    }

    /// Makes a superuser with the real `bankd createsuperuser`, before any app has started on
    /// this database (the CLI is the only way to make the first superuser).
    pub fn create_superuser(&self, username: &str, password: &str) {
        let status = super::child::bankd_command(self.dir())
            .args(["createsuperuser", "--username", username, "--database"])
            .arg(self.sqlite_path())
            .env("BANKD_SUPERUSER_PASSWORD", password)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("bankd createsuperuser runs");
        assert!(status.success(), "createsuperuser failed");
    }

    /// A new connection straight to the database, outside the app.
    fn sql_connection(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(self.sqlite_path()).expect("open the database");
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .expect("busy timeout");
        conn
    }
}

/// The configuration every test app starts from (see the module doc), on `database`.
pub fn test_config(database: &TestDatabase) -> Config {
    let mut config = Config {
        // Throttling is not under test here, and a suite registers many users from one IP.
        throttle_auth_per_ip_per_minute: 0,
        throttle_failed_logins_per_user_per_minute: 0,
        ..Config::default()
    };
    database.configure(&mut config);
    config
}

/// A running application and the means to talk to it; stopped when dropped.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub address: String,
    pub client: reqwest::Client,
    /// The SQLite file behind this app.
    pub database_path: PathBuf,
    next_number: AtomicUsize,
    /// Dropping the sender resolves the server's shutdown future.
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
    /// Declared after `shutdown`, so the server is told to stop before its database goes.
    database: TestDatabase,
}

/// A response: status, headers and the body parsed as JSON (`Value::Null` when empty,
/// `Value::String` with the raw text when it is not JSON).
#[derive(Debug)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl ApiResponse {
    /// A header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status (showing the body when it differs) and returns the body.
    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self.body
    }
}

/// Starts the application with the test defaults on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the application on a fresh database after `configure` has adjusted the test defaults.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(TestDatabase::new(), configure).await
}

/// Starts the application on `database` (prepared beforehand, e.g. with a superuser) after
/// `configure` has adjusted the test defaults.
pub async fn spawn_app_on(database: TestDatabase, configure: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config(&database);
    configure(&mut config);
    let app = App::build(config).expect("the app builds on a fresh database");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let port = listener.local_addr().expect("local address").port();
    let (shutdown, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run(listener, async move {
        let _ = stopped.await;
    }));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        database_path: database.sqlite_path().to_owned(),
        next_number: AtomicUsize::new(1),
        shutdown,
        server,
        database,
    }
}

impl TestApp {
    /// `127.0.0.1:<port>`, as a client's `Host` header names it.
    pub fn host(&self) -> &str {
        self.address.trim_start_matches("http://")
    }

    /// 1, 2, 3, ...: unique within this app, for usernames and keys.
    pub fn next_number(&self) -> usize {
        self.next_number.fetch_add(1, Ordering::Relaxed)
    }

    /// Stops the server as SIGTERM would (in-flight requests finish, the writer drains and
    /// checkpoints) and returns how `run` ended.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(());
        self.server.await.expect("the server task does not panic")
    }

    /// A request builder for `path` (relative to the app, or an absolute URL).
    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.address)
        };
        self.client.request(method, url)
    }

    /// Sends a prepared request and reads the whole response.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> ApiResponse {
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a readable body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        ApiResponse {
            status,
            headers,
            body,
        }
    }

    /// Sends `method path` with the token (unless `NO_TOKEN`) and an optional JSON body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> ApiResponse {
        self.request_with(method, path, token, body, &[]).await
    }

    /// Like `request`, with extra headers (`Idempotency-Key`, `X-Request-Id`, ...).
    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> ApiResponse {
        let mut request = self.raw(method, path);
        if !token.is_empty() {
            request = request.header("Authorization", format!("Token {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    pub async fn get(&self, path: &str, token: &str) -> ApiResponse {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> ApiResponse {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> ApiResponse {
        self.request(Method::PUT, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> ApiResponse {
        self.request(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> ApiResponse {
        self.request(Method::DELETE, path, token, None).await
    }

    /// Runs one SQL statement directly on the app's database and returns the rows it changed.
    /// Only for arrangements the API cannot make (a balance near the cap, a frozen account, an
    /// expired schema); every assertion still goes through HTTP.
    pub fn execute_sql(&self, sql: &str, params: impl rusqlite::Params) -> usize {
        self.try_execute_sql(sql, params)
            .expect("the statement runs")
    }

    /// Like `execute_sql`, but hands back the database's refusal (a trigger, a constraint)
    /// instead of panicking.
    pub fn try_execute_sql(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> rusqlite::Result<usize> {
        self.database.sql_connection().execute(sql, params)
    }

    /// Runs one query directly on the app's database and returns every row as SQLite values.
    /// For arrangements (ids the API does not show) and for checking what is stored (a card
    /// number must never be).
    pub fn query_sql(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Vec<Vec<rusqlite::types::Value>> {
        let conn = self.database.sql_connection();
        let mut statement = conn.prepare(sql).expect("the query prepares");
        let columns = statement.column_count();
        statement
            .query_map(params, |row| {
                (0..columns).map(|index| row.get(index)).collect()
            })
            .expect("the query runs")
            .collect::<rusqlite::Result<_>>()
            .expect("the rows read")
    }
}
