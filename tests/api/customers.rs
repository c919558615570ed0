//! Customer profiles (contract §3): the caller's own profile only.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_detail, assert_field_error, id_of, keys, not_found, spawn_app};

const CUSTOMER_FIELDS: [&str; 9] = [
    "created_at",
    "date_of_birth",
    "email",
    "full_name",
    "gender",
    "id",
    "phone_number",
    "updated_at",
    "username",
];

fn full_profile() -> Value {
    json!({
        "full_name": "Grace Hopper",
        "email": "grace@example.org",
        "phone_number": "+44 20 7946 0000",
        "date_of_birth": "1906-12-09",
        "gender": "F",
    })
}

#[tokio::test]
async fn the_customer_list_holds_exactly_the_callers_profile() {
    let app = spawn_app().await;
    let (username, token) = app.new_named_user().await;
    let _someone_else = app.new_user().await;

    let body = app
        .get("/api/customers/", &token)
        .await
        .expect(StatusCode::OK);

    assert_eq!(body["count"], 1);
    assert_eq!(body["next"], Value::Null);
    assert_eq!(body["previous"], Value::Null);
    let profile = &body["results"][0];
    assert_eq!(keys(profile), CUSTOMER_FIELDS);
    assert_eq!(profile["username"], username.as_str());
    for stamp in ["created_at", "updated_at"] {
        let text = profile[stamp].as_str().expect("a time");
        assert!(text.ends_with('Z'), "{text}");
        chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339");
    }
}

#[tokio::test]
async fn creating_a_second_profile_is_refused() {
    let app = spawn_app().await;
    let token = app.new_user().await;

    let body = app
        .post("/api/customers/", &token, full_profile())
        .await
        .expect(StatusCode::BAD_REQUEST);

    assert_eq!(
        body,
        json!({ "non_field_errors": ["Customer profile already exists for this user."] })
    );
}

#[tokio::test]
async fn a_customer_is_read_by_its_id() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let list = app
        .get("/api/customers/", &token)
        .await
        .expect(StatusCode::OK);
    let id = id_of(&list["results"][0], "id");

    let body = app
        .get(&format!("/api/customers/{id}/"), &token)
        .await
        .expect(StatusCode::OK);

    assert_eq!(body, list["results"][0]);
}

#[tokio::test]
async fn put_replaces_every_writable_field_and_ignores_read_only_ones() {
    let app = spawn_app().await;
    let (username, token) = app.new_named_user().await;
    let id = app.customer_id(&token).await;
    let mut body = full_profile();
    body["id"] = json!(id + 100);
    body["username"] = json!("someone-else");

    let updated = app
        .put(&format!("/api/customers/{id}/"), &token, body)
        .await
        .expect(StatusCode::OK);

    assert_eq!(updated["id"], id);
    assert_eq!(updated["username"], username.as_str());
    for (field, value) in full_profile().as_object().expect("object") {
        assert_eq!(&updated[field], value, "{field}");
    }
    let read_back = app
        .get(&format!("/api/customers/{id}/"), &token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(read_back, updated);
}

#[tokio::test]
async fn put_without_every_field_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let id = app.customer_id(&token).await;
    let before = app.snapshot(&token).await;

    let body = app
        .put(
            &format!("/api/customers/{id}/"),
            &token,
            json!({ "full_name": "Only A Name" }),
        )
        .await
        .expect(StatusCode::BAD_REQUEST);

    assert_field_error(&body, "email");
    assert_eq!(app.snapshot(&token).await, before);
}

#[tokio::test]
async fn patch_changes_only_the_fields_sent() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let id = app.customer_id(&token).await;
    let path = format!("/api/customers/{id}/");
    let before = app.get(&path, &token).await.expect(StatusCode::OK);

    let after = app
        .patch(&path, &token, json!({ "phone_number": "555-1234" }))
        .await
        .expect(StatusCode::OK);

    assert_eq!(after["phone_number"], "555-1234");
    for field in [
        "full_name",
        "email",
        "date_of_birth",
        "gender",
        "username",
        "created_at",
    ] {
        assert_eq!(after[field], before[field], "{field}");
    }
}

#[tokio::test]
async fn an_invalid_patch_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let id = app.customer_id(&token).await;
    let before = app.snapshot(&token).await;

    let body = app
        .patch(
            &format!("/api/customers/{id}/"),
            &token,
            json!({ "full_name": "Valid Name", "gender": "Z" }),
        )
        .await
        .expect(StatusCode::BAD_REQUEST);

    assert_eq!(body, json!({ "gender": ["\"Z\" is not a valid choice."] }));
    assert_eq!(app.snapshot(&token).await, before);
}

#[tokio::test]
async fn a_customer_with_open_accounts_cannot_be_deleted() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let id = app.customer_id(&token).await;
    app.open_account(&token).await;

    let response = app.delete(&format!("/api/customers/{id}/"), &token).await;

    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_detail(&response.body, "customer_has_open_accounts");
    assert_eq!(app.customer_id(&token).await, id);
}

#[tokio::test]
async fn a_deleted_profile_disappears_and_a_new_one_can_be_created() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let id = app.customer_id(&token).await;

    let response = app.delete(&format!("/api/customers/{id}/"), &token).await;

    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(response.body, Value::Null);
    let list = app
        .get("/api/customers/", &token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(list["count"], 0);
    assert_eq!(list["results"], json!([]));
    let gone = app.get(&format!("/api/customers/{id}/"), &token).await;
    assert_eq!(gone.expect(StatusCode::NOT_FOUND), not_found());
    let no_profile = app
        .post("/api/accounts/", &token, json!({}))
        .await
        .expect(StatusCode::BAD_REQUEST);
    assert_eq!(
        no_profile,
        json!({ "non_field_errors": ["Create a customer profile first."] })
    );

    let created = app
        .post("/api/customers/", &token, full_profile())
        .await
        .expect(StatusCode::CREATED);

    assert_eq!(keys(&created), CUSTOMER_FIELDS);
    assert_eq!(created["full_name"], "Grace Hopper");
    assert_eq!(app.customer_id(&token).await, id_of(&created, "id"));
    app.open_account(&token).await;
}

#[tokio::test]
async fn creating_a_profile_validates_its_fields() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let id = app.customer_id(&token).await;
    app.delete(&format!("/api/customers/{id}/"), &token)
        .await
        .expect(StatusCode::NO_CONTENT);

    let body = app
        .post(
            "/api/customers/",
            &token,
            json!({ "email": "bad", "gender": "Q" }),
        )
        .await
        .expect(StatusCode::BAD_REQUEST);

    assert_eq!(body["full_name"], json!(["This field is required."]));
    assert_eq!(body["email"], json!(["Enter a valid email address."]));
    assert_eq!(body["gender"], json!(["\"Q\" is not a valid choice."]));
}
