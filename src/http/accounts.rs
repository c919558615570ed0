//! Accounts (contract §4): open, list (with DRF's `?ordering=`), rename, close. Money movement
//! is in `movements.rs`.
//!
//! `AccountBody` is the contract's account object; the staff routes (`admin.rs`) answer the
//! same object, so it is public.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::domain::{AccountNumber, AccountStatus, AccountType, Balance};
use crate::error::ApiError;
use crate::http::extract::{AuthUser, Body, Id, QueryPairs};
use crate::http::form::{Fields, invalid_choice, max_chars};
use crate::http::pagination::store_page_response;
use crate::http::query_filters::QueryFilters;
use crate::limits::NICKNAME_CHARS_MAX;
use crate::state::AppState;
use crate::store::accounts::{
    Account, AccountList, AccountOrderField, ChangeAccount, OpenAccount, StatusFilter,
};
use crate::store::ids::{AccountId, CustomerId};

/// The fields an account list may be ordered by (`?ordering=`): API name, store field.
const ORDERING_FIELDS: &[(&str, AccountOrderField)] = &[
    ("created_at", AccountOrderField::CreatedAt),
    ("balance", AccountOrderField::Balance),
    ("id", AccountOrderField::Id),
    ("account_number", AccountOrderField::AccountNumber),
    ("nickname", AccountOrderField::Nickname),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/accounts", get(list).post(create))
        .route(
            "/api/accounts/{id}",
            get(retrieve).put(replace).patch(update).delete(close),
        )
}

async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<impl IntoResponse, ApiError> {
    let filter = match query.get("status") {
        None | Some("") => StatusFilter::Open,
        Some(text) => StatusFilter::Only(
            AccountStatus::parse(text)
                .ok_or_else(|| ApiError::field("status", invalid_choice(text)))?,
        ),
    };
    let list = AccountList {
        user: user.user_id,
        status: filter,
        ordering: QueryFilters::new(&query).ordering(ORDERING_FIELDS),
    };
    let store = &state.store;
    store_page_response(
        &state,
        &headers,
        &query,
        "/api/accounts/",
        |window| async move {
            let (count, accounts) = store.list_accounts(list, window).await?;
            Ok((count, accounts.into_iter().map(AccountBody).collect()))
        },
    )
    .await
}

async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::new(&body);
    let account_type = fields
        .optional("account_type", false, parse_account_type)
        .flatten();
    let nickname = fields.optional("nickname", false, parse_nickname).flatten();
    fields.finish()?;
    let account = state
        .store
        .open_account(OpenAccount {
            user: user.user_id,
            account_type: account_type.unwrap_or(AccountType::Checking),
            nickname: nickname.unwrap_or_default(),
            max_open_accounts: state.config.max_accounts_per_customer,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(AccountBody(account))))
}

async fn retrieve(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> Result<impl IntoResponse, ApiError> {
    let account = state
        .store
        .find_account(user.user_id, AccountId::new(id))
        .await?;
    Ok(Json(AccountBody(account)))
}

async fn replace(
    state: State<AppState>,
    user: AuthUser,
    id: Id,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    save(state, user, id, Fields::new(&body)).await
}

async fn update(
    state: State<AppState>,
    user: AuthUser,
    id: Id,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    save(state, user, id, Fields::partial(&body)).await
}

/// `PUT` needs both writable fields (`nickname` may be blank or null); `PATCH` either.
/// Everything else in the body (`balance`, `status`, `account_number`, ...) is ignored.
async fn save(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    mut fields: Fields<'_>,
) -> Result<Json<AccountBody>, ApiError> {
    let account_type = fields.required("account_type", parse_account_type);
    let nickname = fields
        .optional("nickname", true, parse_nickname)
        .map(Option::unwrap_or_default);
    let id = AccountId::new(id);
    // Another user's id is a 404 even when the body is also invalid: check ownership first.
    state.store.find_account(user.user_id, id).await?;
    fields.finish()?;
    let account = state
        .store
        .change_account(ChangeAccount {
            user: user.user_id,
            id,
            account_type,
            nickname,
        })
        .await?;
    Ok(Json(AccountBody(account)))
}

async fn close(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .close_account(user.user_id, AccountId::new(id))
        .await?;
    tracing::info!(
        user_id = user.user_id.get(),
        account_id = id,
        "account closed"
    );
    Ok(StatusCode::NO_CONTENT)
}

fn parse_account_type(text: &str) -> Result<AccountType, String> {
    AccountType::parse(text).ok_or_else(|| invalid_choice(text))
}

fn parse_nickname(text: &str) -> Result<String, String> {
    max_chars(text, NICKNAME_CHARS_MAX)
}

/// The contract's account object, built from the row: balances as two-decimal strings, the
/// owning profile's id as `customer`.
#[derive(Clone, Debug)]
pub struct AccountBody(pub Account);

/// The JSON fields in contract order, borrowed from the row (no copy per answer).
#[derive(Serialize)]
struct AccountFields<'a> {
    id: AccountId,
    #[serde(serialize_with = "crate::http::display")]
    account_number: &'a AccountNumber,
    #[serde(serialize_with = "crate::http::display")]
    account_type: AccountType,
    nickname: &'a str,
    #[serde(serialize_with = "crate::http::display")]
    balance: Balance,
    #[serde(serialize_with = "crate::http::display")]
    status: AccountStatus,
    customer: CustomerId,
    created_at: &'a str,
    updated_at: &'a str,
}

impl Serialize for AccountBody {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let account = &self.0;
        AccountFields {
            id: account.id,
            account_number: &account.account_number,
            account_type: account.account_type,
            nickname: &account.nickname,
            balance: account.balance,
            status: account.status,
            customer: account.customer,
            created_at: &account.created_at,
            updated_at: &account.updated_at,
        }
        .serialize(serializer)
    }
}
