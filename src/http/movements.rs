//! Money movement (contract §4): deposit, withdraw, transfer on the caller's own account.
//!
//! One handler serves the three routes: a [`MovementRequest`] extractor gathers what every
//! movement carries (caller, request context, account id, idempotency key, body) and the route
//! says which movement it is ([`Route`]). The handler validates the body into a typed
//! [`MovementCommand`] and hands it to [`Store::move_money`](crate::store::Store::move_money),
//! one write that replays a stored answer for a known `Idempotency-Key` (or refuses a reused
//! one), posts or refuses the movement, audits it and stores the answer under the key.
//!
//! The store answers `Result<Posted, Refusal>` (typed, HTTP-agnostic); [`answer`] is the ONE
//! place a result becomes the contract's status and body. The command carries that function so
//! the store can store the rendered answer under the key in the same transaction. Refusals
//! (insufficient funds, frozen account, ...) are audited and stored too, so their replay is
//! refused the same way.

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::{AccountNumber, Balance};
use crate::error::{ApiError, ErrorCode};
use crate::http::extract::{AuthUser, Body, Id, RequestContext};
use crate::http::form::{Fields, max_chars};
use crate::http::idempotency::{IdempotencyKey, fingerprint};
use crate::limits::DESCRIPTION_CHARS_MAX;
use crate::state::AppState;
use crate::store::audit::Outcome;
use crate::store::ids::{AccountId, TransactionId, TransferId};
use crate::store::movements::{
    Answer, Idempotency, MovementAnswer, MovementCommand, MovementKind, Posted, Refusal,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/accounts/{id}/deposit",
            post(|request: MovementRequest| movement(Route::Deposit, request)),
        )
        .route(
            "/api/accounts/{id}/withdraw",
            post(|request: MovementRequest| movement(Route::Withdraw, request)),
        )
        .route(
            "/api/accounts/{id}/transfer",
            post(|request: MovementRequest| movement(Route::Transfer, request)),
        )
}

/// Which movement route was called.
#[derive(Clone, Copy, Debug)]
enum Route {
    Deposit,
    Withdraw,
    Transfer,
}

impl Route {
    /// The movement, reading what only this route's body has (a transfer's destination).
    fn read_kind(self, fields: &mut Fields<'_>) -> Option<MovementKind> {
        match self {
            Self::Deposit => Some(MovementKind::Deposit),
            Self::Withdraw => Some(MovementKind::Withdrawal),
            Self::Transfer => fields
                .required("to_account_number", |text| {
                    AccountNumber::parse(text).ok_or_else(|| "Account not found.".to_owned())
                })
                .map(|destination| MovementKind::Transfer { destination }),
        }
    }
}

/// Everything a movement request carries, extracted in the order its failures are answered:
/// credentials (`401`), account id (`404`), `Idempotency-Key` (`400`), then the body
/// (`400`/`413`/`415`).
struct MovementRequest {
    state: AppState,
    user: AuthUser,
    context: RequestContext,
    account: AccountId,
    /// The `Idempotency-Key`, if sent, with the path it is fingerprinted with: one trailing
    /// slash, so `/deposit` and `/deposit/` are one request. (The path is only copied when a
    /// key was sent.)
    keyed: Option<(String, String)>,
    body: Map<String, Value>,
}

impl FromRequest<AppState> for MovementRequest {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = request.into_parts();
        let user = AuthUser::from_request_parts(&mut parts, state).await?;
        let context = RequestContext::from_request_parts(&mut parts, state).await?;
        let Id(account) = Id::from_request_parts(&mut parts, state).await?;
        let IdempotencyKey(key) = IdempotencyKey::from_request_parts(&mut parts, state).await?;
        let keyed = key.map(|key| {
            let path = format!("{}/", parts.uri.path().trim_end_matches('/'));
            (key, path)
        });
        let Body(body) = Body::from_request(Request::from_parts(parts, body), state).await?;
        Ok(Self {
            state: state.clone(),
            user,
            context,
            account: AccountId::new(account),
            keyed,
            body,
        })
    }
}

/// The one movement handler: validate, run the command, answer (fresh or replayed).
async fn movement(route: Route, request: MovementRequest) -> Result<Response, ApiError> {
    let MovementRequest {
        state,
        user,
        context,
        account,
        keyed,
        body,
    } = request;
    state.throttle.hit(
        &format!("movements:{}", user.user_id),
        state.config.throttle_movements_per_user_per_minute,
    )?;
    let mut fields = Fields::new(&body);
    let kind = route.read_kind(&mut fields);
    let amount = fields.amount("amount");
    let description = fields
        .optional("description", false, |text| {
            max_chars(text, DESCRIPTION_CHARS_MAX)
        })
        .flatten()
        .unwrap_or_default();
    refuse_invalid(&state, user, account, fields).await?;
    let (Some(kind), Some(amount)) = (kind, amount) else {
        return Err(ApiError::internal("validated movement is incomplete"));
    };
    let idempotency = keyed.map(|(key, path)| Idempotency {
        // Every movement route is a POST: the path and body tell requests apart.
        fingerprint: fingerprint("POST", &path, &body),
        key,
    });
    let _in_flight = match &idempotency {
        Some(keyed) => Some(state.in_flight.claim(user.user_id, &keyed.key)?),
        None => None,
    };
    let action = kind.action();
    let command = MovementCommand {
        user: user.user_id,
        account,
        kind,
        amount,
        description,
        idempotency,
        audit: context.audit_as(&user),
        render: answer,
    };
    match state.store.move_money(command).await? {
        MovementAnswer::Fresh {
            answer,
            outcome,
            audit,
        } => {
            let label = match outcome {
                Outcome::Success => "success",
                _ => "refused",
            };
            state.metrics.record_movement(action, label);
            tracing::info!(
                user_id = user.user_id.get(),
                account_id = account.get(),
                action,
                status = answer.status,
                audit_id = audit.get(),
                "money movement"
            );
            Ok(respond(answer.status, answer.body, false))
        }
        MovementAnswer::Replayed { status, body } => {
            state.metrics.record_movement(action, "replayed");
            Ok(respond(status, body, true))
        }
        MovementAnswer::KeyReused => Err(ApiError::detail(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::IdempotencyKeyReused,
            "This Idempotency-Key was already used with a different request.",
        )),
    }
}

/// Answers a body's field errors, but only after confirming the account is the caller's, so
/// that someone else's account id is always `404` whatever the body. Valid bodies skip this
/// read: the ledger checks ownership inside its transaction (`Refusal::AccountNotFound`).
async fn refuse_invalid(
    state: &AppState,
    user: AuthUser,
    account: AccountId,
    fields: Fields<'_>,
) -> Result<(), ApiError> {
    if fields.errors.is_empty() {
        return Ok(());
    }
    state.store.find_account(user.user_id, account).await?;
    fields.finish()
}

/// The contract's answer to a movement's result — the ONE place a [`Refusal`] becomes a status
/// and body. The store calls it inside the movement's write (`MovementCommand::render`) and
/// stores what it returns under the idempotency key.
fn answer(result: &Result<Posted, Refusal>) -> Result<Answer, ApiError> {
    let refusal = match result {
        Ok(posted) => {
            let body = match *posted {
                Posted::Deposit {
                    transaction,
                    new_balance,
                } => serde_json::to_string(&PostingBody {
                    status: "deposit successful",
                    new_balance,
                    transaction_id: transaction,
                }),
                Posted::Withdrawal {
                    transaction,
                    new_balance,
                } => serde_json::to_string(&PostingBody {
                    status: "withdrawal successful",
                    new_balance,
                    transaction_id: transaction,
                }),
                Posted::Transfer {
                    transfer,
                    source_balance,
                } => serde_json::to_string(&TransferBody {
                    status: "transfer successful",
                    from_account_balance: source_balance,
                    transfer_id: transfer,
                }),
            };
            let body = body.map_err(|e| ApiError::internal(format!("movement body: {e}")))?;
            return Ok(Answer {
                status: StatusCode::OK.as_u16(),
                code: None,
                body,
            });
        }
        Err(refusal) => refusal_error(*refusal),
    };
    let code = match &refusal {
        ApiError::Detail { code, .. } => Some(*code),
        _ => None,
    };
    let (status, body) = refusal
        .client_body()
        .ok_or_else(|| ApiError::internal("a refusal has no client body"))?;
    Ok(Answer {
        status: status.as_u16(),
        code,
        body: body.to_string(),
    })
}

/// The contract's error for each refusal: a `{"detail", "code"}` rule, except where the
/// contract names the offending field (`to_account_number`), and `404` for an account that is
/// not the caller's.
fn refusal_error(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::AccountNotFound => ApiError::not_found(),
        Refusal::AccountFrozen => ApiError::account_frozen(),
        Refusal::AccountClosed => ApiError::account_closed(),
        Refusal::InsufficientFunds => ApiError::insufficient_funds(),
        Refusal::BalanceLimitExceeded => ApiError::balance_limit_exceeded(),
        Refusal::DestinationNotFound => ApiError::field("to_account_number", "Account not found."),
        Refusal::SameAccount => {
            ApiError::field("to_account_number", "Cannot transfer to the same account.")
        }
        Refusal::DestinationFrozen => {
            ApiError::rule(ErrorCode::AccountFrozen, "Destination account is frozen.")
        }
        Refusal::DestinationClosed => {
            ApiError::rule(ErrorCode::AccountClosed, "Destination account is closed.")
        }
    }
}

/// A deposit's or withdrawal's `200` body.
#[derive(Serialize)]
struct PostingBody {
    status: &'static str,
    #[serde(serialize_with = "crate::http::display")]
    new_balance: Balance,
    transaction_id: TransactionId,
}

/// A transfer's `200` body.
#[derive(Serialize)]
struct TransferBody {
    status: &'static str,
    #[serde(serialize_with = "crate::http::display")]
    from_account_balance: Balance,
    transfer_id: TransferId,
}

/// A movement's answer as a response: the stored JSON text, marked when it is a replay.
fn respond(status: u16, body: String, replayed: bool) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

#[cfg(test)]
mod tests;
