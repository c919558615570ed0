//! JWT login (contract §2, issue 3): simplejwt's routes and bodies, Bearer access, refresh,
//! token types that cannot stand in for each other, tampering and expiry.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{
    ApiResponse, NO_TOKEN, PASSWORD, TestApp, assert_detail, assert_field_error, keys, spawn_app,
    spawn_app_with, text,
};

/// simplejwt's answer at `/api/token/refresh/`.
fn invalid_or_expired() -> Value {
    json!({ "detail": "Token is invalid or expired", "code": "token_not_valid" })
}

/// `POST /api/token/` for `username`; asserts success and returns `(access, refresh)`.
async fn jwt_pair(app: &TestApp, username: &str) -> (String, String) {
    let body = app
        .post(
            "/api/token/",
            NO_TOKEN,
            json!({ "username": username, "password": PASSWORD }),
        )
        .await
        .expect(StatusCode::OK);
    (
        text(&body, "access").to_owned(),
        text(&body, "refresh").to_owned(),
    )
}

async fn refresh(app: &TestApp, refresh_token: &str) -> ApiResponse {
    app.post(
        "/api/token/refresh/",
        NO_TOKEN,
        json!({ "refresh": refresh_token }),
    )
    .await
}

/// `method path` with `Authorization: Bearer <jwt>`.
async fn bearer(
    app: &TestApp,
    method: Method,
    path: &str,
    jwt: &str,
    body: Option<Value>,
) -> ApiResponse {
    let authorization = format!("Bearer {jwt}");
    app.request_with(
        method,
        path,
        NO_TOKEN,
        body,
        &[("Authorization", &authorization)],
    )
    .await
}

/// A JWT's payload as JSON.
fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a payload part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// The JWT with its payload replaced by `claims`, keeping the original signature.
fn with_payload(jwt: &str, claims: &Value) -> String {
    let parts: Vec<&str> = jwt.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{forged}.{}", parts[0], parts[2])
}

#[tokio::test]
async fn token_answers_an_access_and_a_refresh_jwt() {
    let app = spawn_app().await;
    let (username, _) = app.new_named_user().await;

    let body = app
        .post(
            "/api/token/",
            NO_TOKEN,
            json!({ "username": username, "password": PASSWORD }),
        )
        .await
        .expect(StatusCode::OK);

    assert_eq!(keys(&body), ["access", "refresh"]);
    let access = payload(text(&body, "access"));
    let refresh = payload(text(&body, "refresh"));
    assert_eq!(access["token_type"], "access");
    assert_eq!(refresh["token_type"], "refresh");
    assert_eq!(access["user_id"], refresh["user_id"]);
    assert!(access["user_id"].is_i64());
    assert_ne!(access["jti"], refresh["jti"]);
    let lifetime = |claims: &Value| {
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat")
    };
    assert_eq!(lifetime(&access), 300);
    assert_eq!(lifetime(&refresh), 86_400);
}

#[tokio::test]
async fn a_bearer_access_token_works_wherever_a_token_does() {
    let app = spawn_app().await;
    let (username, token) = app.new_named_user().await;
    let (account, _) = app.funded_account(&token, "10.00").await;
    let (access, _) = jwt_pair(&app, &username).await;

    let accounts = bearer(&app, Method::GET, "/api/accounts/", &access, None).await;
    let deposit = bearer(
        &app,
        Method::POST,
        &format!("/api/accounts/{account}/deposit/"),
        &access,
        Some(json!({ "amount": "5.00" })),
    )
    .await;
    let lowercase_keyword = app
        .request_with(
            Method::GET,
            "/api/customers/",
            NO_TOKEN,
            None,
            &[("Authorization", &format!("bearer {access}"))],
        )
        .await;

    let accounts = accounts.expect(StatusCode::OK);
    assert_eq!(accounts["count"], 1);
    assert_eq!(accounts["results"][0]["id"], account);
    assert_eq!(deposit.expect(StatusCode::OK)["new_balance"], "15.00");
    assert_eq!(lowercase_keyword.expect(StatusCode::OK)["count"], 1);
}

#[tokio::test]
async fn a_bearer_token_sees_only_its_own_users_data() {
    let app = spawn_app().await;
    let (alice_name, alice) = app.new_named_user().await;
    let bob = app.new_user().await;
    let (bobs_account, _) = app.open_account(&bob).await;
    app.open_account(&alice).await;
    let (access, _) = jwt_pair(&app, &alice_name).await;

    let list = bearer(&app, Method::GET, "/api/accounts/", &access, None).await;
    let bobs = bearer(
        &app,
        Method::GET,
        &format!("/api/accounts/{bobs_account}/"),
        &access,
        None,
    )
    .await;

    let list = list.expect(StatusCode::OK);
    assert_eq!(list["count"], 1);
    assert_ne!(list["results"][0]["id"], bobs_account);
    assert_detail(&bobs.expect(StatusCode::NOT_FOUND), "not_found");
}

#[tokio::test]
async fn a_refresh_token_mints_a_new_access_token_that_works() {
    let app = spawn_app().await;
    let (username, _) = app.new_named_user().await;
    let (access, refresh_token) = jwt_pair(&app, &username).await;

    let refreshed = refresh(&app, &refresh_token).await.expect(StatusCode::OK);

    assert_eq!(keys(&refreshed), ["access"]);
    let new_access = text(&refreshed, "access");
    assert_ne!(new_access, access);
    assert_eq!(payload(new_access)["token_type"], "access");
    assert_eq!(payload(new_access)["user_id"], payload(&access)["user_id"]);
    let customers = bearer(&app, Method::GET, "/api/customers/", new_access, None).await;
    assert_eq!(customers.expect(StatusCode::OK)["count"], 1);
}

#[tokio::test]
async fn a_refresh_token_is_not_an_access_token() {
    let app = spawn_app().await;
    let (username, _) = app.new_named_user().await;
    let (_, refresh_token) = jwt_pair(&app, &username).await;

    let refused = bearer(&app, Method::GET, "/api/accounts/", &refresh_token, None).await;

    assert_detail(&refused.expect(StatusCode::UNAUTHORIZED), "token_not_valid");
}

#[tokio::test]
async fn an_access_token_is_not_a_refresh_token() {
    let app = spawn_app().await;
    let (username, _) = app.new_named_user().await;
    let (access, _) = jwt_pair(&app, &username).await;

    let refused = refresh(&app, &access).await;

    assert_eq!(
        refused.expect(StatusCode::UNAUTHORIZED),
        invalid_or_expired()
    );
}

#[tokio::test]
async fn a_tampered_payload_is_refused_as_access_and_as_refresh() {
    let app = spawn_app().await;
    let (alice_name, _) = app.new_named_user().await;
    let bob = app.new_user().await;
    let (bobs_account, _) = app.open_account(&bob).await;
    let (access, refresh_token) = jwt_pair(&app, &alice_name).await;
    let mut claims = payload(&access);
    let alice_id = claims["user_id"].as_i64().expect("user_id");
    claims["user_id"] = json!(alice_id + 1);
    let forged_access = with_payload(&access, &claims);
    let mut refresh_claims = payload(&refresh_token);
    refresh_claims["exp"] = json!(refresh_claims["exp"].as_i64().expect("exp") + 1);
    let forged_refresh = with_payload(&refresh_token, &refresh_claims);

    let as_access = bearer(
        &app,
        Method::GET,
        &format!("/api/accounts/{bobs_account}/"),
        &forged_access,
        None,
    )
    .await;
    let as_refresh = refresh(&app, &forged_refresh).await;

    assert_detail(
        &as_access.expect(StatusCode::UNAUTHORIZED),
        "token_not_valid",
    );
    assert_eq!(
        as_refresh.expect(StatusCode::UNAUTHORIZED),
        invalid_or_expired()
    );
}

#[tokio::test]
async fn a_bad_signature_an_unsigned_token_and_garbage_are_refused() {
    let app = spawn_app().await;
    let (username, _) = app.new_named_user().await;
    let (access, _) = jwt_pair(&app, &username).await;
    let parts: Vec<&str> = access.split('.').collect();
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("base64url");
    signature[0] ^= 1;
    let bad_signature = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(signature)
    );
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{}.", parts[1]);

    for jwt in [
        bad_signature.as_str(),
        unsigned.as_str(),
        "not.a.jwt",
        "garbage",
    ] {
        let refused = bearer(&app, Method::GET, "/api/accounts/", jwt, None).await;
        assert_detail(&refused.expect(StatusCode::UNAUTHORIZED), "token_not_valid");
        let refused = refresh(&app, jwt).await;
        assert_eq!(
            refused.expect(StatusCode::UNAUTHORIZED),
            invalid_or_expired()
        );
    }
}

#[tokio::test]
async fn an_expired_access_token_is_refused() {
    let app = spawn_app_with(|config| config.jwt_access_ttl_seconds = 1).await;
    let (username, _) = app.new_named_user().await;
    let (access, _) = jwt_pair(&app, &username).await;

    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let refused = bearer(&app, Method::GET, "/api/accounts/", &access, None).await;

    assert_detail(&refused.expect(StatusCode::UNAUTHORIZED), "token_not_valid");
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let app = spawn_app_with(|config| config.jwt_refresh_ttl_seconds = 1).await;
    let (username, _) = app.new_named_user().await;
    let (_, refresh_token) = jwt_pair(&app, &username).await;

    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let refused = refresh(&app, &refresh_token).await;

    assert_eq!(
        refused.expect(StatusCode::UNAUTHORIZED),
        invalid_or_expired()
    );
}

#[tokio::test]
async fn wrong_credentials_get_simplejwts_no_active_account() {
    let app = spawn_app().await;
    let (username, _) = app.new_named_user().await;
    let expected = json!({
        "detail": "No active account found with the given credentials",
        "code": "no_active_account",
    });

    let wrong_password = app
        .post(
            "/api/token/",
            NO_TOKEN,
            json!({ "username": username, "password": "wrong-password-1" }),
        )
        .await;
    let unknown_user = app
        .post(
            "/api/token/",
            NO_TOKEN,
            json!({ "username": "nobody", "password": PASSWORD }),
        )
        .await;

    assert_eq!(wrong_password.expect(StatusCode::UNAUTHORIZED), expected);
    assert_eq!(unknown_user.expect(StatusCode::UNAUTHORIZED), expected);
}

#[tokio::test]
async fn an_inactive_user_gets_no_pair_no_refresh_and_no_bearer_access() {
    let app = spawn_app().await;
    let (username, _) = app.new_named_user().await;
    let (access, refresh_token) = jwt_pair(&app, &username).await;
    app.execute_sql(
        "UPDATE users SET is_active = 0 WHERE username = ?1",
        [&username],
    );

    let pair = app
        .post(
            "/api/token/",
            NO_TOKEN,
            json!({ "username": username, "password": PASSWORD }),
        )
        .await;
    let refreshed = refresh(&app, &refresh_token).await;
    // Never used before, so no cached answer can vouch for it.
    let bearer_access = bearer(&app, Method::GET, "/api/accounts/", &access, None).await;

    assert_detail(&pair.expect(StatusCode::UNAUTHORIZED), "no_active_account");
    assert_detail(
        &bearer_access.expect(StatusCode::UNAUTHORIZED),
        "token_not_valid",
    );
    assert_eq!(
        refreshed.expect(StatusCode::UNAUTHORIZED),
        invalid_or_expired()
    );
}

#[tokio::test]
async fn missing_fields_are_field_errors() {
    let app = spawn_app().await;

    let empty_pair = app.post("/api/token/", NO_TOKEN, json!({})).await;
    let no_password = app
        .post("/api/token/", NO_TOKEN, json!({ "username": "someone" }))
        .await;
    let empty_refresh = app.post("/api/token/refresh/", NO_TOKEN, json!({})).await;

    let empty_pair = empty_pair.expect(StatusCode::BAD_REQUEST);
    assert_field_error(&empty_pair, "username");
    assert_field_error(&empty_pair, "password");
    assert_field_error(&no_password.expect(StatusCode::BAD_REQUEST), "password");
    assert_field_error(&empty_refresh.expect(StatusCode::BAD_REQUEST), "refresh");
}

#[tokio::test]
async fn jwts_are_hs256_signed_with_the_configured_secret() {
    let secret = "a-configured-jwt-secret-of-at-least-32-bytes";
    let app = spawn_app_with(|config| {
        config.jwt_secret = Some(bankd::config::Secret::new(secret.as_bytes().to_vec()));
        config.jwt_access_ttl_seconds = 120;
    })
    .await;
    let (username, _) = app.new_named_user().await;

    let (access, _) = jwt_pair(&app, &username).await;

    let parts: Vec<&str> = access.split('.').collect();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("base64url"))
            .expect("JSON");
    assert_eq!(header["alg"], "HS256");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("a key");
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("base64url");
    assert!(
        mac.verify_slice(&signature).is_ok(),
        "not signed with the configured secret"
    );
    let claims = payload(&access);
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        120
    );
}

#[tokio::test]
async fn a_generated_secret_is_kept_in_the_database_across_restarts() {
    let first = spawn_app().await;
    let (username, _) = first.new_named_user().await;
    let (access, refresh_token) = jwt_pair(&first, &username).await;

    let second = spawn_app_with(|config| config.database_path = first.database_path.clone()).await;
    let accounts = bearer(&second, Method::GET, "/api/accounts/", &access, None).await;
    let refreshed = refresh(&second, &refresh_token).await;

    assert_eq!(accounts.expect(StatusCode::OK)["count"], 0);
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
}

#[tokio::test]
async fn a_jwt_under_the_token_keyword_is_not_an_opaque_token() {
    let app = spawn_app().await;
    let (username, _) = app.new_named_user().await;
    let (access, _) = jwt_pair(&app, &username).await;

    let refused = app.get("/api/accounts/", &access).await;

    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}
