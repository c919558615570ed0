//! `GET /api/me/` (contract §12, issue #12 item 2): the caller's own user, for clients and the
//! console, so nobody has to probe a staff route (and be audited as denied) to learn who they are.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{NO_TOKEN, PASSWORD, assert_detail, keys, spawn_app, text};

/// The rows of the audit log with `action`, counted in SQL (the customer cannot read the log).
fn audit_rows(app: &crate::helpers::TestApp, action: &str) -> usize {
    app.query_sql("SELECT id FROM audit_log WHERE action = ?1", [action])
        .len()
}

#[tokio::test]
async fn a_customer_sees_exactly_its_own_id_username_email_and_no_staff_flags() {
    let app = spawn_app().await;
    let (username, token) = app.new_named_user().await;
    let (other, _) = app.new_named_user().await;

    let body = app.get("/api/me/", &token).await.expect(StatusCode::OK);

    assert_eq!(
        keys(&body),
        ["email", "id", "is_staff", "is_superuser", "username"]
    );
    assert_eq!(
        body,
        json!({
            "id": app.user_id(&username),
            "username": username,
            "email": format!("{username}@example.com"),
            "is_staff": false,
            "is_superuser": false,
        })
    );
    assert_ne!(body["id"], app.user_id(&other));
}

#[tokio::test]
async fn staff_and_superusers_see_their_flags() {
    let app = spawn_app().await;
    let (staff_name, staff) = app.new_staff_user().await;
    let (super_name, superuser) = app.new_named_user().await;
    app.execute_sql(
        "UPDATE users SET is_staff = 1, is_superuser = 1 WHERE username = ?1",
        [&super_name],
    );

    let staff_body = app.get("/api/me/", &staff).await.expect(StatusCode::OK);
    let super_body = app.get("/api/me/", &superuser).await.expect(StatusCode::OK);

    assert_eq!(text(&staff_body, "username"), staff_name);
    assert_eq!(staff_body["is_staff"], true);
    assert_eq!(staff_body["is_superuser"], false);
    assert_eq!(text(&super_body, "username"), super_name);
    assert_eq!(super_body["is_staff"], true);
    assert_eq!(super_body["is_superuser"], true);
}

#[tokio::test]
async fn a_jwt_access_token_works_like_an_opaque_token() {
    let app = spawn_app().await;
    let (username, _) = app.new_named_user().await;
    let pair = app
        .post(
            "/api/token/",
            NO_TOKEN,
            json!({ "username": username, "password": PASSWORD }),
        )
        .await
        .expect(StatusCode::OK);
    let request = app
        .raw(Method::GET, "/api/me/")
        .header("Authorization", format!("Bearer {}", text(&pair, "access")));

    let body = app.send(request).await.expect(StatusCode::OK);

    assert_eq!(text(&body, "username"), username);
}

#[tokio::test]
async fn without_a_valid_token_the_answer_is_401_and_says_nothing_about_anyone() {
    let app = spawn_app().await;
    app.new_user().await;

    let missing = app.get("/api/me/", NO_TOKEN).await;
    let invalid = app.get("/api/me/", &"0".repeat(40)).await;
    let malformed = app.get("/api/me/", "not-a-token").await;

    for (answer, code) in [
        (missing, "not_authenticated"),
        (invalid, "authentication_failed"),
        (malformed, "authentication_failed"),
    ] {
        let body = answer.expect(StatusCode::UNAUTHORIZED);
        assert_detail(&body, code);
    }
}

#[tokio::test]
async fn a_deactivated_users_token_stops_answering() {
    let app = spawn_app().await;
    let (username, token) = app.new_named_user().await;
    app.execute_sql(
        "UPDATE users SET is_active = 0 WHERE username = ?1",
        [&username],
    );

    // Whether or not the token check is answered from the cache, the profile read sees the
    // deactivation: a deactivated user learns nothing and must log in again (which fails).
    let body = app
        .get("/api/me/", &token)
        .await
        .expect(StatusCode::UNAUTHORIZED);

    assert_detail(&body, "authentication_failed");
}

#[tokio::test]
async fn only_get_is_allowed_and_nothing_is_written() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let before = app.query_sql("SELECT id FROM audit_log", []).len();

    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let answer = app
            .request(
                method.clone(),
                "/api/me/",
                &token,
                Some(json!({ "is_staff": true })),
            )
            .await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_detail(&answer.body, "method_not_allowed");
    }
    let me = app.get("/api/me/", &token).await.expect(StatusCode::OK);

    assert_eq!(me["is_staff"], false, "no mass assignment through /api/me/");
    assert_eq!(app.query_sql("SELECT id FROM audit_log", []).len(), before);
}

#[tokio::test]
async fn asking_who_you_are_is_not_a_permission_denial() {
    let app = spawn_app().await;
    let token = app.new_user().await;

    for _ in 0..5 {
        app.get("/api/me/", &token).await.expect(StatusCode::OK);
    }

    assert_eq!(audit_rows(&app, "permission_denied"), 0);
}
