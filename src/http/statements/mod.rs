//! Statements (contract §7): generate for one of the caller's accounts, list, view, download
//! as CSV (`?format=csv`).
//!
//! A statement's figures (opening, totals, closing, count) always cover its whole period; its
//! transactions are never all in memory at once. The detail carries them as one DRF page
//! (`transactions: {count, next, previous, results}`, `?page=` / `?page_size=`), the CSV is
//! streamed in chunks (`csv.rs`), and the work on statements at any one time is bounded
//! (`gate.rs`).

mod csv;
mod gate;

pub use gate::StatementGate;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Serialize;

use crate::domain::money::Cents;
use crate::domain::time::{parse_date, today_utc};
use crate::error::ApiError;
use crate::http::extract::{AuthUser, Body, Id, QueryPairs};
use crate::http::form::Fields;
use crate::http::pagination::{PageLinks, PageRequest, envelope, store_page_response};
use crate::http::transactions::TransactionBody;
use crate::state::AppState;
use crate::store::PageWindow;
use crate::store::ids::{AccountId, StatementId};
use crate::store::statements::Statement;

/// The longest statement, in days (a leap year).
pub const STATEMENT_DAYS_MAX: i64 = 366;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/accounts/{id}/statements",
            get(list_for_account).post(generate),
        )
        .route("/api/statements", get(list))
        .route("/api/statements/{id}", get(retrieve))
}

async fn generate(
    State(state): State<AppState>,
    user: AuthUser,
    Id(account_id): Id,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::new(&body);
    let date = |text: &str| {
        parse_date(text).ok_or_else(|| {
            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.".to_owned()
        })
    };
    let start = fields.required("start_date", date);
    let end = fields.required("end_date", |text| {
        let end = date(text)?;
        if end > today_utc() {
            return Err("end_date cannot be after today (UTC).".to_owned());
        }
        Ok(end)
    });
    if let (Some(start), Some(end)) = (start, end) {
        check_range(&mut fields, start, end);
    }
    // Someone else's account is a 404 whatever the body says.
    let account = state
        .store
        .find_account(user.user_id, AccountId::new(account_id))
        .await?;
    fields.finish()?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(ApiError::internal("validated statement is incomplete"));
    };
    let permit = state.statements.enter().await?;
    let statement = state.store.generate_statement(account, start, end).await?;
    // The answer carries the first page of transactions, linking to the detail for the rest.
    let response = with_transactions_page(&state, statement, &headers, &QueryPairs::default())
        .await
        .map(|json| (StatusCode::CREATED, json));
    drop(permit);
    response
}

/// Fills in one page of the statement's transactions (`page` / `page_size` from `query`, DRF's
/// defaults and cap) in the pagination envelope, with links to the statement's detail URL.
/// A page past the end is `404 Invalid page.`, as on every list.
async fn with_transactions_page(
    state: &AppState,
    statement: Statement,
    headers: &HeaderMap,
    query: &QueryPairs,
) -> Result<Json<StatementBody>, ApiError> {
    let page = PageRequest::from_query(query)?;
    let count = statement.transaction_count;
    let rows = if page.offset() < count {
        let window = PageWindow {
            limit: page.limit(),
            offset: page.offset(),
        };
        state
            .store
            .statement_transactions(statement.range(), window)
            .await?
    } else {
        Vec::new()
    };
    let path = format!("/api/statements/{}/", statement.id);
    let links = PageLinks {
        public_url: state.config.public_url.as_ref(),
        headers,
        path: &path,
        query,
    };
    let rows: Vec<TransactionBody> = rows.into_iter().map(TransactionBody).collect();
    let Json(envelope) = envelope(&links, page, count, rows)?;
    let mut body = StatementBody::from(statement);
    body.transactions = Some(envelope);
    Ok(Json(body))
}

fn check_range(fields: &mut Fields<'_>, start: NaiveDate, end: NaiveDate) {
    if start > end {
        fields.errors.add(
            "non_field_errors",
            "start_date must be on or before end_date.",
        );
    } else if (end - start).num_days() + 1 > STATEMENT_DAYS_MAX {
        fields.errors.add(
            "non_field_errors",
            format!("A statement covers at most {STATEMENT_DAYS_MAX} days."),
        );
    }
}

async fn list(
    state: State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<impl IntoResponse, ApiError> {
    list_page(
        state,
        user,
        None,
        headers,
        query,
        "/api/statements/".to_owned(),
    )
    .await
}

async fn list_for_account(
    state: State<AppState>,
    user: AuthUser,
    Id(account_id): Id,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<impl IntoResponse, ApiError> {
    let path = format!("/api/accounts/{account_id}/statements/");
    let account_id = AccountId::new(account_id);
    state.store.find_account(user.user_id, account_id).await?;
    list_page(state, user, Some(account_id), headers, query, path).await
}

async fn list_page(
    State(state): State<AppState>,
    user: AuthUser,
    account_id: Option<AccountId>,
    headers: HeaderMap,
    query: QueryPairs,
    path: String,
) -> Result<Json<serde_json::Value>, ApiError> {
    let store = &state.store;
    store_page_response(&state, &headers, &query, &path, |window| async move {
        let (count, statements) = store
            .list_statements(user.user_id, account_id, window)
            .await?;
        Ok((
            count,
            statements.into_iter().map(StatementBody::from).collect(),
        ))
    })
    .await
}

async fn retrieve(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let csv = match query.get("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::not_found()),
    };
    let statement = state
        .store
        .find_statement(user.user_id, StatementId::new(id))
        .await?;
    let permit = state.statements.enter().await?;
    if csv {
        // The permit travels with the body and is released when the download ends.
        return Ok(csv::response(state.store.clone(), &statement, permit));
    }
    let response = with_transactions_page(&state, statement, &headers, &query).await;
    drop(permit);
    Ok(response?.into_response())
}

/// A statement as the API shows it; `transactions` only in the detail view.
#[derive(Serialize)]
struct StatementBody {
    id: StatementId,
    account: AccountId,
    #[serde(serialize_with = "crate::http::display")]
    account_number: crate::domain::AccountNumber,
    #[serde(serialize_with = "crate::http::display")]
    start_date: NaiveDate,
    #[serde(serialize_with = "crate::http::display")]
    end_date: NaiveDate,
    #[serde(serialize_with = "crate::http::display")]
    opening_balance: crate::domain::Balance,
    #[serde(serialize_with = "crate::http::display")]
    closing_balance: crate::domain::Balance,
    #[serde(serialize_with = "crate::http::display")]
    total_deposits: Cents,
    #[serde(serialize_with = "crate::http::display")]
    total_withdrawals: Cents,
    transaction_count: u64,
    /// Only in the detail view: one page of the statement's transactions, oldest first, in
    /// the DRF envelope (`count`, `next`, `previous`, `results`).
    #[serde(skip_serializing_if = "Option::is_none")]
    transactions: Option<serde_json::Value>,
    generated_at: String,
}

impl From<Statement> for StatementBody {
    fn from(statement: Statement) -> Self {
        Self {
            id: statement.id,
            account: statement.account,
            account_number: statement.account_number,
            start_date: statement.start_date,
            end_date: statement.end_date,
            opening_balance: statement.opening_balance,
            closing_balance: statement.closing_balance,
            total_deposits: Cents(statement.total_deposits_cents),
            total_withdrawals: Cents(statement.total_withdrawals_cents),
            transaction_count: statement.transaction_count,
            transactions: None,
            generated_at: statement.generated_at,
        }
    }
}
