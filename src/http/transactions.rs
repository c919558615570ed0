//! The ledger, read-only (contract §5): the caller's transactions, newest first, filtered,
//! searched (`?search=`) and ordered (`?ordering=`) as DRF's filter backends do. Other methods
//! answer `405` because only `GET` is routed.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::domain::TransactionType;
use crate::domain::money::parse_non_negative_cents;
use crate::error::ApiError;
use crate::http::extract::{AuthUser, Id, QueryPairs, parse_positive_id};
use crate::http::pagination::page_response;
use crate::http::query_filters::QueryFilters;
use crate::state::AppState;
use crate::store::sqlite::transactions::{self, Filters, ORDERING_FIELDS};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/transactions", get(list))
        .route("/api/transactions/{id}", get(retrieve))
}

async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<impl IntoResponse, ApiError> {
    let filters = read_filters(&query)?;
    page_response(
        &state,
        &headers,
        &query,
        "/api/transactions/",
        move |conn, limit, offset| {
            transactions::list_for_user(conn, user.user_id.get(), &filters, limit, offset)
        },
    )
    .await
}

async fn retrieve(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> Result<impl IntoResponse, ApiError> {
    let transaction = state
        .store
        .sqlite()
        .read_point(move |conn| transactions::find_by_id_and_owner(conn, id, user.user_id.get()))
        .await?;
    Ok(Json(transaction))
}

/// Validates every filter, reporting each bad one as a field error. Empty values are ignored,
/// as django-filter does.
fn read_filters(query: &QueryPairs) -> Result<Filters, ApiError> {
    let mut reader = QueryFilters::new(query);
    let mut filters = Filters::default();
    if let Some(text) = reader.given("account") {
        match parse_positive_id(text) {
            Some(id) => filters.account = Some(id),
            None => reader.errors.add(
                "account",
                "Select a valid choice. That choice is not one of the available choices.",
            ),
        }
    }
    if let Some(text) = reader.given("transaction_type") {
        match TransactionType::parse(text) {
            Some(kind) => filters.transaction_type = Some(kind),
            None => reader.errors.add(
                "transaction_type",
                format!("Select a valid choice. {text} is not one of the available choices."),
            ),
        }
    }
    (filters.created_from, filters.created_before) = reader.dates();
    filters.search = reader.search_terms();
    filters.ordering = reader.ordering(ORDERING_FIELDS);
    for (name, slot) in [
        ("min_amount", &mut filters.min_amount_cents),
        ("max_amount", &mut filters.max_amount_cents),
    ] {
        if let Some(text) = reader.given(name) {
            match parse_non_negative_cents(text) {
                Ok(cents) => *slot = Some(cents),
                Err(_) => reader.errors.add(name, "Enter a number."),
            }
        }
    }
    reader.finish()?;
    Ok(filters)
}
