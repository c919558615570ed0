//! Bounded statements (issue #11 item 5): a statement's transactions come a page at a time in
//! the detail while its figures cover the whole period, the CSV is streamed, and statement work
//! beyond `statements.concurrent_max` waits its turn or gets `503` with `Retry-After`.
//!
//! Busy accounts are written straight into the ledger with one SQL statement (the API only
//! posts "now"), chained consistently, as in `statements.rs`.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, assert_detail, id_of, spawn_app, spawn_app_with, text};

/// Inserts `count` deposits of 1.00, one a second from `day` 00:00:00, each described by
/// `description` and its number, into an account with no ledger rows yet; the account row is
/// brought in line.
fn insert_deposits(app: &TestApp, account: i64, count: i64, day: &str, description: &str) {
    let inserted = app.execute_sql(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
         INSERT INTO transactions (id, account_id, customer_id, transaction_type, amount_cents,
             balance_after_cents, description, created_at)
         SELECT (SELECT coalesce(max(id), 0) FROM transactions) + i, ?1,
             (SELECT customer_id FROM accounts WHERE id = ?1), 'deposit', 100, 100 * i,
             ?4 || ' ' || i,
             strftime('%Y-%m-%dT%H:%M:%S', ?3, '+' || (i - 1) || ' seconds') || '.000000Z'
         FROM n",
        rusqlite::params![account, count, day, description],
    );
    assert_eq!(inserted, usize::try_from(count).expect("a count"));
    app.execute_sql(
        "UPDATE accounts SET balance_cents = 100 * ?1, transaction_count = ?1 WHERE id = ?2",
        rusqlite::params![count, account],
    );
}

async fn generate(app: &TestApp, token: &str, account: i64, day: &str) -> Value {
    app.post(
        &format!("/api/accounts/{account}/statements/"),
        token,
        json!({ "start_date": day, "end_date": day }),
    )
    .await
    .expect(StatusCode::CREATED)
}

fn descriptions(page: &Value) -> Vec<&str> {
    page["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|row| text(row, "description"))
        .collect()
}

#[tokio::test]
async fn a_long_statement_is_paged_while_its_figures_cover_the_whole_period() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    insert_deposits(&app, account, 5_000, "2024-05-01", "row");

    let created = generate(&app, &token, account, "2024-05-01").await;
    let id = id_of(&created, "id");
    let third = app
        .get(&format!("/api/statements/{id}/?page=3&page_size=7"), &token)
        .await
        .expect(StatusCode::OK);
    let capped = app
        .get(&format!("/api/statements/{id}/?page_size=100000"), &token)
        .await
        .expect(StatusCode::OK);
    let past_the_end = app
        .get(&format!("/api/statements/{id}/?page=251"), &token)
        .await;

    for statement in [&created, &third, &capped] {
        assert_eq!(statement["opening_balance"], "0.00");
        assert_eq!(statement["total_deposits"], "5000.00");
        assert_eq!(statement["total_withdrawals"], "0.00");
        assert_eq!(statement["closing_balance"], "5000.00");
        assert_eq!(statement["transaction_count"], 5_000);
        assert_eq!(statement["transactions"]["count"], 5_000);
    }
    let first_page = &created["transactions"];
    assert_eq!(descriptions(first_page).len(), 20, "DRF's default page");
    assert_eq!(descriptions(first_page)[0], "row 1", "oldest first");
    assert_eq!(first_page["previous"], Value::Null);
    let next = text(first_page, "next");
    assert!(
        next.ends_with(&format!("/api/statements/{id}/?page=2")),
        "{next}"
    );
    let expected: Vec<String> = (15..22).map(|n| format!("row {n}")).collect();
    assert_eq!(descriptions(&third["transactions"]), expected);
    let previous = text(&third["transactions"], "previous");
    assert!(
        previous.contains("page=2") && previous.contains("page_size=7"),
        "{previous}"
    );
    assert_eq!(descriptions(&capped["transactions"]).len(), 100);
    assert_eq!(past_the_end.status, StatusCode::NOT_FOUND);
    assert_eq!(past_the_end.body["detail"], "Invalid page.");
}

#[tokio::test]
async fn the_streamed_csv_of_many_chunks_has_every_row_once_in_order() {
    let app = spawn_app().await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    // Several of the stream's 256-row chunks, and a last one that is not full.
    insert_deposits(&app, account, 1_000, "2024-05-01", "=cmd, \"quoted\"");
    let id = id_of(&generate(&app, &token, account, "2024-05-01").await, "id");

    let csv = app
        .get(&format!("/api/statements/{id}/?format=csv"), &token)
        .await;

    assert_eq!(csv.status, StatusCode::OK);
    let body = csv.body.as_str().expect("CSV text");
    let lines: Vec<&str> = body.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 1 + 1_000, "a header and every row once");
    assert_eq!(
        lines[0],
        "created_at,transaction_id,transaction_type,description,amount,balance_after,counterparty_account_number"
    );
    for (n, line) in (1..).zip(&lines[1..]) {
        let seconds = n - 1;
        let expected = format!(
            "2024-05-01T{:02}:{:02}:{:02}.000000Z,{n},deposit,\"'=cmd, \"\"quoted\"\" {n}\",1.00,{}.00,",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60,
            n
        );
        assert_eq!(*line, expected);
    }
}

/// Reads what the socket has (waiting for something); 0 at the end of the stream.
async fn read_some(stream: &TcpStream, buffer: &mut [u8]) -> usize {
    loop {
        stream.readable().await.expect("readable");
        match stream.try_read(buffer) {
            Ok(n) => return n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Sends `GET path` on a socket with a tiny receive buffer and reads only the status line and
/// headers: the rest of a large body stays unread, so the server cannot finish sending it.
async fn start_download(app: &TestApp, path: &str, token: &str) -> (TcpStream, String) {
    let address: std::net::SocketAddr = app
        .address
        .trim_start_matches("http://")
        .parse()
        .expect("a socket address");
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(4096).expect("a small buffer");
    let stream = socket.connect(address).await.expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Token {token}\r\nConnection: close\r\n\r\n"
    );
    let mut sent = 0;
    while sent < request.len() {
        stream.writable().await.expect("writable");
        match stream.try_write(&request.as_bytes()[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("send: {e}"),
        }
    }
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        // One byte at a time, so nothing past the head is taken off the socket.
        let mut byte = [0_u8; 1];
        assert_eq!(read_some(&stream, &mut byte).await, 1, "the response head");
        head.push(byte[0]);
    }
    (stream, String::from_utf8_lossy(&head).into_owned())
}

#[tokio::test]
async fn statement_work_past_the_bound_gets_503_with_retry_after_until_a_turn_frees_up() {
    let app = spawn_app_with(|config| {
        config.statements_concurrent_max = 1;
        config.statements_queue_wait_ms = 0;
    })
    .await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    // About 9 MB of CSV: more than hyper's buffer, the server's socket buffer (at most 4 MiB
    // here) and the client's together, so the download below cannot complete unread.
    insert_deposits(&app, account, 30_000, "2024-05-01", &"x".repeat(250));
    let id = id_of(&generate(&app, &token, account, "2024-05-01").await, "id");
    let list = format!("/api/accounts/{account}/statements/");

    let (download, head) =
        start_download(&app, &format!("/api/statements/{id}/?format=csv"), &token).await;
    let detail = app.get(&format!("/api/statements/{id}/"), &token).await;
    let csv = app
        .get(&format!("/api/statements/{id}/?format=csv"), &token)
        .await;
    let another = app
        .post(
            &list,
            &token,
            json!({ "start_date": "2024-05-01", "end_date": "2024-05-01" }),
        )
        .await;
    let listed_meanwhile = app.get(&list, &token).await.expect(StatusCode::OK);
    let mut rest = Vec::new();
    let mut buffer = vec![0_u8; 64 * 1024];
    loop {
        match read_some(&download, &mut buffer).await {
            0 => break,
            n => rest.extend_from_slice(&buffer[..n]),
        }
    }
    let detail_after = app.get(&format!("/api/statements/{id}/"), &token).await;

    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    for busy in [&detail, &csv, &another] {
        assert_eq!(
            busy.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{:?}",
            busy.body
        );
        assert_eq!(busy.header("retry-after"), Some("1"));
        assert_detail(&busy.body, "service_unavailable");
    }
    assert_eq!(
        listed_meanwhile["count"], 1,
        "listing is not statement work; nothing stored"
    );
    let rows = rest.windows(9).filter(|w| w == b",deposit,").count();
    assert_eq!(rows, 30_000, "the held download completes");
    assert_eq!(
        detail_after.status,
        StatusCode::OK,
        "the turn was given back"
    );
}

#[tokio::test]
async fn statement_requests_past_the_bound_queue_briefly_and_all_succeed() {
    let app = spawn_app_with(|config| {
        config.statements_concurrent_max = 1;
        config.statements_queue_wait_ms = 30_000;
    })
    .await;
    let token = app.new_user().await;
    let (account, _) = app.open_account(&token).await;
    insert_deposits(&app, account, 2_000, "2024-05-01", "row");
    let id = id_of(&generate(&app, &token, account, "2024-05-01").await, "id");

    let requests: Vec<_> = (0..8)
        .map(|n| {
            let path = match n % 2 {
                0 => format!("{}/api/statements/{id}/?format=csv", app.address),
                _ => format!("{}/api/statements/{id}/?page={n}", app.address),
            };
            let request = app
                .client
                .get(path)
                .header("Authorization", format!("Token {token}"));
            tokio::spawn(async move {
                let response = request.send().await.expect("a response");
                let status = response.status();
                let body = response.text().await.expect("a body");
                (status, body)
            })
        })
        .collect();

    for (n, request) in requests.into_iter().enumerate() {
        let (status, body) = request.await.expect("the request task");
        assert_eq!(status, StatusCode::OK, "{body}");
        let whole = match n % 2 {
            0 => body.contains(",row 2000,"),
            _ => body.contains("\"count\":2000"),
        };
        assert!(whole, "request {n} is incomplete: {body:.300}");
    }
}
