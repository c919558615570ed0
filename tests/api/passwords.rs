//! Passwords (issue #12 item 3): `POST /api/password/change/`, the staff-forced reset
//! `POST /api/admin/users/{id}/reset-password/` and `POST /api/password/reset/`. Each ends every
//! other session of the user: opaque tokens and JWTs alike.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    ApiResponse, NO_TOKEN, PASSWORD, TestApp, assert_detail, spawn_app, spawn_app_with,
};

const NEW_PASSWORD: &str = "another-strong-secret-42";

async fn bearer_get(app: &TestApp, path: &str, jwt: &str) -> ApiResponse {
    let authorization = format!("Bearer {jwt}");
    app.request_with(
        reqwest::Method::GET,
        path,
        NO_TOKEN,
        None,
        &[("Authorization", &authorization)],
    )
    .await
}

async fn jwt_pair(app: &TestApp, username: &str) -> (String, String) {
    let body = app
        .post(
            "/api/token/",
            NO_TOKEN,
            json!({ "username": username, "password": PASSWORD }),
        )
        .await
        .expect(StatusCode::OK);
    let text = |field: &str| body[field].as_str().expect(field).to_owned();
    (text("access"), text("refresh"))
}

async fn change(app: &TestApp, token: &str, old: &str, new: &str) -> ApiResponse {
    app.post(
        "/api/password/change/",
        token,
        json!({ "old_password": old, "new_password": new }),
    )
    .await
}

async fn login_status(app: &TestApp, username: &str, password: &str) -> StatusCode {
    app.post(
        "/api/get-token/",
        NO_TOKEN,
        json!({ "username": username, "password": password }),
    )
    .await
    .status
}

#[tokio::test]
async fn a_password_change_ends_every_other_token_and_jwt_but_keeps_the_callers_token() {
    let app = spawn_app().await;
    let (username, caller) = app.new_named_user().await;
    let other = app.login(&username, PASSWORD).await;
    let (access, refresh) = jwt_pair(&app, &username).await;
    // Used once first, so the cache vouches for each of them before the change.
    app.get("/api/customers/", &other)
        .await
        .expect(StatusCode::OK);
    bearer_get(&app, "/api/customers/", &access)
        .await
        .expect(StatusCode::OK);

    change(&app, &caller, PASSWORD, NEW_PASSWORD)
        .await
        .expect(StatusCode::NO_CONTENT);

    app.get("/api/customers/", &caller)
        .await
        .expect(StatusCode::OK);
    let other_after = app.get("/api/customers/", &other).await;
    assert_detail(
        &other_after.expect(StatusCode::UNAUTHORIZED),
        "authentication_failed",
    );
    let access_after = bearer_get(&app, "/api/customers/", &access).await;
    assert_detail(
        &access_after.expect(StatusCode::UNAUTHORIZED),
        "token_not_valid",
    );
    let refreshed = app
        .post(
            "/api/token/refresh/",
            NO_TOKEN,
            json!({ "refresh": refresh }),
        )
        .await;
    assert_detail(
        &refreshed.expect(StatusCode::UNAUTHORIZED),
        "token_not_valid",
    );
    assert_eq!(
        login_status(&app, &username, PASSWORD).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        login_status(&app, &username, NEW_PASSWORD).await,
        StatusCode::OK
    );
    let (new_access, _) = jwt_pair_with(&app, &username, NEW_PASSWORD).await;
    bearer_get(&app, "/api/customers/", &new_access)
        .await
        .expect(StatusCode::OK);
    let audit = app.query_sql(
        "SELECT actor_user_id FROM audit_log WHERE action = 'password_changed'",
        [],
    );
    assert_eq!(audit.len(), 1);
}

async fn jwt_pair_with(app: &TestApp, username: &str, password: &str) -> (String, String) {
    let body = app
        .post(
            "/api/token/",
            NO_TOKEN,
            json!({ "username": username, "password": password }),
        )
        .await
        .expect(StatusCode::OK);
    let text = |field: &str| body[field].as_str().expect(field).to_owned();
    (text("access"), text("refresh"))
}

#[tokio::test]
async fn a_password_change_made_with_a_jwt_ends_every_jwt_of_the_user() {
    let app = spawn_app().await;
    let (username, token) = app.new_named_user().await;
    let (access, _) = jwt_pair(&app, &username).await;
    let authorization = format!("Bearer {access}");

    app.request_with(
        reqwest::Method::POST,
        "/api/password/change/",
        NO_TOKEN,
        Some(json!({ "old_password": PASSWORD, "new_password": NEW_PASSWORD })),
        &[("Authorization", &authorization)],
    )
    .await
    .expect(StatusCode::NO_CONTENT);

    let after = bearer_get(&app, "/api/customers/", &access).await;
    assert_detail(&after.expect(StatusCode::UNAUTHORIZED), "token_not_valid");
    let opaque = app.get("/api/customers/", &token).await;
    assert_eq!(opaque.status, StatusCode::UNAUTHORIZED, "no token is kept");
}

#[tokio::test]
async fn a_wrong_old_password_or_a_weak_new_one_changes_nothing() {
    let app = spawn_app().await;
    let (username, token) = app.new_named_user().await;
    let other = app.login(&username, PASSWORD).await;

    let wrong_old = change(&app, &token, "not-my-password", NEW_PASSWORD).await;
    let weak_new = change(&app, &token, PASSWORD, "12345678").await;
    let similar = change(&app, &token, PASSWORD, &format!("{username}1")).await;
    let too_long = change(&app, &token, PASSWORD, &"Ab1-".repeat(1025)).await;
    let missing = app.post("/api/password/change/", &token, json!({})).await;
    let anonymous = change(&app, NO_TOKEN, PASSWORD, NEW_PASSWORD).await;

    assert_eq!(
        wrong_old.expect(StatusCode::BAD_REQUEST),
        json!({ "old_password": ["Your old password was entered incorrectly. Please enter it again."] })
    );
    let weak = weak_new.expect(StatusCode::BAD_REQUEST);
    assert!(
        weak["new_password"]
            .as_array()
            .is_some_and(|m| m.len() == 2),
        "{weak}"
    );
    let similar = similar.expect(StatusCode::BAD_REQUEST);
    assert_eq!(
        similar["new_password"][0],
        "The password is too similar to the username."
    );
    assert_eq!(
        too_long.expect(StatusCode::BAD_REQUEST),
        json!({ "new_password": ["Ensure this field has no more than 4096 characters."] })
    );
    assert_eq!(
        missing.expect(StatusCode::BAD_REQUEST),
        json!({ "old_password": ["This field is required."], "new_password": ["This field is required."] })
    );
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let failures = app.query_sql(
        "SELECT outcome FROM audit_log WHERE action = 'password_change_failed'",
        [],
    );
    assert_eq!(failures.len(), 1, "the wrong old password is audited");
    let changes = app.query_sql(
        "SELECT 1 FROM audit_log WHERE action = 'password_changed'",
        [],
    );
    assert!(changes.is_empty());
    app.get("/api/customers/", &other)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        login_status(&app, &username, PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn wrong_old_passwords_share_the_failed_login_limit() {
    let app = spawn_app_with(|config| config.throttle_failed_logins_per_user_per_minute = 2).await;
    let (_, token) = app.new_named_user().await;

    for n in 0..2 {
        change(&app, &token, &format!("guess-{n}"), NEW_PASSWORD)
            .await
            .expect(StatusCode::BAD_REQUEST);
    }
    let third = change(&app, &token, PASSWORD, NEW_PASSWORD).await;

    assert_detail(&third.expect(StatusCode::TOO_MANY_REQUESTS), "throttled");
}

async fn force_reset(app: &TestApp, staff: &str, user_id: i64) -> ApiResponse {
    let path = format!("/api/admin/users/{user_id}/reset-password/");
    app.post(&path, staff, json!({})).await
}

#[tokio::test]
async fn a_forced_reset_ends_every_session_and_only_its_one_time_token_sets_a_password() {
    let app = spawn_app().await;
    let (_, staff) = app.new_staff_user().await;
    let (username, token) = app.new_named_user().await;
    let (access, _) = jwt_pair(&app, &username).await;
    app.get("/api/customers/", &token)
        .await
        .expect(StatusCode::OK);
    let user_id = app.user_id(&username);

    let body = force_reset(&app, &staff, user_id)
        .await
        .expect(StatusCode::OK);

    assert_eq!(body["user"], user_id);
    let reset_token = body["reset_token"]
        .as_str()
        .expect("a reset token")
        .to_owned();
    assert_eq!(reset_token.len(), 40);
    assert_eq!(
        app.get("/api/customers/", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        bearer_get(&app, "/api/customers/", &access).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_status(&app, &username, PASSWORD).await,
        StatusCode::BAD_REQUEST
    );
    let audit = app.query_sql(
        "SELECT 1 FROM audit_log WHERE action = 'password_reset_forced'",
        [],
    );
    assert_eq!(audit.len(), 1);
    assert!(
        app.query_sql("SELECT details FROM audit_log", [])
            .iter()
            .all(|row| !format!("{row:?}").contains(&reset_token)),
        "the reset token is never audited"
    );

    let reset = |new: &str| json!({ "reset_token": reset_token, "new_password": new });
    let weak = app
        .post("/api/password/reset/", NO_TOKEN, reset("12345678"))
        .await;
    assert!(weak.expect(StatusCode::BAD_REQUEST)["new_password"].is_array());
    app.post("/api/password/reset/", NO_TOKEN, reset(NEW_PASSWORD))
        .await
        .expect(StatusCode::NO_CONTENT);
    let again = app
        .post(
            "/api/password/reset/",
            NO_TOKEN,
            reset("third-strong-secret-7"),
        )
        .await;
    assert_eq!(
        again.expect(StatusCode::BAD_REQUEST),
        json!({ "reset_token": ["This reset token is invalid or has expired."] })
    );
    assert_eq!(
        login_status(&app, &username, NEW_PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn only_staff_force_resets_only_a_superuser_resets_staff_and_bad_tokens_are_refused() {
    let app = spawn_app().await;
    let (customer_name, customer) = app.new_named_user().await;
    let (staff_name, staff) = app.new_staff_user().await;
    let (_, other_staff) = app.new_staff_user().await;
    let customer_id = app.user_id(&customer_name);

    let by_customer = force_reset(&app, &customer, customer_id).await;
    let staff_on_staff = force_reset(&app, &other_staff, app.user_id(&staff_name)).await;
    let unknown = force_reset(&app, &staff, 999_999).await;
    let garbage: Value = json!({ "reset_token": "not-a-token", "new_password": NEW_PASSWORD });
    let garbage = app.post("/api/password/reset/", NO_TOKEN, garbage).await;
    let unknown_token = json!({ "reset_token": "ab".repeat(20), "new_password": NEW_PASSWORD });
    let unknown_token = app
        .post("/api/password/reset/", NO_TOKEN, unknown_token)
        .await;

    assert_detail(
        &by_customer.expect(StatusCode::FORBIDDEN),
        "permission_denied",
    );
    assert_detail(
        &staff_on_staff.expect(StatusCode::FORBIDDEN),
        "permission_denied",
    );
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    for refused in [garbage, unknown_token] {
        assert_eq!(
            refused.expect(StatusCode::BAD_REQUEST),
            json!({ "reset_token": ["This reset token is invalid or has expired."] })
        );
    }
    app.get("/api/customers/", &staff)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        login_status(&app, &customer_name, PASSWORD).await,
        StatusCode::OK
    );
}
