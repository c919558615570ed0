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

use crate::domain::time::{parse_date, today_utc};
use crate::error::ApiError;
use crate::http::extract::{AuthUser, Body, Id, QueryPairs};
use crate::http::form::Fields;
use crate::http::pagination::{PageLinks, PageRequest, envelope, page_response};
use crate::state::AppState;
use crate::store::sqlite::statements::{self, Statement};

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
        .sqlite()
        .read_point(move |conn| {
            crate::store::sqlite::accounts::find_by_id_and_owner(
                conn,
                account_id,
                user.user_id.get(),
            )
        })
        .await?;
    fields.finish()?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(ApiError::internal("validated statement is incomplete"));
    };
    let permit = state.statements.enter().await?;
    let draft = state
        .store
        .sqlite()
        .read(move |conn| statements::draft(conn, account, start, end))
        .await?;
    let statement = state
        .store
        .sqlite()
        .write(move |conn| statements::store(conn, draft))
        .await?;
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
    mut statement: Statement,
    headers: &HeaderMap,
    query: &QueryPairs,
) -> Result<Json<Statement>, ApiError> {
    let page = PageRequest::from_query(query)?;
    let count = statement.transaction_count.unsigned_abs();
    let rows = if page.offset() < count {
        let statement = statement.clone();
        state
            .store
            .sqlite()
            .read(move |conn| statements::page(conn, &statement, page.limit(), page.offset()))
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
    let Json(envelope) = envelope(&links, page, count, rows)?;
    statement.transactions = Some(envelope);
    Ok(Json(statement))
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
    state
        .store
        .sqlite()
        .read_point(move |conn| {
            crate::store::sqlite::accounts::find_by_id_and_owner(
                conn,
                account_id,
                user.user_id.get(),
            )
        })
        .await?;
    list_page(state, user, Some(account_id), headers, query, path).await
}

async fn list_page(
    State(state): State<AppState>,
    user: AuthUser,
    account_id: Option<i64>,
    headers: HeaderMap,
    query: QueryPairs,
    path: String,
) -> Result<Json<serde_json::Value>, ApiError> {
    page_response(
        &state,
        &headers,
        &query,
        &path,
        move |conn, limit, offset| {
            statements::list_for_user(conn, user.user_id.get(), account_id, limit, offset)
        },
    )
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
        .sqlite()
        .read_point(move |conn| statements::find(conn, id, user.user_id.get()))
        .await?;
    let permit = state.statements.enter().await?;
    if csv {
        // The permit travels with the body and is released when the download ends.
        return Ok(csv::response(
            state.store.sqlite().clone(),
            statement,
            permit,
        ));
    }
    let response = with_transactions_page(&state, statement, &headers, &query).await;
    drop(permit);
    Ok(response?.into_response())
}
