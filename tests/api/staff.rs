//! Staff routes (contract §8) and the audit log as staff see it (contract §9, issue 4).
//!
//! Staff users are made with SQL (`UPDATE users SET is_staff = 1`) before their token is first
//! used, or with the real `bankd createsuperuser`.

use std::io::Write;
use std::process::Stdio;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    ApiResponse, NO_TOKEN, PASSWORD, TestApp, assert_detail, assert_field_error, id_of, keys,
    not_found, registration_body, spawn_app, text,
};
use crate::support::child::bankd_command;

/// Every staff route, as (method, path) for an account id.
fn admin_routes(account: i64) -> Vec<(Method, String)> {
    vec![
        (Method::GET, "/api/admin/customers/".to_owned()),
        (Method::GET, "/api/admin/accounts/".to_owned()),
        (Method::GET, "/api/admin/transactions/".to_owned()),
        (Method::GET, "/api/admin/audit/".to_owned()),
        (
            Method::POST,
            format!("/api/admin/accounts/{account}/freeze/"),
        ),
        (
            Method::POST,
            format!("/api/admin/accounts/{account}/unfreeze/"),
        ),
    ]
}

/// `GET path` as staff; asserts `200` and returns the body.
async fn staff_get(app: &TestApp, staff: &str, path: &str) -> Value {
    app.get(path, staff).await.expect(StatusCode::OK)
}

async fn freeze(app: &TestApp, staff: &str, account: i64) -> ApiResponse {
    app.post(
        &format!("/api/admin/accounts/{account}/freeze/"),
        staff,
        json!({}),
    )
    .await
}

async fn unfreeze(app: &TestApp, staff: &str, account: i64) -> ApiResponse {
    app.post(
        &format!("/api/admin/accounts/{account}/unfreeze/"),
        staff,
        json!({}),
    )
    .await
}

/// The `results` of a list body.
fn results(body: &Value) -> &Vec<Value> {
    body["results"].as_array().expect("results")
}

#[tokio::test]
async fn a_customer_is_refused_on_every_admin_route_and_each_refusal_is_audited() {
    let app = spawn_app().await;
    let (name, token) = app.new_named_user().await;
    let (account, _) = app.open_account(&token).await;
    let (_, staff) = app.new_staff_user().await;

    let mut refusals = Vec::new();
    for (method, path) in admin_routes(account) {
        let body = (method == Method::POST).then(|| json!({}));
        refusals.push(app.request(method, &path, &token, body).await);
    }

    for refused in refusals {
        assert_eq!(
            refused.expect(StatusCode::FORBIDDEN),
            json!({
                "detail": "You do not have permission to perform this action.",
                "code": "permission_denied",
            })
        );
    }
    assert_eq!(app.account(&token, account).await["status"], "active");
    let denied = staff_get(&app, &staff, "/api/admin/audit/?action=permission_denied").await;
    assert_eq!(denied["count"], 6, "{denied}");
    for row in results(&denied) {
        assert_eq!(row["actor_user_id"], app.user_id(&name));
        assert_eq!(row["outcome"], "denied");
    }
}

#[tokio::test]
async fn admin_routes_need_authentication() {
    let app = spawn_app().await;

    for (method, path) in admin_routes(1) {
        let body = (method == Method::POST).then(|| json!({}));
        let refused = app.request(method, &path, NO_TOKEN, body).await;
        assert_detail(
            &refused.expect(StatusCode::UNAUTHORIZED),
            "not_authenticated",
        );
    }
}

#[tokio::test]
async fn staff_see_every_customer_filtered_by_user_or_username_and_paginated() {
    let app = spawn_app().await;
    let (alice, _) = app.new_named_user().await;
    let (bob, _) = app.new_named_user().await;
    app.new_user().await;
    let (_, staff) = app.new_staff_user().await;

    let all = staff_get(&app, &staff, "/api/admin/customers/").await;
    let by_user = staff_get(
        &app,
        &staff,
        &format!("/api/admin/customers/?user={}", app.user_id(&bob)),
    )
    .await;
    let by_username = staff_get(
        &app,
        &staff,
        &format!("/api/admin/customers/?username={}", alice.to_uppercase()),
    )
    .await;
    let first_page = staff_get(&app, &staff, "/api/admin/customers/?page_size=3").await;
    let second_page = staff_get(&app, &staff, "/api/admin/customers/?page_size=3&page=2").await;
    let past_the_end = app
        .get("/api/admin/customers/?page_size=3&page=3", &staff)
        .await;
    let bad_user = app.get("/api/admin/customers/?user=abc", &staff).await;

    assert_eq!(all["count"], 4);
    assert_eq!(by_user["count"], 1);
    assert_eq!(results(&by_user)[0]["username"], bob.as_str());
    assert_eq!(by_username["count"], 1);
    assert_eq!(results(&by_username)[0]["username"], alice.as_str());
    assert_eq!(results(&first_page).len(), 3);
    assert!(
        first_page["next"]
            .as_str()
            .is_some_and(|next| next.contains("page=2")),
        "{first_page}"
    );
    assert_eq!(results(&second_page).len(), 1);
    assert_eq!(second_page["next"], Value::Null);
    let mut seen: Vec<&Value> = results(&first_page)
        .iter()
        .chain(results(&second_page))
        .map(|c| &c["id"])
        .collect();
    seen.dedup();
    assert_eq!(seen.len(), 4);
    assert_detail(&past_the_end.expect(StatusCode::NOT_FOUND), "not_found");
    assert_field_error(&bad_user.expect(StatusCode::BAD_REQUEST), "user");
}

#[tokio::test]
async fn staff_see_every_account_filtered_by_customer_user_status_and_number() {
    let app = spawn_app().await;
    let (alice_name, alice) = app.new_named_user().await;
    let (bob_name, bob) = app.new_named_user().await;
    let (alice_open, alice_number) = app.open_account(&alice).await;
    let (alice_closed, _) = app.open_account(&alice).await;
    app.delete(&format!("/api/accounts/{alice_closed}/"), &alice)
        .await
        .expect(StatusCode::NO_CONTENT);
    let (bob_account, _) = app.open_account(&bob).await;
    let (_, staff) = app.new_staff_user().await;
    let alice_customer = app.customer_id(&alice).await;

    let all = staff_get(&app, &staff, "/api/admin/accounts/").await;
    let by_customer = staff_get(
        &app,
        &staff,
        &format!("/api/admin/accounts/?customer={alice_customer}"),
    )
    .await;
    let by_user = staff_get(
        &app,
        &staff,
        &format!("/api/admin/accounts/?user={}", app.user_id(&bob_name)),
    )
    .await;
    let closed = staff_get(&app, &staff, "/api/admin/accounts/?status=closed").await;
    let active_of_alice = staff_get(
        &app,
        &staff,
        &format!(
            "/api/admin/accounts/?status=active&user={}",
            app.user_id(&alice_name)
        ),
    )
    .await;
    let by_number = staff_get(
        &app,
        &staff,
        &format!("/api/admin/accounts/?account_number={alice_number}"),
    )
    .await;
    let paged = staff_get(&app, &staff, "/api/admin/accounts/?page_size=2&page=2").await;
    let bad_status = app
        .get("/api/admin/accounts/?status=sleeping", &staff)
        .await;

    assert_eq!(all["count"], 3);
    let ids = |body: &Value| {
        results(body)
            .iter()
            .map(|a| id_of(a, "id"))
            .collect::<Vec<_>>()
    };
    let mut by_customer_ids = ids(&by_customer);
    by_customer_ids.sort_unstable();
    assert_eq!(by_customer_ids, [alice_open, alice_closed]);
    assert_eq!(ids(&by_user), [bob_account]);
    assert_eq!(ids(&closed), [alice_closed]);
    assert_eq!(ids(&active_of_alice), [alice_open]);
    assert_eq!(ids(&by_number), [alice_open]);
    assert_eq!(paged["count"], 3);
    assert_eq!(results(&paged).len(), 1);
    assert!(paged["previous"].is_string(), "{paged}");
    assert_field_error(&bad_status.expect(StatusCode::BAD_REQUEST), "status");
}

#[tokio::test]
async fn staff_see_every_transaction_filtered_by_account_user_type_and_date() {
    let app = spawn_app().await;
    let (alice_name, alice) = app.new_named_user().await;
    let (bob_name, bob) = app.new_named_user().await;
    let (alice_account, _) = app.funded_account(&alice, "100.00").await;
    let (bob_account, bob_number) = app.funded_account(&bob, "5.00").await;
    app.withdraw(&alice, alice_account, "10.00")
        .await
        .expect(StatusCode::OK);
    app.transfer(&alice, alice_account, &bob_number, "20.00")
        .await
        .expect(StatusCode::OK);
    let (_, staff) = app.new_staff_user().await;
    let today = chrono::Utc::now().date_naive();
    let yesterday = today.pred_opt().expect("a date");
    let tomorrow = today.succ_opt().expect("a date");
    let get = |query: String| {
        let app = &app;
        let staff = staff.clone();
        async move { staff_get(app, &staff, &format!("/api/admin/transactions/{query}")).await }
    };

    let all = get(String::new()).await;
    let of_alice_account = get(format!("?account={alice_account}")).await;
    let of_bob = get(format!("?user={}", app.user_id(&bob_name))).await;
    let of_alice = get(format!("?user={}", app.user_id(&alice_name))).await;
    let transfers_in = get("?transaction_type=transfer_in".to_owned()).await;
    let withdrawals_of_bob = get(format!(
        "?transaction_type=withdrawal&account={bob_account}"
    ))
    .await;
    let from_today = get(format!("?date_from={today}&date_to={today}")).await;
    let until_yesterday = get(format!("?date_to={yesterday}")).await;
    let from_tomorrow = get(format!("?date_from={tomorrow}")).await;
    let page = get("?page_size=2".to_owned()).await;
    let bad_type = app
        .get("/api/admin/transactions/?transaction_type=gift", &staff)
        .await;
    let bad_date = app
        .get("/api/admin/transactions/?date_from=2024-13-01", &staff)
        .await;

    assert_eq!(all["count"], 5);
    let ids: Vec<i64> = results(&all).iter().map(|t| id_of(t, "id")).collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first: {ids:?}"
    );
    assert_eq!(of_alice_account["count"], 3);
    assert_eq!(of_bob["count"], 2);
    assert_eq!(of_alice["count"], 3);
    assert_eq!(transfers_in["count"], 1);
    assert_eq!(results(&transfers_in)[0]["account"], bob_account);
    assert_eq!(withdrawals_of_bob["count"], 0);
    assert_eq!(from_today["count"], 5);
    assert_eq!(until_yesterday["count"], 0);
    assert_eq!(from_tomorrow["count"], 0);
    assert_eq!(page["count"], 5);
    assert_eq!(results(&page).len(), 2);
    assert!(page["next"].is_string());
    assert_field_error(
        &bad_type.expect(StatusCode::BAD_REQUEST),
        "transaction_type",
    );
    assert_field_error(&bad_date.expect(StatusCode::BAD_REQUEST), "date_from");
}

#[tokio::test]
async fn a_frozen_account_refuses_every_movement_in_and_out_until_unfrozen() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (frozen, frozen_number) = app.funded_account(&alice, "100.00").await;
    let (alices_other, alices_other_number) = app.open_account(&alice).await;
    let (bobs, _) = app.funded_account(&bob, "50.00").await;
    let (_, staff) = app.new_staff_user().await;
    let answer = freeze(&app, &staff, frozen).await.expect(StatusCode::OK);
    assert_eq!(answer["status"], "frozen");
    let alice_before = app.snapshot(&alice).await;
    let bob_before = app.snapshot(&bob).await;

    let refusals = [
        app.deposit(&alice, frozen, "1.00").await,
        app.withdraw(&alice, frozen, "1.00").await,
        app.transfer(&alice, frozen, &alices_other_number, "1.00")
            .await,
        app.transfer(&alice, alices_other, &frozen_number, "1.00")
            .await,
        app.transfer(&bob, bobs, &frozen_number, "1.00").await,
    ];

    for refused in refusals {
        assert_detail(&refused.expect(StatusCode::BAD_REQUEST), "account_frozen");
    }
    assert_eq!(app.snapshot(&alice).await, alice_before);
    assert_eq!(app.snapshot(&bob).await, bob_before);
    assert_eq!(app.account(&alice, frozen).await["status"], "frozen");

    let answer = unfreeze(&app, &staff, frozen).await.expect(StatusCode::OK);
    assert_eq!(answer["status"], "active");
    app.deposit(&alice, frozen, "1.00")
        .await
        .expect(StatusCode::OK);
    app.withdraw(&alice, frozen, "2.00")
        .await
        .expect(StatusCode::OK);
    app.transfer(&bob, bobs, &frozen_number, "3.00")
        .await
        .expect(StatusCode::OK);
    app.transfer(&alice, frozen, &alices_other_number, "4.00")
        .await
        .expect(StatusCode::OK);
    assert_eq!(app.balance(&alice, frozen).await, "98.00");
    assert_eq!(app.balance(&alice, alices_other).await, "4.00");
    assert_eq!(app.balance(&bob, bobs).await, "47.00");
}

#[tokio::test]
async fn freezing_twice_keeps_it_frozen_and_unfreezing_an_active_account_is_harmless() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let (_, staff) = app.new_staff_user().await;

    let unfrozen = unfreeze(&app, &staff, account).await;
    freeze(&app, &staff, account).await.expect(StatusCode::OK);
    let again = freeze(&app, &staff, account).await;

    assert_eq!(unfrozen.expect(StatusCode::OK)["status"], "active");
    assert_eq!(again.expect(StatusCode::OK)["status"], "frozen");
    assert_eq!(app.account(&token, account).await["status"], "frozen");
}

#[tokio::test]
async fn a_closed_account_cannot_be_frozen_or_unfrozen_and_a_missing_one_is_not_found() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    app.delete(&format!("/api/accounts/{account}/"), &token)
        .await
        .expect(StatusCode::NO_CONTENT);
    let (_, staff) = app.new_staff_user().await;

    let frozen = freeze(&app, &staff, account).await;
    let unfrozen = unfreeze(&app, &staff, account).await;
    let missing = freeze(&app, &staff, 999_999).await;

    assert_detail(&frozen.expect(StatusCode::BAD_REQUEST), "account_closed");
    assert_detail(&unfrozen.expect(StatusCode::BAD_REQUEST), "account_closed");
    assert_eq!(missing.expect(StatusCode::NOT_FOUND), not_found());
    let closed = app
        .get("/api/accounts/?status=closed", &token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(closed["results"][0]["status"], "closed");
}

#[tokio::test]
async fn staff_on_customer_routes_see_only_their_own_data() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let (alices, _) = app.funded_account(&alice, "10.00").await;
    let (_, staff) = app.new_staff_user().await;
    let (own, _) = app.open_account(&staff).await;

    let accounts = app
        .get("/api/accounts/", &staff)
        .await
        .expect(StatusCode::OK);
    let transactions = app
        .get("/api/transactions/", &staff)
        .await
        .expect(StatusCode::OK);
    let customers = app
        .get("/api/customers/", &staff)
        .await
        .expect(StatusCode::OK);
    let alices_account = app.get(&format!("/api/accounts/{alices}/"), &staff).await;
    let withdraw_from_alice = app.withdraw(&staff, alices, "1.00").await;

    assert_eq!(accounts["count"], 1);
    assert_eq!(accounts["results"][0]["id"], own);
    assert_eq!(transactions["count"], 0);
    assert_eq!(customers["count"], 1);
    assert_eq!(alices_account.expect(StatusCode::NOT_FOUND), not_found());
    assert_eq!(
        withdraw_from_alice.expect(StatusCode::NOT_FOUND),
        not_found()
    );
    assert_eq!(app.balance(&alice, alices).await, "10.00");
}

#[tokio::test]
async fn a_superuser_made_by_createsuperuser_reaches_the_admin_routes() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    app.open_account(&token).await;
    let mut child = bankd_command(app.database_path.parent().expect("a directory"))
        .args([
            "createsuperuser",
            "--username",
            "root",
            "--email",
            "root@example.com",
        ])
        .arg("--password-stdin")
        .arg("--database")
        .arg(&app.database_path)
        .env("BANKD_LOG_LEVEL", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bankd starts");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{PASSWORD}").expect("write the password");
    drop(stdin);
    let output = child.wait_with_output().expect("bankd finishes");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let root = app.login("root", PASSWORD).await;

    let accounts = app.get("/api/admin/accounts/", &root).await;

    assert_eq!(accounts.expect(StatusCode::OK)["count"], 1);
}

// ---------------------------------------------------------------------------------------------
// The audit log.

/// `method path` with an `X-Request-Id`.
async fn traced(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Value,
    request_id: &str,
) -> ApiResponse {
    let response = app
        .request_with(
            method,
            path,
            token,
            Some(body),
            &[("X-Request-Id", request_id)],
        )
        .await;
    assert_eq!(response.header("x-request-id"), Some(request_id));
    response
}

/// Every audit row, oldest first, read page by page as staff.
async fn whole_audit_log(app: &TestApp, staff: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut next = Some("/api/admin/audit/?page_size=100".to_owned());
    while let Some(path) = next {
        let page = staff_get(app, staff, &path).await;
        rows.extend(results(&page).iter().cloned());
        next = page["next"].as_str().map(str::to_owned);
    }
    rows.reverse();
    rows
}

/// What one scripted session left behind, for the audit assertions.
struct Session {
    username: String,
    user_id: i64,
    token: String,
    account: i64,
    jwt_access: String,
    jwt_refresh: String,
    jwt_refreshed_access: String,
    card_number: String,
    cvv: String,
    staff_id: i64,
    staff: String,
}

const WRONG_PASSWORD: &str = "not-the-password-0451";

/// Registers, logs in (opaque and JWT), fails a login, moves money (and is refused), issues a
/// card, gets frozen by staff and logs out — each request with its own `X-Request-Id`.
async fn scripted_session(app: &TestApp) -> Session {
    let username = "audited";
    traced(
        app,
        Method::POST,
        "/api/register/",
        NO_TOKEN,
        registration_body(username),
        "req-register",
    )
    .await
    .expect(StatusCode::CREATED);
    let login = json!({ "username": username, "password": PASSWORD });
    let body = traced(
        app,
        Method::POST,
        "/api/get-token/",
        NO_TOKEN,
        login.clone(),
        "req-login",
    )
    .await
    .expect(StatusCode::OK);
    let token = text(&body, "token").to_owned();
    let wrong = json!({ "username": username, "password": WRONG_PASSWORD });
    traced(
        app,
        Method::POST,
        "/api/get-token/",
        NO_TOKEN,
        wrong,
        "req-login-failed",
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    let pair = traced(app, Method::POST, "/api/token/", NO_TOKEN, login, "req-jwt")
        .await
        .expect(StatusCode::OK);
    let refreshed = traced(
        app,
        Method::POST,
        "/api/token/refresh/",
        NO_TOKEN,
        json!({ "refresh": text(&pair, "refresh") }),
        "req-refresh",
    )
    .await
    .expect(StatusCode::OK);
    let (account, _) = app.open_account(&token).await;
    let (_, other_number) = app.open_account(&token).await;
    let movements = [
        (
            "deposit",
            json!({ "amount": "100.00" }),
            "req-deposit",
            StatusCode::OK,
        ),
        (
            "withdraw",
            json!({ "amount": "500.00" }),
            "req-withdraw-refused",
            StatusCode::BAD_REQUEST,
        ),
        (
            "withdraw",
            json!({ "amount": "10.00" }),
            "req-withdraw",
            StatusCode::OK,
        ),
        (
            "transfer",
            json!({ "to_account_number": other_number, "amount": "20.00" }),
            "req-transfer",
            StatusCode::OK,
        ),
        (
            "transfer",
            json!({ "to_account_number": other_number, "amount": "900.00" }),
            "req-transfer-refused",
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (route, body, request_id, status) in movements {
        let path = format!("/api/accounts/{account}/{route}/");
        traced(app, Method::POST, &path, &token, body, request_id)
            .await
            .expect(status);
    }
    let card = traced(
        app,
        Method::POST,
        "/api/cards/",
        &token,
        json!({ "account": account, "card_type": "debit" }),
        "req-card",
    )
    .await
    .expect(StatusCode::CREATED);
    let (staff_name, staff) = app.new_staff_user().await;
    for (route, request_id) in [("freeze", "req-freeze"), ("unfreeze", "req-unfreeze")] {
        let path = format!("/api/admin/accounts/{account}/{route}/");
        traced(app, Method::POST, &path, &staff, json!({}), request_id)
            .await
            .expect(StatusCode::OK);
    }
    traced(
        app,
        Method::POST,
        "/api/logout/",
        &token,
        json!({}),
        "req-logout",
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    Session {
        username: username.to_owned(),
        user_id: app.user_id(username),
        token,
        account,
        jwt_access: text(&pair, "access").to_owned(),
        jwt_refresh: text(&pair, "refresh").to_owned(),
        jwt_refreshed_access: text(&refreshed, "access").to_owned(),
        card_number: text(&card, "card_number").to_owned(),
        cvv: text(&card, "cvv").to_owned(),
        staff_id: app.user_id(&staff_name),
        staff,
    }
}

#[tokio::test]
async fn every_audited_action_leaves_a_row_with_its_request_id_ip_and_outcome() {
    let app = spawn_app().await;
    let session = scripted_session(&app).await;
    let staff_id = json!(session.staff_id);
    let user = json!(session.user_id);
    let expected = [
        ("register", "req-register", "success", user.clone()),
        ("login", "req-login", "success", user.clone()),
        ("token_issued", "req-login", "success", user.clone()),
        ("login_failed", "req-login-failed", "failure", Value::Null),
        ("login", "req-jwt", "success", user.clone()),
        ("token_issued", "req-jwt", "success", user.clone()),
        ("token_issued", "req-refresh", "success", user.clone()),
        ("deposit", "req-deposit", "success", user.clone()),
        (
            "withdrawal",
            "req-withdraw-refused",
            "failure",
            user.clone(),
        ),
        ("withdrawal", "req-withdraw", "success", user.clone()),
        ("transfer", "req-transfer", "success", user.clone()),
        ("transfer", "req-transfer-refused", "failure", user.clone()),
        ("card_issued", "req-card", "success", user.clone()),
        ("account_frozen", "req-freeze", "success", staff_id.clone()),
        ("account_unfrozen", "req-unfreeze", "success", staff_id),
        ("token_revoked", "req-logout", "success", user.clone()),
    ];

    for (action, request_id, outcome, actor) in expected {
        let rows = staff_get(
            &app,
            &session.staff,
            &format!("/api/admin/audit/?action={action}&page_size=100"),
        )
        .await;
        let row = results(&rows)
            .iter()
            .find(|row| row["client_request_id"] == request_id)
            .unwrap_or_else(|| panic!("no {action} row for {request_id}: {rows}"));
        assert_eq!(
            keys(row),
            [
                "action",
                "actor_user_id",
                "actor_username",
                "client_ip",
                "client_request_id",
                "created_at",
                "details",
                "hash",
                "id",
                "object_id",
                "object_type",
                "outcome",
                "request_id",
            ]
        );
        assert_eq!(row["action"], action);
        assert_eq!(row["outcome"], outcome, "{row}");
        assert_eq!(row["client_ip"], "127.0.0.1", "{row}");
        assert_eq!(row["actor_user_id"], actor, "{row}");
        assert!(row["details"].is_object(), "{row}");
    }
    let failed = staff_get(
        &app,
        &session.staff,
        "/api/admin/audit/?action=login_failed",
    )
    .await;
    assert_eq!(
        failed["results"][0]["details"]["username"],
        session.username.as_str()
    );
    let frozen = staff_get(
        &app,
        &session.staff,
        "/api/admin/audit/?action=account_frozen",
    )
    .await;
    assert_eq!(frozen["results"][0]["object_type"], "account");
    assert_eq!(frozen["results"][0]["object_id"], session.account);
}

#[tokio::test]
async fn the_audit_log_filters_by_action_user_and_account() {
    let app = spawn_app().await;
    let session = scripted_session(&app).await;
    let other = app.new_user().await;
    let (others_account, _) = app.funded_account(&other, "1.00").await;

    let deposits = staff_get(&app, &session.staff, "/api/admin/audit/?action=deposit").await;
    let by_user = staff_get(
        &app,
        &session.staff,
        &format!("/api/admin/audit/?user={}&page_size=100", session.user_id),
    )
    .await;
    let by_account = staff_get(
        &app,
        &session.staff,
        &format!(
            "/api/admin/audit/?account={}&page_size=100",
            session.account
        ),
    )
    .await;
    let combined = staff_get(
        &app,
        &session.staff,
        &format!(
            "/api/admin/audit/?account={}&action=withdrawal",
            session.account
        ),
    )
    .await;
    let others = staff_get(
        &app,
        &session.staff,
        &format!("/api/admin/audit/?account={others_account}"),
    )
    .await;
    let bad = app
        .get("/api/admin/audit/?account=abc", &session.staff)
        .await;

    assert_eq!(deposits["count"], 2);
    assert!(
        results(&deposits)
            .iter()
            .all(|row| row["action"] == "deposit")
    );
    assert!(results(&by_user).len() >= 13, "{by_user}");
    assert!(
        results(&by_user)
            .iter()
            .all(|row| row["actor_user_id"] == session.user_id)
    );
    let account_actions: Vec<&str> = results(&by_account)
        .iter()
        .map(|row| text(row, "action"))
        .collect();
    assert_eq!(
        account_actions,
        [
            "account_unfrozen",
            "account_frozen",
            "transfer",
            "transfer",
            "withdrawal",
            "withdrawal",
            "deposit"
        ],
        "newest first"
    );
    assert!(
        results(&by_account)
            .iter()
            .all(|row| row["object_type"] == "account" && row["object_id"] == session.account)
    );
    assert_eq!(combined["count"], 2);
    assert_eq!(others["count"], 1);
    assert_field_error(&bad.expect(StatusCode::BAD_REQUEST), "account");
}

/// The user and account filters read a filter table the writer fills every 100 ms, plus
/// a scan of the rows after it (migration V4). Lists taken before and after the writer has
/// indexed the rows must be the same, with counts, pages and combined filters.
#[tokio::test]
async fn audit_filters_list_the_same_rows_before_and_after_the_writer_indexes_them() {
    let app = spawn_app().await;
    let session = scripted_session(&app).await;
    let queries = [
        format!("?user={}&page_size=100", session.user_id),
        format!("?user={}&page_size=3&page=2", session.user_id),
        format!("?account={}&page_size=100", session.account),
        format!("?account={}&action=withdrawal", session.account),
        format!("?user={}&account={}", session.user_id, session.account),
        format!("?user={}&action=deposit", session.user_id),
    ];
    let indexed_through =
        || match app.query_sql("SELECT indexed_through FROM audit_index_state", [])[..] {
            [ref row] => match row[..] {
                [rusqlite::types::Value::Integer(id)] => id,
                _ => panic!("no mark"),
            },
            _ => panic!("no audit_index_state row"),
        };
    let mut before = Vec::new();
    for query in &queries {
        before.push(staff_get(&app, &session.staff, &format!("/api/admin/audit/{query}")).await);
    }
    let newest_listed = before
        .iter()
        .flat_map(|list| results(list).iter().map(|row| id_of(row, "id")))
        .max()
        .expect("rows listed");

    // The writer indexes at most every 100 ms, inside a batch: wait, then give it a batch
    // (someone else's deposit, which none of the lists above shows).
    let mark = indexed_through();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let other = app.new_user().await;
    app.funded_account(&other, "1.00").await;
    assert!(
        indexed_through() > mark.max(newest_listed - 1),
        "the writer indexed the rows"
    );

    for (query, earlier) in queries.iter().zip(&before) {
        let now = staff_get(&app, &session.staff, &format!("/api/admin/audit/{query}")).await;
        assert_eq!(&now, earlier, "{query}");
        assert!(
            now["count"].as_u64().is_some_and(|count| count > 0),
            "{query}: {now}"
        );
    }
}

/// Whether `value` or anything inside it is the string `needle` or has a key `needle`.
fn contains_value_or_key(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(text) => text == needle,
        Value::Array(items) => items.iter().any(|item| contains_value_or_key(item, needle)),
        Value::Object(map) => map
            .iter()
            .any(|(key, item)| key == needle || contains_value_or_key(item, needle)),
        _ => false,
    }
}

#[tokio::test]
async fn no_audit_row_holds_a_password_token_card_number_or_cvv() {
    let app = spawn_app().await;
    let session = scripted_session(&app).await;

    let rows = whole_audit_log(&app, &session.staff).await;

    assert!(rows.len() >= 15, "{rows:?}");
    let rendered = Value::Array(rows.clone()).to_string();
    for secret in [
        PASSWORD,
        WRONG_PASSWORD,
        &session.token,
        &session.jwt_access,
        &session.jwt_refresh,
        &session.jwt_refreshed_access,
        &session.card_number,
        &session.staff,
    ] {
        assert!(!rendered.contains(secret), "{secret} is in the audit log");
    }
    for row in &rows {
        // Three digits are everywhere (amounts, ids); a CVV would be a value of its own.
        assert!(
            !contains_value_or_key(&row["details"], &session.cvv),
            "CVV in {row}"
        );
        assert!(!contains_value_or_key(&row["details"], "cvv"), "{row}");
        assert!(!contains_value_or_key(&row["details"], "password"), "{row}");
    }
}

#[tokio::test]
async fn the_audit_table_refuses_updates_and_deletes() {
    let app = spawn_app().await;
    let session = scripted_session(&app).await;
    let before = whole_audit_log(&app, &session.staff).await;

    let update = app.try_execute_sql(
        "UPDATE audit_log SET outcome = 'success' WHERE outcome = 'failure'",
        [],
    );
    let delete = app.try_execute_sql("DELETE FROM audit_log WHERE id = 1", []);
    let delete_all = app.try_execute_sql("DELETE FROM audit_log", []);

    assert!(update.is_err(), "UPDATE was allowed: {update:?}");
    assert!(delete.is_err(), "DELETE was allowed: {delete:?}");
    assert!(delete_all.is_err(), "DELETE was allowed: {delete_all:?}");
    assert_eq!(whole_audit_log(&app, &session.staff).await, before);
}

#[tokio::test]
async fn audit_rows_are_hash_chained_with_distinct_hashes() {
    let app = spawn_app().await;
    let session = scripted_session(&app).await;

    let rows = whole_audit_log(&app, &session.staff).await;

    let ids: Vec<i64> = rows.iter().map(|row| id_of(row, "id")).collect();
    assert_eq!(
        ids,
        (1..=rows.len() as i64).collect::<Vec<_>>(),
        "ids are contiguous"
    );
    let mut hashes: Vec<&str> = rows.iter().map(|row| text(row, "hash")).collect();
    assert!(
        hashes
            .iter()
            .all(|hash| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
    );
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(hashes.len(), rows.len());
}

#[tokio::test]
async fn the_audit_log_filters_by_utc_day() {
    let app = spawn_app().await;
    let session = scripted_session(&app).await;
    let today = chrono::Utc::now().date_naive();
    let yesterday = today.pred_opt().expect("a date");
    let tomorrow = today.succ_opt().expect("a date");
    let everything = staff_get(&app, &session.staff, "/api/admin/audit/").await;

    let today_only = staff_get(
        &app,
        &session.staff,
        &format!("/api/admin/audit/?date_from={today}&date_to={today}"),
    )
    .await;
    let until_yesterday = staff_get(
        &app,
        &session.staff,
        &format!("/api/admin/audit/?date_to={yesterday}"),
    )
    .await;
    let from_tomorrow = staff_get(
        &app,
        &session.staff,
        &format!("/api/admin/audit/?date_from={tomorrow}"),
    )
    .await;
    let bad = app
        .get("/api/admin/audit/?date_to=31-12-2024", &session.staff)
        .await;

    assert_eq!(today_only["count"], everything["count"]);
    assert_eq!(until_yesterday["count"], 0);
    assert_eq!(from_tomorrow["count"], 0);
    assert_field_error(&bad.expect(StatusCode::BAD_REQUEST), "date_to");
}

#[tokio::test]
async fn a_generated_request_id_is_the_one_the_client_saw_and_the_audit_row_holds() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let (_, staff) = app.new_staff_user().await;

    let deposit = app.deposit(&token, account, "1.00").await;

    let request_id = deposit
        .header("x-request-id")
        .expect("an X-Request-Id")
        .to_owned();
    assert!(!request_id.is_empty());
    let rows = staff_get(&app, &staff, "/api/admin/audit/?action=deposit").await;
    assert_eq!(rows["count"], 1);
    assert_eq!(rows["results"][0]["request_id"], request_id.as_str());
}
