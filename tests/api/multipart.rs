//! `multipart/form-data` bodies (issue #12 item 6): read like form bodies, DRF's messages for
//! file parts, a contract `400 parse_error` for a broken body, and the 64 KiB cap.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, assert_detail, assert_field_error, spawn_app, text};

const BOUNDARY: &str = "----bankdTestBoundary7MA4YWxkTrZu0gW";

/// A multipart body from `(name, filename, value)` parts.
fn multipart(parts: &[(&str, Option<&str>, &str)]) -> String {
    let mut body = String::new();
    for (name, filename, value) in parts {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\""
        ));
        if let Some(filename) = filename {
            body.push_str(&format!(
                "; filename=\"{filename}\"\r\nContent-Type: text/plain"
            ));
        }
        body.push_str(&format!("\r\n\r\n{value}\r\n"));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body
}

async fn post_multipart(
    app: &TestApp,
    path: &str,
    token: &str,
    body: String,
) -> crate::helpers::ApiResponse {
    let request = app
        .raw(Method::POST, path)
        .header("Authorization", format!("Token {token}"))
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body);
    app.send(request).await
}

#[tokio::test]
async fn multipart_bodies_are_read_like_form_bodies() {
    let app = spawn_app().await;
    let token = app.new_user().await;

    let opened = post_multipart(
        &app,
        "/api/accounts/",
        &token,
        multipart(&[
            ("account_type", None, "savings"),
            ("nickname", None, "Rainy day"),
        ]),
    )
    .await
    .expect(StatusCode::CREATED);
    assert_eq!(text(&opened, "account_type"), "savings");
    assert_eq!(text(&opened, "nickname"), "Rainy day");

    let account = opened["id"].as_i64().expect("id");
    let path = format!("/api/accounts/{account}/deposit/");
    let body = multipart(&[
        ("amount", None, "12.50"),
        ("description", None, "Birthday – café"),
    ]);
    let posted = post_multipart(&app, &path, &token, body)
        .await
        .expect(StatusCode::OK);
    assert_eq!(text(&posted, "new_balance"), "12.50");
    let listed = app.transactions(&token, "").await;
    assert_eq!(
        text(&listed["results"][0], "description"),
        "Birthday – café"
    );

    // A login form posted as multipart works too.
    let (username, _) = app.new_named_user().await;
    let request = app
        .raw(Method::POST, "/api/get-token/")
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&[
            ("username", None, &username),
            ("password", None, crate::helpers::PASSWORD),
        ]));
    let login = app.send(request).await.expect(StatusCode::OK);
    assert_eq!(text(&login, "token").len(), 40);
}

#[tokio::test]
async fn a_file_part_is_refused_on_its_field_and_nothing_moves() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.funded_account(&token, "10.00").await;
    let path = format!("/api/accounts/{account}/deposit/");

    let body = multipart(&[("amount", Some("amount.txt"), "5.00")]);
    let refused = post_multipart(&app, &path, &token, body).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_field_error(&refused.body, "amount");
    assert_eq!(refused.body["amount"][0], "A valid number is required.");

    let body = multipart(&[("nickname", Some("n.txt"), "x")]);
    let refused = post_multipart(&app, "/api/accounts/", &token, body).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.body["nickname"][0], "Not a valid string.");
    assert_eq!(app.balance(&token, account).await, "10.00");
    assert_eq!(app.transaction_count(&token).await, 1);
}

#[tokio::test]
async fn broken_multipart_bodies_are_a_parse_error_and_change_nothing() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.funded_account(&token, "10.00").await;
    let path = format!("/api/accounts/{account}/deposit/");
    let unclosed =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"amount\"\r\n\r\n5.00");
    let not_utf8 =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n");

    for (content_type, body) in [
        (
            "multipart/form-data".to_owned(),
            multipart(&[("amount", None, "5.00")]).into_bytes(),
        ),
        (
            format!("multipart/form-data; boundary={BOUNDARY}"),
            unclosed.into_bytes(),
        ),
        (
            format!("multipart/form-data; boundary={BOUNDARY}"),
            b"amount=5.00".to_vec(),
        ),
        (
            format!("multipart/form-data; boundary={BOUNDARY}"),
            [
                not_utf8.as_bytes(),
                b"\xff\xfe\r\n--",
                BOUNDARY.as_bytes(),
                b"--",
            ]
            .concat(),
        ),
    ] {
        let request = app
            .raw(Method::POST, &path)
            .header("Authorization", format!("Token {token}"))
            .header("Content-Type", content_type.clone())
            .body(body);
        let answer = app.send(request).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{content_type}: {}",
            answer.body
        );
        assert_detail(&answer.body, "parse_error");
        let detail = text(&answer.body, "detail");
        assert!(
            detail.starts_with("Multipart form parse error - "),
            "{detail}"
        );
    }
    assert_eq!(app.balance(&token, account).await, "10.00");
}

#[tokio::test]
async fn a_multipart_body_over_64_kib_is_too_large() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let padding = "x".repeat(64 * 1024);
    let body = multipart(&[
        ("account_type", None, "checking"),
        ("nickname", Some("big.bin"), &padding),
    ]);
    let answer = post_multipart(&app, "/api/accounts/", &token, body).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    let listed = app
        .get("/api/accounts/", &token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(listed["count"], Value::from(0));
}

#[tokio::test]
async fn a_multipart_retry_with_a_new_boundary_is_the_same_idempotent_request() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let path = format!("/api/accounts/{account}/deposit/");

    // Clients draw a fresh boundary per attempt; the fingerprint is of the fields, not bytes.
    let mut answers = Vec::new();
    for boundary in ["first-attempt-boundary", "second-attempt-boundary"] {
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"amount\"\r\n\r\n7.00\r\n--{boundary}--\r\n"
        );
        let request = app
            .raw(Method::POST, &path)
            .header("Authorization", format!("Token {token}"))
            .header("Idempotency-Key", "multipart-retry-1")
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        answers.push(app.send(request).await);
    }

    assert_eq!(answers[0].status, StatusCode::OK);
    assert_eq!(answers[1].status, StatusCode::OK);
    assert_eq!(answers[1].header("idempotent-replayed"), Some("true"));
    assert_eq!(answers[0].body, answers[1].body);
    assert_eq!(app.balance(&token, account).await, "7.00");
}
