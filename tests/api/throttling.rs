//! Throttling (contract §2, §10, issue 4): per IP (the client's own address behind trusted
//! proxies), per username for failed logins, per user for money movement, and bursts that
//! arrive at the same instant.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ApiResponse, NO_TOKEN, PASSWORD, TestApp, assert_detail, spawn_app_with};

/// Asserts a `429` in the contract's shape, with `Retry-After` matching the body's wait.
#[track_caller]
fn assert_throttled(response: &ApiResponse) {
    assert_eq!(
        response.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        response.body
    );
    assert_detail(&response.body, "throttled");
    let retry_after = response
        .header("retry-after")
        .expect("a Retry-After header");
    let seconds: u64 = retry_after.parse().expect("whole seconds");
    assert!((1..=60).contains(&seconds), "Retry-After: {retry_after}");
    assert_eq!(
        response.body["detail"],
        format!("Request was throttled. Expected available in {seconds} seconds.")
    );
}

/// `POST /api/get-token/` with `password`, optionally with an `X-Forwarded-For`.
async fn get_token(
    app: &TestApp,
    username: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> ApiResponse {
    let headers: Vec<(&str, &str)> = forwarded_for
        .map(|value| ("X-Forwarded-For", value))
        .into_iter()
        .collect();
    app.request_with(
        Method::POST,
        "/api/get-token/",
        NO_TOKEN,
        Some(json!({ "username": username, "password": password })),
        &headers,
    )
    .await
}

#[tokio::test]
async fn the_auth_routes_share_a_per_ip_limit_and_answer_429_past_it() {
    let app = spawn_app_with(|config| config.throttle_auth_per_ip_per_minute = 3).await;
    app.register("limited").await.expect(StatusCode::CREATED);
    let token = app.login("limited", PASSWORD).await;
    get_token(&app, "limited", PASSWORD, None)
        .await
        .expect(StatusCode::OK);

    let fourth = get_token(&app, "limited", PASSWORD, None).await;
    let jwt = app
        .post(
            "/api/token/",
            NO_TOKEN,
            json!({ "username": "limited", "password": PASSWORD }),
        )
        .await;
    let refresh = app
        .post("/api/token/refresh/", NO_TOKEN, json!({ "refresh": "x" }))
        .await;
    let register = app.register("another").await;
    let other_route = app.get("/api/accounts/", &token).await;

    for refused in [&fourth, &jwt, &refresh, &register] {
        assert_throttled(refused);
    }
    assert_eq!(
        other_route.status,
        StatusCode::OK,
        "only auth routes are limited per IP"
    );
}

#[tokio::test]
async fn failed_logins_for_one_username_are_cut_off_even_with_the_right_password() {
    let app = spawn_app_with(|config| config.throttle_failed_logins_per_user_per_minute = 2).await;
    let (target, _) = app.new_named_user().await;
    let (bystander, _) = app.new_named_user().await;

    let failures = [
        get_token(&app, &target, "wrong-password-1", None).await,
        get_token(&app, &target, "wrong-password-2", None).await,
    ];
    let right_password = get_token(&app, &target, PASSWORD, None).await;
    let other_case = get_token(&app, &target.to_uppercase(), PASSWORD, None).await;
    let jwt = app
        .post(
            "/api/token/",
            NO_TOKEN,
            json!({ "username": target, "password": PASSWORD }),
        )
        .await;
    let bystander_failure = get_token(&app, &bystander, "wrong-password-3", None).await;
    let bystander_login = get_token(&app, &bystander, PASSWORD, None).await;

    for failure in failures {
        assert_eq!(failure.status, StatusCode::BAD_REQUEST, "{}", failure.body);
    }
    assert_throttled(&right_password);
    assert_throttled(&other_case);
    assert_throttled(&jwt);
    assert_eq!(bystander_failure.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bystander_login.status,
        StatusCode::OK,
        "{}",
        bystander_login.body
    );
}

#[tokio::test]
async fn successful_logins_do_not_count_as_failures() {
    let app = spawn_app_with(|config| config.throttle_failed_logins_per_user_per_minute = 1).await;
    let (username, _) = app.new_named_user().await;

    for _ in 0..3 {
        get_token(&app, &username, PASSWORD, None)
            .await
            .expect(StatusCode::OK);
    }
}

#[tokio::test]
async fn money_movements_are_limited_per_user() {
    let app = spawn_app_with(|config| config.throttle_movements_per_user_per_minute = 2).await;
    let token = app.new_user().await;
    let other = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    let (others_account, _) = app.open_account(&other).await;
    app.deposit(&token, account, "10.00")
        .await
        .expect(StatusCode::OK);
    app.withdraw(&token, account, "1.00")
        .await
        .expect(StatusCode::OK);

    let third = app.deposit(&token, account, "5.00").await;
    let other_users = app.deposit(&other, others_account, "5.00").await;

    assert_throttled(&third);
    assert_eq!(app.balance(&token, account).await, "9.00");
    assert_eq!(app.transaction_count(&token).await, 2);
    assert_eq!(other_users.status, StatusCode::OK, "{}", other_users.body);
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_without_trusted_proxies() {
    let app = spawn_app_with(|config| config.throttle_auth_per_ip_per_minute = 2).await;

    let first = get_token(&app, "nobody", "whatever-1", Some("198.51.100.1")).await;
    let second = get_token(&app, "nobody", "whatever-2", Some("198.51.100.2")).await;
    let spoofed = get_token(&app, "nobody", "whatever-3", Some("198.51.100.3")).await;

    assert_eq!(first.status, StatusCode::BAD_REQUEST);
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    assert_throttled(&spoofed);
}

#[tokio::test]
async fn x_forwarded_for_from_a_trusted_proxy_gives_each_client_its_own_limit() {
    let app = spawn_app_with(|config| {
        config.throttle_auth_per_ip_per_minute = 2;
        config.trusted_proxies =
            vec![bankd::config::IpNet::parse("127.0.0.1").expect("an address")];
    })
    .await;
    for attempt in 0..2 {
        let answer = get_token(&app, "nobody", "whatever", Some("198.51.100.1")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "attempt {attempt}");
    }

    let same_client = get_token(&app, "nobody", "whatever", Some("198.51.100.1")).await;
    let prepended = get_token(
        &app,
        "nobody",
        "whatever",
        Some("203.0.113.50, 198.51.100.1"),
    )
    .await;
    let other_client = get_token(&app, "nobody", "whatever", Some("198.51.100.2")).await;
    let the_proxy_itself = get_token(&app, "nobody", "whatever", None).await;

    assert_throttled(&same_client);
    assert_throttled(&prepended);
    assert_eq!(
        other_client.status,
        StatusCode::BAD_REQUEST,
        "{}",
        other_client.body
    );
    assert_eq!(the_proxy_itself.status, StatusCode::BAD_REQUEST);
}

/// Sends `count` logins for `username` at once (`password_of(n)` for the n-th) and returns the
/// answers in completion order.
async fn simultaneous_logins(
    app: &std::sync::Arc<TestApp>,
    username: &str,
    count: usize,
    password_of: impl Fn(usize) -> String,
) -> Vec<ApiResponse> {
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..count {
        let (app, username, password) = (app.clone(), username.to_owned(), password_of(n));
        tasks.spawn(async move { get_token(&app, &username, &password, None).await });
    }
    let mut answers = Vec::with_capacity(count);
    while let Some(answer) = tasks.join_next().await {
        answers.push(answer.expect("login task"));
    }
    answers
}

fn count_status(answers: &[ApiResponse], status: StatusCode) -> usize {
    answers.iter().filter(|a| a.status == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_simultaneous_guesses_gets_no_more_password_checks_than_the_limit() {
    let app = spawn_app_with(|config| config.throttle_failed_logins_per_user_per_minute = 10).await;
    let app = std::sync::Arc::new(app);
    let (target, _) = app.new_named_user().await;

    let answers = simultaneous_logins(&app, &target, 40, |n| format!("wrong-password-{n}")).await;

    assert_eq!(count_status(&answers, StatusCode::BAD_REQUEST), 10);
    assert_eq!(count_status(&answers, StatusCode::TOO_MANY_REQUESTS), 30);
    answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .for_each(assert_throttled);
    assert_throttled(&get_token(&app, &target, PASSWORD, None).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_right_password_hidden_in_a_burst_of_guesses_cannot_beat_the_limit() {
    let app = spawn_app_with(|config| config.throttle_failed_logins_per_user_per_minute = 10).await;
    let app = std::sync::Arc::new(app);
    let (target, _) = app.new_named_user().await;

    // The reproduction: 39 wrong passwords and the right one, all at once.
    let answers = simultaneous_logins(&app, &target, 40, |n| match n {
        39 => PASSWORD.to_owned(),
        n => format!("wrong-password-{n}"),
    })
    .await;

    let failures = count_status(&answers, StatusCode::BAD_REQUEST);
    let tokens = count_status(&answers, StatusCode::OK);
    assert!(
        failures <= 10,
        "{failures} passwords were checked and failed"
    );
    assert!(
        failures + tokens <= 11,
        "only the limit (+ a refunded success) pass"
    );
    assert_eq!(
        count_status(&answers, StatusCode::TOO_MANY_REQUESTS),
        40 - failures - tokens
    );
}

#[tokio::test]
async fn an_over_long_password_is_refused_before_it_costs_a_failed_login() {
    let app = spawn_app_with(|config| config.throttle_failed_logins_per_user_per_minute = 1).await;
    let (target, _) = app.new_named_user().await;
    let huge = "x".repeat(4097);

    for _ in 0..3 {
        let body = get_token(&app, &target, &huge, None)
            .await
            .expect(StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({ "password": ["Ensure this field has no more than 4096 characters."] })
        );
    }
    get_token(&app, &target, PASSWORD, None)
        .await
        .expect(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_from_one_ip_gets_no_more_auth_requests_than_the_per_ip_limit() {
    let app = spawn_app_with(|config| config.throttle_auth_per_ip_per_minute = 5).await;
    let app = std::sync::Arc::new(app);

    let answers = simultaneous_logins(&app, "nobody", 30, |n| format!("guess-{n}")).await;

    assert_eq!(count_status(&answers, StatusCode::BAD_REQUEST), 5);
    assert_eq!(count_status(&answers, StatusCode::TOO_MANY_REQUESTS), 25);
}
