//! Staff routes (contract §8): everything, for staff and superusers only.
//!
//! Every handler takes a `StaffUser`, so a non-staff caller is refused (`403`, audited) before
//! any handler code runs. Lists are paginated and filterable; freeze and unfreeze are audited.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::domain::time::now_rfc3339;
use crate::domain::{AccountStatus, TransactionType};
use crate::error::ApiError;
use crate::http::extract::{Id, QueryPairs, RequestContext, StaffUser};
use crate::http::form::invalid_choice;
use crate::http::pagination::page_response;
use crate::http::query_filters::QueryFilters as Filters;
use crate::state::AppState;
use crate::store::sqlite::accounts::Account;
use crate::store::sqlite::admin::{self, Conditions};
use crate::store::sqlite::audit::{self, AuditEvent, AuditFilters, Outcome};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/customers", get(customers))
        .route("/api/admin/accounts", get(accounts))
        .route("/api/admin/transactions", get(transactions))
        .route("/api/admin/audit", get(audit_log))
        .route("/api/admin/accounts/{id}/freeze", post(freeze))
        .route("/api/admin/accounts/{id}/unfreeze", post(unfreeze))
}

async fn customers(
    State(state): State<AppState>,
    _staff: StaffUser,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<impl IntoResponse, ApiError> {
    let mut filters = Filters::new(&query);
    let mut conditions = Conditions::default();
    if let Some(user) = filters.id("user") {
        conditions.add("c.user_id = ?", user);
    }
    if let Some(username) = filters.given("username") {
        conditions.add("lower(u.username) = lower(?)", username.to_owned());
    }
    filters.finish()?;
    conditions.add_fixed("c.deleted_at IS NULL");
    page_response(
        &state,
        &headers,
        &query,
        "/api/admin/customers/",
        move |conn, limit, offset| admin::customers(conn, &conditions, limit, offset),
    )
    .await
}

async fn accounts(
    State(state): State<AppState>,
    _staff: StaffUser,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<impl IntoResponse, ApiError> {
    let mut filters = Filters::new(&query);
    let mut conditions = Conditions::default();
    if let Some(customer) = filters.id("customer") {
        conditions.add("a.customer_id = ?", customer);
    }
    if let Some(user) = filters.id("user") {
        conditions.add("c.user_id = ?", user);
    }
    if let Some(text) = filters.given("status") {
        match AccountStatus::parse(text) {
            Some(status) => conditions.add("a.status = ?", status.as_str()),
            None => filters.errors.add("status", invalid_choice(text)),
        }
    }
    if let Some(number) = filters.given("account_number") {
        conditions.add("a.account_number = ?", number.to_owned());
    }
    if let Some(username) = filters.given("username") {
        conditions.add("lower(u.username) = lower(?)", username.to_owned());
    }
    filters.finish()?;
    page_response(
        &state,
        &headers,
        &query,
        "/api/admin/accounts/",
        move |conn, limit, offset| admin::accounts(conn, &conditions, limit, offset),
    )
    .await
}

async fn transactions(
    State(state): State<AppState>,
    _staff: StaffUser,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<impl IntoResponse, ApiError> {
    let mut filters = Filters::new(&query);
    let mut conditions = Conditions::default();
    if let Some(account) = filters.id("account") {
        conditions.add("t.account_id = ?", account);
    }
    if let Some(user) = filters.id("user") {
        conditions.add(
            "t.customer_id IN (SELECT id FROM customers WHERE user_id = ?)",
            user,
        );
    }
    if let Some(username) = filters.given("username") {
        conditions.add(
            "t.customer_id IN (SELECT c.id FROM customers c JOIN users u ON u.id = c.user_id
             WHERE lower(u.username) = lower(?))",
            username.to_owned(),
        );
    }
    if let Some(number) = filters.given("account_number") {
        conditions.add(
            "t.account_id IN (SELECT id FROM accounts WHERE account_number = ?)",
            number.to_owned(),
        );
    }
    if let Some(text) = filters.given("transaction_type") {
        match TransactionType::parse(text) {
            Some(kind) => conditions.add("t.transaction_type = ?", kind.as_str()),
            None => filters.errors.add("transaction_type", invalid_choice(text)),
        }
    }
    let (from, before) = filters.dates();
    if let Some(from) = from {
        conditions.add("t.created_at >= ?", from);
    }
    if let Some(before) = before {
        conditions.add("t.created_at < ?", before);
    }
    filters.finish()?;
    page_response(
        &state,
        &headers,
        &query,
        "/api/admin/transactions/",
        move |conn, limit, offset| admin::transactions(conn, &conditions, limit, offset),
    )
    .await
}

async fn audit_log(
    State(state): State<AppState>,
    _staff: StaffUser,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<impl IntoResponse, ApiError> {
    let mut filters = Filters::new(&query);
    let actor_user_id = filters.id("user");
    let account_id = filters.id("account");
    let username = filters.given("username").map(str::to_owned);
    let account_number = filters.given("account_number").map(str::to_owned);
    let action = filters.given("action").map(str::to_owned);
    let (created_from, created_before) = filters.dates();
    filters.finish()?;
    page_response(
        &state,
        &headers,
        &query,
        "/api/admin/audit/",
        move |conn, limit, offset| {
            // A username or account number is looked up to the id the audit filters index; one
            // that names nobody (or contradicts `user` / `account`) matches no row.
            let Some(actor_user_id) = resolve(actor_user_id, username.as_deref(), |name| {
                admin::user_id_by_username(conn, name)
            })?
            else {
                return Ok((0, Vec::new()));
            };
            let Some(account_id) = resolve(account_id, account_number.as_deref(), |number| {
                admin::account_id_by_number(conn, number)
            })?
            else {
                return Ok((0, Vec::new()));
            };
            let audit_filters = AuditFilters {
                actor_user_id,
                account_id,
                action,
                created_from,
                created_before,
            };
            let (count, rows) = audit::list(conn, &audit_filters, limit, offset)?;
            Ok((count, admin::with_usernames(conn, rows)?))
        },
    )
    .await
}

/// Combines an id filter with a name filter that is looked up to an id: `Some(filter)` to
/// apply (`None` inside: no filter), or `None` when nothing can match.
fn resolve(
    id: Option<i64>,
    name: Option<&str>,
    look_up: impl FnOnce(&str) -> Result<Option<i64>, ApiError>,
) -> Result<Option<Option<i64>>, ApiError> {
    let Some(name) = name else {
        return Ok(Some(id));
    };
    Ok(match (look_up(name)?, id) {
        (Some(found), None) => Some(Some(found)),
        (Some(found), Some(id)) if found == id => Some(Some(id)),
        _ => None,
    })
}

async fn freeze(
    state: State<AppState>,
    staff: StaffUser,
    ctx: RequestContext,
    id: Id,
) -> Result<impl IntoResponse, ApiError> {
    set_frozen(state, staff, ctx, id, true).await
}

async fn unfreeze(
    state: State<AppState>,
    staff: StaffUser,
    ctx: RequestContext,
    id: Id,
) -> Result<impl IntoResponse, ApiError> {
    set_frozen(state, staff, ctx, id, false).await
}

async fn set_frozen(
    State(state): State<AppState>,
    StaffUser(staff): StaffUser,
    ctx: RequestContext,
    Id(id): Id,
    frozen: bool,
) -> Result<Json<Account>, ApiError> {
    let context = ctx.audit_as(&staff);
    let action = if frozen {
        "account_frozen"
    } else {
        "account_unfrozen"
    };
    let (account, audit_id) = state
        .store
        .sqlite()
        .write(move |conn| {
            let (account, changed) = admin::set_frozen(conn, id, frozen, &now_rfc3339())?;
            let event = AuditEvent {
                action,
                object: Some(("account", id)),
                outcome: Outcome::Success,
                details: json!({ "account_number": account.account_number.as_str(), "changed": changed }),
            };
            let audit_id = audit::record(conn, &context, &event)?;
            Ok((account, audit_id))
        })
        .await?;
    tracing::info!(
        staff_user_id = staff.user_id.get(),
        account_id = id,
        action,
        audit_id,
        "staff action"
    );
    Ok(Json(account))
}
