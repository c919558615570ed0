//! The bad-input matrix: wrong types, huge and non-finite numbers, too many decimals, signs,
//! SQL-looking and unicode text, empty and non-object bodies. Never a 5xx, always one of the
//! contract's error shapes, and nothing changes.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{
    ApiResponse, TestApp, assert_contract_error, assert_field_error, spawn_app, text,
};

/// Bad values for `amount`, as JSON literals (so that `1e400` reaches the server as written).
const BAD_AMOUNTS: &[&str] = &[
    "true",
    "false",
    "null",
    "[]",
    r#"["1.00"]"#,
    "{}",
    r#"{"value": "1.00"}"#,
    "1e400",
    "-1e400",
    "1e-400",
    "123456789012345678901234567890",
    "99999999999999999999999999999999999999.99",
    r#""99999999999999999999.99""#,
    r#""10000000000.00""#,
    r#""1.005""#,
    "1.005",
    r#""0.001""#,
    "-5",
    r#""-5.00""#,
    r#""-0.01""#,
    "0",
    "-0",
    r#""0""#,
    r#""0.00""#,
    r#""NaN""#,
    r#""nan""#,
    r#""Infinity""#,
    r#""-Infinity""#,
    r#""inf""#,
    r#""1; DROP TABLE accounts""#,
    r#""1' OR '1'='1""#,
    r#""1.00 --""#,
    r#""١٠""#,
    r#""１０""#,
    r#""10€""#,
    r#""💰""#,
    r#""""#,
    r#""   ""#,
    r#""1,000.00""#,
    r#""1_000""#,
    r#""0x10""#,
    r#""1.2.3""#,
    r#""+-1""#,
];

/// Whole bodies that are not a JSON object of fields.
const BAD_BODIES: &[&str] = &[
    "",
    "   ",
    "[]",
    "null",
    "42",
    "true",
    r#""amount""#,
    r#"[{"amount": "1.00"}]"#,
];

async fn post_json(app: &TestApp, path: &str, token: &str, body: String) -> ApiResponse {
    let request = app
        .raw(Method::POST, path)
        .header("Authorization", format!("Token {token}"))
        .header("Content-Type", "application/json")
        .body(body);
    app.send(request).await
}

#[track_caller]
fn assert_refused(response: &ApiResponse, what: &str) {
    assert!(
        response.status.is_client_error(),
        "{what}: {} {}",
        response.status,
        response.body
    );
    assert_contract_error(&response.body);
}

#[tokio::test]
async fn bad_amounts_are_field_errors_on_every_movement_and_change_nothing() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "100.00").await;
    let (_, other_number) = app.open_account(&token).await;
    let before = app.snapshot(&token).await;

    for movement in ["deposit", "withdraw", "transfer"] {
        let path = format!("/api/accounts/{id}/{movement}/");
        for amount in BAD_AMOUNTS {
            let body = format!(r#"{{"amount": {amount}, "to_account_number": "{other_number}"}}"#);

            let response = post_json(&app, &path, &token, body).await;

            let what = format!("{movement} {amount}");
            assert_eq!(
                response.status,
                StatusCode::BAD_REQUEST,
                "{what}: {}",
                response.body
            );
            assert_field_error(&response.body, "amount");
        }
    }

    assert_eq!(app.snapshot(&token).await, before);
    assert_eq!(app.balance(&token, id).await, "100.00");
    assert_eq!(app.transaction_count(&token).await, 1);
}

#[tokio::test]
async fn bodies_that_are_not_objects_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "100.00").await;
    let before = app.snapshot(&token).await;

    for movement in ["deposit", "withdraw", "transfer"] {
        let path = format!("/api/accounts/{id}/{movement}/");
        for body in BAD_BODIES {
            let response = post_json(&app, &path, &token, body.to_string()).await;

            assert_eq!(
                response.status,
                StatusCode::BAD_REQUEST,
                "{movement} {body:?}"
            );
            assert_contract_error(&response.body);
        }
    }
    let account = format!("/api/accounts/{id}/");
    let routes = [
        (Method::POST, "/api/accounts/"),
        (Method::PUT, account.as_str()),
        (Method::PATCH, account.as_str()),
    ];
    for (method, path) in routes {
        for body in BAD_BODIES.iter().filter(|b| !b.trim().is_empty()) {
            let request = app
                .raw(method.clone(), path)
                .header("Authorization", format!("Token {token}"))
                .header("Content-Type", "application/json")
                .body(body.to_string());

            let response = app.send(request).await;

            assert_refused(&response, &format!("{method} {path} {body:?}"));
        }
    }

    assert_eq!(app.snapshot(&token).await, before);
}

#[tokio::test]
async fn bad_destination_account_numbers_are_field_errors() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "100.00").await;
    let before = app.snapshot(&token).await;
    let path = format!("/api/accounts/{id}/transfer/");

    for destination in [
        "true",
        "null",
        "[]",
        "{}",
        "123456789",
        r#""""#,
        r#""' OR 1=1 --""#,
        r#""ACC-123456789; DROP TABLE accounts""#,
        r#""ACC-１２３４５６７８９""#,
        r#""ACC-12345678٩""#,
        r#""acc-000000001""#,
    ] {
        let body = format!(r#"{{"amount": "1.00", "to_account_number": {destination}}}"#);

        let response = post_json(&app, &path, &token, body).await;

        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{destination}");
        assert_field_error(&response.body, "to_account_number");
    }
    assert_eq!(app.snapshot(&token).await, before);
}

#[tokio::test]
async fn bad_descriptions_are_field_errors_and_odd_ones_are_stored_verbatim() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    let path = format!("/api/accounts/{id}/deposit/");
    for description in [json!("d".repeat(256)), json!([]), json!({}), json!(true)] {
        let body = json!({ "amount": "1.00", "description": description });

        let response = app.post(&path, &token, body).await;

        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{description}");
        assert_field_error(&response.body, "description");
    }
    assert_eq!(app.transaction_count(&token).await, 0);

    let odd = [
        "'; DROP TABLE transactions; --",
        "Ünïcödé ☕ 日本語 🏦",
        "line\nbreak\ttab",
        "<script>alert(1)</script>",
    ];
    for description in odd {
        let body = json!({ "amount": "1.00", "description": description });
        app.post(&path, &token, body).await.expect(StatusCode::OK);
    }

    let list = app.transactions(&token, "").await;
    let stored: Vec<&str> = list["results"]
        .as_array()
        .expect("results")
        .iter()
        .rev()
        .map(|row| text(row, "description"))
        .collect();
    assert_eq!(stored, odd);
}

#[tokio::test]
async fn registration_with_wrong_types_gets_field_errors_not_a_crash() {
    let app = spawn_app().await;

    for value in [json!(null), json!(true), json!([]), json!({}), json!(["x"])] {
        for field in [
            "username",
            "password",
            "full_name",
            "email",
            "phone_number",
            "gender",
        ] {
            let optional = field == "phone_number" || field == "gender";
            if optional && value.is_null() {
                continue;
            }
            let mut body = crate::helpers::registration_body("typed");
            body[field] = value.clone();

            let response = app.post("/api/register/", "", body).await;

            assert_eq!(
                response.status,
                StatusCode::BAD_REQUEST,
                "{field} = {value}"
            );
            assert_field_error(&response.body, field);
        }
    }
}

#[tokio::test]
async fn odd_query_strings_never_cause_a_server_error() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    app.funded_account(&token, "1.00").await;

    for query in [
        "?page_size=-1",
        "?page_size=abc",
        "?page_size=0",
        "?page=99999999999999999999",
        "?page=1&page=2",
        "?account=99999999999999999999",
        "?account=0",
        "?min_amount=1e400",
        "?max_amount=-1",
        "?date_from=%00",
        "?date_to=2024-02-30",
        "?transaction_type=%27%20OR%201%3D1",
        "?page=%ZZ",
        "?%ZZ=1",
        "?=&&&=",
    ] {
        let response = app.get(&format!("/api/transactions/{query}"), &token).await;

        assert!(
            response.status.is_success() || response.status.is_client_error(),
            "{query}: {} {}",
            response.status,
            response.body
        );
        if !response.status.is_success() {
            assert_contract_error(&response.body);
        }
    }
}
