//! Issue #12 in Chromium: every console page at 1280 px and 390 px (a screenshot of each in
//! `target/browser-screenshots/<page>-<width>.png`), no sideways overflow on a phone, no
//! `permission_denied` audit rows from a customer's ordinary browsing, the console's own 404
//! page, staff pages a person can read, money with thousands separators and the overview.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use super::{BROWSER_LOCK, Browser, TestApp, spawn_app, spawn_app_with_superuser};

/// The two widths every page is checked and photographed at: a laptop and a phone.
const WIDTHS: [u32; 2] = [1280, 390];

impl TestApp {
    /// `GET path` with a token; asserts `200` and returns the body.
    async fn get_ok(&self, token: &str, path: &str) -> Value {
        let response = self.get(path, token).await;
        let status = response.status;
        assert!(
            status.is_success(),
            "GET {path} answered {status}: {}",
            response.body
        );
        response.body
    }

    /// How many `permission_denied` rows the audit log holds, as staff read it.
    async fn permission_denials(&self, staff: &str) -> u64 {
        let body = self
            .get_ok(staff, "/api/admin/audit/?action=permission_denied")
            .await;
        body["count"].as_u64().expect("a count")
    }
}

impl Browser {
    /// Shows the current page at each width: waits for `ready` (a CSS selector), checks that
    /// nothing but a table region scrolls sideways, and saves a full-page screenshot as
    /// `target/browser-screenshots/<page>-<width>.png`. Ends at 1280 px.
    async fn at_both_widths(&self, page: &str, ready: &str) {
        for width in WIDTHS {
            self.set_size(width, 900).await;
            self.wait_for(ready).await;
            // Let the chart redraw at its new width.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let overflow = self
                .script(
                    "const page = document.documentElement;
                     const wide = [...document.querySelectorAll('.table-scroll')]
                       .filter((region) => region.scrollWidth > region.clientWidth + 1)
                       .map((region) => region.getAttribute('aria-label'));
                     return { inner: window.innerWidth, page: page.scrollWidth, wide };",
                )
                .await;
            let inner = overflow["inner"].as_u64().unwrap_or_default();
            assert!(
                overflow["page"].as_u64().unwrap_or(u64::MAX) <= inner,
                "{page} at {width} px scrolls sideways: {overflow}"
            );
            assert_eq!(
                overflow["wide"],
                json!([]),
                "{page} at {width} px: a table is cut off"
            );
            let png = self.screenshot_png_full().await;
            let path = browser_screenshot_dir().join(format!("{page}-{width}.png"));
            std::fs::write(&path, png).expect("write screenshot");
        }
        self.set_size(1280, 900).await;
    }

    async fn screenshot_png_full(&self) -> Vec<u8> {
        let size = self
            .script("return [window.innerWidth, Math.ceil(document.documentElement.scrollHeight)]")
            .await;
        let width = size[0].as_u64().unwrap_or(1280) as u32;
        let height = size[1].as_u64().unwrap_or(900).clamp(600, 4000) as u32;
        self.set_size(width, height + 100).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = self.session.screenshot().await.expect("screenshot");
        self.set_size(width, 900).await;
        png
    }
}

fn browser_screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
    std::fs::create_dir_all(&dir).expect("create target/browser-screenshots");
    dir
}

/// A customer with two accounts, money moved between them (amounts in the thousands and
/// millions), a card and a statement. Returns the token and the first account's id.
async fn busy_customer(app: &TestApp, username: &str) -> (String, i64) {
    let token = app.register_and_log_in(username).await;
    let first = app
        .post_ok(&token, "/api/accounts/", json!({ "nickname": "Everyday" }))
        .await;
    let second = app
        .post_ok(
            &token,
            "/api/accounts/",
            json!({ "account_type": "savings", "nickname": "Rainy day" }),
        )
        .await;
    let first_id = first["id"].as_i64().expect("id");
    app.post_ok(
        &token,
        &format!("/api/accounts/{first_id}/deposit/"),
        json!({ "amount": "1234567.89", "description": "Sold the house" }),
    )
    .await;
    app.post_ok(
        &token,
        &format!("/api/accounts/{first_id}/withdraw/"),
        json!({ "amount": "2500.00", "description": "Furniture" }),
    )
    .await;
    app.post_ok(
        &token,
        &format!("/api/accounts/{first_id}/transfer/"),
        json!({ "to_account_number": second["account_number"], "amount": "10000.00", "description": "Savings" }),
    )
    .await;
    app.post_ok(
        &token,
        "/api/cards/",
        json!({ "account": first_id, "card_type": "debit" }),
    )
    .await;
    (token, first_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_browsing_every_page_reads_well_at_both_widths_and_is_never_audited_as_denied() {
    let _one_at_a_time = BROWSER_LOCK.lock().await;
    let Some(browser) = Browser::launch("pages-customer").await else {
        return;
    };
    let app = spawn_app_with_superuser("admin").await;
    let staff = app.log_in("admin").await;
    let (token, account_id) = busy_customer(&app, "grace").await;
    let today = chrono::Utc::now().date_naive().to_string();
    let statement = app
        .post_ok(
            &token,
            &format!("/api/accounts/{account_id}/statements/"),
            json!({ "start_date": today, "end_date": today }),
        )
        .await;
    let statement_id = statement["id"].as_i64().unwrap_or_default();
    let denials_before = app.permission_denials(&staff).await;

    browser.log_in_with(&app, &token, "grace").await;
    let pages = [
        ("dashboard", "/".to_owned(), "#overview svg.month-chart"),
        (
            "account",
            format!("/accounts/{account_id}/"),
            "#transactions tbody tr",
        ),
        ("cards", "/cards/".to_owned(), "tr[data-card-id]"),
        ("statements", "/statements/".to_owned(), "main tbody tr"),
        (
            "statement",
            format!("/statements/{statement_id}/"),
            "main tbody tr",
        ),
        ("profile", "/profile/".to_owned(), "main form"),
        ("explorer", "/explorer/".to_owned(), "main h1"),
        ("staff-as-customer", "/staff/".to_owned(), "main h1"),
        ("not-found", "/no-such-page/".to_owned(), ".not-found"),
    ];
    for (name, path, ready) in &pages {
        browser.goto(&format!("{}{path}", app.address)).await;
        browser.at_both_widths(name, ready).await;
    }

    // Customers see no staff entry, and the staff page says it is for staff without asking
    // a staff route.
    browser.goto(&format!("{}/staff/audit/", app.address)).await;
    browser.wait_text("main h1", "for staff").await;
    assert_eq!(
        browser
            .script("return document.querySelectorAll(\"#nav a[href='/staff/']\").length")
            .await,
        json!(0)
    );
    assert_eq!(
        app.permission_denials(&staff).await,
        denials_before,
        "ordinary browsing wrote permission_denied audit rows"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_reads_with_thousands_separators_and_the_overview_adds_up_the_accounts() {
    let _one_at_a_time = BROWSER_LOCK.lock().await;
    let Some(browser) = Browser::launch("pages-money").await else {
        return;
    };
    let app = spawn_app().await;
    let (token, account_id) = busy_customer(&app, "heidi").await;
    browser.log_in_with(&app, &token, "heidi").await;

    browser
        .goto(&format!("{}/accounts/{account_id}/", app.address))
        .await;
    browser.wait_text("#account-balance", "1,222,067.89").await;
    let rows = browser.table_rows("#transactions tbody tr").await;
    let amounts: Vec<&str> = rows
        .iter()
        .filter_map(|row| row.get(4).map(String::as_str))
        .collect();
    assert_eq!(
        amounts,
        ["−10,000.00", "−2,500.00", "+1,234,567.89"],
        "{rows:?}"
    );

    browser.goto(&format!("{}/", app.address)).await;
    browser
        .wait_text(".account-card .amount", "1,222,067.89")
        .await;
    browser.wait_text("#overview-total", "1,232,067.89").await;
    let months = browser.table_rows(".month-table tbody tr").await;
    assert_eq!(months.len(), 1, "{months:?}");
    assert_eq!(
        months[0][1..],
        ["1,244,567.89", "12,500.00", "1,232,067.89"],
        "in, out and net of this month: {months:?}"
    );
    let summary = browser
        .script("return document.querySelector('#overview .chart-svg').getAttribute('aria-label')")
        .await;
    assert!(
        summary
            .as_str()
            .is_some_and(|s| s.contains("latest balance 1,232,067.89")),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_pages_name_users_label_types_filter_by_field_and_confirm_a_freeze() {
    let _one_at_a_time = BROWSER_LOCK.lock().await;
    let Some(browser) = Browser::launch("pages-staff").await else {
        return;
    };
    let app = spawn_app_with_superuser("admin").await;
    let (_, account_id) = busy_customer(&app, "ivan").await;
    busy_customer(&app, "judy").await;
    let staff = app.log_in("admin").await;
    let account = app
        .get_ok(&staff, "/api/admin/accounts/?username=ivan")
        .await;
    let number = account["results"][0]["account_number"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    browser.log_in_with(&app, &staff, "admin").await;

    // Accounts: usernames, labelled types, money with separators; a filter by username.
    browser
        .goto(&format!("{}/staff/accounts/", app.address))
        .await;
    browser.wait_count("main tbody tr", 4).await;
    browser
        .at_both_widths("staff-accounts", "main tbody tr")
        .await;
    browser.fill("#staff-filter-username", "IVAN").await;
    browser.click("#staff-filter button[type=submit]").await;
    browser.wait_count("main tbody tr", 2).await;
    let rows = browser.table_rows("main tbody tr").await;
    assert!(rows.iter().all(|row| row[1] == "ivan"), "{rows:?}");
    assert!(rows.iter().any(|row| row[2] == "Savings"), "{rows:?}");
    assert!(rows.iter().any(|row| row[4] == "1,222,067.89"), "{rows:?}");

    // Freezing asks first; cancelling changes nothing.
    let row = format!("main tbody tr[data-id='{account_id}']");
    browser.click(&format!("{row} .actions button")).await;
    browser
        .wait_text(&format!("{row} .confirm-question"), &number)
        .await;
    browser
        .click(&format!("{row} .actions .button-row button:not(.danger)"))
        .await;
    browser.wait_text(&format!("{row} .badge"), "Active").await;
    browser.click(&format!("{row} .actions button")).await;
    browser
        .click(&format!("{row} .actions button.danger"))
        .await;
    browser.wait_text(".form-message", "frozen").await;
    browser.wait_text(&format!("{row} .badge"), "Frozen").await;

    // Transactions and the audit log, filtered with real fields.
    browser
        .goto(&format!(
            "{}/staff/transactions/?account_number={number}",
            app.address
        ))
        .await;
    browser.wait_count("main tbody tr", 3).await;
    let rows = browser.table_rows("main tbody tr").await;
    let types: Vec<&str> = rows.iter().map(|row| row[3].as_str()).collect();
    assert_eq!(types, ["Transfer out", "Withdrawal", "Deposit"], "{rows:?}");
    assert!(rows.iter().all(|row| row[2] == "ivan"), "{rows:?}");
    browser
        .at_both_widths("staff-transactions", "main tbody tr")
        .await;
    browser.goto(&format!("{}/staff/audit/", app.address)).await;
    browser.wait_for("main tbody tr").await;
    browser
        .select("#staff-filter-action", "account_frozen")
        .await;
    browser.click("#staff-filter button[type=submit]").await;
    browser.wait_count("main tbody tr", 1).await;
    let rows = browser.table_rows("main tbody tr").await;
    assert_eq!(rows[0][1], "admin", "{rows:?}");
    assert_eq!(rows[0][2], "Account frozen", "{rows:?}");
    assert!(rows[0][4].contains(&number), "{rows:?}");
    browser.at_both_widths("staff-audit", "main tbody tr").await;
    browser
        .goto(&format!("{}/staff/customers/", app.address))
        .await;
    browser.wait_count("main tbody tr", 2).await;
    browser
        .at_both_widths("staff-customers", "main tbody tr")
        .await;

    // A username links to that user's accounts.
    browser
        .click("main tbody tr a[href='/staff/accounts/?username=judy']")
        .await;
    browser.wait_count("main tbody tr", 2).await;
    let rows = browser.table_rows("main tbody tr").await;
    assert!(rows.iter().all(|row| row[1] == "judy"), "{rows:?}");
    assert_eq!(browser.value("#staff-filter-username").await, "judy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_console_address_shows_the_consoles_own_404_page() {
    let _one_at_a_time = BROWSER_LOCK.lock().await;
    let Some(browser) = Browser::launch("pages-404").await else {
        return;
    };
    let app = spawn_app().await;

    browser.goto(&format!("{}/acounts/7/", app.address)).await;

    browser.wait_text("main h1", "Page not found").await;
    assert!(browser.text("main").await.contains("/acounts/7/"));
    assert_eq!(
        browser.script("return document.title").await,
        json!("Page not found · bankd")
    );
    browser.click("main .link-list a").await;
    browser.wait_for("#login-form").await;
}
