//! Revocation that is final (issue #11 item 1, #12 item 3): a logout, a password change or a
//! staff reset is never undone by a request that was already in flight, and a password change
//! ends every other opaque token and every JWT of the user.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::task::JoinSet;

use crate::helpers::{ApiResponse, NO_TOKEN, PASSWORD, TestApp, spawn_app_with};

/// Sends `GET /api/customers/` with `authorization` (a full header value).
async fn customers_with(app: &TestApp, authorization: &str) -> ApiResponse {
    let request = app
        .raw(Method::GET, "/api/customers/")
        .header("Authorization", authorization);
    app.send(request).await
}

/// One JWT pair for `username`.
async fn jwt_pair(app: &TestApp, username: &str, password: &str) -> (String, String) {
    let body = app
        .post(
            "/api/token/",
            NO_TOKEN,
            json!({ "username": username, "password": password }),
        )
        .await
        .expect(StatusCode::OK);
    (
        body["access"].as_str().expect("access").to_owned(),
        body["refresh"].as_str().expect("refresh").to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logged_out_token_never_comes_back_through_requests_in_flight_during_logout() {
    // One reader connection keeps the readers busy, so token checks take the slow path (read on
    // a blocking thread, then cache) that the race needs.
    let app = Arc::new(spawn_app_with(|config| config.database_readers = 1).await);
    let (username, _) = app.new_named_user().await;

    for round in 0..20 {
        let token = app.login(&username, PASSWORD).await;
        let mut readers = JoinSet::new();
        for _ in 0..16 {
            let (app, header) = (app.clone(), format!("Token {token}"));
            readers.spawn(async move { customers_with(&app, &header).await.status });
        }
        app.post("/api/logout/", &token, json!({}))
            .await
            .expect(StatusCode::NO_CONTENT);
        while let Some(status) = readers.join_next().await {
            let status = status.expect("reader task");
            assert!(
                status == StatusCode::OK || status == StatusCode::UNAUTHORIZED,
                "{status}"
            );
        }

        let after = customers_with(&app, &format!("Token {token}")).await;
        assert_eq!(
            after.status,
            StatusCode::UNAUTHORIZED,
            "round {round}: the logged-out token works again: {}",
            after.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_change_is_not_undone_by_token_and_jwt_requests_in_flight() {
    let app = Arc::new(spawn_app_with(|config| config.database_readers = 1).await);
    let (username, caller) = app.new_named_user().await;
    let mut password = PASSWORD.to_owned();

    for round in 0..10 {
        let other = app.login(&username, &password).await;
        let (access, _) = jwt_pair(&app, &username, &password).await;
        let mut readers = JoinSet::new();
        for n in 0..16 {
            let app = app.clone();
            let header = match n % 2 {
                0 => format!("Token {other}"),
                _ => format!("Bearer {access}"),
            };
            readers.spawn(async move { customers_with(&app, &header).await.status });
        }
        let new_password = format!("changed-secret-{round}-x");
        app.post(
            "/api/password/change/",
            &caller,
            json!({ "old_password": password, "new_password": new_password }),
        )
        .await
        .expect(StatusCode::NO_CONTENT);
        password = new_password;
        while let Some(status) = readers.join_next().await {
            let status = status.expect("reader task");
            assert!(
                status == StatusCode::OK || status == StatusCode::UNAUTHORIZED,
                "{status}"
            );
        }

        for header in [format!("Token {other}"), format!("Bearer {access}")] {
            let after = customers_with(&app, &header).await;
            assert_eq!(
                after.status,
                StatusCode::UNAUTHORIZED,
                "round {round}: a revoked credential works again: {}",
                after.body
            );
        }
    }
}
