//! Cards (contract §6, issue 3): issuing, the secrets shown once, credit limits, the allowed
//! status transitions, limits per account and owner scoping.

use reqwest::StatusCode;
use rusqlite::types::Value as SqlValue;
use serde_json::{Value, json};

use crate::helpers::{
    ApiResponse, TestApp, assert_detail, assert_field_error, id_of, keys, not_found, spawn_app,
    spawn_app_with, text,
};

/// The fields a card shows after its `201`.
const CARD_FIELDS: [&str; 9] = [
    "account",
    "card_type",
    "created_at",
    "credit_limit",
    "expiry_month",
    "expiry_year",
    "id",
    "masked_number",
    "status",
];

/// Whether `number` passes the Luhn check (written here independently of the server's).
fn luhn_valid(number: &str) -> bool {
    let sum: u32 = number
        .bytes()
        .rev()
        .enumerate()
        .map(|(position, byte)| {
            let digit = u32::from(byte - b'0');
            match (position % 2, digit * 2) {
                (1, doubled) if doubled > 9 => doubled - 9,
                (1, doubled) => doubled,
                _ => digit,
            }
        })
        .sum();
    number.len() > 1 && number.bytes().all(|b| b.is_ascii_digit()) && sum.is_multiple_of(10)
}

async fn issue(app: &TestApp, token: &str, body: Value) -> ApiResponse {
    app.post("/api/cards/", token, body).await
}

/// Issues a debit card on `account`; returns the `201` body.
async fn debit_card(app: &TestApp, token: &str, account: i64) -> Value {
    issue(
        app,
        token,
        json!({ "account": account, "card_type": "debit" }),
    )
    .await
    .expect(StatusCode::CREATED)
}

async fn card(app: &TestApp, token: &str, id: i64) -> Value {
    app.get(&format!("/api/cards/{id}/"), token)
        .await
        .expect(StatusCode::OK)
}

#[test]
fn the_tests_luhn_check_knows_good_from_bad() {
    assert!(luhn_valid("4111111111111111"));
    assert!(luhn_valid("79927398713"));
    assert!(!luhn_valid("4111111111111112"));
    assert!(!luhn_valid("79927398710"));
}

#[tokio::test]
async fn a_debit_card_is_issued_with_a_luhn_valid_number_under_the_iin_and_a_cvv() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;

    let body = issue(
        &app,
        &token,
        json!({ "account": account, "card_type": "debit" }),
    )
    .await
    .expect(StatusCode::CREATED);

    let number = text(&body, "card_number");
    assert_eq!(number.len(), 16, "{body}");
    assert!(number.starts_with("400000"), "{body}");
    assert!(luhn_valid(number), "{number} fails the Luhn check");
    let cvv = text(&body, "cvv");
    assert!(
        cvv.len() == 3 && cvv.bytes().all(|b| b.is_ascii_digit()),
        "{body}"
    );
    assert_eq!(body["account"], account);
    assert_eq!(body["card_type"], "debit");
    assert_eq!(body["status"], "active");
    assert_eq!(body["credit_limit"], Value::Null);
    assert_eq!(
        body["masked_number"],
        format!("**** **** **** {}", &number[12..])
    );
}

#[tokio::test]
async fn a_credit_card_is_issued_with_its_credit_limit() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;

    let body = issue(
        &app,
        &token,
        json!({ "account": account, "card_type": "credit", "credit_limit": "1500.50" }),
    )
    .await
    .expect(StatusCode::CREATED);

    assert_eq!(body["card_type"], "credit");
    assert_eq!(body["credit_limit"], "1500.50");
    assert!(luhn_valid(text(&body, "card_number")), "{body}");
    assert_eq!(
        card(&app, &token, id_of(&body, "id")).await["credit_limit"],
        "1500.50"
    );
}

#[tokio::test]
async fn two_cards_get_different_numbers() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;

    let first = debit_card(&app, &token, account).await;
    let second = debit_card(&app, &token, account).await;

    assert_ne!(first["card_number"], second["card_number"]);
}

#[tokio::test]
async fn the_full_number_and_cvv_are_never_shown_again() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let issued = debit_card(&app, &token, account).await;
    let id = id_of(&issued, "id");
    let number = text(&issued, "card_number");

    let detail = card(&app, &token, id).await;
    let list = app.get("/api/cards/", &token).await.expect(StatusCode::OK);

    assert_eq!(keys(&detail), CARD_FIELDS);
    assert_eq!(
        detail["masked_number"],
        format!("**** **** **** {}", &number[12..])
    );
    assert_eq!(list["count"], 1);
    assert_eq!(list["results"][0], detail);
    for view in [&detail, &list] {
        let rendered = view.to_string();
        assert!(!rendered.contains(number), "{rendered}");
        assert!(!rendered.contains("cvv"), "{rendered}");
        assert!(!rendered.contains("card_number"), "{rendered}");
    }
}

/// Every stored value of the `cards` table as text (blobs as hex and as raw bytes).
fn cards_table_as_text(app: &TestApp) -> String {
    let mut rendered = String::new();
    for row in app.query_sql("SELECT * FROM cards", []) {
        for value in row {
            match value {
                SqlValue::Null => {}
                SqlValue::Integer(number) => rendered.push_str(&number.to_string()),
                SqlValue::Real(number) => rendered.push_str(&number.to_string()),
                SqlValue::Text(text) => rendered.push_str(&text),
                SqlValue::Blob(bytes) => {
                    rendered.push_str(&hex::encode(&bytes));
                    rendered.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
            rendered.push('|');
        }
    }
    rendered
}

#[tokio::test]
async fn the_database_never_holds_the_full_card_number() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let debit = debit_card(&app, &token, account).await;
    let credit = issue(
        &app,
        &token,
        json!({ "account": account, "card_type": "credit", "credit_limit": "100.00" }),
    )
    .await
    .expect(StatusCode::CREATED);

    let table = cards_table_as_text(&app);
    let mut files = Vec::new();
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", app.database_path.display());
        files.extend(std::fs::read(path).unwrap_or_default());
    }

    assert!(
        table.contains(&text(&debit, "card_number")[12..]),
        "last4 is stored"
    );
    for issued in [&debit, &credit] {
        let number = text(issued, "card_number");
        assert!(
            !table.contains(number),
            "{number} is stored in cards: {table}"
        );
        let in_files = files
            .windows(number.len())
            .any(|window| window == number.as_bytes());
        assert!(!in_files, "{number} is somewhere in the database files");
    }
}

#[tokio::test]
async fn a_credit_card_needs_a_positive_limit_no_larger_than_the_maximum() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let with_limit =
        |limit: Value| json!({ "account": account, "card_type": "credit", "credit_limit": limit });

    let refusals = [
        json!({ "account": account, "card_type": "credit" }),
        with_limit(json!("0")),
        with_limit(json!("0.00")),
        with_limit(json!("-5.00")),
        with_limit(json!("50000.01")),
        with_limit(json!("abc")),
    ];
    for body in refusals {
        let refused = issue(&app, &token, body.clone()).await;
        let error = refused.expect(StatusCode::BAD_REQUEST);
        assert_field_error(&error, "credit_limit");
    }
    let at_maximum = issue(&app, &token, with_limit(json!("50000.00")))
        .await
        .expect(StatusCode::CREATED);

    assert_eq!(at_maximum["credit_limit"], "50000.00");
    let list = app.get("/api/cards/", &token).await.expect(StatusCode::OK);
    assert_eq!(list["count"], 1, "a refused card was created: {list}");
}

#[tokio::test]
async fn the_maximum_credit_limit_comes_from_configuration() {
    let app = spawn_app_with(|config| config.max_credit_limit_cents = 100_000).await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let with_limit =
        |limit: &str| json!({ "account": account, "card_type": "credit", "credit_limit": limit });

    let over = issue(&app, &token, with_limit("1000.01")).await;
    let at = issue(&app, &token, with_limit("1000.00")).await;

    assert_field_error(&over.expect(StatusCode::BAD_REQUEST), "credit_limit");
    assert_eq!(at.expect(StatusCode::CREATED)["credit_limit"], "1000.00");
}

#[tokio::test]
async fn a_debit_card_with_a_credit_limit_is_refused() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;

    let refused = issue(
        &app,
        &token,
        json!({ "account": account, "card_type": "debit", "credit_limit": "100.00" }),
    )
    .await;

    assert_eq!(
        refused.expect(StatusCode::BAD_REQUEST),
        json!({ "credit_limit": ["Debit cards cannot have a credit limit."] })
    );
}

#[tokio::test]
async fn a_card_type_outside_the_choices_is_a_field_error() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;

    let refused = issue(
        &app,
        &token,
        json!({ "account": account, "card_type": "gold" }),
    )
    .await;
    let missing = issue(&app, &token, json!({})).await;

    assert_field_error(&refused.expect(StatusCode::BAD_REQUEST), "card_type");
    let missing = missing.expect(StatusCode::BAD_REQUEST);
    assert_field_error(&missing, "card_type");
    assert_field_error(&missing, "account");
}

#[tokio::test]
async fn a_card_on_another_users_account_is_refused_on_the_account_field() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (bobs_account, _) = app.open_account(&bob).await;
    app.open_account(&alice).await;

    let someone_elses = issue(
        &app,
        &alice,
        json!({ "account": bobs_account, "card_type": "debit" }),
    )
    .await;
    let missing = issue(
        &app,
        &alice,
        json!({ "account": 999_999, "card_type": "debit" }),
    )
    .await;

    assert_field_error(&someone_elses.expect(StatusCode::BAD_REQUEST), "account");
    assert_field_error(&missing.expect(StatusCode::BAD_REQUEST), "account");
    for token in [&alice, &bob] {
        let list = app.get("/api/cards/", token).await.expect(StatusCode::OK);
        assert_eq!(list["count"], 0, "{list}");
    }
}

#[tokio::test]
async fn cards_are_refused_on_closed_and_frozen_accounts() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (closed, _) = app.open_account(&token).await;
    app.delete(&format!("/api/accounts/{closed}/"), &token)
        .await
        .expect(StatusCode::NO_CONTENT);
    let (frozen, _) = app.open_account(&token).await;
    app.execute_sql(
        "UPDATE accounts SET status = 'frozen' WHERE id = ?1",
        [frozen],
    );

    let on_closed = issue(
        &app,
        &token,
        json!({ "account": closed, "card_type": "debit" }),
    )
    .await;
    let on_frozen = issue(
        &app,
        &token,
        json!({ "account": frozen, "card_type": "debit" }),
    )
    .await;

    assert_detail(&on_closed.expect(StatusCode::BAD_REQUEST), "account_closed");
    assert_detail(&on_frozen.expect(StatusCode::BAD_REQUEST), "account_frozen");
}

#[tokio::test]
async fn an_account_holds_at_most_the_configured_number_of_live_cards() {
    let app = spawn_app_with(|config| config.cards_max_per_account = 2).await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let (other_account, _) = app.open_account(&token).await;
    let first = debit_card(&app, &token, account).await;
    debit_card(&app, &token, account).await;

    let third = issue(
        &app,
        &token,
        json!({ "account": account, "card_type": "debit" }),
    )
    .await;
    let on_other_account = issue(
        &app,
        &token,
        json!({ "account": other_account, "card_type": "debit" }),
    )
    .await;
    app.delete(&format!("/api/cards/{}/", id_of(&first, "id")), &token)
        .await
        .expect(StatusCode::NO_CONTENT);
    let after_cancelling = issue(
        &app,
        &token,
        json!({ "account": account, "card_type": "debit" }),
    )
    .await;

    assert_detail(&third.expect(StatusCode::BAD_REQUEST), "card_limit_reached");
    assert_eq!(on_other_account.status, StatusCode::CREATED);
    assert_eq!(
        after_cancelling.status,
        StatusCode::CREATED,
        "{}",
        after_cancelling.body
    );
}

#[tokio::test]
async fn a_card_can_be_frozen_and_unfrozen() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let id = id_of(&debit_card(&app, &token, account).await, "id");
    let path = format!("/api/cards/{id}/");

    let frozen = app
        .patch(&path, &token, json!({ "status": "frozen" }))
        .await;
    let seen_frozen = card(&app, &token, id).await;
    let active = app
        .patch(&path, &token, json!({ "status": "active" }))
        .await;

    assert_eq!(frozen.expect(StatusCode::OK)["status"], "frozen");
    assert_eq!(seen_frozen["status"], "frozen");
    assert_eq!(active.expect(StatusCode::OK)["status"], "active");
    assert_eq!(card(&app, &token, id).await["status"], "active");
}

#[tokio::test]
async fn patching_the_status_to_cancelled_or_an_unknown_value_is_refused() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let id = id_of(&debit_card(&app, &token, account).await, "id");
    let path = format!("/api/cards/{id}/");

    for status in ["cancelled", "lost", ""] {
        let refused = app.patch(&path, &token, json!({ "status": status })).await;
        assert_field_error(&refused.expect(StatusCode::BAD_REQUEST), "status");
    }
    assert_eq!(card(&app, &token, id).await["status"], "active");
}

#[tokio::test]
async fn a_deleted_card_is_cancelled_for_good() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let id = id_of(&debit_card(&app, &token, account).await, "id");
    let path = format!("/api/cards/{id}/");

    let deleted = app.delete(&path, &token).await;
    let seen = card(&app, &token, id).await;
    let reactivate = app
        .patch(&path, &token, json!({ "status": "active" }))
        .await;
    let freeze = app
        .patch(&path, &token, json!({ "status": "frozen" }))
        .await;
    let deleted_again = app.delete(&path, &token).await;

    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(deleted.body, Value::Null);
    assert_eq!(seen["status"], "cancelled");
    assert_detail(
        &reactivate.expect(StatusCode::BAD_REQUEST),
        "card_cancelled",
    );
    assert_detail(&freeze.expect(StatusCode::BAD_REQUEST), "card_cancelled");
    assert_eq!(deleted_again.status, StatusCode::NO_CONTENT);
    assert_eq!(card(&app, &token, id).await["status"], "cancelled");
}

#[tokio::test]
async fn a_frozen_card_can_be_cancelled() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let id = id_of(&debit_card(&app, &token, account).await, "id");
    let path = format!("/api/cards/{id}/");
    app.patch(&path, &token, json!({ "status": "frozen" }))
        .await
        .expect(StatusCode::OK);

    let deleted = app.delete(&path, &token).await;

    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(card(&app, &token, id).await["status"], "cancelled");
}

#[tokio::test]
async fn closing_an_account_cancels_its_cards_and_only_its_cards() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (closing, _) = app.open_account(&token).await;
    let (staying, _) = app.open_account(&token).await;
    let active = id_of(&debit_card(&app, &token, closing).await, "id");
    let frozen = id_of(&debit_card(&app, &token, closing).await, "id");
    app.patch(
        &format!("/api/cards/{frozen}/"),
        &token,
        json!({ "status": "frozen" }),
    )
    .await
    .expect(StatusCode::OK);
    let elsewhere = id_of(&debit_card(&app, &token, staying).await, "id");

    app.delete(&format!("/api/accounts/{closing}/"), &token)
        .await
        .expect(StatusCode::NO_CONTENT);

    assert_eq!(card(&app, &token, active).await["status"], "cancelled");
    assert_eq!(card(&app, &token, frozen).await["status"], "cancelled");
    assert_eq!(card(&app, &token, elsewhere).await["status"], "active");
}

/// The `(year, month)` of an RFC 3339 time.
fn year_and_month(time: &str) -> (i64, i64) {
    let year = time[..4].parse().expect("a year");
    let month = time[5..7].parse().expect("a month");
    (year, month)
}

#[tokio::test]
async fn a_card_expires_in_its_issue_month_after_the_default_four_years() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;

    let issued = debit_card(&app, &token, account).await;

    let (year, month) = year_and_month(text(&issued, "created_at"));
    assert_eq!(issued["expiry_month"], month);
    assert_eq!(issued["expiry_year"], year + 4);
}

#[tokio::test]
async fn the_validity_in_years_comes_from_configuration() {
    let app = spawn_app_with(|config| config.cards_validity_years = 7).await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;

    let issued = debit_card(&app, &token, account).await;

    let (year, month) = year_and_month(text(&issued, "created_at"));
    assert_eq!(issued["expiry_month"], month);
    assert_eq!(issued["expiry_year"], year + 7);
    let id = id_of(&issued, "id");
    assert_eq!(card(&app, &token, id).await["expiry_year"], year + 7);
}

#[tokio::test]
async fn the_credit_limit_of_a_credit_card_can_be_changed_within_the_maximum() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let credit = issue(
        &app,
        &token,
        json!({ "account": account, "card_type": "credit", "credit_limit": "100.00" }),
    )
    .await
    .expect(StatusCode::CREATED);
    let credit_path = format!("/api/cards/{}/", id_of(&credit, "id"));
    let debit_path = format!(
        "/api/cards/{}/",
        id_of(&debit_card(&app, &token, account).await, "id")
    );

    let raised = app
        .patch(&credit_path, &token, json!({ "credit_limit": "2500.00" }))
        .await;
    let too_high = app
        .patch(&credit_path, &token, json!({ "credit_limit": "50000.01" }))
        .await;
    let on_debit = app
        .patch(&debit_path, &token, json!({ "credit_limit": "10.00" }))
        .await;

    assert_eq!(raised.expect(StatusCode::OK)["credit_limit"], "2500.00");
    assert_field_error(&too_high.expect(StatusCode::BAD_REQUEST), "credit_limit");
    assert_eq!(
        on_debit.expect(StatusCode::BAD_REQUEST),
        json!({ "credit_limit": ["Debit cards cannot have a credit limit."] })
    );
    let seen = app.get(&credit_path, &token).await.expect(StatusCode::OK);
    assert_eq!(seen["credit_limit"], "2500.00");
}

#[tokio::test]
async fn another_users_card_is_not_found_and_stays_unchanged() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (account, _) = app.open_account(&alice).await;
    let id = id_of(&debit_card(&app, &alice, account).await, "id");
    let path = format!("/api/cards/{id}/");
    let before = card(&app, &alice, id).await;

    let get = app.get(&path, &bob).await;
    let patch = app.patch(&path, &bob, json!({ "status": "frozen" })).await;
    let invalid_patch = app
        .patch(&path, &bob, json!({ "status": "nonsense" }))
        .await;
    let delete = app.delete(&path, &bob).await;
    let list = app.get("/api/cards/", &bob).await.expect(StatusCode::OK);

    for response in [get, patch, invalid_patch, delete] {
        assert_eq!(response.expect(StatusCode::NOT_FOUND), not_found());
    }
    assert_eq!(list["count"], 0);
    assert_eq!(card(&app, &alice, id).await, before);
}

#[tokio::test]
async fn cards_need_authentication() {
    let app = spawn_app().await;

    let list = app.get("/api/cards/", "").await;
    let issue = app.post("/api/cards/", "", json!({})).await;

    assert_detail(&list.expect(StatusCode::UNAUTHORIZED), "not_authenticated");
    assert_detail(&issue.expect(StatusCode::UNAUTHORIZED), "not_authenticated");
}
