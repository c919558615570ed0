//! Statements (contract §7, issue 3): figures that add up for any range, day boundaries in UTC,
//! validation, list / detail / CSV, owner scoping, and a cost independent of history.
//!
//! Past activity is written straight into the ledger with SQL (the API only posts "now"), kept
//! consistent: `balance_after_cents` chained, and the account's balance and transaction count
//! updated to match. The ledger's immutability triggers allow inserts.

use chrono::{Days, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_field_error, cents, id_of, keys, not_found, spawn_app, text};

/// A ledger row written with SQL.
struct Posting {
    kind: &'static str,
    amount_cents: i64,
    balance_after_cents: i64,
    created_at: &'static str,
}

/// Appends `postings` (in order) to the account's ledger and brings the account row in line.
fn insert_postings(app: &TestApp, account: i64, postings: &[Posting]) {
    for posting in postings {
        app.execute_sql(
            "INSERT INTO transactions (id, account_id, customer_id, transaction_type, amount_cents,
                 balance_after_cents, description, created_at)
             VALUES ((SELECT coalesce(max(id), 0) + 1 FROM transactions), ?1,
                 (SELECT customer_id FROM accounts WHERE id = ?1), ?2, ?3, ?4, 'crafted', ?5)",
            rusqlite::params![
                account,
                posting.kind,
                posting.amount_cents,
                posting.balance_after_cents,
                posting.created_at
            ],
        );
    }
    let last = postings.last().expect("at least one posting");
    app.execute_sql(
        "UPDATE accounts SET balance_cents = ?1, transaction_count = transaction_count + ?2 WHERE id = ?3",
        rusqlite::params![last.balance_after_cents, postings.len() as i64, account],
    );
}

/// `POST /api/accounts/{account}/statements/` for `start..=end`.
async fn generate(
    app: &TestApp,
    token: &str,
    account: i64,
    start: &str,
    end: &str,
) -> crate::helpers::ApiResponse {
    app.post(
        &format!("/api/accounts/{account}/statements/"),
        token,
        json!({ "start_date": start, "end_date": end }),
    )
    .await
}

/// Asserts the statement's figures: opening, deposits, withdrawals, closing (as money
/// strings) and count, and that they add up.
#[track_caller]
fn assert_figures(statement: &Value, figures: [&str; 4], count: u64) {
    let [opening, deposits, withdrawals, closing] = figures;
    assert_eq!(statement["opening_balance"], opening, "{statement}");
    assert_eq!(statement["total_deposits"], deposits, "{statement}");
    assert_eq!(statement["total_withdrawals"], withdrawals, "{statement}");
    assert_eq!(statement["closing_balance"], closing, "{statement}");
    assert_eq!(statement["transaction_count"], count, "{statement}");
    assert_eq!(
        cents(text(statement, "opening_balance")) + cents(text(statement, "total_deposits"))
            - cents(text(statement, "total_withdrawals")),
        cents(text(statement, "closing_balance")),
        "{statement}"
    );
}

fn today() -> chrono::NaiveDate {
    Utc::now().date_naive()
}

/// Yesterday and today (UTC) as statement dates: a range that holds the activity of the last
/// few seconds even if midnight passed while the test ran. Call it after the activity.
fn recent_days() -> (String, String) {
    let today = today();
    let yesterday = today.pred_opt().expect("a date");
    (yesterday.to_string(), today.to_string())
}

/// An account whose ledger crosses the midnight between 2024-03-10 and 2024-03-11.
async fn account_across_midnight(app: &TestApp, token: &str) -> i64 {
    let (account, _) = app.open_account(token).await;
    insert_postings(
        app,
        account,
        &[
            Posting {
                kind: "deposit",
                amount_cents: 10_000,
                balance_after_cents: 10_000,
                created_at: "2024-03-09T12:00:00.000000Z",
            },
            Posting {
                kind: "deposit",
                amount_cents: 2_000,
                balance_after_cents: 12_000,
                created_at: "2024-03-10T00:00:00.000000Z",
            },
            Posting {
                kind: "withdrawal",
                amount_cents: 525,
                balance_after_cents: 11_475,
                created_at: "2024-03-10T23:59:59.999999Z",
            },
            Posting {
                kind: "deposit",
                amount_cents: 5_000,
                balance_after_cents: 16_475,
                created_at: "2024-03-11T00:00:00.000000Z",
            },
        ],
    );
    account
}

#[tokio::test]
async fn a_days_statement_includes_its_last_microsecond_and_not_the_next_midnight() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let account = account_across_midnight(&app, &token).await;

    let day = generate(&app, &token, account, "2024-03-10", "2024-03-10").await;

    let day = day.expect(StatusCode::CREATED);
    assert_figures(&day, ["100.00", "20.00", "5.25", "114.75"], 2);
    let times: Vec<&str> = day["transactions"]["results"]
        .as_array()
        .expect("transactions")
        .iter()
        .map(|row| text(row, "created_at"))
        .collect();
    assert_eq!(
        times,
        ["2024-03-10T00:00:00.000000Z", "2024-03-10T23:59:59.999999Z"]
    );
}

#[tokio::test]
async fn the_next_days_statement_starts_at_midnight_with_the_previous_closing_balance() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let account = account_across_midnight(&app, &token).await;

    let next_day = generate(&app, &token, account, "2024-03-11", "2024-03-11").await;
    let day_before = generate(&app, &token, account, "2024-03-09", "2024-03-09").await;
    let all_three = generate(&app, &token, account, "2024-03-09", "2024-03-11").await;

    let next_day = next_day.expect(StatusCode::CREATED);
    assert_figures(&next_day, ["114.75", "50.00", "0.00", "164.75"], 1);
    assert_eq!(
        next_day["transactions"]["results"][0]["created_at"],
        "2024-03-11T00:00:00.000000Z"
    );
    assert_figures(
        &day_before.expect(StatusCode::CREATED),
        ["0.00", "100.00", "0.00", "100.00"],
        1,
    );
    assert_figures(
        &all_three.expect(StatusCode::CREATED),
        ["0.00", "170.00", "5.25", "164.75"],
        4,
    );
    assert_eq!(app.balance(&token, account).await, "164.75");
}

#[tokio::test]
async fn transfers_count_as_deposits_and_withdrawals_and_rows_come_oldest_first() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let other = app.new_user().await;
    let (account, number) = app.funded_account(&token, "100.00").await;
    let (_, other_number) = app.open_account(&token).await;
    let (stranger, _) = app.funded_account(&other, "50.00").await;
    app.transfer(&token, account, &other_number, "30.00")
        .await
        .expect(StatusCode::OK);
    app.transfer(&other, stranger, &number, "10.00")
        .await
        .expect(StatusCode::OK);
    app.withdraw(&token, account, "5.00")
        .await
        .expect(StatusCode::OK);
    let (yesterday, today) = recent_days();

    let statement = generate(&app, &token, account, &yesterday, &today).await;

    let statement = statement.expect(StatusCode::CREATED);
    assert_figures(&statement, ["0.00", "110.00", "35.00", "75.00"], 4);
    let types: Vec<&str> = statement["transactions"]["results"]
        .as_array()
        .expect("transactions")
        .iter()
        .map(|row| text(row, "transaction_type"))
        .collect();
    assert_eq!(
        types,
        ["deposit", "transfer_out", "transfer_in", "withdrawal"]
    );
    assert_eq!(statement["account"], account);
    assert_eq!(statement["account_number"], number.as_str());
    assert_eq!(statement["start_date"], yesterday.as_str());
    assert_eq!(statement["end_date"], today.as_str());
}

#[tokio::test]
async fn a_range_without_activity_has_zero_totals_and_no_transactions() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let account = account_across_midnight(&app, &token).await;

    let before_any = generate(&app, &token, account, "2023-01-01", "2023-12-31").await;
    let between = generate(&app, &token, account, "2024-04-01", "2024-04-30").await;

    let before_any = before_any.expect(StatusCode::CREATED);
    assert_figures(&before_any, ["0.00", "0.00", "0.00", "0.00"], 0);
    assert_eq!(before_any["transactions"]["results"], json!([]));
    assert_eq!(before_any["transactions"]["count"], 0);
    let between = between.expect(StatusCode::CREATED);
    assert_figures(&between, ["164.75", "0.00", "0.00", "164.75"], 0);
    assert_eq!(between["transactions"]["results"], json!([]));
}

#[tokio::test]
async fn a_closed_account_still_gets_statements() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.funded_account(&token, "40.00").await;
    app.withdraw(&token, account, "40.00")
        .await
        .expect(StatusCode::OK);
    app.delete(&format!("/api/accounts/{account}/"), &token)
        .await
        .expect(StatusCode::NO_CONTENT);
    let (yesterday, today) = recent_days();

    let statement = generate(&app, &token, account, &yesterday, &today).await;

    assert_figures(
        &statement.expect(StatusCode::CREATED),
        ["0.00", "40.00", "40.00", "0.00"],
        2,
    );
}

#[tokio::test]
async fn bad_dates_and_ranges_are_refused_and_store_nothing() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let today = today();
    let tomorrow = today.checked_add_days(Days::new(1)).expect("a date");
    let long_ago = today.checked_sub_days(Days::new(366)).expect("a date");
    let path = format!("/api/accounts/{account}/statements/");

    let cases = [
        (
            json!({ "start_date": "2024-03-02", "end_date": "2024-03-01" }),
            "non_field_errors",
        ),
        (
            json!({ "start_date": long_ago.to_string(), "end_date": today.to_string() }),
            "non_field_errors",
        ),
        (
            json!({ "start_date": today.to_string(), "end_date": tomorrow.to_string() }),
            "end_date",
        ),
        (
            json!({ "start_date": "2023-02-29", "end_date": "2023-03-01" }),
            "start_date",
        ),
        (
            json!({ "start_date": "2024/01/01", "end_date": "2024-01-02" }),
            "start_date",
        ),
        (
            json!({ "start_date": "2024-01-01", "end_date": "yesterday" }),
            "end_date",
        ),
        (
            json!({ "start_date": "", "end_date": "2024-01-02" }),
            "start_date",
        ),
        (
            json!({ "start_date": 20240101, "end_date": "2024-01-02" }),
            "start_date",
        ),
        (json!({ "end_date": "2024-01-02" }), "start_date"),
        (json!({ "start_date": "2024-01-01" }), "end_date"),
    ];
    for (body, field) in cases {
        let refused = app.post(&path, &token, body.clone()).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            refused.body
        );
        assert_field_error(&refused.body, field);
    }

    let list = app
        .get("/api/statements/", &token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(list["count"], 0, "{list}");
}

#[tokio::test]
async fn a_range_of_exactly_366_days_ending_today_is_allowed() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.funded_account(&token, "1.00").await;
    let today = today();
    let start = today.checked_sub_days(Days::new(365)).expect("a date");

    let statement = generate(
        &app,
        &token,
        account,
        &start.to_string(),
        &today.to_string(),
    )
    .await;

    assert_figures(
        &statement.expect(StatusCode::CREATED),
        ["0.00", "1.00", "0.00", "1.00"],
        1,
    );
}

#[tokio::test]
async fn the_list_omits_transactions_and_the_detail_includes_them() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let account = account_across_midnight(&app, &token).await;
    let (other_account, _) = app.open_account(&token).await;
    let first = generate(&app, &token, account, "2024-03-10", "2024-03-10")
        .await
        .expect(StatusCode::CREATED);
    let second = generate(&app, &token, account, "2024-03-09", "2024-03-11")
        .await
        .expect(StatusCode::CREATED);
    generate(&app, &token, other_account, "2024-03-09", "2024-03-11")
        .await
        .expect(StatusCode::CREATED);

    let list = app
        .get("/api/statements/", &token)
        .await
        .expect(StatusCode::OK);
    let of_account = app
        .get(&format!("/api/accounts/{account}/statements/"), &token)
        .await
        .expect(StatusCode::OK);
    let detail = app
        .get(&format!("/api/statements/{}/", id_of(&first, "id")), &token)
        .await
        .expect(StatusCode::OK);

    assert_eq!(list["count"], 3);
    assert_eq!(of_account["count"], 2);
    let listed = of_account["results"].as_array().expect("results");
    assert!(
        listed.iter().all(|row| row.get("transactions").is_none()),
        "{of_account}"
    );
    let listed_ids: Vec<i64> = listed.iter().map(|row| id_of(row, "id")).collect();
    assert!(
        listed_ids.contains(&id_of(&first, "id")) && listed_ids.contains(&id_of(&second, "id"))
    );
    assert_eq!(
        keys(&listed[0]),
        [
            "account",
            "account_number",
            "closing_balance",
            "end_date",
            "generated_at",
            "id",
            "opening_balance",
            "start_date",
            "total_deposits",
            "total_withdrawals",
            "transaction_count",
        ]
    );
    assert_eq!(detail, first);
    assert_eq!(
        detail["transactions"]["results"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(detail["transactions"]["results"][0]["amount"], "20.00");
    assert_eq!(detail["transactions"]["results"][1]["amount"], "5.25");
}

#[tokio::test]
async fn a_stored_statement_does_not_change_when_money_moves_later_the_same_day() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.funded_account(&token, "10.00").await;
    let (yesterday, today) = recent_days();
    let statement = generate(&app, &token, account, &yesterday, &today)
        .await
        .expect(StatusCode::CREATED);

    app.deposit(&token, account, "5.00")
        .await
        .expect(StatusCode::OK);
    let later = app
        .get(
            &format!("/api/statements/{}/", id_of(&statement, "id")),
            &token,
        )
        .await
        .expect(StatusCode::OK);

    assert_eq!(later, statement);
    assert_figures(&later, ["0.00", "10.00", "0.00", "10.00"], 1);
}

#[tokio::test]
async fn the_csv_download_has_a_filename_and_one_row_per_transaction() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let account = account_across_midnight(&app, &token).await;
    let statement = generate(&app, &token, account, "2024-03-09", "2024-03-11")
        .await
        .expect(StatusCode::CREATED);
    let id = id_of(&statement, "id");

    let csv = app
        .get(&format!("/api/statements/{id}/?format=csv"), &token)
        .await;

    assert_eq!(csv.status, StatusCode::OK);
    let content_type = csv.header("content-type").expect("a content type");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let disposition = csv.header("content-disposition").expect("a disposition");
    assert!(
        disposition.starts_with("attachment")
            && disposition.contains("filename=")
            && disposition.contains(".csv"),
        "{disposition}"
    );
    let body = csv.body.as_str().expect("CSV text");
    let lines: Vec<&str> = body.lines().filter(|line| !line.is_empty()).collect();
    assert_eq!(lines.len(), 1 + 4, "{body}");
    assert!(lines[0].contains("amount"), "a header row: {body}");
    let amount_column = lines[0]
        .split(',')
        .position(|name| name == "amount")
        .expect("an amount column");
    let signed_total: i64 = lines[1..]
        .iter()
        .map(|line| {
            let amount = line.split(',').nth(amount_column).expect("an amount");
            match amount.strip_prefix('-') {
                Some(debit) => -cents(debit),
                None => cents(amount),
            }
        })
        .sum();
    assert_eq!(signed_total, cents("164.75") - cents("0.00"), "{body}");
}

#[tokio::test]
async fn another_users_statements_and_accounts_are_not_found() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (account, _) = app.funded_account(&alice, "10.00").await;
    let today = today().to_string();
    let statement = generate(&app, &alice, account, &today, &today)
        .await
        .expect(StatusCode::CREATED);
    let id = id_of(&statement, "id");

    let detail = app.get(&format!("/api/statements/{id}/"), &bob).await;
    let csv = app
        .get(&format!("/api/statements/{id}/?format=csv"), &bob)
        .await;
    let generate_on_theirs = generate(&app, &bob, account, &today, &today).await;
    let invalid_on_theirs = generate(&app, &bob, account, "nonsense", &today).await;
    let list_of_theirs = app
        .get(&format!("/api/accounts/{account}/statements/"), &bob)
        .await;
    let bobs_list = app
        .get("/api/statements/", &bob)
        .await
        .expect(StatusCode::OK);

    for response in [
        detail,
        csv,
        generate_on_theirs,
        invalid_on_theirs,
        list_of_theirs,
    ] {
        assert_eq!(response.expect(StatusCode::NOT_FOUND), not_found());
    }
    assert_eq!(bobs_list["count"], 0);
    let alices_list = app
        .get("/api/statements/", &alice)
        .await
        .expect(StatusCode::OK);
    assert_eq!(alices_list["count"], 1);
}

/// Inserts `count` one-cent deposits, one a second from `start`, the first landing on
/// `opening_cents + 1`: one SQL statement, so one transaction.
fn insert_cent_deposits(app: &TestApp, account: i64, count: i64, start: &str, opening_cents: i64) {
    let inserted = app.execute_sql(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
         INSERT INTO transactions (id, account_id, customer_id, transaction_type, amount_cents,
             balance_after_cents, description, created_at)
         SELECT (SELECT coalesce(max(id), 0) FROM transactions) + i, ?1,
             (SELECT customer_id FROM accounts WHERE id = ?1), 'deposit', 1, ?4 + i, '',
             strftime('%Y-%m-%dT%H:%M:%S', ?3, '+' || i || ' seconds') || '.000000Z'
         FROM n",
        rusqlite::params![account, count, start, opening_cents],
    );
    assert_eq!(inserted, usize::try_from(count).expect("a count"));
}

#[tokio::test]
async fn a_statement_on_an_account_with_100k_transactions_outside_its_range_is_right() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    insert_cent_deposits(&app, account, 60_000, "2024-01-01", 0);
    insert_postings(
        &app,
        account,
        &[
            Posting {
                kind: "deposit",
                amount_cents: 50_000,
                balance_after_cents: 110_000,
                created_at: "2024-06-10T00:00:00.000000Z",
            },
            Posting {
                kind: "withdrawal",
                amount_cents: 20_000,
                balance_after_cents: 90_000,
                created_at: "2024-06-11T12:00:00.000000Z",
            },
            Posting {
                kind: "deposit",
                amount_cents: 1,
                balance_after_cents: 90_001,
                created_at: "2024-06-12T23:59:59.999999Z",
            },
        ],
    );
    insert_cent_deposits(&app, account, 40_000, "2024-08-01", 90_001);
    app.execute_sql(
        "UPDATE accounts SET balance_cents = 130001, transaction_count = 100003 WHERE id = ?1",
        [account],
    );

    let statement = generate(&app, &token, account, "2024-06-10", "2024-06-12").await;

    let statement = statement.expect(StatusCode::CREATED);
    assert_figures(&statement, ["600.00", "500.01", "200.00", "900.01"], 3);
    assert_eq!(
        statement["transactions"]["results"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    assert_eq!(app.balance(&token, account).await, "1300.01");
    let between = generate(&app, &token, account, "2024-06-13", "2024-07-31")
        .await
        .expect(StatusCode::CREATED);
    let after_all = generate(&app, &token, account, "2024-08-02", "2024-08-02")
        .await
        .expect(StatusCode::CREATED);
    assert_figures(&between, ["900.01", "0.00", "0.00", "900.01"], 0);
    assert_figures(&after_all, ["1300.01", "0.00", "0.00", "1300.01"], 0);
}
