//! The server's edges (issue 4, issue #11 items 3 and 6): `/metrics` counts requests by route
//! template and movements by outcome, stays bounded whatever methods clients invent, can
//! require a token and reports the process; connections that never finish
//! their headers are closed; the connection cap holds; a request slower than the request
//! timeout gets a contract-shaped `503`.
//!
//! Waits here are guards against a hang (they fail the test), never measurements.

use std::time::Duration;

use bankd::config::Secret;
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{NO_TOKEN, TestApp, spawn_app, spawn_app_with};

/// How long a test waits for something that must happen before calling it a hang.
const HANG_GUARD: Duration = Duration::from_secs(30);

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef0123456789";

async fn metrics_text(app: &TestApp) -> String {
    let response = app.get("/metrics", NO_TOKEN).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    response.body.as_str().expect("text").to_owned()
}

/// A raw TCP connection to the app.
async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address).await.expect("connects")
}

/// Reads until the peer closes; `None` if it is still open after `HANG_GUARD`.
async fn read_until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    match tokio::time::timeout(HANG_GUARD, stream.read_to_end(&mut received)).await {
        Ok(_) => Some(received), // EOF, or a reset: closed either way
        Err(_) => None,
    }
}

/// Reads one whole response (head, and body by `Content-Length`) from a keep-alive
/// connection.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        let read = tokio::time::timeout(HANG_GUARD, stream.read(&mut buffer))
            .await
            .expect("a response before the guard")
            .expect("read");
        assert!(read > 0, "closed before a whole response");
        received.extend_from_slice(&buffer[..read]);
    }
}

#[tokio::test]
async fn invented_methods_are_counted_as_other_and_metrics_stay_bounded() {
    let app = spawn_app().await;
    let invented = 300;
    for index in 0..invented {
        let method = Method::from_bytes(format!("FROB{index}X").as_bytes()).expect("a token");
        let response = app.request(method, "/healthz", NO_TOKEN, None).await;
        assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    }

    let text = metrics_text(&app).await;

    assert!(
        !text.contains("FROB"),
        "an invented method is a label: {text}"
    );
    assert!(
        text.lines()
            .any(|line| line.starts_with("bankd_http_requests_total{")
                && line.ends_with(&format!(r#"method="OTHER",status="405"}} {invented}"#))),
        "{text}"
    );
    let series = text
        .lines()
        .filter(|line| line.starts_with("bankd_http_requests_total{"))
        .count();
    assert!(
        series <= 3,
        "{series} request series from one route: {text}"
    );
}

#[tokio::test]
async fn metrics_report_the_process_and_the_build() {
    let app = spawn_app().await;

    let text = metrics_text(&app).await;

    for name in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "bankd_http_connections_open",
        "bankd_http_connections_max",
    ] {
        let value = text
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing: {text}"));
        assert!(value.parse::<f64>().is_ok(), "{name} {value}");
    }
    let build = format!(
        r#"bankd_build_info{{version="{}"}} 1"#,
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.lines().any(|line| line == build), "{text}");
}

#[tokio::test]
async fn metrics_need_the_bearer_token_when_one_is_configured() {
    let app = spawn_app_with(|config| {
        config.metrics_token = Some(Secret::new(METRICS_TOKEN.as_bytes().to_vec()));
    })
    .await;
    let fetch = |authorization: Option<String>| {
        let mut request = app.client.get(format!("{}/metrics", app.address));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        request.send()
    };

    let anonymous = fetch(None).await.expect("answers");
    let wrong = fetch(Some(format!("Bearer {METRICS_TOKEN}x")))
        .await
        .expect("answers");
    let wrong_scheme = fetch(Some(format!("Token {METRICS_TOKEN}")))
        .await
        .expect("answers");
    let right = fetch(Some(format!("Bearer {METRICS_TOKEN}")))
        .await
        .expect("answers");

    for refused in [anonymous, wrong, wrong_scheme] {
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let body: serde_json::Value = refused.json().await.expect("JSON");
        assert!(body["detail"].is_string(), "{body}");
    }
    assert_eq!(right.status(), StatusCode::OK);
    let text = right.text().await.expect("text");
    assert!(text.contains("bankd_http_requests_total"), "{text}");
}

#[tokio::test]
async fn connections_that_never_finish_their_headers_are_closed_after_the_timeout() {
    let app = spawn_app_with(|config| config.header_read_timeout_seconds = 1).await;
    let mut half_sent = Vec::new();
    for _ in 0..5 {
        let mut stream = connect(&app).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            .await
            .expect("write");
        half_sent.push(stream);
    }
    let mut silent = connect(&app).await;

    for stream in half_sent.iter_mut().chain([&mut silent]) {
        let received = read_until_closed(stream).await;
        assert!(
            received.is_some(),
            "a connection without a whole request head is still open"
        );
    }
    // The server still serves.
    app.get("/healthz", NO_TOKEN).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn connections_past_the_cap_wait_until_one_closes() {
    let app = spawn_app_with(|config| config.max_connections = 2).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&app).await;
        stream.write_all(request).await.expect("write");
        assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
        held.push(stream); // keep-alive: the connection stays open and holds its slot
    }

    // The kernel completes the handshake, but bankd does not take the connection.
    let mut waiting = connect(&app).await;
    waiting.write_all(request).await.expect("write");
    let mut buffer = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), waiting.read(&mut buffer)).await;
    assert!(early.is_err(), "a connection past the cap was served");

    drop(held.pop());

    assert!(
        read_response(&mut waiting)
            .await
            .starts_with("HTTP/1.1 200")
    );
}

#[tokio::test]
async fn a_request_slower_than_the_request_timeout_gets_503_in_the_contract_shape() {
    let app = spawn_app_with(|config| config.request_timeout_seconds = 1).await;
    let mut stream = connect(&app).await;
    // The head is complete, the body never arrives in full.
    stream
        .write_all(
            b"POST /api/register/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
              Content-Length: 60\r\n\r\n{\"username\": ",
        )
        .await
        .expect("write");

    let response = read_response(&mut stream).await;

    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    let lower = response.to_ascii_lowercase();
    assert!(lower.contains("\r\nretry-after: 1\r\n"), "{response}");
    assert!(lower.contains("\r\nx-request-id: "), "{response}");
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let body: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    assert!(body["detail"].is_string(), "{response}");
    // The server goes on serving.
    app.get("/healthz", NO_TOKEN).await.expect(StatusCode::OK);
}

/// The `/metrics` text.
async fn metrics(app: &TestApp) -> String {
    let response = app.get("/metrics", NO_TOKEN).await;
    assert_eq!(response.status, StatusCode::OK);
    let content_type = response.header("content-type").expect("a content type");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    response.body.as_str().expect("text").to_owned()
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_movements_by_outcome() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (source, _) = app.funded_account(&token, "10.00").await;
    let (_, destination_number) = app.open_account(&token).await;
    app.transfer(&token, source, &destination_number, "4.00")
        .await
        .expect(StatusCode::OK);
    app.transfer(&token, source, &destination_number, "400.00")
        .await
        .expect(StatusCode::BAD_REQUEST);
    app.get("/api/no-such-route-7f3a/", NO_TOKEN)
        .await
        .expect(StatusCode::NOT_FOUND);

    let text = metrics(&app).await;

    let lines: Vec<&str> = text.lines().collect();
    let has = |wanted: &str| lines.contains(&wanted);
    assert!(
        has(
            r#"bankd_http_requests_total{route="/api/accounts/{id}/transfer",method="POST",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        has(
            r#"bankd_http_requests_total{route="/api/accounts/{id}/transfer",method="POST",status="400"} 1"#
        ),
        "{text}"
    );
    assert!(
        has(r#"bankd_money_movements_total{kind="transfer",outcome="success"} 1"#),
        "{text}"
    );
    assert!(
        has(r#"bankd_money_movements_total{kind="transfer",outcome="refused"} 1"#),
        "{text}"
    );
    assert!(
        has(r#"bankd_money_movements_total{kind="deposit",outcome="success"} 1"#),
        "{text}"
    );
    assert!(
        !text.contains(&format!("/api/accounts/{source}/")),
        "a raw path is a label: {text}"
    );
    assert!(
        !text.contains("no-such-route-7f3a"),
        "an unmatched path is a label: {text}"
    );
    assert!(
        text.contains("bankd_http_request_duration_seconds_bucket"),
        "{text}"
    );
}
