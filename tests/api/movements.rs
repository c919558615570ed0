//! Money movement (contract §4): deposit, withdraw, transfer and their refusals.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_detail, id_of, keys, spawn_app, text};

/// One transaction as its owner sees it.
async fn transaction(app: &TestApp, token: &str, id: i64) -> Value {
    app.get(&format!("/api/transactions/{id}/"), token)
        .await
        .expect(StatusCode::OK)
}

#[tokio::test]
async fn a_deposit_answers_the_new_balance_and_records_a_transaction() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, number) = app.funded_account(&token, "100.00").await;

    let body = app
        .post(
            &format!("/api/accounts/{id}/deposit/"),
            &token,
            json!({ "amount": "500.25", "description": "Salary ☕" }),
        )
        .await
        .expect(StatusCode::OK);

    assert_eq!(keys(&body), ["new_balance", "status", "transaction_id"]);
    assert_eq!(body["status"], "deposit successful");
    assert_eq!(body["new_balance"], "600.25");
    assert_eq!(app.balance(&token, id).await, "600.25");
    let row = transaction(&app, &token, id_of(&body, "transaction_id")).await;
    assert_eq!(row["transaction_type"], "deposit");
    assert_eq!(row["amount"], "500.25");
    assert_eq!(row["balance_after"], "600.25");
    assert_eq!(row["account"], id);
    assert_eq!(row["account_number"], number.as_str());
    assert_eq!(row["description"], "Salary ☕");
    assert_eq!(row["counterparty_account_number"], Value::Null);
    assert_eq!(row["transfer_id"], Value::Null);
}

#[tokio::test]
async fn a_withdrawal_answers_the_new_balance_and_records_a_transaction() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "600.25").await;

    let body = app
        .withdraw(&token, id, "100.00")
        .await
        .expect(StatusCode::OK);

    assert_eq!(keys(&body), ["new_balance", "status", "transaction_id"]);
    assert_eq!(body["status"], "withdrawal successful");
    assert_eq!(body["new_balance"], "500.25");
    let row = transaction(&app, &token, id_of(&body, "transaction_id")).await;
    assert_eq!(row["transaction_type"], "withdrawal");
    assert_eq!(row["amount"], "100.00");
    assert_eq!(row["balance_after"], "500.25");
}

#[tokio::test]
async fn withdrawing_the_whole_balance_leaves_zero() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "42.42").await;

    let body = app
        .withdraw(&token, id, "42.42")
        .await
        .expect(StatusCode::OK);

    assert_eq!(body["new_balance"], "0.00");
}

#[tokio::test]
async fn withdrawing_more_than_the_balance_is_refused_and_records_nothing() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "10.00").await;
    let before = app.snapshot(&token).await;

    let body = app
        .withdraw(&token, id, "10.01")
        .await
        .expect(StatusCode::BAD_REQUEST);

    assert_eq!(
        body,
        json!({ "detail": "Insufficient funds.", "code": "insufficient_funds" })
    );
    assert_eq!(app.snapshot(&token).await, before);
}

#[tokio::test]
async fn a_transfer_writes_two_legs_sharing_its_transfer_id() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (source, source_number) = app.funded_account(&token, "500.25").await;
    let (destination, destination_number) = app.funded_account(&token, "20.00").await;

    let body = app
        .post(
            &format!("/api/accounts/{source}/transfer/"),
            &token,
            json!({
                "to_account_number": destination_number,
                "amount": "150.00",
                "description": "rent",
            }),
        )
        .await
        .expect(StatusCode::OK);

    assert_eq!(
        keys(&body),
        ["from_account_balance", "status", "transfer_id"]
    );
    assert_eq!(body["status"], "transfer successful");
    assert_eq!(body["from_account_balance"], "350.25");
    let transfer_id = id_of(&body, "transfer_id");
    assert_eq!(app.balance(&token, source).await, "350.25");
    assert_eq!(app.balance(&token, destination).await, "170.00");
    let legs = app
        .transactions(&token, "?transaction_type=transfer_out")
        .await;
    assert_eq!(legs["count"], 1);
    let out = &legs["results"][0];
    assert_eq!(out["account"], source);
    assert_eq!(out["amount"], "150.00");
    assert_eq!(out["balance_after"], "350.25");
    assert_eq!(
        out["counterparty_account_number"],
        destination_number.as_str()
    );
    assert_eq!(out["transfer_id"], transfer_id);
    assert_eq!(out["description"], "rent");
    let legs = app
        .transactions(&token, "?transaction_type=transfer_in")
        .await;
    assert_eq!(legs["count"], 1);
    let incoming = &legs["results"][0];
    assert_eq!(incoming["account"], destination);
    assert_eq!(incoming["amount"], "150.00");
    assert_eq!(incoming["balance_after"], "170.00");
    assert_eq!(
        incoming["counterparty_account_number"],
        source_number.as_str()
    );
    assert_eq!(incoming["transfer_id"], transfer_id);
}

#[tokio::test]
async fn a_transfer_may_go_to_another_users_account() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (source, source_number) = app.funded_account(&alice, "80.00").await;
    let (destination, destination_number) = app.open_account(&bob).await;

    let body = app
        .transfer(&alice, source, &destination_number, "30.00")
        .await
        .expect(StatusCode::OK);

    assert_eq!(body["from_account_balance"], "50.00");
    assert_eq!(app.balance(&bob, destination).await, "30.00");
    let bobs = app.transactions(&bob, "").await;
    assert_eq!(bobs["count"], 1);
    assert_eq!(bobs["results"][0]["transaction_type"], "transfer_in");
    assert_eq!(
        bobs["results"][0]["counterparty_account_number"],
        source_number.as_str()
    );
    assert_eq!(bobs["results"][0]["transfer_id"], body["transfer_id"]);
}

#[tokio::test]
async fn a_transfer_to_an_unknown_or_malformed_account_number_is_refused() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (source, _) = app.funded_account(&token, "10.00").await;
    let before = app.snapshot(&token).await;

    for number in ["ACC-000000000", "ACC-12345", "nope"] {
        let body = app
            .transfer(&token, source, number, "1.00")
            .await
            .expect(StatusCode::BAD_REQUEST);

        assert_eq!(body, json!({ "to_account_number": ["Account not found."] }));
    }
    assert_eq!(app.snapshot(&token).await, before);
}

#[tokio::test]
async fn a_transfer_to_the_same_account_is_refused() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (source, number) = app.funded_account(&token, "10.00").await;
    let before = app.snapshot(&token).await;

    let body = app
        .transfer(&token, source, &number, "1.00")
        .await
        .expect(StatusCode::BAD_REQUEST);

    assert_eq!(
        body,
        json!({ "to_account_number": ["Cannot transfer to the same account."] })
    );
    assert_eq!(app.snapshot(&token).await, before);
}

#[tokio::test]
async fn a_transfer_beyond_the_balance_is_refused_and_moves_nothing() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (source, _) = app.funded_account(&token, "10.00").await;
    let (_, destination_number) = app.funded_account(&token, "1.00").await;
    let before = app.snapshot(&token).await;

    let body = app
        .transfer(&token, source, &destination_number, "10.01")
        .await
        .expect(StatusCode::BAD_REQUEST);

    assert_eq!(
        body,
        json!({ "detail": "Insufficient funds.", "code": "insufficient_funds" })
    );
    assert_eq!(app.snapshot(&token).await, before);
}

#[tokio::test]
async fn transfer_to_a_closed_account_is_refused_and_moves_nothing() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (source, _) = app.funded_account(&alice, "10.00").await;
    let (closed, closed_number) = app.open_account(&bob).await;
    app.delete(&format!("/api/accounts/{closed}/"), &bob)
        .await
        .expect(StatusCode::NO_CONTENT);
    let (alice_before, bob_before) = (app.snapshot(&alice).await, app.snapshot(&bob).await);

    let response = app.transfer(&alice, source, &closed_number, "1.00").await;

    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_detail(&response.body, "account_closed");
    assert_eq!(app.snapshot(&alice).await, alice_before);
    assert_eq!(app.snapshot(&bob).await, bob_before);
}

#[tokio::test]
async fn json_number_amounts_are_read_exactly() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    let path = format!("/api/accounts/{id}/deposit/");
    let cases = [
        ("0.07", "0.07"),
        ("10.1", "10.17"),
        ("1e2", "110.17"),
        ("3", "113.17"),
    ];

    for (literal, expected_balance) in cases {
        let request = app
            .raw(reqwest::Method::POST, &path)
            .header("Authorization", format!("Token {token}"))
            .header("Content-Type", "application/json")
            .body(format!("{{\"amount\": {literal}}}"));

        let body = app.send(request).await.expect(StatusCode::OK);

        assert_eq!(body["new_balance"], expected_balance, "amount {literal}");
    }
    let rows = app.transactions(&token, "").await;
    let amounts: Vec<&str> = rows["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|row| text(row, "amount"))
        .collect();
    assert_eq!(amounts, ["3.00", "100.00", "10.10", "0.07"]);
}

#[tokio::test]
async fn the_largest_amount_is_accepted_and_one_cent_more_refused() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;

    let accepted = app.deposit(&token, id, "9999999999.99").await;
    let refused = app.deposit(&token, id, "10000000000.00").await;

    assert_eq!(
        accepted.expect(StatusCode::OK)["new_balance"],
        "9999999999.99"
    );
    let body = refused.expect(StatusCode::BAD_REQUEST);
    assert_eq!(keys(&body), ["amount"], "{body}");
    assert_eq!(app.balance(&token, id).await, "9999999999.99");
    assert_eq!(app.transaction_count(&token).await, 1);
}

#[tokio::test]
async fn a_movement_that_would_pass_the_balance_cap_is_refused() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (rich, rich_number) = app.open_account(&token).await;
    let (sender, _) = app.funded_account(&token, "5.00").await;
    // Reaching the cap through the API takes a million maximum deposits.
    let sql = "UPDATE accounts SET balance_cents = ?1 WHERE id = ?2";
    assert_eq!(
        app.execute_sql(sql, [999_999_999_999_999_999 - 50, rich]),
        1
    );
    let before = app.snapshot(&token).await;

    let deposit = app.deposit(&token, rich, "0.51").await;
    let transfer = app.transfer(&token, sender, &rich_number, "0.51").await;

    assert_eq!(deposit.status, StatusCode::BAD_REQUEST);
    assert_detail(&deposit.body, "balance_limit_exceeded");
    assert_eq!(transfer.status, StatusCode::BAD_REQUEST);
    assert_detail(&transfer.body, "balance_limit_exceeded");
    assert_eq!(app.snapshot(&token).await, before);
    let to_the_cap = app
        .deposit(&token, rich, "0.50")
        .await
        .expect(StatusCode::OK);
    assert_eq!(to_the_cap["new_balance"], "9999999999999999.99");
}

#[tokio::test]
async fn a_movement_without_an_amount_reports_the_field() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "1.00").await;

    let deposit = app
        .post(&format!("/api/accounts/{id}/deposit/"), &token, json!({}))
        .await
        .expect(StatusCode::BAD_REQUEST);
    let transfer = app
        .post(&format!("/api/accounts/{id}/transfer/"), &token, json!({}))
        .await
        .expect(StatusCode::BAD_REQUEST);

    assert_eq!(deposit, json!({ "amount": ["This field is required."] }));
    assert_eq!(
        transfer["to_account_number"],
        json!(["This field is required."])
    );
    assert_eq!(transfer["amount"], json!(["This field is required."]));
}

#[tokio::test]
async fn a_frozen_account_refuses_every_movement_in_or_out_but_stays_listed() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (frozen, frozen_number) = app.funded_account(&token, "50.00").await;
    let (other, other_number) = app.funded_account(&token, "10.00").await;
    // Freezing is a staff action that has no route yet.
    let sql = "UPDATE accounts SET status = 'frozen' WHERE id = ?1";
    assert_eq!(app.execute_sql(sql, [frozen]), 1);
    let before = app.snapshot(&token).await;

    let refused = [
        app.deposit(&token, frozen, "1.00").await,
        app.withdraw(&token, frozen, "1.00").await,
        app.transfer(&token, frozen, &other_number, "1.00").await,
        app.transfer(&token, other, &frozen_number, "1.00").await,
    ];

    for response in refused {
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{}",
            response.body
        );
        assert_detail(&response.body, "account_frozen");
    }
    assert_eq!(app.snapshot(&token).await, before);
    let list = app
        .get("/api/accounts/", &token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(list["count"], 2);
    assert_eq!(app.account(&token, frozen).await["status"], "frozen");
}
