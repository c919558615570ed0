//! The ledger, read-only (contract §5): the caller's transactions, newest first, filtered.
//! Other methods answer `405` because only `GET` is routed.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::app::AppState;
use crate::db::transactions::{self, Filters};
use crate::domain::TransactionType;
use crate::domain::money::parse_non_negative_cents;
use crate::domain::time::{parse_date, start_of_day};
use crate::error::{ApiError, FieldErrors};
use crate::http::extract::{AuthUser, Id, QueryPairs, parse_positive_id};
use crate::http::pagination::page_response;

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
            transactions::list_for_user(conn, user.user_id, &filters, limit, offset)
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
        .db
        .read(move |conn| transactions::find_by_id_and_owner(conn, id, user.user_id))
        .await?;
    Ok(Json(transaction))
}

/// Validates every filter, reporting each bad one as a field error. Empty values are ignored,
/// as django-filter does.
fn read_filters(query: &QueryPairs) -> Result<Filters, ApiError> {
    let mut errors = FieldErrors::default();
    let mut filters = Filters::default();
    let given = |name: &str| query.get(name).filter(|v| !v.is_empty());
    if let Some(text) = given("account") {
        match parse_positive_id(text) {
            Some(id) => filters.account = Some(id),
            None => errors.add(
                "account",
                "Select a valid choice. That choice is not one of the available choices.",
            ),
        }
    }
    if let Some(text) = given("transaction_type") {
        match TransactionType::parse(text) {
            Some(kind) => filters.transaction_type = Some(kind),
            None => errors.add(
                "transaction_type",
                format!("Select a valid choice. {text} is not one of the available choices."),
            ),
        }
    }
    let date_from = given("date_from").map(|text| (text, parse_date(text)));
    let date_to = given("date_to").map(|text| (text, parse_date(text)));
    match date_from {
        Some((_, Some(date))) => filters.created_from = Some(start_of_day(date)),
        Some((_, None)) => errors.add("date_from", "Enter a valid date."),
        None => {}
    }
    match date_to {
        Some((_, Some(date))) => {
            filters.created_before = date.succ_opt().map(start_of_day);
        }
        Some((_, None)) => errors.add("date_to", "Enter a valid date."),
        None => {}
    }
    for (name, slot) in [
        ("min_amount", &mut filters.min_amount_cents),
        ("max_amount", &mut filters.max_amount_cents),
    ] {
        if let Some(text) = given(name) {
            match parse_non_negative_cents(text) {
                Ok(cents) => *slot = Some(cents),
                Err(_) => errors.add(name, "Enter a number."),
            }
        }
    }
    errors.into_result()?;
    Ok(filters)
}
