//! The wire format (contract §1, §10): slashes, media types, size limits, security headers,
//! request ids, unknown routes, wrong methods and the service endpoints.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    ApiResponse, NO_TOKEN, PASSWORD, TestApp, assert_detail, id_of, not_found, spawn_app,
};

const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// `POST path` with a raw body and content type.
async fn post_raw(
    app: &TestApp,
    path: &str,
    token: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> ApiResponse {
    let mut request = app
        .raw(Method::POST, path)
        .header("Content-Type", content_type)
        .body(body);
    if !token.is_empty() {
        request = request.header("Authorization", format!("Token {token}"));
    }
    app.send(request).await
}

#[tokio::test]
async fn routes_answer_with_and_without_their_trailing_slash() {
    let app = spawn_app().await;
    app.post(
        "/api/register",
        NO_TOKEN,
        crate::helpers::registration_body("slashless"),
    )
    .await
    .expect(StatusCode::CREATED);
    let token = app.login("slashless", PASSWORD).await;

    let created = app
        .post("/api/accounts", &token, json!({}))
        .await
        .expect(StatusCode::CREATED);
    let id = id_of(&created, "id");
    let deposit = app
        .post(
            &format!("/api/accounts/{id}/deposit"),
            &token,
            json!({ "amount": "2.00" }),
        )
        .await;

    assert_eq!(deposit.expect(StatusCode::OK)["new_balance"], "2.00");
    for (with, without) in [
        ("/api/accounts/", "/api/accounts"),
        (
            &format!("/api/accounts/{id}/") as &str,
            &format!("/api/accounts/{id}") as &str,
        ),
        ("/api/customers/", "/api/customers"),
        ("/api/transactions/", "/api/transactions"),
    ] {
        let slash = app.get(with, &token).await.expect(StatusCode::OK);
        let no_slash = app.get(without, &token).await.expect(StatusCode::OK);
        assert_eq!(slash, no_slash, "{with}");
    }
}

#[tokio::test]
async fn form_encoded_bodies_are_accepted_like_json() {
    let app = spawn_app().await;
    let form = "application/x-www-form-urlencoded";
    let registration = "username=formuser&password=a-strong-password123&full_name=Form+User\
                        &email=formuser%40example.com&gender=F";

    let registered = post_raw(&app, "/api/register/", NO_TOKEN, form, registration).await;
    let login = post_raw(
        &app,
        "/api/get-token/",
        NO_TOKEN,
        form,
        "username=formuser&password=a-strong-password123",
    )
    .await;

    assert_eq!(
        registered.expect(StatusCode::CREATED),
        json!({ "username": "formuser", "email": "formuser@example.com" })
    );
    let token = login.expect(StatusCode::OK)["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let (id, _) = app.open_account(&token).await;
    let path = format!("/api/accounts/{id}/deposit/");
    let deposit = post_raw(
        &app,
        &path,
        &token,
        form,
        "amount=12.34&description=by+form",
    )
    .await;
    assert_eq!(deposit.expect(StatusCode::OK)["new_balance"], "12.34");
}

#[tokio::test]
async fn json_with_a_charset_is_json() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    let path = format!("/api/accounts/{id}/deposit/");

    let response = post_raw(
        &app,
        &path,
        &token,
        "application/json; charset=utf-8",
        r#"{"amount": "3.00"}"#,
    )
    .await;

    assert_eq!(response.expect(StatusCode::OK)["new_balance"], "3.00");
}

#[tokio::test]
async fn another_media_type_is_unsupported_and_moves_nothing() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    let path = format!("/api/accounts/{id}/deposit/");

    for content_type in [
        "text/plain",
        "application/xml",
        // multipart/form-data is read since issue #12 (tests/api/multipart.rs); other
        // multipart types still are not.
        "multipart/mixed; boundary=x",
    ] {
        let response = post_raw(&app, &path, &token, content_type, r#"{"amount": "3.00"}"#).await;

        assert_eq!(
            response.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
        assert_detail(&response.body, "unsupported_media_type");
    }
    assert_eq!(app.balance(&token, id).await, "0.00");
}

#[tokio::test]
async fn malformed_json_is_a_parse_error() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    let path = format!("/api/accounts/{id}/deposit/");

    let deeply_nested = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let nested_amount = format!(r#"{{"amount": {}1{}}}"#, "[".repeat(500), "]".repeat(500));
    let bodies = [
        r#"{"amount": "#.to_owned(),
        "{amount: 1}".to_owned(),
        r#"{"amount": "1.00",}"#.to_owned(),
        r#"{"amount": "1.00"} trailing"#.to_owned(),
        "\u{0}".to_owned(),
        "\u{feff}{}".to_owned(),
        deeply_nested,
        nested_amount,
    ];
    for body in bodies {
        let response = post_raw(&app, &path, &token, "application/json", body.clone()).await;

        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body:.40}");
        assert_detail(&response.body, "parse_error");
        let detail = response.body["detail"].as_str().expect("detail");
        assert!(detail.starts_with("JSON parse error - "), "{detail}");
    }
    assert_eq!(app.balance(&token, id).await, "0.00");
}

#[tokio::test]
async fn a_body_over_64_kib_is_too_large_and_one_at_the_limit_is_read() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    let path = format!("/api/accounts/{id}/deposit/");
    let padded = |total: usize| {
        let head = r#"{"amount": "1.00", "ignored": ""#;
        let tail = r#""}"#;
        format!(
            "{head}{}{tail}",
            "x".repeat(total - head.len() - tail.len())
        )
    };

    let at_limit = post_raw(&app, &path, &token, "application/json", padded(64 * 1024)).await;
    let over = post_raw(
        &app,
        &path,
        &token,
        "application/json",
        padded(64 * 1024 + 1),
    )
    .await;

    assert_eq!(at_limit.expect(StatusCode::OK)["new_balance"], "1.00");
    assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_contract_detail(&over.body);
    assert_eq!(app.balance(&token, id).await, "1.00");
}

#[track_caller]
fn assert_contract_detail(body: &Value) {
    assert!(
        body["detail"].is_string() && body["code"].is_string(),
        "{body}"
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_a_request_id() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let big = "x".repeat(70_000);
    let responses = [
        app.get("/healthz", NO_TOKEN).await,
        app.get("/api/accounts/", &token).await,
        app.post("/api/accounts/", &token, json!({})).await,
        app.get("/api/accounts/", NO_TOKEN).await,
        app.get("/api/no-such-thing/", &token).await,
        app.delete("/api/transactions/", &token).await,
        post_raw(&app, "/api/accounts/", &token, "text/plain", "x").await,
        post_raw(&app, "/api/accounts/", &token, "application/json", "{").await,
        post_raw(&app, "/api/accounts/", &token, "application/json", big).await,
    ];

    for response in responses {
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(
                response.header(name),
                Some(value),
                "{name} on {}",
                response.status
            );
        }
        let request_id = response.header("x-request-id").unwrap_or_default();
        assert!(
            !request_id.is_empty(),
            "no X-Request-Id on {}",
            response.status
        );
    }
}

#[tokio::test]
async fn a_request_id_is_echoed_when_sent_and_generated_otherwise() {
    let app = spawn_app().await;

    let echoed = app
        .send(
            app.raw(Method::GET, "/healthz")
                .header("X-Request-Id", "trace-42.abc"),
        )
        .await;
    let first = app.get("/healthz", NO_TOKEN).await;
    let second = app.get("/api/nowhere", NO_TOKEN).await;

    assert_eq!(echoed.header("x-request-id"), Some("trace-42.abc"));
    let (first, second) = (first.header("x-request-id"), second.header("x-request-id"));
    assert!(first.is_some_and(|id| !id.is_empty()));
    assert_ne!(first, second);
}
#[tokio::test]
async fn unknown_routes_and_malformed_ids_are_not_found() {
    let app = spawn_app().await;
    let token = app.new_user().await;

    for path in [
        "/api/nope/",
        "/nope",
        "/api/accounts/abc/",
        "/api/accounts/0/",
        "/api/accounts/-1/",
        "/api/accounts/1.5/",
        "/api/accounts/99999999999999999999999/",
        "/api/customers/1e3/",
        "/api/transactions/%00/",
    ] {
        let response = app.get(path, &token).await;

        assert_eq!(
            response.expect(StatusCode::NOT_FOUND),
            not_found(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_wrong_method_on_a_route_is_405_with_allow() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;

    let response = app
        .get(&format!("/api/accounts/{id}/deposit/"), &token)
        .await;
    let list = app.delete("/api/customers/", &token).await;

    assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(response.header("allow").is_some_and(|a| a.contains("POST")));
    assert_eq!(
        response.body,
        json!({ "detail": "Method \"GET\" not allowed.", "code": "method_not_allowed" })
    );
    assert_eq!(list.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_detail(&list.body, "method_not_allowed");
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;

    let health = app.get("/healthz", NO_TOKEN).await;
    let ready = app.get("/readyz", NO_TOKEN).await;

    assert_eq!(health.expect(StatusCode::OK), json!({ "status": "ok" }));
    assert_eq!(ready.status, StatusCode::OK);
}

#[tokio::test]
async fn a_body_without_a_content_type_is_unsupported() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    let request = app
        .raw(Method::POST, &format!("/api/accounts/{id}/deposit/"))
        .header("Authorization", format!("Token {token}"))
        .body(r#"{"amount": "1.00"}"#);

    let response = app.send(request).await;

    assert_eq!(response.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_detail(&response.body, "unsupported_media_type");
    assert_eq!(app.balance(&token, id).await, "0.00");
}

#[tokio::test]
async fn readiness_fails_when_the_schema_history_is_not_current() {
    let app = spawn_app().await;
    app.get("/readyz", NO_TOKEN).await.expect(StatusCode::OK);
    // A schema the binary does not know: a migration newer than any it embeds.
    app.execute_sql(
        "UPDATE refinery_schema_history SET version = version + 1000",
        [],
    );

    let response = app.get("/readyz", NO_TOKEN).await;

    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    let health = app.get("/healthz", NO_TOKEN).await;
    assert_eq!(health.status, StatusCode::OK);
}

#[tokio::test]
async fn a_body_over_64_kib_is_too_large_even_where_the_route_reads_no_body() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let body = format!(r#"{{"padding": "{}"}}"#, "x".repeat(70_000));

    let response = post_raw(&app, "/api/logout/", &token, "application/json", body).await;

    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_contract_detail(&response.body);
    app.get("/api/accounts/", &token)
        .await
        .expect(StatusCode::OK);
}
