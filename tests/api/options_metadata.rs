//! `OPTIONS` answers DRF's `SimpleMetadata` (issue #12 item 6), derived from the schema's
//! request bodies, with DRF's permission checks; CORS preflights are untouched.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{ApiResponse, NO_TOKEN, TestApp, assert_detail, spawn_app, spawn_app_with};

async fn options(app: &TestApp, path: &str, token: &str) -> ApiResponse {
    app.request(Method::OPTIONS, path, token, None).await
}

fn field_names(fields: &Value, read_only: bool) -> Vec<String> {
    let mut names: Vec<String> = fields
        .as_object()
        .expect("fields")
        .iter()
        .filter(|(_, info)| info["read_only"] == read_only)
        .map(|(name, _)| name.clone())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn options_on_a_list_answers_drfs_simple_metadata() {
    let app = spawn_app().await;
    let token = app.new_user().await;

    let answer = options(&app, "/api/accounts/", &token).await;
    assert_eq!(answer.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    let body = answer.expect(StatusCode::OK);
    assert_eq!(body["name"], "Account List");
    assert!(body["description"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(
        body["renders"],
        serde_json::json!(["application/json", "text/html"])
    );
    assert_eq!(
        body["parses"],
        serde_json::json!([
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data"
        ])
    );
    let post = &body["actions"]["POST"];
    assert!(body["actions"].get("PUT").is_none());
    assert_eq!(
        post["account_type"],
        serde_json::json!({
            "type": "choice", "required": false, "read_only": false, "label": "Account type",
            "choices": [
                { "value": "checking", "display_name": "Checking" },
                { "value": "savings", "display_name": "Savings" },
                { "value": "business", "display_name": "Business" }
            ]
        })
    );
    assert_eq!(post["nickname"]["type"], "string");
    assert_eq!(post["nickname"]["max_length"], 100);
    assert_eq!(post["balance"]["read_only"], true);
    assert_eq!(post["balance"]["required"], false);

    let deposit = options(&app, "/api/accounts/1/deposit/", &token).await;
    let deposit = deposit.expect(StatusCode::OK);
    assert_eq!(deposit["name"], "Deposit");
    assert_eq!(deposit["actions"]["POST"]["amount"]["type"], "decimal");
    assert_eq!(deposit["actions"]["POST"]["amount"]["required"], true);
    assert_eq!(deposit["actions"]["POST"]["description"]["max_length"], 255);
}

#[tokio::test]
async fn options_checks_permissions_as_drf_does() {
    let app = spawn_app().await;
    let token = app.new_user().await;

    // DRF's `initial()` checks permissions for OPTIONS too.
    let anonymous = options(&app, "/api/accounts/", NO_TOKEN).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_detail(&anonymous.body, "not_authenticated");
    let bad_token = options(
        &app,
        "/api/transactions/",
        "0123456789abcdef0123456789abcdef01234567",
    )
    .await;
    assert_eq!(bad_token.status, StatusCode::UNAUTHORIZED);
    let customer_on_staff_route = options(&app, "/api/admin/accounts/", &token).await;
    assert_eq!(customer_on_staff_route.status, StatusCode::FORBIDDEN);
    assert_detail(&customer_on_staff_route.body, "permission_denied");

    // A public route describes its body to anyone.
    let register = options(&app, "/api/register/", NO_TOKEN)
        .await
        .expect(StatusCode::OK);
    let username = &register["actions"]["POST"]["username"];
    assert_eq!(username["required"], true);
    assert_eq!(username["max_length"], 150);
    assert_eq!(register["actions"]["POST"]["email"]["type"], "email");

    // `PUT` is described only on the caller's own object (DRF's get_object()).
    let (own, _) = app.open_account(&token).await;
    let other = app.new_user().await;
    let (theirs, _) = app.open_account(&other).await;
    let mine = options(&app, &format!("/api/accounts/{own}/"), &token).await;
    let mine = mine.expect(StatusCode::OK);
    assert_eq!(mine["name"], "Account Instance");
    assert_eq!(mine["actions"]["PUT"]["account_type"]["type"], "choice");
    let not_mine = options(&app, &format!("/api/accounts/{theirs}/"), &token).await;
    let not_mine = not_mine.expect(StatusCode::OK);
    assert!(not_mine.get("actions").is_none(), "{not_mine}");
    for path in [
        "/api/accounts/abc/",
        "/api/accounts/007/",
        "/api/accounts/?format=xml",
    ] {
        let answer = options(&app, path, &token).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_detail(&answer.body, "not_found");
    }
}

#[tokio::test]
async fn the_described_fields_are_the_schemas_request_body_fields() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let schema = app
        .get("/api/schema/", NO_TOKEN)
        .await
        .expect(StatusCode::OK);
    let components = &schema["components"]["schemas"];

    let mut checked = 0;
    for (path, item) in schema["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/") || path.starts_with("/api/admin/") {
            continue;
        }
        for method in ["post", "put"] {
            let Some(reference) =
                item[method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
            else {
                continue;
            };
            let component = &components[reference.trim_start_matches("#/components/schemas/")];
            let mut expected: Vec<String> = component["properties"]
                .as_object()
                .expect("properties")
                .keys()
                .cloned()
                .collect();
            expected.sort();
            let concrete = path.replace("{id}", &account.to_string());
            let answer = options(&app, &concrete, &token)
                .await
                .expect(StatusCode::OK);
            let described = &answer["actions"][method.to_ascii_uppercase()];
            assert_eq!(field_names(described, false), expected, "{method} {path}");
            for name in component["required"].as_array().into_iter().flatten() {
                let name = name.as_str().expect("name");
                assert_eq!(described[name]["required"], true, "{method} {path} {name}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} bodies checked");
}

#[tokio::test]
async fn a_cors_preflight_is_still_answered_by_the_cors_layer() {
    let app = spawn_app_with(|config| {
        config.cors_allowed_origins = vec!["https://app.example.com".to_owned()];
    })
    .await;
    let token = app.new_user().await;

    let preflight = app
        .raw(Method::OPTIONS, "/api/accounts/")
        .header("Origin", "https://app.example.com")
        .header("Access-Control-Request-Method", "POST");
    let preflight = app.send(preflight).await;
    assert!(preflight.status.is_success());
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(preflight.body, Value::Null);

    // An OPTIONS that is not a preflight is DRF's metadata, even with an Origin.
    let plain = app
        .raw(Method::OPTIONS, "/api/accounts/")
        .header("Origin", "https://app.example.com")
        .header("Authorization", format!("Token {token}"));
    let plain = app.send(plain).await.expect(StatusCode::OK);
    assert_eq!(plain["name"], "Account List");
}
