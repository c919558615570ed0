//! The staff lists as a person reads them (issue #12 item 4): every account, transaction and
//! audit row carries the owner's (or actor's) username next to the id, and the lists filter by
//! username and account number, so the console's staff pages need no id lookups.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, assert_detail, spawn_app, text};

async fn staff_list(app: &TestApp, staff: &str, path: &str) -> Vec<Value> {
    let body = app.get(path, staff).await.expect(StatusCode::OK);
    body["results"].as_array().expect("results").clone()
}

#[tokio::test]
async fn staff_accounts_and_transactions_name_their_owner() {
    let app = spawn_app().await;
    let (_, staff) = app.new_staff_user().await;
    let (alice, alice_token) = app.new_named_user().await;
    let (bob, bob_token) = app.new_named_user().await;
    let (alice_account, _) = app.funded_account(&alice_token, "10.00").await;
    let (bob_account, _) = app.funded_account(&bob_token, "20.00").await;

    let accounts = staff_list(&app, &staff, "/api/admin/accounts/").await;
    let transactions = staff_list(&app, &staff, "/api/admin/transactions/").await;

    let owner_of = |rows: &[Value], field: &str, id: i64| -> String {
        rows.iter()
            .find(|row| row[field] == id)
            .map(|row| text(row, "username").to_owned())
            .unwrap_or_default()
    };
    assert_eq!(owner_of(&accounts, "id", alice_account), alice);
    assert_eq!(owner_of(&accounts, "id", bob_account), bob);
    assert_eq!(owner_of(&transactions, "account", alice_account), alice);
    assert_eq!(owner_of(&transactions, "account", bob_account), bob);
}

#[tokio::test]
async fn customers_never_see_the_staff_only_username_fields() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.funded_account(&token, "5.00").await;

    let own_account = app.account(&token, account).await;
    let own_transactions = app.transactions(&token, "").await;

    assert!(own_account.get("username").is_none(), "{own_account}");
    let first = &own_transactions["results"][0];
    assert!(first.get("username").is_none(), "{first}");
}

#[tokio::test]
async fn audit_rows_name_their_actor_and_anonymous_rows_say_null() {
    let app = spawn_app().await;
    let (staff_name, staff) = app.new_staff_user().await;
    let (alice, alice_token) = app.new_named_user().await;
    app.open_account(&alice_token).await;
    // A failed login for nobody: an audit row without an actor.
    app.post(
        "/api/get-token/",
        "",
        serde_json::json!({ "username": "nobody-here", "password": "wrong-password" }),
    )
    .await;

    let rows = staff_list(&app, &staff, "/api/admin/audit/?page_size=100").await;

    for row in &rows {
        match row["actor_user_id"].as_i64() {
            Some(id) if id == app.user_id(&alice) => assert_eq!(row["actor_username"], alice),
            Some(id) if id == app.user_id(&staff_name) => {
                assert_eq!(row["actor_username"], staff_name.as_str());
            }
            Some(_) => assert!(row["actor_username"].is_string(), "{row}"),
            None => assert!(row["actor_username"].is_null(), "{row}"),
        }
    }
    assert!(
        rows.iter()
            .any(|row| row["actor_username"] == alice.as_str())
    );
    assert!(rows.iter().any(|row| row["actor_username"].is_null()));
}

#[tokio::test]
async fn staff_lists_filter_by_username_in_any_case_and_by_account_number() {
    let app = spawn_app().await;
    let (_, staff) = app.new_staff_user().await;
    let (alice, alice_token) = app.new_named_user().await;
    let (_, bob_token) = app.new_named_user().await;
    let (alice_account, alice_number) = app.funded_account(&alice_token, "10.00").await;
    app.funded_account(&bob_token, "20.00").await;
    let shouted = alice.to_uppercase();

    let accounts = staff_list(
        &app,
        &staff,
        &format!("/api/admin/accounts/?username={shouted}"),
    )
    .await;
    let transactions = staff_list(
        &app,
        &staff,
        &format!("/api/admin/transactions/?username={shouted}"),
    )
    .await;
    let by_number = staff_list(
        &app,
        &staff,
        &format!("/api/admin/transactions/?account_number={alice_number}"),
    )
    .await;
    let audit = staff_list(&app, &staff, &format!("/api/admin/audit/?username={alice}")).await;
    let audit_by_number = staff_list(
        &app,
        &staff,
        &format!("/api/admin/audit/?account_number={alice_number}"),
    )
    .await;

    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["id"], alice_account);
    assert!(!transactions.is_empty());
    assert!(
        transactions
            .iter()
            .all(|row| row["username"] == alice.as_str())
    );
    assert_eq!(by_number.len(), transactions.len());
    assert!(!audit.is_empty());
    assert!(
        audit
            .iter()
            .all(|row| row["actor_username"] == alice.as_str())
    );
    assert!(!audit_by_number.is_empty());
    assert!(
        audit_by_number
            .iter()
            .all(|row| row["object_id"] == alice_account)
    );
}

#[tokio::test]
async fn a_username_or_account_number_that_names_nothing_lists_nothing() {
    let app = spawn_app().await;
    let (_, staff) = app.new_staff_user().await;
    let (alice, alice_token) = app.new_named_user().await;
    let (alice_account, _) = app.funded_account(&alice_token, "10.00").await;
    let alice_id = app.user_id(&alice);

    for path in [
        "/api/admin/accounts/?username=nobody".to_owned(),
        "/api/admin/transactions/?username=nobody".to_owned(),
        "/api/admin/transactions/?account_number=ACC-000000000".to_owned(),
        "/api/admin/audit/?username=nobody".to_owned(),
        "/api/admin/audit/?account_number=ACC-000000000".to_owned(),
        // A username and a user id that disagree.
        format!(
            "/api/admin/audit/?username={alice}&user={}",
            alice_id + 1000
        ),
        format!("/api/admin/audit/?account_number=ACC-000000000&account={alice_account}"),
        "/api/admin/audit/?username=%27%20OR%201%3D1%20--".to_owned(),
    ] {
        let body = app.get(&path, &staff).await.expect(StatusCode::OK);
        assert_eq!(body["count"], 0, "{path}: {body}");
        assert_eq!(body["results"], serde_json::json!([]), "{path}");
    }
}

#[tokio::test]
async fn a_customer_using_the_new_filters_is_still_refused() {
    let app = spawn_app().await;
    let (alice, token) = app.new_named_user().await;

    let body = app
        .get(&format!("/api/admin/audit/?username={alice}"), &token)
        .await
        .expect(StatusCode::FORBIDDEN);

    assert_detail(&body, "permission_denied");
}
