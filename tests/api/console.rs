//! The console's own answers over HTTP (issue #12 item 4): a browser that mistypes a console
//! address gets the console's "Page not found" page, while API clients and every `/api/` path
//! keep the contract's JSON `404`.

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, not_found, spawn_app};

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

async fn get_as_browser(app: &TestApp, method: Method, path: &str) -> reqwest::Response {
    app.raw(method, path)
        .header("Accept", BROWSER_ACCEPT)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn a_browser_on_a_mistyped_console_address_gets_the_consoles_404_page() {
    let app = spawn_app().await;

    for path in [
        "/no-such-page/",
        "/acounts/",
        "/accounts/1/extra/",
        "/staff/x/y/z/",
    ] {
        let response = get_as_browser(&app, Method::GET, path).await;

        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("text/html"),
            "{path}: {content_type}"
        );
        let csp = response
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        let body = response.text().await.expect("body");
        assert!(
            body.contains("/static/js/app.js"),
            "{path}: the console's document"
        );
    }
}

#[tokio::test]
async fn api_paths_and_api_clients_still_get_the_contracts_json_404() {
    let app = spawn_app().await;

    for (path, as_browser) in [
        ("/api/nope/", true),
        ("/api", true),
        ("/api/accounts/1/nope/", true),
        ("/static/js/nope.js", true),
        ("/nope", false),
    ] {
        let response = if as_browser {
            get_as_browser(&app, Method::GET, path).await
        } else {
            app.raw(Method::GET, path).send().await.expect("request")
        };

        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        assert_eq!(body, not_found(), "{path}");
    }
}

#[tokio::test]
async fn writing_to_an_unknown_console_address_is_still_the_json_404() {
    let app = spawn_app().await;

    let response = app
        .raw(Method::POST, "/no-such-page/")
        .header("Accept", BROWSER_ACCEPT)
        .send()
        .await
        .expect("request");

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    assert_eq!(body, not_found());
}
