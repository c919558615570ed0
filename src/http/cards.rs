//! Cards (contract §6): issue on the caller's own active account, list, view, freeze /
//! unfreeze / change the credit limit, cancel. The full number and CVV appear only in the
//! `201` of `POST /api/cards/`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::domain::Amount;
use crate::domain::card::{CardStatus, CardType};
use crate::domain::money::format_cents;
use crate::error::ApiError;
use crate::http::extract::{AuthUser, Body, Id, QueryPairs, RequestContext, parse_positive_id};
use crate::http::form::{Fields, invalid_choice};
use crate::http::pagination::page_response;
use crate::state::AppState;
use crate::store::sqlite::audit::{self, AuditEvent, Outcome};
use crate::store::sqlite::cards::{self, CardRules};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/cards", get(list).post(issue))
        .route(
            "/api/cards/{id}",
            get(retrieve).patch(update).delete(cancel),
        )
}

async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<impl IntoResponse, ApiError> {
    page_response(
        &state,
        &headers,
        &query,
        "/api/cards/",
        move |conn, limit, offset| cards::list_for_user(conn, user.user_id.get(), limit, offset),
    )
    .await
}

async fn issue(
    State(state): State<AppState>,
    user: AuthUser,
    ctx: RequestContext,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::new(&body);
    let account_id = fields.required("account", |text| {
        parse_positive_id(text).ok_or_else(|| "Incorrect type. Expected pk value.".to_owned())
    });
    let card_type = fields.required("card_type", |text| {
        CardType::parse(text).ok_or_else(|| invalid_choice(text))
    });
    let max_credit = state.config.max_credit_limit_cents;
    let credit_limit = fields
        .optional("credit_limit", false, |text| {
            parse_credit_limit(text, max_credit)
        })
        .flatten();
    match (card_type, credit_limit) {
        (Some(CardType::Debit), Some(_)) => fields
            .errors
            .add("credit_limit", "Debit cards cannot have a credit limit."),
        (Some(CardType::Credit), None) if !fields.errors.contains("credit_limit") => {
            fields.errors.add(
                "credit_limit",
                "Credit cards need a credit_limit greater than 0.",
            )
        }
        _ => {}
    }
    fields.finish()?;
    let (Some(account_id), Some(card_type)) = (account_id, card_type) else {
        return Err(ApiError::internal("validated card is incomplete"));
    };
    let key = state.keys.cards.clone();
    let config = state.config.clone();
    let context = ctx.audit_as(&user);
    let (issued, audit_id) = state
        .store.sqlite()
        .write(move |conn| {
            let rules = CardRules {
                iin_prefix: &config.cards_iin_prefix,
                validity_years: config.cards_validity_years,
                max_per_account: config.cards_max_per_account,
            };
            let issued = cards::issue(conn, user.user_id.get(), account_id, card_type, credit_limit, &key, rules)?;
            let event = AuditEvent {
                action: "card_issued",
                object: Some(("card", issued.card.id)),
                outcome: Outcome::Success,
                details: json!({ "account": account_id, "card_type": card_type.as_str(), "last4": issued.number.last4() }),
            };
            let audit_id = audit::record(conn, &context, &event)?;
            Ok((issued, audit_id))
        })
        .await?;
    tracing::info!(
        user_id = user.user_id.get(),
        card_id = issued.card.id,
        audit_id,
        "card issued"
    );
    let mut body =
        serde_json::to_value(&issued.card).map_err(|e| ApiError::internal(e.to_string()))?;
    body["card_number"] = Value::from(issued.number.as_str());
    body["cvv"] = Value::from(issued.cvv);
    Ok((StatusCode::CREATED, Json(body)))
}

async fn retrieve(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> Result<impl IntoResponse, ApiError> {
    let card = state
        .store
        .sqlite()
        .read_point(move |conn| cards::find_by_id_and_owner(conn, id, user.user_id.get()))
        .await?;
    Ok(Json(card))
}

/// `PATCH {"status": "active" | "frozen", "credit_limit"?}`; cancelling is `DELETE`.
async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    ctx: RequestContext,
    Id(id): Id,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::partial(&body);
    let status = fields.required("status", |text| match CardStatus::parse(text) {
        Some(status @ (CardStatus::Active | CardStatus::Frozen)) => Ok(status),
        _ => Err(invalid_choice(text)),
    });
    let max_credit = state.config.max_credit_limit_cents;
    let credit_limit = fields.required("credit_limit", |text| parse_credit_limit(text, max_credit));
    state
        .store
        .sqlite()
        .read_point(move |conn| cards::find_by_id_and_owner(conn, id, user.user_id.get()))
        .await?;
    fields.finish()?;
    change(&state, &user, &ctx, id, status, credit_limit)
        .await
        .map(Json)
}

async fn cancel(
    State(state): State<AppState>,
    user: AuthUser,
    ctx: RequestContext,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    let card = state
        .store
        .sqlite()
        .read_point(move |conn| cards::find_by_id_and_owner(conn, id, user.user_id.get()))
        .await?;
    if card.status() == CardStatus::Cancelled {
        // Cancelling twice changes nothing; the answer is the same.
        return Ok(StatusCode::NO_CONTENT);
    }
    change(&state, &user, &ctx, id, Some(CardStatus::Cancelled), None).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn change(
    state: &AppState,
    user: &AuthUser,
    ctx: &RequestContext,
    id: i64,
    status: Option<CardStatus>,
    credit_limit: Option<i64>,
) -> Result<cards::Card, ApiError> {
    let user_id = user.user_id;
    let context = ctx.audit_as(user);
    let (card, audit_id) = state
        .store
        .sqlite()
        .write(move |conn| {
            let card = cards::update(conn, id, user_id.get(), status, credit_limit)?;
            let action = if status == Some(CardStatus::Cancelled) {
                "card_cancelled"
            } else {
                "card_updated"
            };
            let mut details = json!({ "status": card.status });
            if let Some(limit) = credit_limit {
                details["credit_limit"] = Value::from(format_cents(limit));
            }
            let event = AuditEvent {
                action,
                object: Some(("card", id)),
                outcome: Outcome::Success,
                details,
            };
            let audit_id = audit::record(conn, &context, &event)?;
            Ok((card, audit_id))
        })
        .await?;
    tracing::info!(
        user_id = user_id.get(),
        card_id = id,
        audit_id,
        "card changed"
    );
    Ok(card)
}

/// A credit limit: a positive amount no larger than `limits.max_credit_limit`.
fn parse_credit_limit(text: &str, max_cents: i64) -> Result<i64, String> {
    let cents = Amount::parse(text).map_err(|e| e.to_string())?.cents();
    if cents > max_cents {
        return Err(format!(
            "Ensure this value is less than or equal to {}.",
            format_cents(max_cents)
        ));
    }
    Ok(cents)
}
