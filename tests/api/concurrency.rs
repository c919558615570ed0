//! Concurrency: parallel requests against the same rows never lose an update, never overdraw,
//! never create or destroy money, and races end in contract answers, not 500s.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::json;
use tokio::task::JoinSet;

use crate::helpers::{
    ApiResponse, TestApp, assert_detail, cents, money, spawn_app, spawn_app_with,
};

/// Runs every request at once and returns the responses in completion order.
async fn all_at_once<F, Fut>(app: &Arc<TestApp>, count: usize, request: F) -> Vec<ApiResponse>
where
    F: Fn(Arc<TestApp>, usize) -> Fut,
    Fut: Future<Output = ApiResponse> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    for n in 0..count {
        tasks.spawn(request(app.clone(), n));
    }
    let mut responses = Vec::with_capacity(count);
    while let Some(response) = tasks.join_next().await {
        responses.push(response.expect("request task"));
    }
    responses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_parallel_withdrawals_of_ten_from_a_hundred_let_exactly_ten_through() {
    let app = Arc::new(spawn_app().await);
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "100.00").await;

    let responses = all_at_once(&app, 30, |app, _| {
        let token = token.clone();
        async move { app.withdraw(&token, id, "10.00").await }
    })
    .await;

    let succeeded = responses
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(succeeded, 10);
    for refused in responses.iter().filter(|r| r.status != StatusCode::OK) {
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert_detail(&refused.body, "insufficient_funds");
    }
    assert_eq!(app.balance(&token, id).await, "0.00");
    let withdrawals = app
        .transactions(&token, "?transaction_type=withdrawal")
        .await;
    assert_eq!(withdrawals["count"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_deposits_are_all_counted() {
    let app = Arc::new(spawn_app().await);
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;

    let responses = all_at_once(&app, 50, |app, n| {
        let token = token.clone();
        async move { app.deposit(&token, id, &money(n as i64 + 1)).await }
    })
    .await;

    assert!(responses.iter().all(|r| r.status == StatusCode::OK));
    // 0.01 + 0.02 + ... + 0.50
    assert_eq!(app.balance(&token, id).await, money(50 * 51 / 2));
    assert_eq!(app.transaction_count(&token).await, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_parallel_cross_transfers_conserve_the_total() {
    let app = Arc::new(spawn_app().await);
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (alice_account, alice_number) = app.funded_account(&alice, "100.00").await;
    let (bob_account, bob_number) = app.funded_account(&bob, "100.00").await;
    let (alice_amount, bob_amount) = (cents("7.00"), cents("9.00"));

    let responses = all_at_once(&app, 60, |app, n| {
        let (alice, bob) = (alice.clone(), bob.clone());
        let (alice_number, bob_number) = (alice_number.clone(), bob_number.clone());
        async move {
            if n % 2 == 0 {
                app.transfer(&alice, alice_account, &bob_number, "7.00")
                    .await
            } else {
                app.transfer(&bob, bob_account, &alice_number, "9.00").await
            }
        }
    })
    .await;

    for response in responses.iter().filter(|r| r.status != StatusCode::OK) {
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{}",
            response.body
        );
        assert_detail(&response.body, "insufficient_funds");
    }
    let alice_sent = app
        .transactions(&alice, "?transaction_type=transfer_out")
        .await["count"]
        .as_i64()
        .expect("count");
    let bob_sent = app
        .transactions(&bob, "?transaction_type=transfer_out")
        .await["count"]
        .as_i64()
        .expect("count");
    let succeeded = responses
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!((alice_sent + bob_sent) as usize, succeeded);
    let alice_balance = cents(&app.balance(&alice, alice_account).await);
    let bob_balance = cents(&app.balance(&bob, bob_account).await);
    assert_eq!(alice_balance + bob_balance, cents("200.00"));
    let alice_expected = cents("100.00") - alice_sent * alice_amount + bob_sent * bob_amount;
    assert_eq!(alice_balance, alice_expected);
    for (token, balance) in [(&alice, alice_balance), (&bob, bob_balance)] {
        let newest = &app.transactions(token, "").await["results"][0];
        assert_eq!(newest["balance_after"], money(balance));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_account_openings_respect_the_limit() {
    let app = Arc::new(spawn_app_with(|config| config.max_accounts_per_customer = 3).await);
    let token = app.new_user().await;

    let responses = all_at_once(&app, 12, |app, _| {
        let token = token.clone();
        async move { app.post("/api/accounts/", &token, json!({})).await }
    })
    .await;

    let opened = responses
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(opened, 3);
    for refused in responses.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert_detail(&refused.body, "account_limit_reached");
    }
    let list = app
        .get("/api/accounts/", &token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(list["count"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_registrations_of_one_username_create_exactly_one_user() {
    let app = Arc::new(spawn_app().await);

    let responses = all_at_once(&app, 6, |app, n| async move {
        // Differently cased, so uniqueness must hold case-insensitively under the race too.
        let name = if n % 2 == 0 { "racer" } else { "RACER" };
        app.register(name).await
    })
    .await;

    let created = responses
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1);
    for refused in responses.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(
            refused.body,
            json!({ "username": ["A user with that username already exists."] })
        );
    }
}
