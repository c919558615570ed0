//! The user-isolation matrix: another user's ids are `404` on every route, whatever the body,
//! and nothing of theirs changes. Only a transfer *to* their account number is allowed.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, id_of, not_found, spawn_app};

/// Alice's data: the target of every attempt.
struct Victim {
    token: String,
    customer_id: i64,
    account_id: i64,
    account_number: String,
    transaction_id: i64,
}

async fn victim(app: &TestApp) -> Victim {
    let token = app.new_user().await;
    let customer_id = app.customer_id(&token).await;
    let (account_id, account_number) = app.funded_account(&token, "100.00").await;
    let list = app.transactions(&token, "").await;
    let transaction_id = id_of(&list["results"][0], "id");
    Victim {
        token,
        customer_id,
        account_id,
        account_number,
        transaction_id,
    }
}

/// Every request another user might try against the victim's ids.
fn attempts(victim: &Victim, own_number: &str) -> Vec<(Method, String, Option<Value>)> {
    let customer = format!("/api/customers/{}/", victim.customer_id);
    let account = format!("/api/accounts/{}/", victim.account_id);
    let profile = json!({
        "full_name": "Mallory",
        "email": "mallory@example.com",
        "phone_number": null,
        "date_of_birth": null,
        "gender": null,
    });
    let mut attempts = vec![
        (Method::GET, customer.clone(), None),
        (Method::PUT, customer.clone(), Some(profile)),
        (
            Method::PATCH,
            customer.clone(),
            Some(json!({ "full_name": "Mallory" })),
        ),
        (
            Method::PATCH,
            customer.clone(),
            Some(json!({ "gender": "bad" })),
        ),
        (Method::DELETE, customer, None),
        (Method::GET, account.clone(), None),
        (
            Method::PUT,
            account.clone(),
            Some(json!({ "account_type": "savings", "nickname": "mine now" })),
        ),
        (
            Method::PATCH,
            account.clone(),
            Some(json!({ "nickname": "mine now" })),
        ),
        (
            Method::PATCH,
            account.clone(),
            Some(json!({ "account_type": "bad" })),
        ),
        (Method::DELETE, account.clone(), None),
        (
            Method::GET,
            format!("/api/transactions/{}/", victim.transaction_id),
            None,
        ),
    ];
    for movement in ["deposit", "withdraw", "transfer"] {
        let path = format!("{account}{movement}/");
        for amount in ["10.00", "-1", "1.005"] {
            let body = json!({ "amount": amount, "to_account_number": own_number });
            attempts.push((Method::POST, path.clone(), Some(body)));
        }
        attempts.push((Method::POST, path, Some(json!({}))));
    }
    attempts
}

#[tokio::test]
async fn another_users_ids_are_not_found_on_every_route_and_nothing_of_theirs_changes() {
    let app = spawn_app().await;
    let alice = victim(&app).await;
    let mallory = app.new_user().await;
    let (_, mallory_number) = app.funded_account(&mallory, "50.00").await;
    let alice_before = app.snapshot(&alice.token).await;

    for (method, path, body) in attempts(&alice, &mallory_number) {
        let response = app
            .request(method.clone(), &path, &mallory, body.clone())
            .await;

        assert_eq!(
            response.expect(StatusCode::NOT_FOUND),
            not_found(),
            "{method} {path} {body:?}"
        );
    }

    assert_eq!(app.snapshot(&alice.token).await, alice_before);
    assert_eq!(app.balance(&alice.token, alice.account_id).await, "100.00");
    assert_eq!(app.transaction_count(&alice.token).await, 1);
}

#[tokio::test]
async fn filtering_by_another_users_account_lists_nothing() {
    let app = spawn_app().await;
    let alice = victim(&app).await;
    let mallory = app.new_user().await;
    app.funded_account(&mallory, "50.00").await;

    let list = app
        .transactions(&mallory, &format!("?account={}", alice.account_id))
        .await;

    assert_eq!(list["count"], 0);
    assert_eq!(list["results"], json!([]));
}

#[tokio::test]
async fn lists_never_show_another_users_profile_accounts_or_transactions() {
    let app = spawn_app().await;
    let alice = victim(&app).await;
    let mallory = app.new_user().await;
    let (mallory_account, _) = app.open_account(&mallory).await;

    let customers = app
        .get("/api/customers/", &mallory)
        .await
        .expect(StatusCode::OK);
    let accounts = app
        .get("/api/accounts/", &mallory)
        .await
        .expect(StatusCode::OK);
    let transactions = app.transactions(&mallory, "").await;

    assert_eq!(customers["count"], 1);
    assert_ne!(customers["results"][0]["id"], alice.customer_id);
    assert_eq!(accounts["count"], 1);
    assert_eq!(accounts["results"][0]["id"], mallory_account);
    assert_eq!(transactions["count"], 0);
}

#[tokio::test]
async fn a_transfer_to_another_users_account_number_is_allowed() {
    let app = spawn_app().await;
    let alice = victim(&app).await;
    let bob = app.new_user().await;
    let (bob_account, _) = app.funded_account(&bob, "50.00").await;

    let body = app
        .transfer(&bob, bob_account, &alice.account_number, "20.00")
        .await
        .expect(StatusCode::OK);

    assert_eq!(body["from_account_balance"], "30.00");
    assert_eq!(app.balance(&alice.token, alice.account_id).await, "120.00");
    assert_eq!(app.transaction_count(&alice.token).await, 2);
    let bobs_view = app.transactions(&bob, "").await;
    assert!(
        bobs_view["results"]
            .as_array()
            .expect("results")
            .iter()
            .all(|row| row["account"] == bob_account),
        "Bob sees a leg of Alice's: {bobs_view}"
    );
}
