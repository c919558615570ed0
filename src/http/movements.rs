//! Money movement (contract §4): deposit, withdraw, transfer on the caller's own account.
//!
//! The handler validates the body, then submits one writer job that, in one transaction:
//! replays a stored answer for a known `Idempotency-Key` (or refuses a reused one), runs the
//! movement in `db::ledger` (which decides every refusal before its first write), writes the
//! audit row, and stores the answer under the key. Refusals (insufficient funds, frozen account, ...) are audited and
//! stored too, so their replay is refused the same way.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::domain::{AccountNumber, Amount};
use crate::error::{ApiError, ErrorCode};
use crate::http::extract::{AuthUser, Body, Id, RequestContext};
use crate::http::form::{Fields, max_chars};
use crate::http::idempotency::IdempotencyKey;
use crate::limits::DESCRIPTION_CHARS_MAX;
use crate::state::AppState;
use crate::store::sqlite::accounts;
use crate::store::sqlite::audit::{self, AuditContext, AuditEvent, Outcome};
use crate::store::sqlite::idempotency::{self, Lookup};
use crate::store::sqlite::ledger::{self, Movement};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/accounts/{id}/deposit", post(deposit))
        .route("/api/accounts/{id}/withdraw", post(withdraw))
        .route("/api/accounts/{id}/transfer", post(transfer))
}

/// Which movement, with its validated inputs.
#[derive(Clone, Debug)]
enum Kind {
    Deposit,
    Withdrawal,
    Transfer { destination: AccountNumber },
}

impl Kind {
    fn action(&self) -> &'static str {
        match self {
            Self::Deposit => "deposit",
            Self::Withdrawal => "withdrawal",
            Self::Transfer { .. } => "transfer",
        }
    }
}

/// Everything one movement request carries once validated.
struct MovementRequest {
    kind: Kind,
    account_id: i64,
    amount: Amount,
    description: String,
    /// The key and the request's fingerprint, when the client sent a key.
    key: Option<(String, [u8; 32])>,
}

async fn deposit(
    state: State<AppState>,
    user: AuthUser,
    ctx: RequestContext,
    id: Id,
    key: IdempotencyKey,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    handle(state, user, ctx, id, key, uri, body, |_| {
        Some(Kind::Deposit)
    })
    .await
}

async fn withdraw(
    state: State<AppState>,
    user: AuthUser,
    ctx: RequestContext,
    id: Id,
    key: IdempotencyKey,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    handle(state, user, ctx, id, key, uri, body, |_| {
        Some(Kind::Withdrawal)
    })
    .await
}

async fn transfer(
    state: State<AppState>,
    user: AuthUser,
    ctx: RequestContext,
    id: Id,
    key: IdempotencyKey,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    handle(state, user, ctx, id, key, uri, body, |fields| {
        fields
            .required("to_account_number", |text| {
                AccountNumber::parse(text).ok_or_else(|| "Account not found.".to_owned())
            })
            .map(|destination| Kind::Transfer { destination })
    })
    .await
}

// The seven extractors every movement needs, plus the part that differs per movement.
#[allow(clippy::too_many_arguments)]
async fn handle(
    State(state): State<AppState>,
    user: AuthUser,
    ctx: RequestContext,
    Id(account_id): Id,
    IdempotencyKey(key): IdempotencyKey,
    uri: Uri,
    Body(body): Body,
    read_kind: impl FnOnce(&mut Fields<'_>) -> Option<Kind>,
) -> Result<Response, ApiError> {
    state.throttle.hit(
        &format!("movements:{}", user.user_id),
        state.config.throttle_movements_per_user_per_minute,
    )?;
    let mut fields = Fields::new(&body);
    let kind = read_kind(&mut fields);
    let amount = fields.amount("amount");
    let description = fields
        .optional("description", false, |text| {
            max_chars(text, DESCRIPTION_CHARS_MAX)
        })
        .flatten()
        .unwrap_or_default();
    refuse_invalid(&state, user, account_id, fields).await?;
    let (Some(kind), Some(amount)) = (kind, amount) else {
        return Err(ApiError::internal("validated movement is incomplete"));
    };
    let path = format!("{}/", uri.path().trim_end_matches('/'));
    let key = key.map(|key| {
        // Every movement route is a POST: the path and body tell requests apart.
        let fingerprint = idempotency::fingerprint("POST", &path, &body);
        (key, fingerprint)
    });
    let _in_flight = match &key {
        Some((key, _)) => Some(state.in_flight.claim(user.user_id.get(), key)?),
        None => None,
    };
    let request = MovementRequest {
        kind,
        account_id,
        amount,
        description,
        key,
    };
    let audit_context = ctx.audit_as(&user);
    let action = request.kind.action();
    let answer = state
        .store
        .sqlite()
        .write(move |conn| execute(conn, user.user_id.get(), &audit_context, &request))
        .await?;
    let outcome = match (answer.replayed, answer.status) {
        (true, _) => "replayed",
        (false, 200) => "success",
        (false, _) => "refused",
    };
    state.metrics.record_movement(action, outcome);
    if let Some(audit_id) = answer.audit_id {
        tracing::info!(
            user_id = user.user_id.get(),
            account_id,
            action,
            status = answer.status,
            audit_id,
            "money movement"
        );
    }
    Ok(answer.into_response())
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
        .store
        .sqlite()
        .read_point(move |conn| {
            accounts::find_by_id_and_owner(conn, account_id, user.user_id.get())
        })
        .await?;
    fields.finish()
}

/// The answer to a movement request: fresh or replayed.
struct Answer {
    status: u16,
    body: String,
    replayed: bool,
    audit_id: Option<i64>,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.replayed {
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        response
    }
}

/// The writer job: idempotency check, movement, audit, stored answer — one transaction.
fn execute(
    conn: &rusqlite::Connection,
    user_id: i64,
    context: &AuditContext,
    request: &MovementRequest,
) -> Result<Answer, ApiError> {
    let now_unix = chrono::Utc::now().timestamp();
    if let Some((key, fingerprint)) = &request.key {
        match idempotency::lookup(conn, user_id, key, fingerprint, now_unix)? {
            Lookup::Absent => {}
            Lookup::Replay { status, body } => {
                return Ok(Answer {
                    status,
                    body,
                    replayed: true,
                    audit_id: None,
                });
            }
            Lookup::Mismatch => {
                return Err(ApiError::detail(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::IdempotencyKeyReused,
                    "This Idempotency-Key was already used with a different request.",
                ));
            }
        }
    }
    let movement = Movement {
        user_id,
        account_id: request.account_id,
        amount: request.amount,
        description: &request.description,
    };
    // Every refusal is decided before the ledger's first write (ledger.rs), so a refused movement
    // has changed nothing and the audit row and stored answer below record it; an SQLite error
    // is not a refusal and rolls back the whole job.
    let result = match &request.kind {
        Kind::Deposit => ledger::deposit(conn, &movement).map(|posting| {
            json!({"status": "deposit successful", "new_balance": posting.new_balance.to_string(), "transaction_id": posting.transaction_id})
        }),
        Kind::Withdrawal => ledger::withdraw(conn, &movement).map(|posting| {
            json!({"status": "withdrawal successful", "new_balance": posting.new_balance.to_string(), "transaction_id": posting.transaction_id})
        }),
        Kind::Transfer { destination } => ledger::transfer(conn, &movement, destination).map(|transfer| {
            json!({"status": "transfer successful", "from_account_balance": transfer.source_balance.to_string(), "transfer_id": transfer.transfer_id})
        }),
    };
    let (status, body, outcome) = match result {
        Ok(body) => (StatusCode::OK, body, Outcome::Success),
        Err(error) => match error.client_body() {
            // A refusal the client caused: audited and remembered like a success.
            Some((status, body)) if status.is_client_error() => (status, body, Outcome::Failure),
            // A server fault: nothing is stored, so a retry runs afresh.
            _ => return Err(error),
        },
    };
    let mut details = json!({ "amount": request.amount.to_string(), "status": status.as_u16() });
    if let Kind::Transfer { destination } = &request.kind {
        details["to_account_number"] = Value::from(destination.as_str());
    }
    for field in ["transaction_id", "transfer_id", "code"] {
        if let Some(value) = body.get(field) {
            details[field] = value.clone();
        }
    }
    let event = AuditEvent {
        action: request.kind.action(),
        object: Some(("account", request.account_id)),
        outcome,
        details,
    };
    let audit_id = audit::record(conn, context, &event)?;
    let body = body.to_string();
    if let Some((key, fingerprint)) = &request.key {
        idempotency::store(
            conn,
            user_id,
            key,
            fingerprint,
            (status.as_u16(), &body),
            now_unix,
        )?;
    }
    Ok(Answer {
        status: status.as_u16(),
        body,
        replayed: false,
        audit_id: Some(audit_id),
    })
}
