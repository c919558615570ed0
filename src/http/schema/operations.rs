//! Every route the API serves, with its auth, body, success answer and error answers.
//!
//! A row names only what is particular to its route; what follows from the route's shape (its
//! tag and operationId, the 401/403/404/413/415/503 every route of that shape can answer, the
//! types of well-known query parameters) is derived in `render.rs`, so a new route is one line
//! and cannot forget them.

/// Who may call an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    Public,
    User,
    Staff,
}

/// One route and method.
#[derive(Clone, Copy, Debug)]
pub struct Operation {
    pub method: &'static str,
    /// The documented (trailing-slash) path; `{id}` is a positive integer.
    pub path: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    /// Component schema of the JSON (or form) body.
    pub body: Option<&'static str>,
    /// Success status and component schema of its body (`None`: no JSON body).
    pub success: (u16, Option<&'static str>),
    /// Error statuses beyond those every authenticated route has (401, and 404 with `{id}`).
    pub errors: &'static [u16],
    /// Query parameters: name and description. Each name's type is declared once, in
    /// `parameters.rs`, so a row stays one line.
    pub query: &'static [(&'static str, &'static str)],
    /// Media types the success answer may take besides JSON (`text/csv`, `text/plain`), each
    /// declared with a string body so that generated clients hand back the raw text.
    pub media: &'static [&'static str],
}

const PAGE: [(&str, &str); 2] = [
    (
        "page",
        "1-based page number (past the end: 404 \"Invalid page.\")",
    ),
    ("page_size", "Items per page, default 20, at most 100"),
];

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    auth: Auth,
) -> Operation {
    Operation {
        method,
        path,
        summary,
        auth,
        body: None,
        success: (200, None),
        errors: &[],
        query: &[],
        media: &[],
    }
}

const fn with(
    mut operation: Operation,
    body: Option<&'static str>,
    success: (u16, Option<&'static str>),
    errors: &'static [u16],
) -> Operation {
    operation.body = body;
    operation.success = success;
    operation.errors = errors;
    operation
}

const fn query(
    mut operation: Operation,
    query: &'static [(&'static str, &'static str)],
) -> Operation {
    operation.query = query;
    operation
}

const fn media(mut operation: Operation, media: &'static [&'static str]) -> Operation {
    operation.media = media;
    operation
}

use Auth::{Public, Staff, User};

// One line per route reads as a table; rustfmt would spread each over ten lines.
#[rustfmt::skip]
pub const OPERATIONS: &[Operation] = &[
    with(op("GET", "/healthz", "Liveness", Public), None, (200, Some("Health")), &[]),
    with(op("GET", "/readyz", "Readiness: the database answers and migrations are current", Public), None, (200, Some("Health")), &[503]),
    media(op("GET", "/metrics", "Prometheus metrics (text/plain)", Public), &["text/plain"]),
    with(op("GET", "/api/schema/", "This OpenAPI document", Public), None, (200, Some("OpenApiDocument")), &[]),
    with(op("POST", "/api/register/", "Create a user and its customer profile", Public), Some("Register"), (201, Some("Registered")), &[400, 413, 415, 429]),
    with(op("POST", "/api/get-token/", "Trade credentials for an opaque token", Public), Some("Credentials"), (200, Some("Token")), &[400, 413, 415, 429]),
    with(op("POST", "/api/logout/", "Revoke the presented token", User), None, (204, None), &[]),
    with(op("POST", "/api/password/change/", "Change the caller's password; every other token and JWT of the user stops working", User), Some("PasswordChange"), (204, None), &[400, 413, 415, 429]),
    with(op("POST", "/api/password/reset/", "Set a new password with a one-time reset token from staff", Public), Some("PasswordReset"), (204, None), &[400, 413, 415, 429]),
    with(op("POST", "/api/token/", "Trade credentials for a JWT pair (simplejwt)", Public), Some("Credentials"), (200, Some("JwtPair")), &[400, 401, 413, 415, 429]),
    with(op("GET", "/api/me/", "The caller: id, username, email, is_staff, is_superuser", User), None, (200, Some("Me")), &[]),
    with(op("POST", "/api/token/refresh/", "Trade a refresh JWT for a new access JWT", Public), Some("JwtRefresh"), (200, Some("JwtAccess")), &[400, 401, 413, 415, 429]),
    query(with(op("GET", "/api/customers/", "The caller's customer profile (0 or 1 item)", User), None, (200, Some("CustomerPage")), &[]), &PAGE),
    with(op("POST", "/api/customers/", "Create the caller's customer profile", User), Some("CustomerInput"), (201, Some("Customer")), &[400, 413, 415]),
    with(op("GET", "/api/customers/{id}/", "One customer profile (own only)", User), None, (200, Some("Customer")), &[]),
    with(op("PUT", "/api/customers/{id}/", "Replace the profile (every writable field)", User), Some("CustomerInput"), (200, Some("Customer")), &[400, 413, 415]),
    with(op("PATCH", "/api/customers/{id}/", "Change some profile fields", User), Some("CustomerInput"), (200, Some("Customer")), &[400, 413, 415]),
    with(op("DELETE", "/api/customers/{id}/", "Delete the profile (refused while it has open accounts)", User), None, (204, None), &[400]),
    query(with(op("GET", "/api/accounts/", "The caller's accounts (not closed unless ?status=closed)", User), None, (200, Some("AccountPage")), &[400]), &[("status", "active | frozen | closed"), ("ordering", "created_at | balance | id | account_number | nickname, comma-separated, - for descending; unknown fields ignored"), PAGE[0], PAGE[1]]),
    with(op("POST", "/api/accounts/", "Open an account", User), Some("AccountInput"), (201, Some("Account")), &[400, 413, 415]),
    with(op("GET", "/api/accounts/{id}/", "One account (own only)", User), None, (200, Some("Account")), &[]),
    with(op("PUT", "/api/accounts/{id}/", "Change account_type and nickname (both required)", User), Some("AccountInput"), (200, Some("Account")), &[400, 413, 415]),
    with(op("PATCH", "/api/accounts/{id}/", "Change account_type and/or nickname", User), Some("AccountInput"), (200, Some("Account")), &[400, 413, 415]),
    with(op("DELETE", "/api/accounts/{id}/", "Close the account (balance must be 0.00; its cards are cancelled)", User), None, (204, None), &[400]),
    with(op("POST", "/api/accounts/{id}/deposit/", "Deposit (optional Idempotency-Key header)", User), Some("Movement"), (200, Some("Posting")), &[400, 409, 413, 415, 422, 429, 503]),
    with(op("POST", "/api/accounts/{id}/withdraw/", "Withdraw (optional Idempotency-Key header)", User), Some("Movement"), (200, Some("Posting")), &[400, 409, 413, 415, 422, 429, 503]),
    with(op("POST", "/api/accounts/{id}/transfer/", "Transfer to any account by number (optional Idempotency-Key header)", User), Some("TransferInput"), (200, Some("TransferResult")), &[400, 409, 413, 415, 422, 429, 503]),
    query(with(op("GET", "/api/accounts/{id}/statements/", "Statements of one account, newest first", User), None, (200, Some("StatementPage")), &[]), &PAGE),
    with(op("POST", "/api/accounts/{id}/statements/", "Generate and store a statement", User), Some("StatementInput"), (201, Some("Statement")), &[400, 413, 415, 503]),
    query(with(op("GET", "/api/transactions/", "The caller's transactions, newest first", User), None, (200, Some("TransactionPage")), &[400]), &[("account", "Account id"), ("transaction_type", "deposit | withdrawal | transfer_out | transfer_in"), ("date_from", "YYYY-MM-DD, inclusive (UTC)"), ("date_to", "YYYY-MM-DD, inclusive (UTC)"), ("min_amount", "Decimal"), ("max_amount", "Decimal"), ("search", "Words that must all occur in the description (case-insensitive; at most 10)"), ("ordering", "created_at | id | amount | transaction_type, comma-separated, - for descending; unknown fields ignored"), PAGE[0], PAGE[1]]),
    with(op("GET", "/api/transactions/{id}/", "One transaction (own accounts only)", User), None, (200, Some("Transaction")), &[]),
    query(with(op("GET", "/api/cards/", "The caller's cards", User), None, (200, Some("CardPage")), &[]), &PAGE),
    with(op("POST", "/api/cards/", "Issue a card; the number and CVV are shown only in this answer", User), Some("CardInput"), (201, Some("IssuedCard")), &[400, 413, 415]),
    with(op("GET", "/api/cards/{id}/", "One card (masked)", User), None, (200, Some("Card")), &[]),
    with(op("PATCH", "/api/cards/{id}/", "Freeze / unfreeze, change a credit card's limit", User), Some("CardPatch"), (200, Some("Card")), &[400, 413, 415]),
    with(op("DELETE", "/api/cards/{id}/", "Cancel the card (final)", User), None, (204, None), &[]),
    query(with(op("GET", "/api/statements/", "The caller's statements (without transactions)", User), None, (200, Some("StatementPage")), &[]), &PAGE),
    media(query(with(op("GET", "/api/statements/{id}/", "One statement with its transactions, oldest first", User), None, (200, Some("Statement")), &[503]), &[("format", "json (default) | csv (text/csv download, every transaction, streamed)"), PAGE[0], PAGE[1]]), &["text/csv"]),
    query(with(op("GET", "/api/admin/customers/", "Staff: every customer", Staff), None, (200, Some("CustomerPage")), &[400, 403]), &[("user", "User id"), ("username", "Exact username"), PAGE[0], PAGE[1]]),
    query(with(op("GET", "/api/admin/accounts/", "Staff: every account", Staff), None, (200, Some("AccountPage")), &[400, 403]), &[("customer", "Customer id"), ("user", "User id"), ("status", "active | frozen | closed"), ("account_number", "ACC-…"), ("username", "Owner's username (any case)"), PAGE[0], PAGE[1]]),
    query(with(op("GET", "/api/admin/transactions/", "Staff: every transaction, newest first", Staff), None, (200, Some("TransactionPage")), &[400, 403]), &[("account", "Account id"), ("user", "Owner's user id"), ("username", "Owner's username (any case)"), ("account_number", "ACC-…"), ("transaction_type", "Kind"), ("date_from", "YYYY-MM-DD"), ("date_to", "YYYY-MM-DD"), PAGE[0], PAGE[1]]),
    query(with(op("GET", "/api/admin/audit/", "Staff: the hash-chained audit log, newest first", Staff), None, (200, Some("AuditPage")), &[400, 403]), &[("user", "Actor's user id"), ("username", "Actor's username (any case)"), ("account", "Account id (object)"), ("account_number", "ACC-… (object)"), ("action", "e.g. transfer, login_failed"), ("date_from", "YYYY-MM-DD"), ("date_to", "YYYY-MM-DD"), PAGE[0], PAGE[1]]),
    with(op("POST", "/api/admin/accounts/{id}/freeze/", "Staff: freeze an account (every movement refused)", Staff), None, (200, Some("Account")), &[400, 403]),
    with(op("POST", "/api/admin/accounts/{id}/unfreeze/", "Staff: unfreeze an account", Staff), None, (200, Some("Account")), &[400, 403]),
    with(op("POST", "/api/admin/users/{id}/reset-password/", "Staff: end every session of a user, make its password unusable and issue a one-time reset token", Staff), None, (200, Some("ResetToken")), &[400, 403]),
];
