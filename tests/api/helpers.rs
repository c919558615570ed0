//! The API suite's vocabulary: typed helpers over the shared in-process harness
//! (`tests/support/app.rs`, re-exported here so every test imports from one place).
//!
//! Helpers that set up state (`new_user`, `open_account`, `funded_account`) assert their own
//! success so a broken arrangement fails loudly at the line that broke; helpers that perform
//! the action under test (`deposit`, `withdraw`, `transfer`, `get`, `post`, ...) return the raw
//! `ApiResponse` and leave the assertions to the test. They are methods of the harness's
//! `TestApp` (an inherent `impl` may live anywhere in the crate that defines the type), so a test
//! reads `app.new_user()` whether the helper is generic or the API suite's own.

use reqwest::StatusCode;
use serde_json::{Value, json};

pub use crate::support::app::{ApiResponse, NO_TOKEN, TestApp, spawn_app, spawn_app_with};

/// A password that passes every Django validator for the usernames the harness makes.
pub const PASSWORD: &str = "a-strong-password123";

/// A complete, valid registration body for `username`.
pub fn registration_body(username: &str) -> Value {
    json!({
        "username": username,
        "password": PASSWORD,
        "password2": PASSWORD,
        "full_name": "Test Customer",
        "email": format!("{username}@example.com"),
        "phone_number": "+1 (555) 010-0100",
        "date_of_birth": "1990-01-31",
        "gender": "O",
    })
}

/// Reads a contract money string (`"600.25"`) as cents, insisting on exactly two decimals.
#[track_caller]
pub fn cents(text: &str) -> i64 {
    let (whole, fraction) = text.split_once('.').expect("a decimal point");
    assert!(
        fraction.len() == 2 && !whole.is_empty(),
        "{text:?} is not a two-decimal amount"
    );
    let value: i64 = format!("{whole}{fraction}").parse().expect("digits");
    assert!(value >= 0, "{text:?} is negative");
    value
}

/// Renders cents as the contract renders money.
pub fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The body's `field` as text (panics with the body when it is not a string).
#[track_caller]
pub fn text<'a>(body: &'a Value, field: &str) -> &'a str {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {body}"))
}

/// The body's `field` as an integer id.
#[track_caller]
pub fn id_of(body: &Value, field: &str) -> i64 {
    body[field]
        .as_i64()
        .unwrap_or_else(|| panic!("{field} is not an integer in {body}"))
}

/// The keys of a JSON object, sorted.
pub fn keys(body: &Value) -> Vec<String> {
    let mut keys: Vec<String> = body
        .as_object()
        .map(|map| map.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

impl TestApp {
    /// `POST /api/register/` with a complete, valid body for `username`.
    pub async fn register(&self, username: &str) -> ApiResponse {
        self.post("/api/register/", NO_TOKEN, registration_body(username))
            .await
    }

    /// `POST /api/get-token/`; asserts success and returns the token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let body = json!({ "username": username, "password": password });
        let body = self
            .post("/api/get-token/", NO_TOKEN, body)
            .await
            .expect(StatusCode::OK);
        text(&body, "token").to_owned()
    }

    /// Registers a fresh user (with its customer profile) and returns its username and token.
    pub async fn new_named_user(&self) -> (String, String) {
        let number = self.next_number();
        let username = format!("user{number}");
        self.register(&username).await.expect(StatusCode::CREATED);
        let token = self.login(&username, PASSWORD).await;
        (username, token)
    }

    /// Registers a fresh user and returns its token.
    pub async fn new_user(&self) -> String {
        self.new_named_user().await.1
    }

    /// Registers a fresh user, makes it staff with SQL (there is no API for that) before its
    /// token is first used, and returns its username and token.
    pub async fn new_staff_user(&self) -> (String, String) {
        let (username, token) = self.new_named_user().await;
        self.execute_sql(
            "UPDATE users SET is_staff = 1 WHERE username = ?1",
            [&username],
        );
        (username, token)
    }

    /// A user's id (the API never shows it to customers).
    pub fn user_id(&self, username: &str) -> i64 {
        match self.query_sql("SELECT id FROM users WHERE username = ?1", [username])[..] {
            [ref row] => match row[..] {
                [rusqlite::types::Value::Integer(id)] => id,
                _ => panic!("no id for {username}"),
            },
            _ => panic!("no user {username}"),
        }
    }

    /// The id of the caller's customer profile.
    pub async fn customer_id(&self, token: &str) -> i64 {
        let body = self
            .get("/api/customers/", token)
            .await
            .expect(StatusCode::OK);
        id_of(&body["results"][0], "id")
    }

    /// Opens a checking account; returns its id and number.
    pub async fn open_account(&self, token: &str) -> (i64, String) {
        let body = self
            .post("/api/accounts/", token, json!({}))
            .await
            .expect(StatusCode::CREATED);
        (id_of(&body, "id"), text(&body, "account_number").to_owned())
    }

    /// Opens an account and deposits `amount` into it.
    pub async fn funded_account(&self, token: &str, amount: &str) -> (i64, String) {
        let (id, number) = self.open_account(token).await;
        self.deposit(token, id, amount).await.expect(StatusCode::OK);
        (id, number)
    }

    pub async fn deposit(&self, token: &str, account_id: i64, amount: &str) -> ApiResponse {
        let path = format!("/api/accounts/{account_id}/deposit/");
        self.post(&path, token, json!({ "amount": amount })).await
    }

    pub async fn withdraw(&self, token: &str, account_id: i64, amount: &str) -> ApiResponse {
        let path = format!("/api/accounts/{account_id}/withdraw/");
        self.post(&path, token, json!({ "amount": amount })).await
    }

    pub async fn transfer(
        &self,
        token: &str,
        account_id: i64,
        to_account_number: &str,
        amount: &str,
    ) -> ApiResponse {
        let path = format!("/api/accounts/{account_id}/transfer/");
        let body = json!({ "to_account_number": to_account_number, "amount": amount });
        self.post(&path, token, body).await
    }

    /// An account as its owner sees it.
    pub async fn account(&self, token: &str, account_id: i64) -> Value {
        self.get(&format!("/api/accounts/{account_id}/"), token)
            .await
            .expect(StatusCode::OK)
    }

    /// An account's balance as its owner sees it.
    pub async fn balance(&self, token: &str, account_id: i64) -> String {
        text(&self.account(token, account_id).await, "balance").to_owned()
    }

    /// The transaction list envelope for `query` (e.g. `"?account=3"`, or `""`).
    pub async fn transactions(&self, token: &str, query: &str) -> Value {
        self.get(&format!("/api/transactions/{query}"), token)
            .await
            .expect(StatusCode::OK)
    }

    /// How many transactions the caller can see.
    pub async fn transaction_count(&self, token: &str) -> u64 {
        self.transactions(token, "").await["count"]
            .as_u64()
            .expect("count")
    }

    /// Everything a user can observe about their own data: profile, accounts (open and
    /// closed) and up to 100 transactions. Equal snapshots mean nothing changed.
    pub async fn snapshot(&self, token: &str) -> Value {
        let mut views = Vec::new();
        for path in [
            "/api/customers/",
            "/api/accounts/?page_size=100",
            "/api/accounts/?status=closed&page_size=100",
            "/api/transactions/?page_size=100",
        ] {
            let body = self.get(path, token).await.expect(StatusCode::OK);
            views.push(body);
        }
        Value::Array(views)
    }
}

/// Asserts `body` is exactly `{"detail": <string>, "code": code}`.
#[track_caller]
pub fn assert_detail(body: &Value, code: &str) {
    assert_eq!(keys(body), ["code", "detail"], "not a detail body: {body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["detail"].is_string(), "{body}");
}

/// Asserts `body` is DRF field errors (`{"field": ["message", ...], ...}`) naming `field`.
#[track_caller]
pub fn assert_field_error(body: &Value, field: &str) {
    assert_field_errors_shape(body);
    assert!(body.get(field).is_some(), "no error on {field:?}: {body}");
}

/// Asserts `body` has DRF's field-error shape: an object of non-empty arrays of strings.
#[track_caller]
pub fn assert_field_errors_shape(body: &Value) {
    let map = body
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {body}"));
    assert!(!map.is_empty(), "empty error body");
    for (field, messages) in map {
        let messages = messages
            .as_array()
            .unwrap_or_else(|| panic!("{field} is not a list: {body}"));
        assert!(!messages.is_empty(), "{field} has no message: {body}");
        assert!(messages.iter().all(Value::is_string), "{body}");
    }
}

/// Asserts an error body has one of the contract's two shapes.
#[track_caller]
pub fn assert_contract_error(body: &Value) {
    if body.get("code").is_some() {
        assert_eq!(keys(body), ["code", "detail"], "not a detail body: {body}");
        assert!(
            body["code"].is_string() && body["detail"].is_string(),
            "{body}"
        );
    } else {
        assert_field_errors_shape(body);
    }
}

/// `{"detail": "Not found.", "code": "not_found"}`.
pub fn not_found() -> Value {
    json!({ "detail": "Not found.", "code": "not_found" })
}
