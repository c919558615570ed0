//! The ledger, read-only (contract §5): the caller's transactions, newest first, filtered,
//! searched (`?search=`) and ordered (`?ordering=`) as DRF's filter backends do. Other methods
//! answer `405` because only `GET` is routed.
//!
//! `TransactionBody` is the contract's transaction object; the staff list and the statement
//! detail answer the same object, so it is public.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use serde::Serialize;

use crate::domain::money::parse_non_negative_cents;
use crate::domain::{AccountNumber, Amount, Balance, TransactionType};
use crate::error::ApiError;
use crate::http::extract::{AuthUser, Id, QueryPairs, parse_positive_id};
use crate::http::pagination::store_page_response;
use crate::http::query_filters::QueryFilters;
use crate::state::AppState;
use crate::store::ids::{AccountId, TransactionId, TransferId};
use crate::store::transactions::{Transaction, TransactionFilters, TransactionOrderField};

/// The fields a transaction list may be ordered by (`?ordering=`): API name, store field.
const ORDERING_FIELDS: &[(&str, TransactionOrderField)] = &[
    ("created_at", TransactionOrderField::CreatedAt),
    ("id", TransactionOrderField::Id),
    ("amount", TransactionOrderField::Amount),
    ("transaction_type", TransactionOrderField::TransactionType),
];

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
    let store = &state.store;
    store_page_response(
        &state,
        &headers,
        &query,
        "/api/transactions/",
        |window| async move {
            let (count, rows) = store
                .list_transactions(user.user_id, filters, window)
                .await?;
            Ok((count, rows.into_iter().map(TransactionBody).collect()))
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
        .find_transaction(user.user_id, TransactionId::new(id))
        .await?;
    Ok(Json(TransactionBody(transaction)))
}

/// Validates every filter, reporting each bad one as a field error. Empty values are ignored,
/// as django-filter does.
fn read_filters(query: &QueryPairs) -> Result<TransactionFilters, ApiError> {
    let mut reader = QueryFilters::new(query);
    let mut filters = TransactionFilters::default();
    if let Some(text) = reader.given("account") {
        match parse_positive_id(text) {
            Some(id) => filters.account = Some(AccountId::new(id)),
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

/// The contract's transaction object, built from the ledger row: money as two-decimal strings,
/// `account` as the account's id beside its number.
#[derive(Clone, Debug)]
pub struct TransactionBody(pub Transaction);

/// The JSON fields in contract order, borrowed from the row (no copy per answer).
#[derive(Serialize)]
struct TransactionFields<'a> {
    id: TransactionId,
    account: AccountId,
    #[serde(serialize_with = "crate::http::display")]
    account_number: &'a AccountNumber,
    #[serde(serialize_with = "crate::http::display")]
    transaction_type: TransactionType,
    #[serde(serialize_with = "crate::http::display")]
    amount: Amount,
    #[serde(serialize_with = "crate::http::display")]
    balance_after: Balance,
    counterparty_account_number: Option<&'a str>,
    transfer_id: Option<TransferId>,
    description: &'a str,
    created_at: &'a str,
}

impl Serialize for TransactionBody {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let row = &self.0;
        TransactionFields {
            id: row.id,
            account: row.account,
            account_number: &row.account_number,
            transaction_type: row.transaction_type,
            amount: row.amount,
            balance_after: row.balance_after,
            counterparty_account_number: row
                .counterparty_account_number
                .as_ref()
                .map(AccountNumber::as_str),
            transfer_id: row.transfer_id,
            description: &row.description,
            created_at: &row.created_at,
        }
        .serialize(serializer)
    }
}
