//! The tour: every route, in an order a newcomer would follow, as one continuous session on one
//! database. Each chapter records the examples of one section of `docs/API.md`; `Session`
//! carries what earlier chapters made (tokens, ids, paths) to later ones.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::PASSWORD;
use crate::normalise::{SHOWN_HOST, SHOWN_PERIOD_START, SHOWN_TODAY};
use crate::recorder::{Body, Display, Request, Server, Tour, registration, start};
use crate::support::child::bankd_command;

/// What the tour has made so far.
#[derive(Default)]
struct Session {
    /// Today (UTC) and 30 days ago, as `YYYY-MM-DD`.
    today: String,
    period_start: String,
    /// alice's token; bob's token.
    token: String,
    bob: String,
    /// alice's profile, `/api/customers/{id}/`.
    customer: String,
    /// alice's checking account: id, `/api/accounts/{id}/`, number.
    main_id: i64,
    main: String,
    main_number: String,
    /// alice's savings account.
    savings_id: i64,
    savings_number: String,
    /// alice's closed business account, `/api/accounts/{id}/`.
    spare: String,
    /// bob's account.
    bob_account_id: i64,
}

/// Runs the whole tour; returns the recordings and the servers (kept alive until rendered).
pub async fn run() -> (Tour, Vec<Server>) {
    let server = start(|config| {
        // Examples log in more often than a human would: the 429 example has its own server.
        config.throttle_auth_per_ip_per_minute = 0;
    })
    .await;
    let mut t = Tour::new(&server);
    let today = chrono::Utc::now().date_naive();
    let mut s = Session {
        today: today.to_string(),
        period_start: (today - chrono::Days::new(30)).to_string(),
        ..Session::default()
    };
    t.alias(&s.today, SHOWN_TODAY);
    t.alias(&s.period_start, SHOWN_PERIOD_START);

    service_routes(&mut t).await;
    authentication(&mut t, &mut s).await;
    customers(&mut t, &mut s).await;
    accounts(&mut t, &mut s).await;
    money(&mut t, &mut s).await;
    idempotency(&mut t, &s, &server).await;
    transactions(&mut t, &s).await;
    cards(&mut t, &s).await;
    statements(&mut t, &s).await;
    staff(&mut t, &s, &server).await;
    wire(&mut t, &s).await;
    let throttled = throttling(&mut t, &server).await;
    logout(&mut t, &s).await;
    (t, vec![server, throttled])
}

async fn service_routes(t: &mut Tour) {
    t.check("healthz", Request::get("/healthz"), 200).await;
    t.check("readyz", Request::get("/readyz"), 200).await;
    let schema = Request::get("/api/schema/").display(Display::SchemaExcerpt);
    t.check("schema", schema, 200).await;
    let metrics = Request::get("/metrics").display(Display::Metrics);
    t.check("metrics", metrics, 200).await;
    let console = Request::get("/").display(Display::NoBody);
    t.check("console", console, 200).await;
}

async fn authentication(t: &mut Tour, s: &mut Session) {
    let alice = registration("alice", "Alice Example");
    t.check("register", Request::post("/api/register/").json(alice), 201)
        .await;
    let invalid = json!({
        "username": "Alice",
        "password": "12345678",
        "password2": "12345679",
        "full_name": "",
        "email": "not-an-email",
        "date_of_birth": "2990-01-01",
        "gender": "X",
    });
    let request = Request::post("/api/register/").json(invalid);
    t.check("register-invalid", request, 400).await;

    let credentials = json!({"username": "alice", "password": PASSWORD});
    let wrong = json!({"username": "alice", "password": "wrong-password"});
    let request = Request::post("/api/get-token/").json(credentials.clone());
    s.token = t.check("get-token", request, 200).await.text_of("token");
    t.alias(&s.token, "<token>");
    let form = [("username", "alice"), ("password", PASSWORD)];
    let request = Request::post("/api/get-token/").form(&form);
    let another = t
        .check("get-token-form", request, 200)
        .await
        .text_of("token");
    t.alias(&another, "<another-token>");
    let request = Request::post("/api/get-token/").json(wrong.clone());
    t.check("get-token-wrong", request, 400).await;
    let request = Request::post("/api/get-token/").json(json!({}));
    t.check("get-token-missing", request, 400).await;

    let request = Request::post("/api/token/").json(credentials);
    let pair = t.check("jwt-pair", request, 200).await;
    let (access, refresh) = (pair.text_of("access"), pair.text_of("refresh"));
    t.alias(&access, "<access>");
    t.alias(&refresh, "<refresh>");
    let request = Request::post("/api/token/").json(wrong);
    t.check("jwt-pair-wrong", request, 401).await;
    let request = Request::post("/api/token/refresh/").json(json!({ "refresh": refresh }));
    let refreshed = t.check("jwt-refresh", request, 200).await;
    t.alias(&refreshed.text_of("access"), "<new-access>");
    let request = Request::post("/api/token/refresh/").json(json!({ "refresh": access }));
    t.check("jwt-refresh-wrong-type", request, 401).await;
    let request = Request::get("/api/customers/").bearer(&access);
    t.check("jwt-use", request, 200).await;
    let request = Request::get("/api/customers/").bearer("not.a.jwt");
    t.check("jwt-bad", request, 401).await;
    let request = Request::get("/api/me/").token(&s.token);
    t.check("me", request, 200).await;

    t.check("no-credentials", Request::get("/api/accounts/"), 401)
        .await;
    let request = Request::get("/api/accounts/").token("not-a-real-token");
    t.check("bad-token", request, 401).await;
}

async fn customers(t: &mut Tour, s: &mut Session) {
    let token = s.token.clone();
    let list = t
        .check(
            "customers-list",
            Request::get("/api/customers/").token(&token),
            200,
        )
        .await;
    let customer_id = list.json["results"][0]["id"].as_i64().expect("customer id");
    s.customer = format!("/api/customers/{customer_id}/");
    let customer = s.customer.clone();
    t.check("customer-get", Request::get(&customer).token(&token), 200)
        .await;
    let patch = json!({"phone_number": "+44 20 7946 0000"});
    let request = Request::patch(&customer).token(&token).json(patch);
    t.check("customer-patch", request, 200).await;
    let put = json!({
        "full_name": "Alice Example",
        "email": "alice@example.com",
        "phone_number": null,
        "date_of_birth": "1990-01-31",
        "gender": "F",
    });
    let request = Request::put(&customer).token(&token).json(put);
    t.check("customer-put", request, 200).await;
    let incomplete = json!({"full_name": "Alice Example"});
    let request = Request::put(&customer).token(&token).json(incomplete);
    t.check("customer-put-incomplete", request, 400).await;
    let again = json!({"full_name": "Alice Again", "email": "alice@example.com"});
    let request = Request::post("/api/customers/").token(&token).json(again);
    t.check("customer-create-exists", request, 400).await;

    // bob deletes his profile, cannot open an account without one, and makes a new one.
    t.register_quietly("bob").await;
    s.bob = t.login_quietly("bob", "<bob-token>").await;
    let bob = s.bob.clone();
    let list = t.quiet(Request::get("/api/customers/").token(&bob)).await;
    let old_profile = list.expect(200)["results"][0]["id"].as_i64().expect("id");
    let request = Request::delete(&format!("/api/customers/{old_profile}/")).token(&bob);
    t.check("customer-delete", request, 204).await;
    let request = Request::post("/api/accounts/").token(&bob).json(json!({}));
    t.check("account-create-no-profile", request, 400).await;
    let profile = json!({"full_name": "Bob Example", "email": "bob@example.com", "gender": "M"});
    let request = Request::post("/api/customers/").token(&bob).json(profile);
    let bob_profile = t.check("customer-create", request, 201).await.id();
    let request = Request::get(&format!("/api/customers/{bob_profile}/")).token(&token);
    t.check("customer-other", request, 404).await;
}

async fn accounts(t: &mut Tour, s: &mut Session) {
    let token = s.token.clone();
    let request = Request::post("/api/accounts/")
        .token(&token)
        .json(json!({"nickname": "Everyday"}));
    let main = t.check("account-create", request, 201).await;
    (s.main_id, s.main_number) = (main.id(), main.text_of("account_number"));
    s.main = format!("/api/accounts/{}/", s.main_id);
    let form = [("account_type", "savings"), ("nickname", "Rainy-day")];
    let request = Request::post("/api/accounts/").token(&token).form(&form);
    let savings = t.check("account-create-form", request, 201).await;
    (s.savings_id, s.savings_number) = (savings.id(), savings.text_of("account_number"));
    let invalid = json!({"account_type": "crypto", "nickname": "x".repeat(101)});
    let request = Request::post("/api/accounts/").token(&token).json(invalid);
    t.check("account-create-invalid", request, 400).await;

    let main = s.main.clone();
    t.check("account-get", Request::get(&main).token(&token), 200)
        .await;
    let read_only = json!({
        "nickname": "Bills",
        "balance": "1000000.00",
        "status": "frozen",
        "account_number": "ACC-000000001",
    });
    let request = Request::patch(&main).token(&token).json(read_only);
    t.check("account-patch", request, 200).await;
    let put = json!({"account_type": "checking", "nickname": "Everyday"});
    let request = Request::put(&main).token(&token).json(put);
    t.check("account-put", request, 200).await;
    t.check("account-other", Request::get(&main).token(&s.bob), 404)
        .await;

    // An empty account is closed; the lists show it only when asked.
    let business = json!({"account_type": "business", "nickname": "Side project"});
    let request = Request::post("/api/accounts/").token(&token).json(business);
    s.spare = format!("/api/accounts/{}/", t.quiet(request).await.id());
    let request = Request::delete(&s.spare).token(&token);
    t.check("account-delete", request, 204).await;
    let request = Request::get("/api/accounts/").token(&token);
    t.check("accounts-list", request, 200).await;
    let request = Request::get("/api/accounts/?status=closed").token(&token);
    t.check("accounts-list-closed", request, 200).await;
    let request = Request::get("/api/accounts/?status=open").token(&token);
    t.check("accounts-list-invalid", request, 400).await;
    let request = Request::delete(&s.customer).token(&token);
    t.check("customer-delete-open-accounts", request, 400).await;

    // The open-account limit, on a customer who already has ten.
    t.register_quietly("dave").await;
    let dave = t.login_quietly("dave", "<dave-token>").await;
    for _ in 0..10 {
        let request = Request::post("/api/accounts/").token(&dave).json(json!({}));
        t.quiet(request).await.expect(201);
    }
    let request = Request::post("/api/accounts/").token(&dave).json(json!({}));
    t.check("account-limit", request, 400).await;
}

async fn money(t: &mut Tour, s: &mut Session) {
    let (token, main) = (s.token.clone(), s.main.clone());
    let movement = |kind: &str, body: serde_json::Value| {
        Request::post(&format!("{main}{kind}/"))
            .token(&token)
            .json(body)
    };
    let salary = json!({"amount": "500.25", "description": "Salary"});
    t.check("deposit", movement("deposit", salary), 200).await;
    let request = Request::post(&format!("{main}deposit/"))
        .token(&token)
        .json_text(r#"{"amount": 0.07}"#);
    t.check("deposit-number", request, 200).await;
    let invalid = json!({"amount": "-5", "description": ["Salary"]});
    t.check("deposit-invalid", movement("deposit", invalid), 400)
        .await;
    let cash = json!({"amount": "100.00", "description": "Cash"});
    t.check("withdraw", movement("withdraw", cash), 200).await;
    let too_much = json!({"amount": "1000.00"});
    t.check("withdraw-insufficient", movement("withdraw", too_much), 400)
        .await;

    let to_savings = json!({"to_account_number": s.savings_number, "amount": "150.00", "description": "Savings"});
    t.check("transfer", movement("transfer", to_savings), 200)
        .await;
    let request = Request::post("/api/accounts/")
        .token(&s.bob)
        .json(json!({}));
    let bob_account = t.quiet(request).await;
    s.bob_account_id = bob_account.id();
    let to_bob = json!({
        "to_account_number": bob_account.text_of("account_number"),
        "amount": "25.00",
        "description": "Dinner",
    });
    t.check("transfer-other-customer", movement("transfer", to_bob), 200)
        .await;
    let to_itself = json!({"to_account_number": s.main_number, "amount": "1.00"});
    t.check("transfer-same", movement("transfer", to_itself), 400)
        .await;
    let to_nobody = json!({"to_account_number": "ACC-000000000", "amount": "1.00"});
    t.check("transfer-unknown", movement("transfer", to_nobody), 400)
        .await;
    let request = Request::post(&format!("/api/accounts/{}/withdraw/", s.bob_account_id))
        .token(&token)
        .json(json!({"amount": "1.00"}));
    t.check("movement-other", request, 404).await;
}

async fn idempotency(t: &mut Tour, s: &Session, server: &Server) {
    let deposit = format!("/api/accounts/{}/deposit/", s.savings_id);
    let keyed = |key: &str, amount: &str| {
        Request::post(&deposit)
            .token(&s.token)
            .header("Idempotency-Key", key)
            .json(json!({"amount": amount, "description": "Rent share"}))
    };
    t.check("idempotent-first", keyed("rent-2026-11", "40.00"), 200)
        .await;
    let replay = t
        .check("idempotent-replay", keyed("rent-2026-11", "40.00"), 200)
        .await;
    let replayed = replay.headers.get("idempotent-replayed");
    assert_eq!(replayed.map(|v| v.as_bytes()), Some(&b"true"[..]));
    t.check("idempotent-reused", keyed("rent-2026-11", "45.00"), 422)
        .await;
    let too_long = "k".repeat(256);
    t.check("idempotent-invalid", keyed(&too_long, "40.00"), 400)
        .await;
    in_flight_example(t, server, keyed("rent-2026-12", "40.00")).await;

    // Closed accounts and money.
    let request = Request::delete(&s.main).token(&s.token);
    t.check("account-delete-not-empty", request, 400).await;
    let request = Request::post(&format!("{}deposit/", s.spare))
        .token(&s.token)
        .json(json!({"amount": "5.00"}));
    t.check("deposit-closed", request, 400).await;
}

async fn transactions(t: &mut Tour, s: &Session) {
    let token = &s.token;
    let request = Request::get("/api/transactions/?page_size=3").token(token);
    t.check("transactions-list", request, 200).await;
    let filters = format!(
        "account={}&transaction_type=transfer_out&date_from={today}&date_to={today}&min_amount=20&max_amount=200",
        s.main_id,
        today = s.today
    );
    let request = Request::get(&format!("/api/transactions/?{filters}")).token(token);
    t.check("transactions-filtered", request, 200).await;
    let bad = "account=abc&transaction_type=refund&date_from=yesterday&min_amount=lots";
    let request = Request::get(&format!("/api/transactions/?{bad}")).token(token);
    t.check("transactions-invalid", request, 400).await;
    let request = Request::get("/api/transactions/?page=99").token(token);
    t.check("transactions-page-past-end", request, 404).await;
    let request =
        Request::get("/api/transactions/?ordering=-amount,created_at&page_size=3").token(token);
    t.check("transactions-ordered", request, 200).await;
    let request = Request::get("/api/transactions/?search=salary").token(token);
    t.check("transactions-search", request, 200).await;
    let request = Request::get("/api/accounts/?ordering=-balance").token(token);
    t.check("accounts-ordered", request, 200).await;
    drf_parity(t, s).await;
    let request = Request::get("/api/transactions/1/").token(token);
    t.check("transaction-get", request, 200).await;
    let request = Request::delete("/api/transactions/1/").token(token);
    t.check("transaction-delete", request, 405).await;
    let request = Request::get("/api/transactions/1/").token(&s.bob);
    t.check("transaction-other", request, 404).await;
}

/// DRF's content negotiation, `OPTIONS` metadata and multipart bodies.
async fn drf_parity(t: &mut Tour, s: &Session) {
    let token = &s.token;
    let request = Request::get("/api/accounts/?format=json").token(token);
    t.quiet(request).await.expect(200);
    let request = Request::get("/api/accounts/?format=xml").token(token);
    t.check("format-unknown", request, 404).await;
    let request = Request::get("/api/accounts/")
        .header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .display(Display::NoBody);
    t.check("browsable-api", request, 200).await;
    let request = Request::new(reqwest::Method::OPTIONS, "/api/accounts/").token(token);
    t.check("options-metadata", request, 200).await;
    let request = Request::new(reqwest::Method::OPTIONS, "/api/accounts/");
    t.check("options-anonymous", request, 401).await;
}

async fn cards(t: &mut Tour, s: &Session) {
    let token = &s.token;
    let issue = |body: serde_json::Value| Request::post("/api/cards/").token(token).json(body);
    let debit = json!({"account": s.main_id, "card_type": "debit"});
    let debit = t.check("card-issue-debit", issue(debit), 201).await;
    let debit = format!("/api/cards/{}/", debit.id());
    let credit = json!({"account": s.main_id, "card_type": "credit", "credit_limit": "2500.00"});
    let credit = t.check("card-issue-credit", issue(credit), 201).await;
    let credit = format!("/api/cards/{}/", credit.id());
    let invalid = json!({"account": s.main_id, "card_type": "debit", "credit_limit": "100.00"});
    t.check("card-issue-invalid", issue(invalid), 400).await;
    let not_mine = json!({"account": s.bob_account_id, "card_type": "debit"});
    t.check("card-issue-other-account", issue(not_mine), 400)
        .await;
    t.check("cards-list", Request::get("/api/cards/").token(token), 200)
        .await;
    t.check("card-get", Request::get(&credit).token(token), 200)
        .await;
    let request = Request::patch(&debit)
        .token(token)
        .json(json!({"status": "frozen"}));
    t.check("card-freeze", request, 200).await;
    let limit = json!({"credit_limit": "3000.00"});
    let request = Request::patch(&credit).token(token).json(limit);
    t.check("card-credit-limit", request, 200).await;
    t.check("card-cancel", Request::delete(&debit).token(token), 204)
        .await;
    let request = Request::patch(&debit)
        .token(token)
        .json(json!({"status": "active"}));
    t.check("card-cancelled", request, 400).await;

    // The savings account gets as many cards as it may hold, then one more.
    let savings_debit = json!({"account": s.savings_id, "card_type": "debit"});
    for _ in 0..5 {
        t.quiet(issue(savings_debit.clone())).await.expect(201);
    }
    t.check("card-limit", issue(savings_debit), 400).await;
}

async fn statements(t: &mut Tour, s: &Session) {
    let (token, create) = (&s.token, format!("{}statements/", s.main));
    let period = json!({"start_date": s.period_start, "end_date": s.today});
    let request = Request::post(&create).token(token).json(period);
    let statement = t.check("statement-create", request, 201).await;
    let statement = format!("/api/statements/{}/", statement.id());
    let backwards = json!({"start_date": s.today, "end_date": s.period_start});
    let request = Request::post(&create).token(token).json(backwards);
    t.check("statement-create-invalid", request, 400).await;
    let request = Request::get(&create).token(token);
    t.check("statements-account", request, 200).await;
    let request = Request::get("/api/statements/").token(token);
    t.check("statements-list", request, 200).await;
    t.check("statement-get", Request::get(&statement).token(token), 200)
        .await;
    let request = Request::get(&format!("{statement}?format=csv")).token(token);
    t.check("statement-csv", request, 200).await;
}

async fn staff(t: &mut Tour, s: &Session, server: &Server) {
    let output = createsuperuser(&server.database_path, "admin");
    let command = format!(
        "echo '{PASSWORD}' | bankd createsuperuser --username admin --email admin@example.com --password-stdin"
    );
    t.record_command("createsuperuser", &command, &output);
    let admin = t.login_quietly("admin", "<admin-token>").await;
    let request = Request::get("/api/admin/accounts/").token(&s.token);
    t.check("admin-forbidden", request, 403).await;
    let staff_get = |query: String| Request::get(&format!("/api/admin/{query}")).token(&admin);
    let customers = staff_get("customers/?username=bob".to_owned());
    t.check("admin-customers", customers, 200).await;
    let accounts = staff_get(format!("accounts/?account_number={}", s.savings_number));
    t.check("admin-accounts", accounts, 200).await;
    let transactions = staff_get(format!(
        "transactions/?account={}&transaction_type=transfer_in",
        s.bob_account_id
    ));
    t.check("admin-transactions", transactions, 200).await;
    let audit = staff_get("audit/?action=login_failed".to_owned());
    t.check("admin-audit", audit, 200).await;
    let invalid = staff_get("audit/?user=me&date_from=2026-13-01".to_owned());
    t.check("admin-audit-invalid", invalid, 400).await;

    let freeze = format!("/api/admin/accounts/{}/freeze/", s.main_id);
    t.check("admin-freeze", Request::post(&freeze).token(&admin), 200)
        .await;
    let request = Request::post(&format!("{}deposit/", s.main))
        .token(&s.token)
        .json(json!({"amount": "5.00"}));
    t.check("deposit-frozen", request, 400).await;
    let unfreeze = format!("/api/admin/accounts/{}/unfreeze/", s.main_id);
    t.check(
        "admin-unfreeze",
        Request::post(&unfreeze).token(&admin),
        200,
    )
    .await;
    let audit = staff_get(format!("audit/?account={}&page_size=2", s.main_id));
    t.check("admin-audit-account", audit, 200).await;
    passwords(t, &admin, server).await;
}

/// A password change by its user, then a staff-forced reset and the reset token's use.
async fn passwords(t: &mut Tour, admin: &str, server: &Server) {
    let carol = registration("carol", "Carol Example");
    t.quiet(Request::post("/api/register/").json(carol))
        .await
        .expect(201);
    let token = t.login_quietly("carol", "<carol-token>").await;
    let change = |old: &str, new: &str| {
        Request::post("/api/password/change/")
            .token(&token)
            .json(json!({ "old_password": old, "new_password": new }))
    };
    t.check(
        "password-change",
        change(PASSWORD, "carols-new-secret-42"),
        204,
    )
    .await;
    let wrong = change("not-my-password", "carol");
    t.check("password-change-invalid", wrong, 400).await;

    let conn =
        bankd::store::sqlite::open_connection(&server.database_path).expect("open the database");
    let carol_id: i64 = conn
        .query_row("SELECT id FROM users WHERE username = 'carol'", [], |row| {
            row.get(0)
        })
        .expect("carol's id");
    let path = format!("/api/admin/users/{carol_id}/reset-password/");
    let reset = t
        .check(
            "admin-reset-password",
            Request::post(&path).token(admin),
            200,
        )
        .await;
    let reset_token = reset.text_of("reset_token");
    t.alias(&reset_token, "<reset-token>");
    t.check(
        "after-reset",
        Request::get("/api/customers/").token(&token),
        401,
    )
    .await;
    let body = json!({ "reset_token": reset_token, "new_password": "carols-third-secret-7" });
    let request = Request::post("/api/password/reset/").json(body.clone());
    t.check("password-reset", request, 204).await;
    let request = Request::post("/api/password/reset/").json(body);
    t.check("password-reset-used", request, 400).await;
}

/// Slashes, headers, media types, sizes, methods, unknown routes.
async fn wire(t: &mut Tour, s: &Session) {
    let token = &s.token;
    let request = Request::get("/api/accounts?page_size=1").token(token);
    t.check("no-trailing-slash", request, 200).await;
    let request = Request::get("/healthz")
        .header("X-Request-Id", "docs-example-1")
        .display(Display::AllHeaders);
    t.check("request-id", request, 200).await;
    let deposit = || Request::post(&format!("{}deposit/", s.main)).token(token);
    let request = deposit().json_text(r#"{"amount": "#);
    t.check("parse-error", request, 400).await;
    let request = deposit().json_text(r#"["10.00"]"#);
    t.check("not-an-object", request, 400).await;
    let request = deposit().raw("text/plain", "amount=10.00");
    t.check("unsupported-media-type", request, 415).await;
    let request = deposit().large(70_000, "big.json");
    t.check("too-large", request, 413).await;
    let request = Request::put("/api/transactions/")
        .token(token)
        .json(json!({}));
    t.check("method-not-allowed", request, 405).await;
    let request = Request::get("/api/nothing-here/").token(token);
    t.check("not-found", request, 404).await;
}

/// The `429`, on a second server that allows one auth request per IP per minute.
async fn throttling(t: &mut Tour, server: &Server) -> Server {
    let throttled = start(|config| config.throttle_auth_per_ip_per_minute = 1).await;
    t.alias(throttled.host(), SHOWN_HOST);
    t.base = throttled.address.clone();
    let login = || {
        Request::post("/api/get-token/").json(json!({"username": "alice", "password": PASSWORD}))
    };
    // alice exists only on the first server: this one's first answer is "wrong credentials".
    t.quiet(login()).await.expect(400);
    t.check("throttled", login(), 429).await;
    t.base = server.address.clone();
    throttled
}

async fn logout(t: &mut Tour, s: &Session) {
    let request = Request::post("/api/logout/").token(&s.token);
    t.check("logout", request, 204).await;
    let request = Request::get("/api/accounts/").token(&s.token);
    t.check("after-logout", request, 401).await;
}

async fn in_flight_example(t: &mut Tour, server: &Server, request: Request) {
    let lock =
        bankd::store::sqlite::open_connection(&server.database_path).expect("open the database");
    lock.execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let jobs_before = writer_jobs(&t.client, &t.base).await;
    let client = t.client.clone();
    let first = {
        let url = format!("{}{}", t.base, request.path);
        let mut builder = client.post(url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let Body::Json(text) = &request.body else {
            panic!("a JSON body");
        };
        let builder = builder
            .header("Content-Type", "application/json")
            .body(text.clone());
        tokio::spawn(async move { builder.send().await.map(|r| r.status().as_u16()) })
    };
    // The writer counts a job when it takes it, before it waits for the lock: from then on the
    // first request has claimed its key.
    let deadline = std::time::Instant::now() + Duration::from_secs(4);
    while writer_jobs(&t.client, &t.base).await <= jobs_before {
        assert!(
            std::time::Instant::now() < deadline,
            "the first request never reached the writer"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    t.check("idempotent-in-flight", request, 409).await;
    lock.execute_batch("ROLLBACK").expect("release the lock");
    let status = first
        .await
        .expect("join")
        .expect("the first request answers");
    assert_eq!(
        status, 200,
        "the first request goes through once the lock is free"
    );
}

async fn writer_jobs(client: &reqwest::Client, base: &str) -> u64 {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix("bankd_writer_jobs_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("bankd_writer_jobs_total")
}

/// Runs the real binary's `createsuperuser` against the live database.
fn createsuperuser(database: &Path, username: &str) -> String {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut child = bankd_command(dir.path())
        .env("BANKD_LOG_LEVEL", "warn")
        .args(["createsuperuser", "--username", username])
        .args([
            "--email",
            "admin@example.com",
            "--password-stdin",
            "--database",
        ])
        .arg(database)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bankd starts");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{PASSWORD}").expect("write the password");
    }
    let output = child.wait_with_output().expect("bankd finishes");
    assert!(
        output.status.success(),
        "createsuperuser failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
