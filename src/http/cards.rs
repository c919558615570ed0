//! Cards (contract §6): issue on the caller's own active account, list, view, freeze /
//! unfreeze / change the credit limit, cancel. The full number and CVV appear only in the
//! `201` of `POST /api/cards/`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::domain::Amount;
use crate::domain::card::{CardStatus, CardType, masked};
use crate::domain::money::format_cents;
use crate::error::ApiError;
use crate::http::extract::{AuthUser, Body, Id, QueryPairs, RequestContext, parse_positive_id};
use crate::http::form::{Fields, invalid_choice};
use crate::http::pagination::store_page_response;
use crate::state::AppState;
use crate::store::cards::{Card, CardRules, ChangeCard, IssueCard};
use crate::store::ids::{AccountId, CardId};

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
    let store = &state.store;
    store_page_response(
        &state,
        &headers,
        &query,
        "/api/cards/",
        |window| async move {
            let (count, cards) = store.list_cards(user.user_id, window).await?;
            Ok((count, cards.into_iter().map(CardBody::from).collect()))
        },
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
    let issued = state
        .store
        .issue_card(IssueCard {
            user: user.user_id,
            account: AccountId::new(account_id),
            card_type,
            credit_limit,
            rules: CardRules {
                iin_prefix: state.config.cards_iin_prefix.clone(),
                validity_years: state.config.cards_validity_years,
                max_per_account: state.config.cards_max_per_account,
            },
            hash_key: state.keys.cards.clone(),
            audit: ctx.audit_as(&user),
        })
        .await?;
    tracing::info!(
        user_id = user.user_id.get(),
        card_id = issued.card.id.get(),
        audit_id = issued.audit_id.get(),
        "card issued"
    );
    let body = IssuedCardBody {
        card: CardBody::from(issued.card),
        card_number: issued.number.as_str(),
        cvv: issued.cvv.expose(),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn retrieve(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> Result<impl IntoResponse, ApiError> {
    let card = state.store.find_card(user.user_id, CardId::new(id)).await?;
    Ok(Json(CardBody::from(card)))
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
    let id = CardId::new(id);
    state.store.find_card(user.user_id, id).await?;
    fields.finish()?;
    let card = change(&state, &user, &ctx, id, status, credit_limit).await?;
    Ok(Json(CardBody::from(card)))
}

async fn cancel(
    State(state): State<AppState>,
    user: AuthUser,
    ctx: RequestContext,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    let id = CardId::new(id);
    let card = state.store.find_card(user.user_id, id).await?;
    if card.status == CardStatus::Cancelled {
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
    id: CardId,
    status: Option<CardStatus>,
    credit_limit: Option<Amount>,
) -> Result<Card, ApiError> {
    let (card, audit_id) = state
        .store
        .change_card(ChangeCard {
            user: user.user_id,
            card: id,
            status,
            credit_limit,
            audit: ctx.audit_as(user),
        })
        .await?;
    tracing::info!(
        user_id = user.user_id.get(),
        card_id = id.get(),
        audit_id = audit_id.get(),
        "card changed"
    );
    Ok(card)
}

/// A credit limit: a positive amount no larger than `limits.max_credit_limit`.
fn parse_credit_limit(text: &str, max_cents: i64) -> Result<Amount, String> {
    let amount = Amount::parse(text).map_err(|e| e.to_string())?;
    if amount.cents() > max_cents {
        return Err(format!(
            "Ensure this value is less than or equal to {}.",
            format_cents(max_cents)
        ));
    }
    Ok(amount)
}

/// A card as the API shows it: the number masked, never the CVV.
#[derive(Serialize)]
struct CardBody {
    id: CardId,
    account: AccountId,
    card_type: &'static str,
    masked_number: String,
    expiry_month: u32,
    expiry_year: i32,
    status: &'static str,
    #[serde(serialize_with = "serialize_optional_amount")]
    credit_limit: Option<Amount>,
    created_at: String,
}

impl From<Card> for CardBody {
    fn from(card: Card) -> Self {
        Self {
            id: card.id,
            account: card.account,
            card_type: card.card_type.as_str(),
            masked_number: masked(&card.last4),
            expiry_month: card.expiry_month,
            expiry_year: card.expiry_year,
            status: card.status.as_str(),
            credit_limit: card.credit_limit,
            created_at: card.created_at,
        }
    }
}

/// The `201` of `POST /api/cards/`: the card, then the full number and CVV, shown this once.
#[derive(Serialize)]
struct IssuedCardBody<'a> {
    #[serde(flatten)]
    card: CardBody,
    card_number: &'a str,
    cvv: &'a str,
}

/// A credit limit as the contract's two-decimal string, or `null` for a debit card.
fn serialize_optional_amount<S: serde::Serializer>(
    amount: &Option<Amount>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match amount {
        Some(amount) => serializer.collect_str(amount),
        None => serializer.serialize_none(),
    }
}
