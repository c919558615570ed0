//! Money movement (contract §4): deposit, withdraw, transfer on the caller's own account.
//!
//! The handler only validates the body and submits one job to the writer; the job, in
//! `db::ledger`, does every check and posting inside one `BEGIN IMMEDIATE` transaction.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::db::ledger::{self, Movement};
use crate::domain::AccountNumber;
use crate::error::ApiError;
use crate::http::extract::{AuthUser, Body, Id};
use crate::http::form::{Fields, max_chars};
use crate::limits::DESCRIPTION_CHARS_MAX;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/accounts/{id}/deposit", post(deposit))
        .route("/api/accounts/{id}/withdraw", post(withdraw))
        .route("/api/accounts/{id}/transfer", post(transfer))
}

/// The fields every movement has.
struct MovementRequest {
    amount: crate::domain::Amount,
    description: String,
}

fn read_movement(fields: &mut Fields<'_>) -> Option<MovementRequest> {
    let amount = fields.amount("amount");
    let description = fields
        .optional("description", false, |text| {
            max_chars(text, DESCRIPTION_CHARS_MAX)
        })
        .flatten()
        .unwrap_or_default();
    Some(MovementRequest {
        amount: amount?,
        description,
    })
}

/// Answers a body's field errors, but only after confirming the account is the caller's, so
/// that someone else's account id is always `404` whatever the body. Valid bodies skip this
/// read: the ledger checks ownership inside its transaction.
async fn refuse_invalid(
    state: &AppState,
    user: AuthUser,
    account_id: i64,
    fields: Fields<'_>,
) -> Result<(), ApiError> {
    if fields.errors.is_empty() {
        return Ok(());
    }
    state
        .db
        .read(move |conn| crate::db::accounts::find_by_id_and_owner(conn, account_id, user.user_id))
        .await?;
    fields.finish()
}

async fn deposit(
    State(state): State<AppState>,
    user: AuthUser,
    Id(account_id): Id,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let mut fields = Fields::new(&body);
    let request = read_movement(&mut fields);
    refuse_invalid(&state, user, account_id, fields).await?;
    let request = request.ok_or_else(|| ApiError::internal("validated deposit is incomplete"))?;
    let posting = state
        .db
        .write(move |conn| {
            let movement = Movement {
                user_id: user.user_id,
                account_id,
                amount: request.amount,
                description: &request.description,
            };
            ledger::deposit(conn, &movement)
        })
        .await?;
    tracing::info!(
        user_id = user.user_id,
        account_id,
        transaction_id = posting.transaction_id,
        "deposit"
    );
    Ok(Json(json!({
        "status": "deposit successful",
        "new_balance": posting.new_balance.to_string(),
        "transaction_id": posting.transaction_id,
    })))
}

async fn withdraw(
    State(state): State<AppState>,
    user: AuthUser,
    Id(account_id): Id,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let mut fields = Fields::new(&body);
    let request = read_movement(&mut fields);
    refuse_invalid(&state, user, account_id, fields).await?;
    let request =
        request.ok_or_else(|| ApiError::internal("validated withdrawal is incomplete"))?;
    let posting = state
        .db
        .write(move |conn| {
            let movement = Movement {
                user_id: user.user_id,
                account_id,
                amount: request.amount,
                description: &request.description,
            };
            ledger::withdraw(conn, &movement)
        })
        .await?;
    tracing::info!(
        user_id = user.user_id,
        account_id,
        transaction_id = posting.transaction_id,
        "withdrawal"
    );
    Ok(Json(json!({
        "status": "withdrawal successful",
        "new_balance": posting.new_balance.to_string(),
        "transaction_id": posting.transaction_id,
    })))
}

async fn transfer(
    State(state): State<AppState>,
    user: AuthUser,
    Id(account_id): Id,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let mut fields = Fields::new(&body);
    let destination = fields.required("to_account_number", |text| {
        AccountNumber::parse(text).ok_or_else(|| "Account not found.".to_owned())
    });
    let request = read_movement(&mut fields);
    refuse_invalid(&state, user, account_id, fields).await?;
    let (Some(destination), Some(request)) = (destination, request) else {
        return Err(ApiError::internal("validated transfer is incomplete"));
    };
    let transfer = state
        .db
        .write(move |conn| {
            let movement = Movement {
                user_id: user.user_id,
                account_id,
                amount: request.amount,
                description: &request.description,
            };
            ledger::transfer(conn, &movement, &destination)
        })
        .await?;
    tracing::info!(
        user_id = user.user_id,
        account_id,
        transfer_id = transfer.transfer_id,
        "transfer"
    );
    Ok(Json(json!({
        "status": "transfer successful",
        "from_account_balance": transfer.source_balance.to_string(),
        "transfer_id": transfer.transfer_id,
    })))
}
