//! What a client can claim about itself and cannot forge (issue 11 items 8 and 9): its address
//! behind trusted proxies (`X-Forwarded-For` with ports and brackets, IPv6 clients throttled by
//! /64), the `Host` and scheme its links are built from (`server.allowed_hosts`, `server.public_url`,
//! `X-Forwarded-Proto` from a trusted proxy) and
//! its own `X-Request-Id`, recorded beside the server's id instead of replacing it.

use bankd::config::{Config, IpNet, PublicUrl};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    ApiResponse, NO_TOKEN, TestApp, assert_detail, registration_body, spawn_app, spawn_app_with,
};

/// A failed `POST /api/get-token/` forwarded for `forwarded_for` by the (trusted) test client.
async fn login_attempt_from(app: &TestApp, forwarded_for: &str) -> ApiResponse {
    app.request_with(
        Method::POST,
        "/api/get-token/",
        NO_TOKEN,
        Some(json!({"username": "nobody", "password": "wrong-password-1"})),
        &[("X-Forwarded-For", forwarded_for)],
    )
    .await
}

fn behind_a_local_proxy(config: &mut Config) {
    config.throttle_auth_per_ip_per_minute = 2;
    config.trusted_proxies = vec![IpNet::parse("127.0.0.1").expect("an address")];
}

/// The audit rows of `action`, newest first, as staff see them.
async fn audit_rows(app: &TestApp, action: &str) -> Vec<Value> {
    let (_, staff) = app.new_staff_user().await;
    let rows = app
        .get(
            &format!("/api/admin/audit/?action={action}&page_size=100"),
            &staff,
        )
        .await
        .expect(StatusCode::OK);
    rows["results"].as_array().expect("results").clone()
}

#[tokio::test]
async fn a_proxy_that_appends_a_port_cannot_be_used_to_choose_the_client_address() {
    let app = spawn_app_with(behind_a_local_proxy).await;

    // The client sends a different made-up address each time; the proxy appends the real one
    // with its port. Only the real one counts.
    let mut answers = Vec::new();
    for spoofed in ["6.6.6.1", "6.6.6.2", "6.6.6.3"] {
        let forwarded = format!("{spoofed}, 198.51.100.7:40000");
        answers.push(login_attempt_from(&app, &forwarded).await.status);
    }

    assert_eq!(
        answers,
        [
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

#[tokio::test]
async fn an_unreadable_entry_from_the_proxy_makes_the_proxy_the_client() {
    let app = spawn_app_with(behind_a_local_proxy).await;

    let mut answers = Vec::new();
    for spoofed in ["6.6.6.1", "6.6.6.2", "6.6.6.3"] {
        let forwarded = format!("{spoofed}, unknown");
        answers.push(login_attempt_from(&app, &forwarded).await.status);
    }

    assert_eq!(answers[2], StatusCode::TOO_MANY_REQUESTS, "{answers:?}");
}

#[tokio::test]
async fn ipv6_clients_rotating_addresses_in_one_64_share_one_limit() {
    let app = spawn_app_with(behind_a_local_proxy).await;

    let mut answers = Vec::new();
    for address in [
        "2001:db8:1:2::1",
        "2001:db8:1:2::2",
        "[2001:db8:1:2:ffff::3]:443",
    ] {
        answers.push(login_attempt_from(&app, address).await.status);
    }
    let other_network = login_attempt_from(&app, "2001:db8:1:3::1").await;

    assert_eq!(answers[2], StatusCode::TOO_MANY_REQUESTS, "{answers:?}");
    assert_eq!(other_network.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_audit_log_records_a_bracketed_forwarded_address_exactly() {
    let app = spawn_app_with(|config| {
        config.trusted_proxies = vec![IpNet::parse("127.0.0.1").expect("an address")];
    })
    .await;

    app.request_with(
        Method::POST,
        "/api/register/",
        NO_TOKEN,
        Some(registration_body("bracketed")),
        &[("X-Forwarded-For", "6.6.6.6, [2001:db8::9]:443")],
    )
    .await
    .expect(StatusCode::CREATED);

    let rows = audit_rows(&app, "register").await;
    let row = rows
        .iter()
        .find(|row| row["details"]["username"] == "bracketed")
        .expect("the register row");
    assert_eq!(row["client_ip"], "2001:db8::9", "{row}");
}

#[tokio::test]
async fn a_host_that_is_not_allowed_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let evil = [("Host", "evil.example")];

    let register = app
        .request_with(
            Method::POST,
            "/api/register/",
            NO_TOKEN,
            Some(registration_body("hosted")),
            &evil,
        )
        .await;
    let list = app
        .request_with(Method::GET, "/api/accounts/", &token, None, &evil)
        .await;
    let health = app
        .request_with(Method::GET, "/healthz", NO_TOKEN, None, &evil)
        .await;

    for refused in [&register, &list] {
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert_detail(&refused.body, "invalid_host");
        assert!(!refused.body.to_string().contains("evil.example"));
    }
    assert_eq!(health.status, StatusCode::OK);
    // Nothing was registered: the same username is still free.
    app.register("hosted").await.expect(StatusCode::CREATED);
}

#[tokio::test]
async fn pagination_links_never_point_at_a_host_the_client_made_up() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    for _ in 0..2 {
        app.open_account(&token).await;
    }

    let page = app
        .request_with(
            Method::GET,
            "/api/accounts/?page_size=1",
            &token,
            None,
            &[("Host", "localhost:8000")],
        )
        .await
        .expect(StatusCode::OK);

    assert_eq!(
        page["next"],
        "http://localhost:8000/api/accounts/?page_size=1&page=2"
    );
}

#[tokio::test]
async fn configured_names_are_served_and_links_follow_the_public_url() {
    let app = spawn_app_with(|config| {
        config.allowed_hosts = vec![".example.com".to_owned()];
        config.public_url = Some(PublicUrl::parse("https://bank.example.com/bank").expect("a URL"));
    })
    .await;
    let token = app.new_user().await;
    for _ in 0..2 {
        app.open_account(&token).await;
    }

    let page = app
        .request_with(
            Method::GET,
            "/api/accounts/?page_size=1",
            &token,
            None,
            &[("Host", "internal.example.com:8000")],
        )
        .await
        .expect(StatusCode::OK);
    let local = app
        .request_with(
            Method::GET,
            "/api/accounts/",
            &token,
            None,
            &[("Host", "localhost")],
        )
        .await;

    assert_eq!(
        page["next"],
        "https://bank.example.com/bank/api/accounts/?page_size=1&page=2"
    );
    // Configuring names replaces the local defaults (the listen address stays allowed).
    assert_eq!(local.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_client_request_id_is_echoed_and_recorded_beside_the_servers_own() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let path = format!("/api/accounts/{account}/deposit/");

    for _ in 0..2 {
        let deposit = app
            .request_with(
                Method::POST,
                &path,
                &token,
                Some(json!({"amount": "1.00"})),
                &[("X-Request-Id", "trace-7")],
            )
            .await;
        assert_eq!(deposit.header("x-request-id"), Some("trace-7"));
        deposit.expect(StatusCode::OK);
    }

    let rows = audit_rows(&app, "deposit").await;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row["client_request_id"], "trace-7", "{row}");
        assert_ne!(row["request_id"], "trace-7", "{row}");
    }
    assert_ne!(rows[0]["request_id"], rows[1]["request_id"]);
}

#[tokio::test]
async fn a_long_or_unprintable_client_request_id_is_neither_echoed_nor_recorded() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let path = format!("/api/accounts/{account}/deposit/");
    let long = "x".repeat(65);

    for bad in [long.as_str(), "two words", "caf\u{e9}"] {
        let deposit = app
            .send(
                app.raw(Method::POST, &path)
                    .header("Authorization", format!("Token {token}"))
                    .header(
                        "X-Request-Id",
                        reqwest::header::HeaderValue::from_bytes(bad.as_bytes())
                            .expect("a header value"),
                    )
                    .json(&json!({"amount": "1.00"})),
            )
            .await;
        let echoed = deposit
            .header("x-request-id")
            .unwrap_or_default()
            .to_owned();
        deposit.expect(StatusCode::OK);
        assert!(!echoed.is_empty() && echoed != bad, "{echoed:?}");
    }

    let rows = audit_rows(&app, "deposit").await;
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|row| row["client_request_id"].is_null()),
        "{rows:?}"
    );
}

#[tokio::test]
async fn page_links_say_https_only_when_a_trusted_proxy_says_so() {
    let direct = spawn_app().await;
    let proxied = spawn_app_with(|config| {
        config.trusted_proxies = vec![bankd::config::IpNet::parse("127.0.0.1").expect("ip")];
    })
    .await;
    for (app, expected) in [(&direct, "http://"), (&proxied, "https://")] {
        let token = app.new_user().await;
        app.open_account(&token).await;
        app.open_account(&token).await;

        let page = app
            .request_with(
                Method::GET,
                "/api/accounts/?page_size=1",
                &token,
                None,
                &[("X-Forwarded-Proto", "https")],
            )
            .await
            .expect(StatusCode::OK);

        let next = page["next"].as_str().expect("a next link");
        assert!(next.starts_with(expected), "{next}");
    }
}

#[tokio::test]
async fn the_audit_log_records_the_forwarded_client_ip_only_from_a_trusted_proxy() {
    let trusting = spawn_app_with(|config| {
        config.trusted_proxies =
            vec![bankd::config::IpNet::parse("127.0.0.0/8").expect("a network")];
    })
    .await;
    let distrusting = spawn_app().await;
    let mut seen = Vec::new();

    for app in [&trusting, &distrusting] {
        app.request_with(
            Method::POST,
            "/api/register/",
            NO_TOKEN,
            Some(registration_body("forwarded")),
            &[("X-Forwarded-For", "203.0.113.9")],
        )
        .await
        .expect(StatusCode::CREATED);
        let (_, staff) = app.new_staff_user().await;
        let rows = app
            .get("/api/admin/audit/?action=register", &staff)
            .await
            .expect(StatusCode::OK);
        let row = rows["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|row| row["details"]["username"] == "forwarded")
            .cloned()
            .expect("the register row");
        seen.push(row["client_ip"].clone());
    }

    assert_eq!(seen, [json!("203.0.113.9"), json!("127.0.0.1")]);
}
