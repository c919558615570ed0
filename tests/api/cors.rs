//! CORS from configuration (contract §10, issue 4): off by default, and a configured origin
//! gets the allow headers on its preflight and its answers while any other origin gets none.

use reqwest::{Method, StatusCode};

use crate::helpers::{ApiResponse, TestApp, spawn_app, spawn_app_with};

/// A CORS preflight for `POST /api/accounts/` from `origin`.
async fn preflight(app: &TestApp, origin: &str) -> ApiResponse {
    let request = app
        .raw(Method::OPTIONS, "/api/accounts/")
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type, idempotency-key",
        );
    app.send(request).await
}

#[tokio::test]
async fn cors_is_off_by_default() {
    let app = spawn_app().await;
    let token = app.new_user().await;

    let options = preflight(&app, "https://app.example.com").await;
    let get = app
        .send(
            app.raw(Method::GET, "/api/accounts/")
                .header("Authorization", format!("Token {token}"))
                .header("Origin", "https://app.example.com"),
        )
        .await;

    assert_eq!(options.header("access-control-allow-origin"), None);
    assert_eq!(get.status, StatusCode::OK);
    assert_eq!(get.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_configured_origin_gets_the_allow_headers_and_another_does_not() {
    let app = spawn_app_with(|config| {
        config.cors_allowed_origins = vec!["https://app.example.com".to_owned()];
    })
    .await;
    let token = app.new_user().await;

    let allowed = preflight(&app, "https://app.example.com").await;
    let other = preflight(&app, "https://evil.example.com").await;
    let get = app
        .send(
            app.raw(Method::GET, "/api/accounts/")
                .header("Authorization", format!("Token {token}"))
                .header("Origin", "https://app.example.com"),
        )
        .await;

    assert!(allowed.status.is_success(), "{}", allowed.status);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let methods = allowed
        .header("access-control-allow-methods")
        .expect("allowed methods")
        .to_ascii_uppercase();
    assert!(methods.contains("POST"), "{methods}");
    let headers = allowed
        .header("access-control-allow-headers")
        .expect("allowed headers")
        .to_ascii_lowercase();
    for header in ["authorization", "content-type", "idempotency-key"] {
        assert!(headers.contains(header), "{headers}");
    }
    assert_eq!(other.header("access-control-allow-origin"), None);
    assert_eq!(get.status, StatusCode::OK);
    assert_eq!(
        get.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let exposed = get
        .header("access-control-expose-headers")
        .expect("exposed headers")
        .to_ascii_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");
}
