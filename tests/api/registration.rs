//! Registration (contract §2): one request creates the user and its customer profile, after
//! every DRF / Django validation rule has passed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{NO_TOKEN, PASSWORD, TestApp, keys, registration_body, spawn_app};

/// Registers with `body` changed by `edit` and returns the `400` body.
async fn refused_registration(app: &TestApp, edit: impl FnOnce(&mut Value)) -> Value {
    let mut body = registration_body("newcomer");
    edit(&mut body);
    app.post("/api/register/", NO_TOKEN, body)
        .await
        .expect(StatusCode::BAD_REQUEST)
}

/// The messages on one field of a `400` body.
fn messages(body: &Value, field: &str) -> Vec<String> {
    body[field]
        .as_array()
        .unwrap_or_else(|| panic!("no errors on {field}: {body}"))
        .iter()
        .map(|m| m.as_str().expect("a message string").to_owned())
        .collect()
}

#[tokio::test]
async fn registration_creates_the_user_and_its_customer_profile() {
    let app = spawn_app().await;

    let response = app.register("alice").await;

    let body = response.expect(StatusCode::CREATED);
    assert_eq!(
        body,
        json!({ "username": "alice", "email": "alice@example.com" })
    );
    let token = app.login("alice", PASSWORD).await;
    let list = app
        .get("/api/customers/", &token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(list["count"], 1);
    let profile = &list["results"][0];
    assert_eq!(profile["username"], "alice");
    assert_eq!(profile["full_name"], "Test Customer");
    assert_eq!(profile["email"], "alice@example.com");
    assert_eq!(profile["phone_number"], "+1 (555) 010-0100");
    assert_eq!(profile["date_of_birth"], "1990-01-31");
    assert_eq!(profile["gender"], "O");
}

#[tokio::test]
async fn registration_needs_only_username_password_full_name_and_email() {
    let app = spawn_app().await;
    let body = json!({
        "username": "minimal",
        "password": PASSWORD,
        "full_name": "Min Imal",
        "email": "minimal@example.com",
    });

    let response = app.post("/api/register/", NO_TOKEN, body).await;

    response.expect(StatusCode::CREATED);
    let token = app.login("minimal", PASSWORD).await;
    let list = app
        .get("/api/customers/", &token)
        .await
        .expect(StatusCode::OK);
    let profile = &list["results"][0];
    assert_eq!(profile["phone_number"], Value::Null);
    assert_eq!(profile["date_of_birth"], Value::Null);
    assert_eq!(profile["gender"], Value::Null);
}

#[tokio::test]
async fn an_empty_registration_reports_every_required_field_at_once() {
    let app = spawn_app().await;

    let body = app
        .post("/api/register/", NO_TOKEN, json!({}))
        .await
        .expect(StatusCode::BAD_REQUEST);

    for field in ["username", "password", "full_name", "email"] {
        assert_eq!(
            messages(&body, field),
            ["This field is required."],
            "{body}"
        );
    }
}

#[tokio::test]
async fn usernames_outside_letters_digits_and_at_dot_plus_minus_underscore_are_refused() {
    let app = spawn_app().await;
    let message = "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";

    for username in [
        "has space",
        "ünïcode",
        "semi;colon",
        "robert'); DROP TABLE users;--",
    ] {
        let body = refused_registration(&app, |b| b["username"] = json!(username)).await;

        assert_eq!(messages(&body, "username"), [message], "{username:?}");
    }
}

#[tokio::test]
async fn a_username_may_have_150_characters_but_not_151() {
    let app = spawn_app().await;

    let mut longest = registration_body(&"u".repeat(150));
    longest["email"] = json!("longest@example.com");

    let body = refused_registration(&app, |b| b["username"] = json!("u".repeat(151))).await;
    let accepted = app.post("/api/register/", NO_TOKEN, longest).await;

    assert_eq!(
        messages(&body, "username"),
        ["Ensure this field has no more than 150 characters."]
    );
    accepted.expect(StatusCode::CREATED);
}

#[tokio::test]
async fn usernames_are_unique_regardless_of_case() {
    let app = spawn_app().await;
    app.register("Alice").await.expect(StatusCode::CREATED);

    let body = refused_registration(&app, |b| b["username"] = json!("aLICE")).await;

    assert_eq!(
        body,
        json!({ "username": ["A user with that username already exists."] })
    );
}

#[tokio::test]
async fn passwords_must_pass_django_length_numeric_and_common_validators() {
    let app = spawn_app().await;
    let cases = [
        (
            "xk3#pq!",
            "This password is too short. It must contain at least 8 characters.",
        ),
        ("98712365478", "This password is entirely numeric."),
        ("password", "This password is too common."),
        ("qwertyuiop", "This password is too common."),
    ];

    for (password, message) in cases {
        let body = refused_registration(&app, |b| {
            b["password"] = json!(password);
            b["password2"] = json!(password);
        })
        .await;

        assert_eq!(messages(&body, "password"), [message], "{password:?}");
    }
}

#[tokio::test]
async fn passwords_too_similar_to_username_full_name_or_email_are_refused() {
    let app = spawn_app().await;
    let cases = [
        ("username", "zyxwvut", "zyxwvut99"),
        ("full_name", "Quentin Blackwood", "blackwood77"),
        ("email", "xerxes.fontaine@example.com", "fontaine42!"),
    ];
    let attribute_names = ["username", "full name", "email address"];

    for ((field, value, password), attribute) in cases.into_iter().zip(attribute_names) {
        let body = refused_registration(&app, |b| {
            b[field] = json!(value);
            b["password"] = json!(password);
            b["password2"] = json!(password);
        })
        .await;

        let expected = format!("The password is too similar to the {attribute}.");
        assert_eq!(messages(&body, "password"), [expected], "{field}");
    }
}

#[tokio::test]
async fn a_password_confirmation_that_differs_is_refused() {
    let app = spawn_app().await;

    let body = refused_registration(&app, |b| b["password2"] = json!("another-password-456")).await;

    let all_messages: Vec<&str> = body
        .as_object()
        .expect("field errors")
        .values()
        .flat_map(|m| m.as_array().expect("a list"))
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(all_messages, ["Password fields didn't match."], "{body}");
}

#[tokio::test]
async fn profile_fields_are_validated_at_registration() {
    let app = spawn_app().await;
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string();
    let cases = [
        (
            "email",
            json!("not-an-email"),
            "Enter a valid email address.",
        ),
        (
            "email",
            json!("a b@example.com"),
            "Enter a valid email address.",
        ),
        ("full_name", json!("   "), "This field may not be blank."),
        (
            "full_name",
            json!("n".repeat(201)),
            "Ensure this field has no more than 200 characters.",
        ),
        (
            "phone_number",
            json!("1".repeat(33)),
            "Ensure this field has no more than 32 characters.",
        ),
        ("gender", json!("X"), "\"X\" is not a valid choice."),
        ("gender", json!("m"), "\"m\" is not a valid choice."),
    ];

    for (field, value, message) in cases {
        let body = refused_registration(&app, |b| b[field] = value.clone()).await;

        assert_eq!(messages(&body, field), [message], "{field} = {value}");
        assert_eq!(keys(&body), [field], "only {field} is wrong: {body}");
    }
    for (field, value) in [
        ("phone_number", json!("call me maybe")),
        ("date_of_birth", json!("1995-02-30")),
        ("date_of_birth", json!("15/05/1995")),
        ("date_of_birth", json!("2999-01-01")),
        ("date_of_birth", json!(tomorrow)),
    ] {
        let body = refused_registration(&app, |b| b[field] = value.clone()).await;

        assert_eq!(keys(&body), [field], "{field} = {value}: {body}");
        assert_eq!(messages(&body, field).len(), 1, "{body}");
    }
}

#[tokio::test]
async fn a_refused_registration_creates_nothing() {
    let app = spawn_app().await;
    refused_registration(&app, |b| {
        b["username"] = json!("ghost");
        b["email"] = json!("nope");
    })
    .await;

    let login = app
        .post(
            "/api/get-token/",
            NO_TOKEN,
            json!({ "username": "ghost", "password": PASSWORD }),
        )
        .await;
    let retry = app.register("ghost").await;

    assert_eq!(login.status, StatusCode::BAD_REQUEST);
    retry.expect(StatusCode::CREATED);
}
