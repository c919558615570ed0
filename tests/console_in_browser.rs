//! The console in real Chromium, driven over WebDriver (chromedriver), against the real app on
//! port 0 with a fresh database.
//!
//! Each test starts its own app, chromedriver and headless Chromium (one browser at a time:
//! two cores do not run several well). Screenshots of the journeys land in
//! `target/screenshots/`, and of every page at 1280 px and 390 px in
//! `target/browser-screenshots/<page>-<width>.png` (`console_in_browser/pages.rs`), for review. Without
//! Chromium or chromedriver the tests say so and pass, except under `CI=true`, where a missing
//! browser is a failure.

#[path = "console_in_browser/chart_axis.rs"]
mod chart_axis;
#[path = "console_in_browser/pages.rs"]
mod pages;
#[path = "console_in_browser/webdriver.rs"]
mod webdriver;

// Part of the shared harness is for the other test binaries (see `tests/support/mod.rs`).
#[allow(dead_code)]
#[path = "support/mod.rs"]
mod support;

use std::net::TcpListener as StdTcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::Mutex;

use support::app::{TestApp, TestDatabase, spawn_app_on};
use webdriver::{Element, Session};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(20);
const PASSWORD: &str = "lantern-orbit-93";

/// One browser at a time across the tests of this binary.
static BROWSER_LOCK: Mutex<()> = Mutex::const_new(());

// ---------------------------------------------------------------------------------------------
// The scenarios

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_registers_opens_two_accounts_moves_money_and_logs_out() {
    let _one_at_a_time = BROWSER_LOCK.lock().await;
    let Some(browser) = Browser::launch("journey").await else {
        return;
    };
    let app = spawn_app().await;

    // Register, then log in with the prefilled username.
    browser.goto(&format!("{}/register/", app.address)).await;
    browser.wait_for("#register-form").await;
    browser.fill("#register-form-username", "alice").await;
    browser
        .fill("#register-form-email", "alice@example.com")
        .await;
    browser.fill("#register-form-password", PASSWORD).await;
    browser.fill("#register-form-password2", PASSWORD).await;
    browser
        .fill("#register-form-full_name", "Alice Example")
        .await;
    browser
        .fill("#register-form-phone_number", "+44 20 7946 0000")
        .await;
    browser.screenshot("register").await;
    browser.click("#register-form button[type=submit]").await;
    browser.wait_text("#flash", "Welcome, alice!").await;
    browser.wait_for("#login-form").await;
    browser.fill("#login-form-password", PASSWORD).await;
    browser.screenshot("login").await;
    browser.click("#login-form button[type=submit]").await;

    // Open two accounts.
    browser
        .wait_text("main", "You have no open accounts yet.")
        .await;
    browser.screenshot("dashboard-empty").await;
    browser
        .select("#open-account-form-account_type", "checking")
        .await;
    browser
        .fill("#open-account-form-nickname", "Everyday")
        .await;
    browser
        .click("#open-account-form button[type=submit]")
        .await;
    browser.wait_text("#open-account-form", "Opened ACC-").await;
    browser
        .select("#open-account-form-account_type", "savings")
        .await;
    browser
        .fill("#open-account-form-nickname", "Rainy day")
        .await;
    browser
        .click("#open-account-form button[type=submit]")
        .await;
    browser.wait_count(".account-card", 2).await;
    browser.screenshot("dashboard").await;
    let savings_number = browser
        .script(
            "return document.querySelector('.account-card:nth-child(2) .account-link').dataset.accountNumber",
        )
        .await;
    let savings_number = savings_number.as_str().unwrap_or_default().to_owned();
    assert!(savings_number.starts_with("ACC-"), "{savings_number}");

    // Deposit into the first, then transfer to the second.
    browser
        .click(".account-card:nth-child(1) .account-link")
        .await;
    browser.wait_for("#deposit-form").await;
    let first_key = browser.idempotency_key("#deposit-form").await;
    browser.fill("#deposit-form-amount", "600.25").await;
    browser.fill("#deposit-form-description", "Salary").await;
    browser.click("#deposit-form button[type=submit]").await;
    browser
        .wait_text(
            "#deposit-form .form-message",
            "Deposit successful. New balance: 600.25.",
        )
        .await;
    browser.wait_text("#account-balance", "600.25").await;
    assert_ne!(
        browser.idempotency_key("#deposit-form").await,
        first_key,
        "a successful deposit draws a fresh Idempotency-Key"
    );
    browser
        .fill("#transfer-form-to_account_number", &savings_number)
        .await;
    browser.fill("#transfer-form-amount", "150.00").await;
    browser.fill("#transfer-form-description", "Savings").await;
    browser.click("#transfer-form button[type=submit]").await;
    browser
        .wait_text(
            "#transfer-form .form-message",
            "Transfer successful. New balance: 450.25.",
        )
        .await;

    // Both transactions, newest first, with the balance after each; and the chart.
    browser.wait_count("#transactions tbody tr", 2).await;
    let rows = browser.table_rows("#transactions tbody tr").await;
    assert_eq!(rows[0][1], "Transfer out");
    assert_eq!(rows[0][3], savings_number);
    assert_eq!(rows[0][4], "−150.00");
    assert_eq!(rows[0][5], "450.25");
    assert_eq!(rows[1][1], "Deposit");
    assert_eq!(rows[1][4], "+600.25");
    assert_eq!(rows[1][5], "600.25");
    browser.wait_for("#balance-chart svg path.chart-line").await;
    let line = browser
        .script(
            "return document.querySelector('#balance-chart svg path.chart-line').getAttribute('d')",
        )
        .await;
    assert!(
        line.as_str()
            .is_some_and(|d| d.starts_with('M') && d.contains('V')),
        "the chart draws a stepped line: {line}"
    );
    browser.screenshot_full("account").await;

    // The other side of the transfer.
    browser.click(".breadcrumb a").await;
    browser.wait_count(".account-card", 2).await;
    browser
        .click(".account-card:nth-child(2) .account-link")
        .await;
    browser.wait_count("#transactions tbody tr", 1).await;
    let rows = browser.table_rows("#transactions tbody tr").await;
    assert_eq!(rows[0][1], "Transfer in");
    assert_eq!(rows[0][5], "150.00");
    browser.wait_text("#account-balance", "150.00").await;
    browser.wait_for("#balance-chart svg path.chart-line").await;
    browser.screenshot_full("account-single-point").await;

    // Profile and explorer.
    browser.click("#nav a[href='/profile/']").await;
    browser.wait_for("#profile-form").await;
    assert_eq!(
        browser.value("#profile-form-full_name").await,
        "Alice Example"
    );
    browser
        .fill("#profile-form-phone_number", "+44 20 7946 0001")
        .await;
    browser.click("#profile-form button[type=submit]").await;
    browser
        .wait_text("#profile-form .form-message", "Profile saved.")
        .await;
    browser.screenshot("profile").await;
    browser.click("#nav a[href='/explorer/']").await;
    browser.wait_for("#explorer-form").await;
    browser.fill("#explorer-form-path", "/api/accounts/").await;
    browser.click("#explorer-form button[type=submit]").await;
    browser.wait_text("#explorer-status", "200").await;
    browser.wait_text("#explorer-body", &savings_number).await;
    let routes = browser
        .script("return document.querySelectorAll('.route-list .route').length")
        .await;
    assert!(routes.as_u64().unwrap_or_default() >= 20, "{routes} routes");
    browser
        .script(
            "[...document.querySelectorAll('.route-list .route')]
               .find((b) => b.textContent.startsWith('POST') && b.textContent.includes('/deposit/')).click()",
        )
        .await;
    assert!(
        browser
            .value("#explorer-form-body")
            .await
            .contains("\"amount\"")
    );
    assert_eq!(
        browser.value("#explorer-form-idempotency_key").await.len(),
        36
    );
    browser.screenshot_full("explorer").await;

    // Narrow screens.
    browser.set_size(375, 812).await;
    browser.click("#nav a[href='/']").await;
    browser.wait_count(".account-card", 2).await;
    browser.screenshot("mobile-dashboard").await;
    browser
        .click(".account-card:nth-child(1) .account-link")
        .await;
    browser.wait_for("#balance-chart svg path.chart-line").await;
    browser.screenshot_full("mobile-account").await;
    browser
        .script("document.querySelector('#transactions').scrollIntoView()")
        .await;
    browser.screenshot("mobile-transactions").await;
    browser.set_size(1280, 900).await;

    // Log out: the token is revoked and gone from the tab.
    browser.click("#nav .nav-logout").await;
    browser
        .wait_text("#flash", "You have been logged out.")
        .await;
    browser.screenshot("logout").await;
    assert_eq!(
        browser
            .script("return sessionStorage.getItem('bankd.token')")
            .await,
        Value::Null
    );
    browser.goto(&format!("{}/", app.address)).await;
    browser.wait_for("#login-form").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_withdrawal_shows_the_contracts_message_next_to_the_form() {
    let _one_at_a_time = BROWSER_LOCK.lock().await;
    let Some(browser) = Browser::launch("withdrawal").await else {
        return;
    };
    let app = spawn_app().await;
    let token = app.register_and_log_in("bob").await;
    let account = app.post_ok(&token, "/api/accounts/", json!({})).await;
    let account_id = account["id"].as_i64().unwrap_or_default();
    app.post_ok(
        &token,
        &format!("/api/accounts/{account_id}/deposit/"),
        json!({ "amount": "20.00" }),
    )
    .await;

    browser.log_in_with(&app, &token, "bob").await;
    browser
        .goto(&format!("{}/accounts/{account_id}/", app.address))
        .await;
    browser.wait_for("#withdraw-form").await;

    // A double click deposits once.
    browser.fill("#deposit-form-amount", "5.00").await;
    browser
        .script("const b = document.querySelector('#deposit-form button[type=submit]'); b.click(); b.click();")
        .await;
    browser
        .wait_text("#deposit-form .form-message", "New balance: 25.00.")
        .await;
    browser.wait_count("#transactions tbody tr", 2).await;
    browser.wait_text("#account-balance", "25.00").await;
    let key = browser.idempotency_key("#withdraw-form").await;
    browser.fill("#withdraw-form-amount", "1000.00").await;
    browser.click("#withdraw-form button[type=submit]").await;
    browser
        .wait_text("#withdraw-form .form-message", "Insufficient funds.")
        .await;
    browser.screenshot("account-insufficient-funds").await;
    assert_eq!(browser.text("#account-balance").await, "25.00");
    assert_ne!(browser.idempotency_key("#withdraw-form").await, key);

    // A field error on the amount lands next to the amount.
    browser.fill("#withdraw-form-amount", "1.234").await;
    browser.click("#withdraw-form button[type=submit]").await;
    browser
        .wait_text(
            "#withdraw-form-amount-error",
            "Ensure that there are no more than 2 decimal places.",
        )
        .await;
    browser.screenshot_full("account-refused-withdrawal").await;

    // A bad filter is a field error next to the filter; a good one narrows the table.
    browser.fill("#filter-form-min_amount", "lots").await;
    browser.click("#filter-form button[type=submit]").await;
    browser
        .wait_text("#filter-form-min_amount-error", "Enter a number.")
        .await;
    browser.fill("#filter-form-min_amount", "10").await;
    browser.click("#filter-form button[type=submit]").await;
    browser.wait_count("#transactions tbody tr", 1).await;

    // Closing an account that holds money is refused, with the API's reason.
    browser.click("#close-account button").await;
    browser.click("#close-account .button.danger").await;
    browser
        .wait_text("#close-account .form-message", "balance")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_field_errors_are_shown_next_to_their_fields() {
    let _one_at_a_time = BROWSER_LOCK.lock().await;
    let Some(browser) = Browser::launch("registration").await else {
        return;
    };
    let app = spawn_app().await;
    app.register_and_log_in("carol").await;

    browser.goto(&format!("{}/register/", app.address)).await;
    browser.wait_for("#register-form").await;
    browser.fill("#register-form-username", "Carol").await;
    browser.fill("#register-form-email", "not-an-address").await;
    browser.fill("#register-form-password", "password").await;
    browser.fill("#register-form-password2", "password").await;
    browser.click("#register-form button[type=submit]").await;
    browser
        .wait_text(
            "#register-form-username-error",
            "A user with that username already exists.",
        )
        .await;
    browser
        .wait_text("#register-form-email-error", "Enter a valid email address.")
        .await;
    browser
        .wait_text(
            "#register-form-password-error",
            "This password is too common.",
        )
        .await;
    browser
        .wait_text("#register-form-full_name-error", "This field is required.")
        .await;
    assert_eq!(
        browser
            .script(
                "return document.querySelector('#register-form-email').getAttribute('aria-invalid')"
            )
            .await,
        json!("true")
    );
    browser.screenshot_full("register-errors").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_sends_the_user_back_to_login_with_a_message() {
    let _one_at_a_time = BROWSER_LOCK.lock().await;
    let Some(browser) = Browser::launch("expired").await else {
        return;
    };
    let app = spawn_app().await;
    browser.log_in_with(&app, &"0".repeat(40), "nobody").await;
    browser.goto(&format!("{}/profile/", app.address)).await;
    browser
        .wait_text("#flash", "Your session has expired. Please log in again.")
        .await;
    browser.wait_for("#login-form").await;
    let url = browser.session.current_url().await.unwrap_or_default();
    assert!(url.contains("next=%2Fprofile%2F"), "{url}");
    browser.screenshot("session-expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_is_issued_once_frozen_and_a_statement_generated() {
    let _one_at_a_time = BROWSER_LOCK.lock().await;
    let Some(browser) = Browser::launch("cards").await else {
        return;
    };
    let app = spawn_app().await;
    let token = app.register_and_log_in("dana").await;
    let account = app
        .post_ok(&token, "/api/accounts/", json!({ "nickname": "Main" }))
        .await;
    let account_id = account["id"].as_i64().unwrap_or_default();
    for amount in ["120.00", "35.50"] {
        app.post_ok(
            &token,
            &format!("/api/accounts/{account_id}/deposit/"),
            json!({ "amount": amount, "description": "Pay" }),
        )
        .await;
    }
    browser.log_in_with(&app, &token, "dana").await;

    // Issue a debit card: number and CVV are shown once, with the warning.
    browser.goto(&format!("{}/cards/", app.address)).await;
    browser.wait_for("#issue-card-form").await;
    browser.select("#issue-card-form-card_type", "debit").await;
    browser.click("#issue-card-form button[type=submit]").await;
    browser
        .wait_text(".card-secret", "shown only this once")
        .await;
    let number = browser.text("#new-card-number").await.replace(' ', "");
    assert_eq!(number.len(), 16, "{number}");
    assert_eq!(browser.text("#new-card-cvv").await.len(), 3);
    browser.wait_count("tr[data-card-id]", 1).await;
    browser.screenshot_full("cards-issued").await;

    // Freeze and unfreeze it.
    browser.click("tr[data-card-id] .actions button").await;
    browser.wait_text("tr[data-card-id] .badge", "Frozen").await;
    browser.click("tr[data-card-id] .actions button").await;
    browser.wait_text("tr[data-card-id] .badge", "Active").await;
    browser.screenshot("cards").await;

    // A statement for today shows the totals and its transactions.
    browser.click("#nav a[href='/statements/']").await;
    browser.wait_for("#statement-form").await;
    browser.click("#statement-form button[type=submit]").await;
    browser.wait_text("main h1", "Statement").await;
    browser.wait_count("main tbody tr", 2).await;
    browser.wait_text(".figures", "155.50").await;
    browser.screenshot_full("statement").await;
    browser.click(".breadcrumb a").await;
    browser.wait_count("main tbody tr", 1).await;
    browser.screenshot("statements").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_see_every_account_and_can_freeze_one() {
    let _one_at_a_time = BROWSER_LOCK.lock().await;
    let Some(browser) = Browser::launch("staff").await else {
        return;
    };
    let app = spawn_app_with_superuser("admin").await;
    let customer = app.register_and_log_in("erin").await;
    let account = app.post_ok(&customer, "/api/accounts/", json!({})).await;
    let account_number = account["account_number"].as_str().unwrap_or_default();
    let staff_token = app.log_in("admin").await;

    browser.log_in_with(&app, &staff_token, "admin").await;
    browser.goto(&format!("{}/", app.address)).await;
    browser.click("#nav a[href='/staff/']").await;
    browser.wait_text("main", account_number).await;
    browser.click("main tbody tr .actions button").await;
    // Freezing asks for confirmation first (issue #12).
    browser.click("main tbody tr .actions button.danger").await;
    browser.wait_text(".form-message", "frozen").await;
    browser.wait_text("main tbody tr .badge", "Frozen").await;
    browser.screenshot_full("staff-accounts").await;
    browser.click(".tabs a[href='/staff/audit/']").await;
    browser.wait_text("main h1", "Audit log").await;
    browser.wait_for("main tbody tr").await;
    browser.screenshot_full("staff-audit").await;

    // The customer sees the freeze, and no staff pages.
    browser.log_in_with(&app, &customer, "erin").await;
    browser.goto(&format!("{}/", app.address)).await;
    browser.wait_text(".account-card .badge", "Frozen").await;
    assert_eq!(
        browser
            .script("return document.querySelectorAll(\"#nav a[href='/staff/']\").length")
            .await,
        json!(0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_balance_chart_draws_ten_thousand_points_and_one_point() {
    let _one_at_a_time = BROWSER_LOCK.lock().await;
    let Some(browser) = Browser::launch("chart").await else {
        return;
    };
    let app = spawn_app().await;
    browser
        .goto(&format!("{}/api-auth/login/", app.address))
        .await;
    browser.wait_for("#login-form").await;

    // The chart module, fed a year of synthetic history (a random walk), and a single point.
    browser
        .script(
            "import('/static/js/chart.js').then((chart) => {
               const day = 86400000, start = Date.UTC(2025, 0, 1);
               let cents = 50000;
               const rows = Array.from({ length: 10000 }, (_, i) => {
                 cents = Math.max(0, cents + Math.round(Math.sin(i / 300) * 4000 + (Math.random() - 0.5) * 6000));
                 const at = new Date(start + i * 365 * day / 10000).toISOString();
                 return { id: i + 1, created_at: at, balance_after: (cents / 100).toFixed(2) };
               });
               const main = document.querySelector('main');
               main.replaceChildren();
               for (const [id, data] of [['many', rows], ['one', rows.slice(0, 1)]]) {
                 const holder = document.createElement('section');
                 holder.id = `chart-${id}`;
                 holder.className = 'card';
                 main.append(holder);
                 holder.append(chart.balanceChart(chart.pointsFrom(data)));
               }
             });",
        )
        .await;
    browser.wait_for("#chart-many svg path.chart-line").await;
    browser.wait_for("#chart-one svg path.chart-line").await;
    let drawn = browser
        .script(
            "const d = document.querySelector('#chart-many path.chart-line').getAttribute('d');
             return { steps: (d.match(/H/g) || []).length, labels: document.querySelectorAll('#chart-many .chart-label').length,
                      summary: document.querySelector('#chart-many svg').getAttribute('aria-label') }",
        )
        .await;
    let steps = drawn["steps"].as_u64().unwrap_or_default();
    assert!(
        (100..5000).contains(&steps),
        "10,000 points are downsampled to a few per pixel column: {drawn}"
    );
    assert!(drawn["labels"].as_u64().unwrap_or_default() >= 6, "{drawn}");
    assert!(
        drawn["summary"]
            .as_str()
            .is_some_and(|s| s.contains("10000 transactions")),
        "{drawn}"
    );
    browser.screenshot_full("chart-10000-and-1").await;
}

/// Issue #12: a browser opening an `/api/` route gets the browsable API page, which fetches the
/// route as JSON with the console's token and shows it, pagination links included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_opening_an_api_route_sees_its_json_fetched_with_the_console_token() {
    let _one_at_a_time = BROWSER_LOCK.lock().await;
    let Some(browser) = Browser::launch("browsable-api").await else {
        return;
    };
    let app = spawn_app().await;
    let token = app.register_and_log_in("browsy").await;
    for nickname in ["Browsable one", "Browsable two"] {
        app.post_ok(&token, "/api/accounts/", json!({ "nickname": nickname }))
            .await;
    }
    browser.log_in_with(&app, &token, "browsy").await;

    browser
        .goto(&format!("{}/api/accounts/?page_size=1", app.address))
        .await;
    browser.wait_text("#route-status", "200").await;
    browser.wait_text("#route-body", "Browsable one").await;
    browser.screenshot("browsable-api").await;
    // The `next` link stays in the browsable API.
    browser.click("#route-body a").await;
    browser.wait_text("#route-body", "Browsable two").await;
}

// ---------------------------------------------------------------------------------------------
// The app

/// Starts the app on a fresh database (the shared harness, `tests/support/app.rs`).
async fn spawn_app() -> TestApp {
    support::app::spawn_app().await
}

/// An app whose database already holds a superuser `username` (made by `bankd createsuperuser`).
async fn spawn_app_with_superuser(username: &str) -> TestApp {
    let database = TestDatabase::new();
    database.create_superuser(username, PASSWORD);
    spawn_app_on(database, |_| {}).await
}

impl TestApp {
    /// `POST path` with a token (or `""` for none); asserts a `2xx` and returns the body.
    async fn post_ok(&self, token: &str, path: &str, body: Value) -> Value {
        let response = self.post(path, token, body).await;
        let status = response.status;
        assert!(
            status.is_success(),
            "POST {path} answered {status}: {}",
            response.body
        );
        response.body
    }

    /// Registers `username` through the API and returns a token.
    async fn register_and_log_in(&self, username: &str) -> String {
        let profile = json!({
            "username": username,
            "password": PASSWORD,
            "full_name": format!("{username} Tester"),
            "email": format!("{username}@example.com"),
        });
        self.post_ok("", "/api/register/", profile).await;
        self.log_in(username).await
    }

    async fn log_in(&self, username: &str) -> String {
        let answer = self
            .post_ok(
                "",
                "/api/get-token/",
                json!({ "username": username, "password": PASSWORD }),
            )
            .await;
        answer["token"].as_str().unwrap_or_default().to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// The browser

/// chromedriver, killed (after ending its session, so Chromium exits too) when dropped.
struct ChromeDriver {
    child: Child,
    port: u16,
    session_id: Option<String>,
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        if let Some(id) = self.session_id.take() {
            webdriver::delete_session_blocking(self.port, &id);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Browser {
    session: Session,
    name: &'static str,
    _driver: ChromeDriver,
    _profile: TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (test skipped) when either is
    /// missing, except under `CI=true`.
    async fn launch(name: &'static str) -> Option<Self> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|path| !Path::new(path).exists())
            .collect();
        if !missing.is_empty() {
            let why = format!(
                "browser test `{name}` cannot run: {} not installed (apt-get install chromium chromium-driver)",
                missing.join(" and ")
            );
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{why}; under CI=true a missing browser is a failure"
            );
            eprintln!("{why}; skipped");
            return None;
        }
        let _ = std::fs::remove_file(screenshot_dir().join(format!("FAILED-{name}.png")));
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut driver = ChromeDriver {
            child,
            port,
            session_id: None,
        };
        let driver_url = format!("http://127.0.0.1:{port}");
        wait_until_ready(&driver_url).await;
        let profile = TempDir::new().expect("temp dir");
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1280,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let session = Session::start(&driver_url, capabilities)
            .await
            .expect("chromium starts");
        driver.session_id = Some(session.id.clone());
        Some(Self {
            session,
            name,
            _driver: driver,
            _profile: profile,
        })
    }

    async fn goto(&self, url: &str) {
        self.session.goto(url).await.expect("navigation");
    }

    /// Puts a token in the tab's sessionStorage, as the login page does.
    async fn log_in_with(&self, app: &TestApp, token: &str, username: &str) {
        self.goto(&format!("{}/api-auth/login/", app.address)).await;
        self.wait_for("#login-form").await;
        self.script_with(
            "sessionStorage.setItem('bankd.token', arguments[0]); sessionStorage.setItem('bankd.username', arguments[1]);",
            vec![json!(token), json!(username)],
        )
        .await;
    }

    async fn set_size(&self, width: u32, height: u32) {
        self.session
            .set_window_size(width, height)
            .await
            .expect("window size");
    }

    /// Waits until `css` matches an element and returns it.
    async fn wait_for(&self, css: &str) -> Element {
        let started = Instant::now();
        loop {
            match self.session.find(css).await {
                Ok(element) => return element,
                Err(error) if started.elapsed() > WAIT => {
                    self.fail(&format!("`{css}` never appeared: {error}")).await
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Waits until the text of `css` contains `needle`.
    async fn wait_text(&self, css: &str, needle: &str) {
        let started = Instant::now();
        loop {
            let text = self.text(css).await;
            if text.contains(needle) {
                return;
            }
            if started.elapsed() > WAIT {
                self.fail(&format!(
                    "`{css}` never showed {needle:?}; it shows {text:?}"
                ))
                .await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until exactly `count` elements match `css`.
    async fn wait_count(&self, css: &str, count: u64) {
        let started = Instant::now();
        loop {
            let found = self
                .script_with(
                    "return document.querySelectorAll(arguments[0]).length",
                    vec![json!(css)],
                )
                .await;
            if found.as_u64() == Some(count) {
                return;
            }
            if started.elapsed() > WAIT {
                self.fail(&format!("`{css}` matched {found}, not {count}"))
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text content of the first match of `css` ("" when there is none).
    async fn text(&self, css: &str) -> String {
        let text = self
            .script_with(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : ''",
                vec![json!(css)],
            )
            .await;
        text.as_str().unwrap_or_default().to_owned()
    }

    async fn value(&self, css: &str) -> String {
        let value = self
            .script_with(
                "return document.querySelector(arguments[0]).value",
                vec![json!(css)],
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    async fn idempotency_key(&self, form_css: &str) -> String {
        let key = self
            .script_with(
                "return document.querySelector(arguments[0]).dataset.idempotencyKey",
                vec![json!(form_css)],
            )
            .await;
        let key = key.as_str().unwrap_or_default().to_owned();
        assert_eq!(key.len(), 36, "a UUID Idempotency-Key: {key:?}");
        key
    }

    /// Each row's cells' text.
    async fn table_rows(&self, css: &str) -> Vec<Vec<String>> {
        let rows = self
            .script_with(
                "return [...document.querySelectorAll(arguments[0])].map(r => [...r.cells].map(c => c.textContent.trim()))",
                vec![json!(css)],
            )
            .await;
        serde_json::from_value(rows).expect("rows of strings")
    }

    async fn fill(&self, css: &str, text: &str) {
        let element = self.wait_for(css).await;
        self.session.clear(&element).await.expect("clear");
        if let Err(error) = self.session.send_keys(&element, text).await {
            self.fail(&format!("typing into `{css}`: {error}")).await;
        }
    }

    async fn select(&self, css: &str, value: &str) {
        self.wait_for(css).await;
        self.script_with(
            "const e = document.querySelector(arguments[0]); e.value = arguments[1]; e.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![json!(css), json!(value)],
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let element = self.wait_for(css).await;
        if let Err(error) = self.session.click(&element).await {
            self.fail(&format!("clicking `{css}`: {error}")).await;
        }
    }

    async fn script(&self, script: &str) -> Value {
        self.script_with(script, Vec::new()).await
    }

    async fn script_with(&self, script: &str, args: Vec<Value>) -> Value {
        match self.session.execute(script, args).await {
            Ok(value) => value,
            Err(error) => self.fail(&format!("script failed: {error}")).await,
        }
    }

    /// A PNG of the viewport under `target/screenshots/`.
    async fn screenshot(&self, page: &str) {
        let png = self.session.screenshot().await.expect("screenshot");
        let path = screenshot_dir().join(format!("{page}.png"));
        std::fs::write(&path, png).expect("write screenshot");
    }

    /// A PNG of the whole page: the window grows to the document's height first.
    async fn screenshot_full(&self, page: &str) {
        let size = self
            .script("return [window.innerWidth, Math.ceil(document.documentElement.scrollHeight)]")
            .await;
        let width = size[0].as_u64().unwrap_or(1280) as u32;
        let height = size[1].as_u64().unwrap_or(900).clamp(600, 4000) as u32;
        let (outer_width, outer_height) = (width, height);
        self.set_size(outer_width, outer_height + 100).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.screenshot(page).await;
        self.set_size(width, 900).await;
    }

    /// Saves a screenshot of the failure and panics with `message`.
    async fn fail(&self, message: &str) -> ! {
        if let Ok(png) = self.session.screenshot().await {
            let path = screenshot_dir().join(format!("FAILED-{}.png", self.name));
            let _ = std::fs::write(&path, png);
        }
        let url = self.session.current_url().await.unwrap_or_default();
        panic!(
            "{message} (page {url}; screenshot FAILED-{}.png)",
            self.name
        );
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}

/// A port the OS says is free right now.
fn free_port() -> u16 {
    StdTcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

async fn wait_until_ready(driver_url: &str) {
    let http = reqwest::Client::new();
    let started = Instant::now();
    while started.elapsed() < WAIT {
        if let Ok(response) = http.get(format!("{driver_url}/status")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on {driver_url} within {WAIT:?}");
}
