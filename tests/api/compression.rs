//! Response compression: large `GET` answers (console assets, lists, statements) are gzipped or
//! brotli-encoded for clients that ask; small answers, every `POST` (credentials and the money
//! movement hot path) and clients that do not ask get the body as it is.

use std::io::Read;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ApiResponse, NO_TOKEN, TestApp, spawn_app};

/// A raw response: status, headers and the undecoded body bytes (the test client does not
/// decompress, so what the server sent is what is seen here).
struct RawResponse {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
}

impl RawResponse {
    fn encoding(&self) -> Option<&str> {
        self.headers
            .get("content-encoding")
            .and_then(|v| v.to_str().ok())
    }
}

async fn fetch(app: &TestApp, path: &str, token: &str, accept: Option<&str>) -> RawResponse {
    let mut request = app.raw(Method::GET, path);
    if !token.is_empty() {
        request = request.header("Authorization", format!("Token {token}"));
    }
    if let Some(accept) = accept {
        request = request.header("Accept-Encoding", accept);
    }
    let response = request.send().await.expect("the server answers");
    RawResponse {
        status: response.status(),
        headers: response.headers().clone(),
        bytes: response.bytes().await.expect("a body").to_vec(),
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut decoded)
        .expect("a valid gzip stream");
    decoded
}

/// A customer with one account and enough ledger rows that a page of them is several KiB.
async fn customer_with_history(app: &TestApp) -> (String, i64) {
    let token = app.new_user().await;
    let (account, _) = app.funded_account(&token, "500.00").await;
    for _ in 0..30 {
        app.deposit(&token, account, "1.25")
            .await
            .expect(StatusCode::OK);
    }
    (token, account)
}

#[tokio::test]
async fn the_console_script_is_gzipped_for_a_client_that_accepts_gzip() {
    let app = spawn_app().await;

    let plain = fetch(&app, "/static/js/app.js", NO_TOKEN, None).await;
    let gzipped = fetch(&app, "/static/js/app.js", NO_TOKEN, Some("gzip")).await;

    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.encoding(), None);
    assert_eq!(gzipped.status, StatusCode::OK);
    assert_eq!(gzipped.encoding(), Some("gzip"));
    let vary = gzipped.headers.get("vary").and_then(|v| v.to_str().ok());
    assert!(
        vary.is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")),
        "{vary:?}"
    );
    assert!(gzipped.bytes.len() < plain.bytes.len());
    assert_eq!(gunzip(&gzipped.bytes), plain.bytes);
    // The security headers of `around_request` survive compression.
    assert_eq!(
        gzipped
            .headers
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
}

#[tokio::test]
async fn brotli_is_used_when_the_client_prefers_it() {
    let app = spawn_app().await;

    let response = fetch(&app, "/static/js/app.js", NO_TOKEN, Some("gzip;q=0.5, br")).await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.encoding(), Some("br"));
}

#[tokio::test]
async fn a_large_transaction_list_is_gzipped_and_decodes_to_the_same_json() {
    let app = spawn_app().await;
    let (token, _) = customer_with_history(&app).await;
    let path = "/api/transactions/?page_size=100";

    let plain = fetch(&app, path, &token, None).await;
    let gzipped = fetch(&app, path, &token, Some("gzip, deflate, br;q=0.1")).await;

    assert_eq!(plain.status, StatusCode::OK);
    assert!(plain.bytes.len() >= 1024, "{} bytes", plain.bytes.len());
    assert_eq!(gzipped.encoding(), Some("gzip"));
    let decoded: Value = serde_json::from_slice(&gunzip(&gzipped.bytes)).expect("JSON");
    let expected: Value = serde_json::from_slice(&plain.bytes).expect("JSON");
    assert_eq!(decoded, expected);
}

#[tokio::test]
async fn the_statement_csv_is_compressed_and_decodes_to_the_same_text() {
    let app = spawn_app().await;
    let (token, account) = customer_with_history(&app).await;
    let today = chrono::Utc::now().date_naive().to_string();
    let statement = app
        .post(
            &format!("/api/accounts/{account}/statements/"),
            &token,
            json!({ "start_date": today, "end_date": today }),
        )
        .await
        .expect(StatusCode::CREATED);
    let path = format!("/api/statements/{}/?format=csv", statement["id"]);

    let plain = fetch(&app, &path, &token, None).await;
    let gzipped = fetch(&app, &path, &token, Some("gzip")).await;

    assert_eq!(plain.status, StatusCode::OK);
    assert!(plain.bytes.len() >= 1024, "{} bytes", plain.bytes.len());
    let disposition = |r: &RawResponse| r.headers.get("content-disposition").cloned();
    assert_eq!(disposition(&gzipped), disposition(&plain));
    assert_eq!(gzipped.encoding(), Some("gzip"));
    assert_eq!(gunzip(&gzipped.bytes), plain.bytes);
}

#[tokio::test]
async fn small_answers_are_sent_as_they_are() {
    let app = spawn_app().await;
    let (token, account) = customer_with_history(&app).await;

    let health = fetch(&app, "/healthz", NO_TOKEN, Some("gzip, br")).await;
    let one_account = fetch(
        &app,
        &format!("/api/accounts/{account}/"),
        &token,
        Some("gzip, br"),
    )
    .await;

    for response in [health, one_account] {
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.encoding(), None);
        serde_json::from_slice::<Value>(&response.bytes).expect("plain JSON");
    }
}

#[tokio::test]
async fn post_answers_are_never_compressed_however_large() {
    // A statement answer lists its transactions, so it is large; it is a POST, like every
    // answer carrying a token or a card number, and those are kept out of reach of BREACH.
    let app = spawn_app().await;
    let (token, account) = customer_with_history(&app).await;
    let today = chrono::Utc::now().date_naive().to_string();
    let headers = [("Accept-Encoding", "gzip, br")];

    let statement: ApiResponse = app
        .request_with(
            Method::POST,
            &format!("/api/accounts/{account}/statements/"),
            &token,
            Some(json!({ "start_date": today, "end_date": today })),
            &headers,
        )
        .await;
    let login = app
        .request_with(
            Method::POST,
            "/api/get-token/",
            NO_TOKEN,
            Some(json!({ "username": "nobody", "password": "wrong-password" })),
            &headers,
        )
        .await;

    assert_eq!(statement.status, StatusCode::CREATED, "{}", statement.body);
    assert!(
        statement.body.to_string().len() >= 1024,
        "the statement answer is too small to show anything: {}",
        statement.body
    );
    assert_eq!(statement.header("content-encoding"), None);
    assert_eq!(login.header("content-encoding"), None);
}

#[tokio::test]
async fn an_oversized_body_is_still_refused_with_the_json_413_when_gzip_is_accepted() {
    let app = spawn_app().await;

    let response = app
        .send(
            app.raw(Method::GET, "/api/transactions/")
                .header("Accept-Encoding", "gzip")
                .header("Content-Type", "application/json")
                .body(vec![b' '; 70 * 1024]),
        )
        .await;

    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.body["code"], "payload_too_large",
        "{}",
        response.body
    );
}
