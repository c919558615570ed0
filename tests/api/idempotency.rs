//! `Idempotency-Key` on money movement (contract §4, issue 3): a retried request is answered
//! from the stored result and never moves money twice, even across a SIGKILL.

use std::path::Path;
use std::process::Stdio;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::{
    ApiResponse, PASSWORD, TestApp, assert_detail, registration_body, spawn_app, text,
};
use crate::support::child::{ChildServer, bankd_command};

/// `POST path` with the token, a JSON body and an `Idempotency-Key`.
async fn keyed_post(app: &TestApp, token: &str, path: &str, body: Value, key: &str) -> ApiResponse {
    app.request_with(
        Method::POST,
        path,
        token,
        Some(body),
        &[("Idempotency-Key", key)],
    )
    .await
}

/// How many ledger rows of `transaction_type` the caller can see.
async fn count_of(app: &TestApp, token: &str, transaction_type: &str) -> u64 {
    app.transactions(token, &format!("?transaction_type={transaction_type}"))
        .await["count"]
        .as_u64()
        .expect("count")
}

#[tokio::test]
async fn the_same_key_and_body_twice_replays_the_answer_and_moves_money_once() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "100.00").await;
    let path = format!("/api/accounts/{id}/deposit/");
    let body = json!({ "amount": "25.50", "description": "rent" });

    let first = keyed_post(&app, &token, &path, body.clone(), "deposit-1").await;
    let second = keyed_post(&app, &token, &path, body, "deposit-1").await;

    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(second.status, first.status);
    assert_eq!(second.body, first.body);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.balance(&token, id).await, "125.50");
    assert_eq!(count_of(&app, &token, "deposit").await, 2);
}

#[tokio::test]
async fn a_replayed_transfer_answers_the_same_transfer_id_and_moves_nothing_more() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (source, _) = app.funded_account(&token, "100.00").await;
    let (destination, destination_number) = app.open_account(&token).await;
    let path = format!("/api/accounts/{source}/transfer/");
    let body = json!({ "to_account_number": destination_number, "amount": "40.00" });

    let first = keyed_post(&app, &token, &path, body.clone(), "transfer-1").await;
    let replays = [
        keyed_post(&app, &token, &path, body.clone(), "transfer-1").await,
        keyed_post(&app, &token, &path, body, "transfer-1").await,
    ];

    let first = first.expect(StatusCode::OK);
    for replay in replays {
        assert_eq!(replay.header("idempotent-replayed"), Some("true"));
        assert_eq!(replay.expect(StatusCode::OK), first);
    }
    assert_eq!(app.balance(&token, source).await, "60.00");
    assert_eq!(app.balance(&token, destination).await, "40.00");
    assert_eq!(count_of(&app, &token, "transfer_out").await, 1);
}

#[tokio::test]
async fn key_order_and_whitespace_of_the_body_do_not_make_a_different_request() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    let url = format!("{}/api/accounts/{id}/deposit/", app.address);
    let send = |raw: &'static str| {
        app.client
            .post(&url)
            .header("Authorization", format!("Token {token}"))
            .header("Idempotency-Key", "reordered")
            .header("Content-Type", "application/json")
            .body(raw)
    };

    let first = app
        .send(send(r#"{"amount": "7.00", "description": "x"}"#))
        .await;
    let second = app
        .send(send(r#"{ "description":"x",   "amount":"7.00" }"#))
        .await;

    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.body, first.body);
    assert_eq!(app.balance(&token, id).await, "7.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_duplicates_move_money_exactly_once() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (source, _) = app.funded_account(&token, "100.00").await;
    let (destination, destination_number) = app.open_account(&token).await;
    let body = json!({ "to_account_number": destination_number, "amount": "10.00" });
    let mut requests = JoinSet::new();
    for _ in 0..8 {
        let request = app
            .raw(Method::POST, &format!("/api/accounts/{source}/transfer/"))
            .header("Authorization", format!("Token {token}"))
            .header("Idempotency-Key", "one-transfer-only")
            .json(&body);
        requests.spawn(async move {
            let response = request.send().await.expect("the server answers");
            let status = response.status();
            let body: Value = response.json().await.expect("a JSON body");
            (status, body)
        });
    }

    let mut answers = Vec::new();
    while let Some(answer) = requests.join_next().await {
        answers.push(answer.expect("request task"));
    }

    let successes: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .map(|(_, body)| body)
        .collect();
    assert!(!successes.is_empty(), "no request succeeded: {answers:?}");
    assert!(
        successes.iter().all(|body| *body == successes[0]),
        "answers differ: {successes:?}"
    );
    for (status, body) in &answers {
        if *status != StatusCode::OK {
            assert_eq!(*status, StatusCode::CONFLICT, "{body}");
            assert_detail(body, "idempotency_in_progress");
        }
    }
    let late_retry = keyed_post(
        &app,
        &token,
        &format!("/api/accounts/{source}/transfer/"),
        body,
        "one-transfer-only",
    )
    .await;
    assert_eq!(late_retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(&late_retry.expect(StatusCode::OK), successes[0]);
    assert_eq!(app.balance(&token, source).await, "90.00");
    assert_eq!(app.balance(&token, destination).await, "10.00");
    assert_eq!(count_of(&app, &token, "transfer_out").await, 1);
}

#[tokio::test]
async fn the_same_key_with_a_different_request_is_refused_and_moves_nothing() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "100.00").await;
    let deposit = format!("/api/accounts/{id}/deposit/");
    let withdraw = format!("/api/accounts/{id}/withdraw/");
    keyed_post(&app, &token, &deposit, json!({ "amount": "5.00" }), "k-1")
        .await
        .expect(StatusCode::OK);

    let other_amount = keyed_post(&app, &token, &deposit, json!({ "amount": "6.00" }), "k-1").await;
    let other_route = keyed_post(&app, &token, &withdraw, json!({ "amount": "5.00" }), "k-1").await;
    let other_description = keyed_post(
        &app,
        &token,
        &deposit,
        json!({ "amount": "5.00", "description": "changed" }),
        "k-1",
    )
    .await;

    for refused in [other_amount, other_route, other_description] {
        assert_eq!(refused.header("idempotent-replayed"), None);
        let body = refused.expect(StatusCode::UNPROCESSABLE_ENTITY);
        assert_detail(&body, "idempotency_key_reused");
    }
    assert_eq!(app.balance(&token, id).await, "105.00");
    assert_eq!(app.transaction_count(&token).await, 2);
}

#[tokio::test]
async fn keys_are_scoped_per_user_so_another_user_may_use_the_same_string() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let (alice_account, _) = app.open_account(&alice).await;
    let (bob_account, _) = app.open_account(&bob).await;
    let body = json!({ "amount": "12.00" });
    let alice_answer = keyed_post(
        &app,
        &alice,
        &format!("/api/accounts/{alice_account}/deposit/"),
        body.clone(),
        "shared-key",
    )
    .await
    .expect(StatusCode::OK);

    let bob_answer = keyed_post(
        &app,
        &bob,
        &format!("/api/accounts/{bob_account}/deposit/"),
        body,
        "shared-key",
    )
    .await;

    assert_eq!(bob_answer.header("idempotent-replayed"), None);
    let bob_body = bob_answer.expect(StatusCode::OK);
    assert_ne!(bob_body["transaction_id"], alice_answer["transaction_id"]);
    assert_eq!(app.balance(&bob, bob_account).await, "12.00");
    assert_eq!(app.balance(&alice, alice_account).await, "12.00");
}

#[tokio::test]
async fn a_refused_movement_is_stored_and_replayed_as_refused_even_after_money_arrives() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.funded_account(&token, "10.00").await;
    let path = format!("/api/accounts/{id}/withdraw/");
    let body = json!({ "amount": "50.00" });
    let refused = keyed_post(&app, &token, &path, body.clone(), "too-much").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_detail(&refused.body, "insufficient_funds");
    app.deposit(&token, id, "100.00")
        .await
        .expect(StatusCode::OK);

    let replay = keyed_post(&app, &token, &path, body, "too-much").await;

    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.body, refused.body);
    assert_eq!(app.balance(&token, id).await, "110.00");
    assert_eq!(count_of(&app, &token, "withdrawal").await, 0);
}

#[tokio::test]
async fn invalid_keys_are_refused_with_a_clear_400_and_move_nothing() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    let path = format!("/api/accounts/{id}/deposit/");
    let too_long = "k".repeat(256);
    let invalid: [&[u8]; 4] = [
        b"",
        too_long.as_bytes(),
        b"tab\there",
        "caf\u{e9}".as_bytes(),
    ];

    for key in invalid {
        let request = app
            .raw(Method::POST, &path)
            .header("Authorization", format!("Token {token}"))
            .header(
                "Idempotency-Key",
                reqwest::header::HeaderValue::from_bytes(key).expect("a sendable header"),
            )
            .json(&json!({ "amount": "1.00" }));
        let response = app.send(request).await;

        let body = response.expect(StatusCode::BAD_REQUEST);
        assert_detail(&body, "invalid_idempotency_key");
    }
    assert_eq!(app.balance(&token, id).await, "0.00");
    assert_eq!(app.transaction_count(&token).await, 0);
}

#[tokio::test]
async fn a_key_of_255_printable_characters_is_accepted() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    // Every printable ASCII character, a space inside (not at the ends, where HTTP trims).
    let key: String = (0..255u8)
        .map(|i| {
            if i == 100 {
                ' '
            } else {
                char::from(b'!' + i % 94)
            }
        })
        .collect();
    assert_eq!(key.len(), 255);
    let path = format!("/api/accounts/{id}/deposit/");

    let first = keyed_post(&app, &token, &path, json!({ "amount": "1.00" }), &key).await;
    let second = keyed_post(&app, &token, &path, json!({ "amount": "1.00" }), &key).await;

    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.balance(&token, id).await, "1.00");
}

#[tokio::test]
async fn the_path_with_and_without_its_trailing_slash_is_the_same_request() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    let body = json!({ "amount": "3.00" });

    let with_slash = keyed_post(
        &app,
        &token,
        &format!("/api/accounts/{id}/deposit/"),
        body.clone(),
        "slash",
    )
    .await;
    let without_slash = keyed_post(
        &app,
        &token,
        &format!("/api/accounts/{id}/deposit"),
        body,
        "slash",
    )
    .await;

    assert_eq!(with_slash.status, StatusCode::OK, "{}", with_slash.body);
    assert_eq!(
        without_slash.status,
        StatusCode::OK,
        "{}",
        without_slash.body
    );
    assert_eq!(without_slash.header("idempotent-replayed"), Some("true"));
    assert_eq!(without_slash.body, with_slash.body);
    assert_eq!(app.balance(&token, id).await, "3.00");
}

#[tokio::test]
async fn an_expired_key_is_forgotten_and_may_be_used_for_a_new_request() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;
    let path = format!("/api/accounts/{id}/deposit/");
    keyed_post(&app, &token, &path, json!({ "amount": "1.00" }), "old-key")
        .await
        .expect(StatusCode::OK);
    // Twenty-four hours pass for this key.
    let expired = app.execute_sql("UPDATE idempotency_keys SET expires_at = 0", []);
    assert_eq!(expired, 1);

    let same_body = keyed_post(&app, &token, &path, json!({ "amount": "1.00" }), "old-key").await;
    let other_body = keyed_post(&app, &token, &path, json!({ "amount": "2.00" }), "old-key").await;

    assert_eq!(same_body.header("idempotent-replayed"), None);
    assert_eq!(same_body.status, StatusCode::OK, "{}", same_body.body);
    // The fresh request stored the key again: another body under it is now a reuse.
    assert_eq!(
        other_body.expect(StatusCode::UNPROCESSABLE_ENTITY)["code"],
        "idempotency_key_reused"
    );
    assert_eq!(app.balance(&token, id).await, "2.00");
}

#[tokio::test]
async fn requests_without_a_key_are_never_replayed() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (id, _) = app.open_account(&token).await;

    let first = app.deposit(&token, id, "2.00").await;
    let second = app.deposit(&token, id, "2.00").await;

    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.header("idempotent-replayed"), None);
    assert_ne!(first.body["transaction_id"], second.body["transaction_id"]);
    assert_eq!(app.balance(&token, id).await, "4.00");
}

/// `bankd serve` as a child process on port 0, killed with SIGKILL when dropped.
struct Process(ChildServer);

impl Process {
    fn start(database: &Path) -> Self {
        let mut command = bankd_command(database.parent().expect("a directory"));
        command.env("BANKD_LOG_LEVEL", "warn").stderr(Stdio::null());
        Self(ChildServer::start(command, database))
    }

    /// SIGKILL: no shutdown code runs.
    fn kill(&mut self) {
        self.0.kill();
    }

    async fn call(
        &self,
        path: &str,
        token: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> (StatusCode, Option<String>, Value) {
        let client = reqwest::Client::new();
        let url = format!("{}{path}", self.0.address);
        let mut request = match &body {
            Some(body) => client.post(url).json(body),
            None => client.get(url),
        };
        if !token.is_empty() {
            request = request.header("Authorization", format!("Token {token}"));
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let replayed = response
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.json().await.unwrap_or(Value::Null);
        (status, replayed, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_survives_a_sigkill_and_its_retry_after_restart_is_replayed() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("bank.db");
    let mut server = Process::start(&database);
    let (status, _, _) = server
        .call("/api/register/", "", Some(registration_body("carol")), None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let login = json!({ "username": "carol", "password": PASSWORD });
    let (_, _, body) = server.call("/api/get-token/", "", Some(login), None).await;
    let token = text(&body, "token").to_owned();
    let (_, _, source) = server
        .call("/api/accounts/", &token, Some(json!({})), None)
        .await;
    let (_, _, destination) = server
        .call("/api/accounts/", &token, Some(json!({})), None)
        .await;
    let (source_id, destination_id) = (source["id"].clone(), destination["id"].clone());
    let deposit = json!({ "amount": "100.00" });
    let (status, _, _) = server
        .call(
            &format!("/api/accounts/{source_id}/deposit/"),
            &token,
            Some(deposit),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let transfer_path = format!("/api/accounts/{source_id}/transfer/");
    let transfer = json!({ "to_account_number": destination["account_number"], "amount": "30.00" });
    let (status, replayed, first) = server
        .call(
            &transfer_path,
            &token,
            Some(transfer.clone()),
            Some("survives"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(replayed, None);

    server.kill();
    let server = Process::start(&database);
    let (status, replayed, retry) = server
        .call(&transfer_path, &token, Some(transfer), Some("survives"))
        .await;

    assert_eq!(status, StatusCode::OK, "{retry}");
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(retry, first);
    let (_, _, source) = server
        .call(&format!("/api/accounts/{source_id}/"), &token, None, None)
        .await;
    let (_, _, destination) = server
        .call(
            &format!("/api/accounts/{destination_id}/"),
            &token,
            None,
            None,
        )
        .await;
    assert_eq!(source["balance"], "70.00");
    assert_eq!(destination["balance"], "30.00");
}
