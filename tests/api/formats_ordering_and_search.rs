//! DRF parity where clients notice (issue #12 item 6): `?format=`, the browsable API for a
//! browser's `Accept: text/html`, `?ordering=` and `?search=`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{NO_TOKEN, TestApp, assert_detail, assert_field_error, spawn_app, text};

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

async fn get_accepting(app: &TestApp, path: &str, token: &str, accept: &str) -> reqwest::Response {
    let mut request = app.raw(Method::GET, path).header("Accept", accept);
    if !token.is_empty() {
        request = request.header("Authorization", format!("Token {token}"));
    }
    request.send().await.expect("the server answers")
}

fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Deposits `amount` with `description` and returns the transaction id.
async fn deposit_described(
    app: &TestApp,
    token: &str,
    account: i64,
    amount: &str,
    description: &str,
) -> i64 {
    let path = format!("/api/accounts/{account}/deposit/");
    let body = app
        .post(
            &path,
            token,
            json!({ "amount": amount, "description": description }),
        )
        .await
        .expect(StatusCode::OK);
    body["transaction_id"].as_i64().expect("transaction_id")
}

fn amounts(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|row| text(row, "amount").to_owned())
        .collect()
}

fn descriptions(page: &Value) -> Vec<String> {
    let mut found: Vec<String> = page["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|row| text(row, "description").to_owned())
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn format_json_is_accepted_and_an_unknown_format_is_a_contract_404() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    app.open_account(&token).await;

    let listed = app.get("/api/accounts/?format=json", &token).await;
    assert_eq!(listed.expect(StatusCode::OK)["count"], 1);
    for format in ["xml", "csv", "yaml", "JSON"] {
        let answer = app
            .get(&format!("/api/accounts/?format={format}"), &token)
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "format={format}");
        assert_detail(&answer.body, "not_found");
    }
    // As in DRF, content negotiation comes before authentication.
    let anonymous = app.get("/api/transactions/?format=xml", NO_TOKEN).await;
    assert_eq!(anonymous.status, StatusCode::NOT_FOUND);
    assert_detail(&anonymous.body, "not_found");
    // An unknown format on a write refuses it before anything is written.
    let opened = app
        .post("/api/accounts/?format=xml", &token, json!({}))
        .await;
    assert_eq!(opened.status, StatusCode::NOT_FOUND);
    let listed = app.get("/api/accounts/", &token).await;
    assert_eq!(listed.expect(StatusCode::OK)["count"], 1);
}

#[tokio::test]
async fn a_browser_asking_for_html_gets_the_explorer_page_and_programs_get_json() {
    let app = spawn_app().await;
    let token = app.new_user().await;

    // A browser's navigation carries no token: the page is served and fetches the data itself.
    for path in [
        "/api/accounts/",
        "/api/transactions/?page=2",
        "/api/accounts/?format=api",
    ] {
        let page = get_accepting(&app, path, NO_TOKEN, BROWSER_ACCEPT).await;
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert!(content_type(&page).starts_with("text/html"), "{path}");
        assert!(page.headers().contains_key("content-security-policy"));
        assert_eq!(page.headers()["vary"], "Accept");
        let html = page.text().await.expect("html");
        assert!(html.contains("/static/js/route-explorer.js"), "{path}");
    }
    let script = app.get("/static/js/route-explorer.js", NO_TOKEN).await;
    assert_eq!(script.status, StatusCode::OK);

    // Programs keep getting JSON, whatever they send.
    for accept in ["*/*", "application/json", "text/html, application/json", ""] {
        let answer = get_accepting(&app, "/api/accounts/", &token, accept).await;
        assert_eq!(answer.status(), StatusCode::OK, "Accept: {accept}");
        assert!(content_type(&answer).starts_with("application/json"));
        let anonymous = get_accepting(&app, "/api/accounts/", NO_TOKEN, accept).await;
        assert_eq!(
            anonymous.status(),
            StatusCode::UNAUTHORIZED,
            "Accept: {accept}"
        );
    }
    let no_accept = app.get("/api/accounts/", &token).await;
    assert_eq!(no_accept.expect(StatusCode::OK)["count"], 0);
    // `?format=json` wins over a browser's Accept.
    let forced = get_accepting(&app, "/api/accounts/?format=json", &token, BROWSER_ACCEPT).await;
    assert!(content_type(&forced).starts_with("application/json"));
    // An unknown route stays a JSON 404, and a write is never answered with the page.
    let unknown = get_accepting(&app, "/api/nothing-here/", NO_TOKEN, BROWSER_ACCEPT).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(content_type(&unknown).starts_with("application/json"));
    let write = app
        .raw(Method::POST, "/api/accounts/")
        .header("Accept", BROWSER_ACCEPT)
        .header("Authorization", format!("Token {token}"))
        .json(&json!({}));
    assert_eq!(app.send(write).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn transactions_are_ordered_by_allowed_fields_and_unknown_fields_are_ignored() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (first, _) = app.open_account(&token).await;
    let (second, _) = app.open_account(&token).await;
    for (account, amount) in [
        (first, "5.00"),
        (second, "30.00"),
        (first, "12.00"),
        (second, "7.50"),
    ] {
        app.deposit(&token, account, amount)
            .await
            .expect(StatusCode::OK);
    }
    app.withdraw(&token, first, "1.00")
        .await
        .expect(StatusCode::OK);

    let ordered = |query: &'static str| {
        let app = &app;
        let token = token.clone();
        async move { amounts(&app.transactions(&token, query).await) }
    };
    let oldest_first = ["5.00", "30.00", "12.00", "7.50", "1.00"];
    let newest_first: Vec<&str> = oldest_first.iter().rev().copied().collect();
    assert_eq!(ordered("?ordering=created_at").await, oldest_first);
    assert_eq!(ordered("?ordering=id").await, oldest_first);
    assert_eq!(ordered("?ordering=-id").await, newest_first);
    assert_eq!(
        ordered("?ordering=amount").await,
        ["1.00", "5.00", "7.50", "12.00", "30.00"]
    );
    assert_eq!(
        ordered("?ordering=-amount").await,
        ["30.00", "12.00", "7.50", "5.00", "1.00"]
    );
    // Unknown fields, SQL and blanks are ignored, as DRF ignores them; the rest still apply.
    assert_eq!(ordered("?ordering=balance_after").await, newest_first);
    assert_eq!(
        ordered("?ordering=amount;DROP%20TABLE%20transactions").await,
        newest_first
    );
    assert_eq!(
        ordered("?ordering=nope,%20-amount").await,
        ["30.00", "12.00", "7.50", "5.00", "1.00"]
    );
    assert_eq!(ordered("?ordering=").await, newest_first);
    for odd in [
        "?ordering=-",
        "?ordering=,,,",
        "?ordering=--amount",
        "?ordering=%00",
        "?ordering=amount%00",
    ] {
        assert_eq!(ordered(odd).await, newest_first, "{odd}");
    }
    // Type first (deposit < withdrawal), then amount descending within each type.
    assert_eq!(
        ordered("?ordering=transaction_type,-amount").await,
        ["30.00", "12.00", "7.50", "5.00", "1.00"]
    );
    assert_eq!(
        ordered("?ordering=-transaction_type,amount").await,
        ["1.00", "5.00", "7.50", "12.00", "30.00"]
    );
    // Ordering combines with filters and pagination; the next link keeps it.
    let page = app
        .transactions(
            &token,
            &format!("?ordering=amount&account={first}&page_size=2"),
        )
        .await;
    assert_eq!(amounts(&page), ["1.00", "5.00"]);
    let next = page["next"].as_str().expect("a next link").to_owned();
    assert!(next.contains("ordering=amount"), "{next}");
    let rest = app.get(&next, &token).await.expect(StatusCode::OK);
    assert_eq!(amounts(&rest), ["12.00"]);
}

#[tokio::test]
async fn an_unclustered_ordering_of_a_huge_history_is_refused_but_date_order_is_not() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.funded_account(&token, "10.00").await;
    // The count comes from the per-account counter; pretend the history is enormous.
    app.execute_sql(
        "UPDATE accounts SET transaction_count = 5000000 WHERE id = ?1",
        [account],
    );

    let refused = app.get("/api/transactions/?ordering=-amount", &token).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_field_error(&refused.body, "ordering");
    let by_date = app
        .get("/api/transactions/?ordering=-created_at", &token)
        .await;
    assert_eq!(amounts(&by_date.expect(StatusCode::OK)), ["10.00"]);
    let by_id = app.get("/api/transactions/?ordering=id", &token).await;
    assert_eq!(amounts(&by_id.expect(StatusCode::OK)), ["10.00"]);
}

#[tokio::test]
async fn search_matches_every_term_case_insensitively_and_wildcards_are_literal() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    for description in [
        "Rent March",
        "rent April",
        "Salary",
        "100% bonus",
        "a_b",
        "aXb",
        "back\\slash",
    ] {
        deposit_described(&app, &token, account, "1.00", description).await;
    }

    let found = |query: &'static str| {
        let app = &app;
        let token = token.clone();
        async move { descriptions(&app.transactions(&token, query).await) }
    };
    assert_eq!(found("?search=rent").await, ["Rent March", "rent April"]);
    assert_eq!(found("?search=RENT%20march").await, ["Rent March"]);
    assert_eq!(found("?search=rent,april").await, ["rent April"]);
    assert_eq!(found("?search=%25").await, ["100% bonus"]);
    assert_eq!(found("?search=a_b").await, ["a_b"]);
    assert_eq!(found("?search=%5C").await, ["back\\slash"]);
    assert_eq!(found("?search=nothing").await, Vec::<String>::new());
    assert_eq!(found("?search=%20,%20").await.len(), 7);
    assert_eq!(found("?search=%00").await.len(), 7);
    // As DRF, NUL characters are dropped before the value is split.
    assert_eq!(found("?search=ren%00t").await, ["Rent March", "rent April"]);
    let counted = app
        .transactions(&token, "?search=rent&ordering=-amount")
        .await;
    assert_eq!(counted["count"], 2);

    let too_many = app
        .get("/api/transactions/?search=a+b+c+d+e+f+g+h+i+j+k", &token)
        .await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
    assert_field_error(&too_many.body, "search");
}

#[tokio::test]
async fn accounts_are_ordered_by_allowed_fields_and_unknown_fields_are_ignored() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let mut opened = Vec::new();
    for (nickname, amount) in [("bravo", "20.00"), ("alpha", "5.00"), ("charlie", "10.00")] {
        let body = app
            .post("/api/accounts/", &token, json!({ "nickname": nickname }))
            .await
            .expect(StatusCode::CREATED);
        let id = body["id"].as_i64().expect("id");
        app.deposit(&token, id, amount).await.expect(StatusCode::OK);
        opened.push((
            nickname.to_owned(),
            text(&body, "account_number").to_owned(),
        ));
    }
    let nicknames = |query: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            let page = app
                .get(&format!("/api/accounts/{query}"), &token)
                .await
                .expect(StatusCode::OK);
            page["results"]
                .as_array()
                .expect("results")
                .iter()
                .map(|row| text(row, "nickname").to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(nicknames("").await, ["bravo", "alpha", "charlie"]);
    assert_eq!(
        nicknames("?ordering=nickname").await,
        ["alpha", "bravo", "charlie"]
    );
    assert_eq!(
        nicknames("?ordering=-balance").await,
        ["bravo", "charlie", "alpha"]
    );
    assert_eq!(
        nicknames("?ordering=-id").await,
        ["charlie", "alpha", "bravo"]
    );
    assert_eq!(
        nicknames("?ordering=-created_at,nickname").await,
        ["charlie", "alpha", "bravo"]
    );
    assert_eq!(
        nicknames("?ordering=status,customer").await,
        ["bravo", "alpha", "charlie"]
    );
    opened.sort_by(|a, b| a.1.cmp(&b.1));
    let expected: Vec<String> = opened.into_iter().map(|(name, _)| name).collect();
    assert_eq!(nicknames("?ordering=account_number").await, expected);
}
