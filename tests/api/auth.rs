//! Tokens (contract §2): `get-token`, `logout`, expiry, and how the `Authorization` header is
//! read (`401` bodies with their `WWW-Authenticate` challenge: `Token`, or `Bearer` for a JWT).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    ApiResponse, NO_TOKEN, PASSWORD, TestApp, assert_detail, keys, spawn_app, spawn_app_with,
};

const BAD_CREDENTIALS: &str = "Unable to log in with provided credentials.";

async fn get_with_authorization(app: &TestApp, authorization: &str) -> ApiResponse {
    let request = app
        .raw(Method::GET, "/api/accounts/")
        .header("Authorization", authorization);
    app.send(request).await
}

#[tokio::test]
async fn get_token_returns_forty_lowercase_hex_characters_and_each_login_a_new_one() {
    let app = spawn_app().await;
    app.register("bob").await.expect(StatusCode::CREATED);
    let credentials = json!({ "username": "bob", "password": PASSWORD });

    let first = app
        .post("/api/get-token/", NO_TOKEN, credentials.clone())
        .await
        .expect(StatusCode::OK);
    let second = app.login("bob", PASSWORD).await;

    assert_eq!(keys(&first), ["token"]);
    let token = first["token"].as_str().expect("a token string");
    assert_eq!(token.len(), 40);
    assert!(
        token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    );
    assert_ne!(token, second);
    app.get("/api/accounts/", token)
        .await
        .expect(StatusCode::OK);
    app.get("/api/accounts/", &second)
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    app.register("carol").await.expect(StatusCode::CREATED);
    let expected = json!({ "non_field_errors": [BAD_CREDENTIALS] });

    let wrong_password = app
        .post(
            "/api/get-token/",
            NO_TOKEN,
            json!({ "username": "carol", "password": "not-her-password-1" }),
        )
        .await;
    let unknown_user = app
        .post(
            "/api/get-token/",
            NO_TOKEN,
            json!({ "username": "nobody-here", "password": PASSWORD }),
        )
        .await;

    assert_eq!(wrong_password.expect(StatusCode::BAD_REQUEST), expected);
    assert_eq!(unknown_user.expect(StatusCode::BAD_REQUEST), expected);
}

#[tokio::test]
async fn get_token_without_credentials_reports_both_fields() {
    let app = spawn_app().await;

    let body = app
        .post("/api/get-token/", NO_TOKEN, json!({}))
        .await
        .expect(StatusCode::BAD_REQUEST);

    assert_eq!(
        body,
        json!({
            "username": ["This field is required."],
            "password": ["This field is required."],
        })
    );
}

#[tokio::test]
async fn logout_revokes_only_the_presented_token() {
    let app = spawn_app().await;
    let (username, token) = app.new_named_user().await;
    let other_token = app.login(&username, PASSWORD).await;

    let response = app.post("/api/logout/", &token, json!({})).await;

    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(response.body, Value::Null);
    let rejected = app.get("/api/accounts/", &token).await;
    assert_eq!(rejected.status, StatusCode::UNAUTHORIZED);
    assert_eq!(rejected.header("www-authenticate"), Some("Token"));
    assert_eq!(
        rejected.body,
        json!({ "detail": "Invalid token.", "code": "authentication_failed" })
    );
    app.get("/api/accounts/", &other_token)
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn logout_without_a_token_is_not_authenticated() {
    let app = spawn_app().await;

    let response = app.post("/api/logout/", NO_TOKEN, json!({})).await;

    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_detail(&response.body, "not_authenticated");
}

#[tokio::test]
async fn a_token_stops_working_when_its_lifetime_is_over() {
    let app = spawn_app_with(|config| config.token_ttl_seconds = 1).await;
    let token = app.new_user().await;
    app.get("/api/accounts/", &token)
        .await
        .expect(StatusCode::OK);

    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let response = app.get("/api/accounts/", &token).await;

    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.body,
        json!({ "detail": "Invalid token.", "code": "authentication_failed" })
    );
}

#[tokio::test]
async fn a_revoked_token_cannot_log_out_again() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    app.post("/api/logout/", &token, json!({}))
        .await
        .expect(StatusCode::NO_CONTENT);

    let again = app.post("/api/logout/", &token, json!({})).await;

    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_detail(&again.body, "authentication_failed");
}

#[tokio::test]
async fn missing_credentials_are_a_401_with_a_token_challenge() {
    let app = spawn_app().await;

    for response in [
        app.get("/api/accounts/", NO_TOKEN).await,
        app.post(
            "/api/accounts/1/deposit/",
            NO_TOKEN,
            json!({ "amount": "1.00" }),
        )
        .await,
        get_with_authorization(&app, "Basic dXNlcjpwYXNz").await,
    ] {
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        assert_eq!(response.header("www-authenticate"), Some("Token"));
        assert_eq!(
            response.body,
            json!({
                "detail": "Authentication credentials were not provided.",
                "code": "not_authenticated",
            })
        );
    }
}

#[tokio::test]
async fn a_bad_token_is_a_401_authentication_failure() {
    let app = spawn_app().await;
    let never_issued = "0123456789abcdef0123456789abcdef01234567";

    for authorization in [
        format!("Token {never_issued}"),
        "Token short".to_owned(),
        "Token".to_owned(),
        format!("Token {never_issued} extra"),
        "Token ' OR '1'='1".to_owned(),
    ] {
        let response = get_with_authorization(&app, &authorization).await;

        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{authorization}");
        assert_eq!(response.header("www-authenticate"), Some("Token"));
        assert_detail(&response.body, "authentication_failed");
    }
}

#[tokio::test]
async fn the_token_keyword_is_case_insensitive() {
    let app = spawn_app().await;
    let token = app.new_user().await;

    for keyword in ["Token", "token", "TOKEN", "tOkEn"] {
        let response = get_with_authorization(&app, &format!("{keyword} {token}")).await;

        assert_eq!(response.status, StatusCode::OK, "{keyword}");
    }
}

#[tokio::test]
async fn a_password_over_4096_characters_is_a_field_error_at_every_login_and_at_registration() {
    let app = spawn_app().await;
    let (username, _) = app.new_named_user().await;
    let huge = "Aa1-".repeat(1025);
    let too_long = json!({ "password": ["Ensure this field has no more than 4096 characters."] });

    let token = app
        .post(
            "/api/get-token/",
            NO_TOKEN,
            json!({ "username": username, "password": huge }),
        )
        .await;
    let jwt = app
        .post(
            "/api/token/",
            NO_TOKEN,
            json!({ "username": username, "password": huge }),
        )
        .await;
    let mut registration = crate::helpers::registration_body("longpassword");
    registration["password"] = json!(huge);
    registration["password2"] = json!(huge);
    let register = app.post("/api/register/", NO_TOKEN, registration).await;

    assert_eq!(token.expect(StatusCode::BAD_REQUEST), too_long);
    assert_eq!(jwt.expect(StatusCode::BAD_REQUEST), too_long);
    let register = register.expect(StatusCode::BAD_REQUEST);
    assert!(
        register["password"]
            .as_array()
            .is_some_and(|messages| messages.contains(&too_long["password"][0])),
        "{register}"
    );
    assert!(
        app.query_sql("SELECT 1 FROM users WHERE username = 'longpassword'", [])
            .is_empty()
    );
}

#[tokio::test]
async fn a_username_longer_than_any_account_can_have_is_a_field_error_at_login() {
    let app = spawn_app().await;
    let long = "u".repeat(151);

    let body = app
        .post(
            "/api/get-token/",
            NO_TOKEN,
            json!({ "username": long, "password": "whatever-password" }),
        )
        .await
        .expect(StatusCode::BAD_REQUEST);

    assert_eq!(
        body,
        json!({ "username": ["Ensure this field has no more than 150 characters."] })
    );
}

#[tokio::test]
async fn jwt_failures_challenge_with_bearer_and_token_failures_with_token() {
    let app = spawn_app().await;

    let jwt = app
        .send(
            app.raw(Method::GET, "/api/accounts/")
                .header("Authorization", "Bearer not-a-jwt"),
        )
        .await;
    let token = app.get("/api/accounts/", &"0".repeat(40)).await;

    assert_eq!(jwt.status, StatusCode::UNAUTHORIZED);
    assert_eq!(jwt.header("www-authenticate"), Some("Bearer realm=\"api\""));
    assert_eq!(token.status, StatusCode::UNAUTHORIZED);
    assert_eq!(token.header("www-authenticate"), Some("Token"));
}
