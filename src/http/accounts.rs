//! Accounts (contract §4): open, list (with DRF's `?ordering=`), rename, close. Money movement
//! is in `movements.rs`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::domain::time::now_rfc3339;
use crate::domain::{AccountStatus, AccountType};
use crate::error::ApiError;
use crate::http::extract::{AuthUser, Body, Id, QueryPairs};
use crate::http::form::{Fields, invalid_choice, max_chars};
use crate::http::pagination::page_response;
use crate::http::query_filters::QueryFilters;
use crate::limits::NICKNAME_CHARS_MAX;
use crate::state::AppState;
use crate::store::sqlite::accounts::{self, StatusFilter};

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
    let ordering = QueryFilters::new(&query).ordering(accounts::ORDERING_FIELDS);
    page_response(
        &state,
        &headers,
        &query,
        "/api/accounts/",
        move |conn, limit, offset| {
            accounts::list_for_user(conn, user.user_id.get(), filter, &ordering, limit, offset)
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
    let max_open = state.config.max_accounts_per_customer;
    let account = state
        .store
        .sqlite()
        .write(move |conn| {
            accounts::open(
                conn,
                user.user_id.get(),
                account_type.unwrap_or(AccountType::Checking),
                nickname.as_deref().unwrap_or_default(),
                max_open,
                &now_rfc3339(),
            )
        })
        .await?;
    Ok((StatusCode::CREATED, Json(account)))
}

async fn retrieve(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> Result<impl IntoResponse, ApiError> {
    let account = state
        .store
        .sqlite()
        .read_point(move |conn| accounts::find_by_id_and_owner(conn, id, user.user_id.get()))
        .await?;
    Ok(Json(account))
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
) -> Result<Json<accounts::Account>, ApiError> {
    let account_type = fields.required("account_type", parse_account_type);
    let nickname = fields
        .optional("nickname", true, parse_nickname)
        .map(Option::unwrap_or_default);
    state
        .store
        .sqlite()
        .read_point(move |conn| accounts::find_by_id_and_owner(conn, id, user.user_id.get()))
        .await?;
    fields.finish()?;
    let account = state
        .store
        .sqlite()
        .write(move |conn| {
            accounts::update(
                conn,
                id,
                user.user_id.get(),
                account_type,
                nickname.as_deref(),
                &now_rfc3339(),
            )
        })
        .await?;
    Ok(Json(account))
}

async fn close(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .sqlite()
        .write(move |conn| accounts::close(conn, id, user.user_id.get(), &now_rfc3339()))
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
