//! The read-only ledger (contract §5) and the pagination envelope (contract §1).

use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};

use crate::helpers::{TestApp, id_of, keys, not_found, spawn_app, spawn_app_with, text};

const TRANSACTION_FIELDS: [&str; 10] = [
    "account",
    "account_number",
    "amount",
    "balance_after",
    "counterparty_account_number",
    "created_at",
    "description",
    "id",
    "transaction_type",
    "transfer_id",
];

fn results(list: &Value) -> &Vec<Value> {
    list["results"].as_array().expect("results")
}

fn amounts(list: &Value) -> Vec<&str> {
    results(list)
        .iter()
        .map(|row| text(row, "amount"))
        .collect()
}

/// Deposits `count` times 1.00, 2.00, ... into `account_id`.
async fn deposits(app: &TestApp, token: &str, account_id: i64, count: u32) {
    for n in 1..=count {
        app.deposit(token, account_id, &format!("{n}.00"))
            .await
            .expect(StatusCode::OK);
    }
}

/// The query parameters of a pagination link, after checking it is an absolute URL to `path`.
#[track_caller]
fn link_query(app: &TestApp, link: &Value, path: &str) -> Vec<(String, String)> {
    let link = link.as_str().unwrap_or_else(|| panic!("no link: {link}"));
    let url = Url::parse(link).unwrap_or_else(|_| panic!("not absolute: {link}"));
    assert_eq!(url.origin().ascii_serialization(), app.address, "{link}");
    assert_eq!(url.path(), path, "{link}");
    let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    pairs.sort();
    pairs
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = list
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    pairs.sort();
    pairs
}

#[tokio::test]
async fn transactions_are_listed_newest_first_with_every_field() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    deposits(&app, &token, id, 3).await;

    let list = app.transactions(&token, "").await;

    assert_eq!(list["count"], 3);
    assert_eq!(amounts(&list), ["3.00", "2.00", "1.00"]);
    let balances: Vec<&str> = results(&list)
        .iter()
        .map(|row| text(row, "balance_after"))
        .collect();
    assert_eq!(balances, ["6.00", "3.00", "1.00"]);
    for row in results(&list) {
        assert_eq!(keys(row), TRANSACTION_FIELDS);
        let created_at = text(row, "created_at");
        assert!(created_at.ends_with('Z'), "{created_at}");
        chrono::DateTime::parse_from_rfc3339(created_at).expect("RFC 3339");
    }
    let newest = &results(&list)[0];
    let read = app
        .get(
            &format!("/api/transactions/{}/", id_of(newest, "id")),
            &token,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(&read, newest);
}

/// Every row of the caller's list, page by page (`page_size` rows a page), after `query`.
async fn every_page(app: &TestApp, token: &str, query: &str, page_size: u32) -> Vec<Value> {
    let mut rows = Vec::new();
    for page in 1.. {
        let list = app
            .transactions(token, &format!("?page_size={page_size}&page={page}{query}"))
            .await;
        rows.extend(results(&list).iter().cloned());
        if list["next"].is_null() {
            assert_eq!(list["count"], rows.len(), "count agrees with the rows");
            return rows;
        }
    }
    unreachable!()
}

/// The ledger is clustered by account: a customer's list is a merge of their accounts' ranges
/// (a sort past 32 accounts with postings). Either way it must be exactly posting order,
/// newest first, across accounts and pages, with and without filters.
#[tokio::test]
async fn a_customers_list_interleaves_all_their_accounts_in_posting_order() {
    let app = spawn_app_with(|config| config.max_accounts_per_customer = 40).await;
    for accounts in [3_usize, 34] {
        let token = app.new_user().await;
        let mut opened = Vec::new();
        for _ in 0..accounts {
            opened.push(app.open_account(&token).await);
        }
        // Postings hop between accounts (7 is coprime with 3 and 34), with a transfer every
        // fifth posting; amounts rise with posting order so the expected list is easy to state.
        let mut posted = Vec::new();
        for n in 1..=45_usize {
            let (id, _) = &opened[(n * 7) % accounts];
            let amount = format!("{n}.00");
            app.deposit(&token, *id, &amount)
                .await
                .expect(StatusCode::OK);
            posted.push(amount.clone());
            if n % 5 == 0 {
                let (_, to_number) = &opened[(n * 7 + 1) % accounts];
                app.transfer(&token, *id, to_number, "0.50")
                    .await
                    .expect(StatusCode::OK);
                // Out leg, then in leg: newest first the in leg comes before the out leg.
                posted.push("0.50".to_owned());
                posted.push("0.50".to_owned());
            }
        }
        let newest_first: Vec<&str> = posted.iter().rev().map(String::as_str).collect();

        let rows = every_page(&app, &token, "", 7).await;

        let listed: Vec<&str> = rows.iter().map(|row| text(row, "amount")).collect();
        assert_eq!(listed, newest_first, "{accounts} accounts");
        let ids: Vec<i64> = rows.iter().map(|row| id_of(row, "id")).collect();
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "ids fall: {ids:?}");
        let times: Vec<&str> = rows.iter().map(|row| text(row, "created_at")).collect();
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "times fall: {times:?}"
        );
        let pairs: Vec<(&str, &str)> = rows
            .iter()
            .map(|row| (text(row, "transaction_type"), text(row, "amount")))
            .collect();
        assert_eq!(pairs[0], ("transfer_in", "0.50"));
        assert_eq!(pairs[1], ("transfer_out", "0.50"));

        // A filter that keeps some rows of every account: the count and the merge both apply it.
        let filtered = every_page(&app, &token, "&min_amount=10&transaction_type=deposit", 4).await;
        let expected: Vec<&str> = newest_first
            .iter()
            .copied()
            .filter(|amount| amount.parse::<f64>().is_ok_and(|a| a >= 10.0))
            .collect();
        let listed: Vec<&str> = filtered.iter().map(|row| text(row, "amount")).collect();
        assert_eq!(listed, expected, "{accounts} accounts, filtered");
    }
}

#[tokio::test]
async fn transactions_filter_by_account_and_type() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (first, _) = app.funded_account(&token, "50.00").await;
    let (second, second_number) = app.funded_account(&token, "7.00").await;
    app.withdraw(&token, first, "5.00")
        .await
        .expect(StatusCode::OK);
    app.transfer(&token, first, &second_number, "10.00")
        .await
        .expect(StatusCode::OK);

    let of_second = app
        .transactions(&token, &format!("?account={second}"))
        .await;
    let cases = [
        ("deposit", vec!["7.00", "50.00"]),
        ("withdrawal", vec!["5.00"]),
        ("transfer_out", vec!["10.00"]),
        ("transfer_in", vec!["10.00"]),
    ];

    assert_eq!(of_second["count"], 2);
    assert!(
        results(&of_second)
            .iter()
            .all(|row| row["account"] == second)
    );
    for (kind, expected) in cases {
        let list = app
            .transactions(&token, &format!("?transaction_type={kind}"))
            .await;
        assert_eq!(amounts(&list), expected, "{kind}");
        assert_eq!(list["count"], expected.len(), "{kind}");
    }
    let both = app
        .transactions(
            &token,
            &format!("?account={first}&transaction_type=deposit"),
        )
        .await;
    assert_eq!(amounts(&both), ["50.00"]);
}

#[tokio::test]
async fn transactions_filter_by_inclusive_utc_dates() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "1.00").await;
    let list = app.transactions(&token, "").await;
    let day: chrono::NaiveDate = text(&results(&list)[0], "created_at")[..10]
        .parse()
        .expect("a date");
    let (before, after) = (day.pred_opt().expect("day"), day.succ_opt().expect("day"));
    let cases = [
        (format!("?date_from={day}"), 1),
        (format!("?date_to={day}"), 1),
        (format!("?date_from={day}&date_to={day}"), 1),
        (
            format!("?date_from={before}&date_to={after}&account={id}"),
            1,
        ),
        (format!("?date_from={after}"), 0),
        (format!("?date_to={before}"), 0),
    ];

    for (query, expected) in cases {
        let list = app.transactions(&token, &query).await;

        assert_eq!(list["count"], expected, "{query}");
        assert_eq!(results(&list).len(), expected, "{query}");
    }
}

#[tokio::test]
async fn transactions_filter_by_inclusive_amounts() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    for amount in ["5.00", "50.00", "500.00"] {
        app.deposit(&token, id, amount).await.expect(StatusCode::OK);
    }
    let cases = [
        ("?min_amount=10", vec!["500.00", "50.00"]),
        ("?min_amount=50.00", vec!["500.00", "50.00"]),
        ("?max_amount=50", vec!["50.00", "5.00"]),
        ("?min_amount=5.01&max_amount=499.99", vec!["50.00"]),
        ("?min_amount=0", vec!["500.00", "50.00", "5.00"]),
        ("?min_amount=501", vec![]),
    ];

    for (query, expected) in cases {
        let list = app.transactions(&token, query).await;

        assert_eq!(amounts(&list), expected, "{query}");
        assert_eq!(list["count"], expected.len(), "{query}");
    }
}

#[tokio::test]
async fn bad_filter_values_are_field_errors() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let cases = [
        ("account", "abc"),
        ("account", "-3"),
        ("transaction_type", "refund"),
        ("date_from", "2024-13-01"),
        ("date_from", "yesterday"),
        ("date_to", "2023-02-29"),
        ("min_amount", "ten"),
        ("max_amount", "1.234"),
        ("max_amount", "NaN"),
    ];

    for (field, value) in cases {
        let body = app
            .get(&format!("/api/transactions/?{field}={value}"), &token)
            .await
            .expect(StatusCode::BAD_REQUEST);

        assert_eq!(keys(&body), [field], "{field}={value}: {body}");
        assert!(body[field][0].is_string(), "{body}");
    }
}

#[tokio::test]
async fn transactions_of_closed_accounts_stay_listed() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "3.00").await;
    app.withdraw(&token, id, "3.00")
        .await
        .expect(StatusCode::OK);
    app.delete(&format!("/api/accounts/{id}/"), &token)
        .await
        .expect(StatusCode::NO_CONTENT);

    let list = app.transactions(&token, "").await;

    assert_eq!(list["count"], 2);
    assert_eq!(amounts(&list), ["3.00", "3.00"]);
}

#[tokio::test]
async fn pages_link_to_each_other_with_absolute_urls_that_keep_the_filters() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    deposits(&app, &token, id, 5).await;
    app.withdraw(&token, id, "1.00")
        .await
        .expect(StatusCode::OK);
    let first = app
        .transactions(&token, "?transaction_type=deposit&page_size=2")
        .await;

    let second = app
        .get(text(&first, "next"), &token)
        .await
        .expect(StatusCode::OK);
    let third = app
        .get(text(&second, "next"), &token)
        .await
        .expect(StatusCode::OK);
    let back = app
        .get(text(&second, "previous"), &token)
        .await
        .expect(StatusCode::OK);

    assert_eq!(first["count"], 5);
    assert_eq!(amounts(&first), ["5.00", "4.00"]);
    assert_eq!(first["previous"], Value::Null);
    let expected = [
        ("transaction_type", "deposit"),
        ("page_size", "2"),
        ("page", "2"),
    ];
    assert_eq!(
        link_query(&app, &first["next"], "/api/transactions/"),
        pairs(&expected)
    );
    assert_eq!(amounts(&second), ["3.00", "2.00"]);
    let previous = link_query(&app, &second["previous"], "/api/transactions/");
    assert!(previous.contains(&("transaction_type".into(), "deposit".into())));
    assert!(previous.contains(&("page_size".into(), "2".into())));
    assert_eq!(amounts(&third), ["1.00"]);
    assert_eq!(third["next"], Value::Null);
    assert_eq!(back, first);
}

#[tokio::test]
async fn a_page_past_the_end_or_not_a_positive_number_is_an_invalid_page() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    app.funded_account(&token, "1.00").await;

    for query in [
        "?page=2",
        "?page=99&page_size=5",
        "?page=0",
        "?page=abc",
        "?page=-1",
    ] {
        let response = app.get(&format!("/api/transactions/{query}"), &token).await;

        assert_eq!(
            response.expect(StatusCode::NOT_FOUND),
            json!({ "detail": "Invalid page.", "code": "not_found" }),
            "{query}"
        );
    }
    let customers = app.get("/api/customers/?page=2", &token).await;
    assert_eq!(customers.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pages_hold_twenty_by_default_and_at_most_a_hundred() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    deposits(&app, &token, id, 101).await;

    let default = app.transactions(&token, "").await;
    let capped = app.transactions(&token, "?page_size=1000").await;
    let rest = app.transactions(&token, "?page_size=1000&page=2").await;

    assert_eq!(default["count"], 101);
    assert_eq!(results(&default).len(), 20);
    assert_eq!(results(&capped).len(), 100);
    assert_eq!(capped["count"], 101);
    assert!(capped["next"].is_string());
    assert_eq!(amounts(&rest), ["1.00"]);
}

#[tokio::test]
async fn an_unknown_transaction_is_not_found() {
    let app = spawn_app().await;
    let token = app.new_user().await;

    let response = app.get("/api/transactions/999/", &token).await;

    assert_eq!(response.expect(StatusCode::NOT_FOUND), not_found());
}

#[tokio::test]
async fn transactions_cannot_be_created_changed_or_deleted() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "1.00").await;
    let transaction_id = id_of(&results(&app.transactions(&token, "").await)[0], "id");
    let before = app.snapshot(&token).await;
    let detail = format!("/api/transactions/{transaction_id}/");

    for (method, path) in [
        (Method::POST, "/api/transactions/"),
        (Method::PUT, detail.as_str()),
        (Method::PATCH, detail.as_str()),
        (Method::DELETE, detail.as_str()),
        (Method::DELETE, "/api/transactions/"),
    ] {
        let body = json!({ "account": id, "amount": "1000.00", "transaction_type": "deposit" });

        let response = app.request(method.clone(), path, &token, Some(body)).await;

        assert_eq!(
            response.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        let allow = response
            .header("allow")
            .expect("an Allow header")
            .to_owned();
        assert!(
            allow.contains("GET") && !allow.contains(method.as_str()),
            "{allow}"
        );
        let expected = json!({
            "detail": format!("Method \"{method}\" not allowed."),
            "code": "method_not_allowed",
        });
        assert_eq!(response.body, expected);
    }
    assert_eq!(app.snapshot(&token).await, before);
}
