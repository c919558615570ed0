//! Accounts (contract §4): open, list, read, rename, close, and the open-account limit.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_detail, id_of, keys, spawn_app, spawn_app_with, text};

const ACCOUNT_FIELDS: [&str; 9] = [
    "account_number",
    "account_type",
    "balance",
    "created_at",
    "customer",
    "id",
    "nickname",
    "status",
    "updated_at",
];

fn is_account_number(number: &str) -> bool {
    number
        .strip_prefix("ACC-")
        .is_some_and(|digits| digits.len() == 9 && digits.bytes().all(|b| b.is_ascii_digit()))
}

fn ids(list: &Value) -> HashSet<i64> {
    list["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|account| id_of(account, "id"))
        .collect()
}

#[tokio::test]
async fn a_new_account_is_an_empty_active_checking_account_with_a_fresh_number() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let customer_id = app.customer_id(&token).await;

    let account = app
        .post("/api/accounts/", &token, json!({}))
        .await
        .expect(StatusCode::CREATED);

    assert_eq!(keys(&account), ACCOUNT_FIELDS);
    assert!(
        is_account_number(text(&account, "account_number")),
        "{account}"
    );
    assert_eq!(account["balance"], "0.00");
    assert_eq!(account["account_type"], "checking");
    assert_eq!(account["status"], "active");
    assert_eq!(account["customer"], customer_id);
    let id = id_of(&account, "id");
    assert_eq!(app.account(&token, id).await, account);
}

#[tokio::test]
async fn an_account_type_and_nickname_can_be_chosen() {
    let app = spawn_app().await;
    let token = app.new_user().await;

    for account_type in ["checking", "savings", "business"] {
        let body = json!({ "account_type": account_type, "nickname": "Rainy day" });

        let account = app
            .post("/api/accounts/", &token, body)
            .await
            .expect(StatusCode::CREATED);

        assert_eq!(account["account_type"], account_type);
        assert_eq!(account["nickname"], "Rainy day");
    }
}

#[tokio::test]
async fn an_unknown_account_type_is_refused_and_opens_nothing() {
    let app = spawn_app().await;
    let token = app.new_user().await;

    let body = app
        .post("/api/accounts/", &token, json!({ "account_type": "gold" }))
        .await
        .expect(StatusCode::BAD_REQUEST);

    assert_eq!(
        body,
        json!({ "account_type": ["\"gold\" is not a valid choice."] })
    );
    let list = app
        .get("/api/accounts/", &token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(list["count"], 0);
}

#[tokio::test]
async fn read_only_fields_sent_when_opening_an_account_are_ignored() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let body = json!({
        "balance": "1000000.00",
        "status": "frozen",
        "account_number": "ACC-000000001",
        "id": 4242,
        "customer": 4242,
    });

    let account = app
        .post("/api/accounts/", &token, body)
        .await
        .expect(StatusCode::CREATED);

    assert_eq!(account["balance"], "0.00");
    assert_eq!(account["status"], "active");
    assert_ne!(account["account_number"], "ACC-000000001");
    assert_ne!(account["id"], 4242);
    assert_eq!(account["customer"], app.customer_id(&token).await);
}

#[tokio::test]
async fn the_account_list_holds_the_callers_open_accounts_with_unique_numbers() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let other = app.new_user().await;
    let mut mine = HashSet::new();
    let mut numbers = HashSet::new();
    for _ in 0..3 {
        let (id, number) = app.open_account(&token).await;
        mine.insert(id);
        numbers.insert(number);
    }
    for _ in 0..3 {
        numbers.insert(app.open_account(&other).await.1);
    }

    let list = app
        .get("/api/accounts/", &token)
        .await
        .expect(StatusCode::OK);

    assert_eq!(list["count"], 3);
    assert_eq!(list["next"], Value::Null);
    assert_eq!(ids(&list), mine);
    assert_eq!(numbers.len(), 6, "account numbers repeat: {numbers:?}");
}

#[tokio::test]
async fn patch_changes_only_the_nickname_and_ignores_balance_status_number_and_id() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, number) = app.funded_account(&token, "10.00").await;
    let before = app.account(&token, id).await;
    let body = json!({
        "nickname": "Holidays",
        "balance": "1000000.00",
        "status": "closed",
        "account_number": "ACC-123456789",
        "id": id + 1000,
        "customer": 4242,
    });

    let after = app
        .patch(&format!("/api/accounts/{id}/"), &token, body)
        .await
        .expect(StatusCode::OK);

    assert_eq!(after["nickname"], "Holidays");
    for field in [
        "balance",
        "status",
        "account_number",
        "id",
        "customer",
        "account_type",
    ] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert_eq!(after["account_number"], number.as_str());
    assert_eq!(app.account(&token, id).await, after);
}

#[tokio::test]
async fn put_changes_type_and_nickname_only() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "25.50").await;
    let body = json!({
        "account_type": "business",
        "nickname": "Shop",
        "balance": "0.01",
        "status": "frozen",
    });

    let after = app
        .put(&format!("/api/accounts/{id}/"), &token, body)
        .await
        .expect(StatusCode::OK);

    assert_eq!(after["account_type"], "business");
    assert_eq!(after["nickname"], "Shop");
    assert_eq!(after["balance"], "25.50");
    assert_eq!(after["status"], "active");
}

#[tokio::test]
async fn an_invalid_account_update_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    let before = app.snapshot(&token).await;

    let body = app
        .patch(
            &format!("/api/accounts/{id}/"),
            &token,
            json!({ "account_type": "platinum", "nickname": "n".repeat(101) }),
        )
        .await
        .expect(StatusCode::BAD_REQUEST);

    assert_eq!(
        body["account_type"],
        json!(["\"platinum\" is not a valid choice."])
    );
    assert!(body["nickname"].is_array(), "{body}");
    assert_eq!(app.snapshot(&token).await, before);
}

#[tokio::test]
async fn closing_an_empty_account_hides_it_from_the_list_but_keeps_it_and_its_history() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "5.00").await;
    app.withdraw(&token, id, "5.00")
        .await
        .expect(StatusCode::OK);
    let (kept, _) = app.open_account(&token).await;

    let response = app.delete(&format!("/api/accounts/{id}/"), &token).await;

    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(response.body, Value::Null);
    let open = app
        .get("/api/accounts/", &token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(ids(&open), HashSet::from([kept]));
    let closed = app
        .get("/api/accounts/?status=closed", &token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(ids(&closed), HashSet::from([id]));
    assert_eq!(closed["results"][0]["status"], "closed");
    assert_eq!(app.account(&token, id).await["status"], "closed");
    let history = app.transactions(&token, &format!("?account={id}")).await;
    assert_eq!(history["count"], 2);
}

#[tokio::test]
async fn an_account_holding_money_cannot_be_closed() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "0.01").await;

    let response = app.delete(&format!("/api/accounts/{id}/"), &token).await;

    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_detail(&response.body, "account_not_empty");
    let account = app.account(&token, id).await;
    assert_eq!(account["status"], "active");
    assert_eq!(account["balance"], "0.01");
}

#[tokio::test]
async fn a_closed_account_refuses_deposits_and_withdrawals() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    app.delete(&format!("/api/accounts/{id}/"), &token)
        .await
        .expect(StatusCode::NO_CONTENT);

    let deposit = app.deposit(&token, id, "1.00").await;
    let withdrawal = app.withdraw(&token, id, "1.00").await;

    assert_eq!(deposit.status, StatusCode::BAD_REQUEST);
    assert_detail(&deposit.body, "account_closed");
    assert_eq!(withdrawal.status, StatusCode::BAD_REQUEST);
    assert_detail(&withdrawal.body, "account_closed");
    assert_eq!(app.balance(&token, id).await, "0.00");
    assert_eq!(app.transaction_count(&token).await, 0);
}

#[tokio::test]
async fn the_open_account_limit_counts_only_accounts_that_are_not_closed() {
    let app = spawn_app_with(|config| config.max_accounts_per_customer = 2).await;
    let token = app.new_user().await;
    let (first, _) = app.open_account(&token).await;
    app.open_account(&token).await;

    let refused = app.post("/api/accounts/", &token, json!({})).await;

    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_detail(&refused.body, "account_limit_reached");
    let list = app
        .get("/api/accounts/", &token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(list["count"], 2);
    app.delete(&format!("/api/accounts/{first}/"), &token)
        .await
        .expect(StatusCode::NO_CONTENT);
    app.post("/api/accounts/", &token, json!({}))
        .await
        .expect(StatusCode::CREATED);
}

#[tokio::test]
async fn an_unknown_status_filter_is_a_field_error() {
    let app = spawn_app().await;
    let token = app.new_user().await;

    let body = app
        .get("/api/accounts/?status=sleeping", &token)
        .await
        .expect(StatusCode::BAD_REQUEST);

    assert!(body["status"].is_array(), "{body}");
}

#[tokio::test]
async fn the_account_list_is_paginated_with_links_that_keep_the_status_filter() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let mut closed = HashSet::new();
    for _ in 0..3 {
        let (id, _) = app.open_account(&token).await;
        app.delete(&format!("/api/accounts/{id}/"), &token)
            .await
            .expect(StatusCode::NO_CONTENT);
        closed.insert(id);
    }

    let first = app
        .get("/api/accounts/?status=closed&page_size=2", &token)
        .await
        .expect(StatusCode::OK);
    let next = text(&first, "next").to_owned();
    let second = app.get(&next, &token).await.expect(StatusCode::OK);

    assert_eq!(first["count"], 3);
    assert!(
        next.starts_with(&format!("{}/api/accounts/?", app.address)),
        "{next}"
    );
    assert!(
        next.contains("status=closed") && next.contains("page=2"),
        "{next}"
    );
    assert_eq!(second["next"], Value::Null);
    let seen: HashSet<i64> = ids(&first).union(&ids(&second)).copied().collect();
    assert_eq!(seen, closed);
}
