//! THE ONLY CODE THAT MOVES MONEY ON POSTGRESQL: deposit, withdraw, transfer, in one
//! transaction per movement, with exactly the semantics of `store/sqlite/ledger.rs`.
//!
//! [`move_money`] runs one [`MovementCommand`] as one READ COMMITTED transaction: idempotency
//! claim (replay, key reused, or `409` while the key is in flight on any node; see
//! `idempotency.rs`), posting, audit row, stored answer, `COMMIT`. On SQLite the one writer
//! thread is where concurrent movements meet; here the database is, and the ledger's "read the
//! balance, decide, write" is made safe by row locks (docs/POSTGRESQL.md, "How a movement
//! locks"): the movement's accounts are locked with `SELECT ... ORDER BY id FOR UPDATE`, in
//! account-id order, so two opposite transfers queue instead of deadlocking, and every decision
//! is taken on the balances read under the lock.
//!
//! # Refusals and faults
//!
//! As on SQLite, every refusal is decided before the first write and returned as a typed
//! [`Refusal`](crate::store::movements::Refusal), having changed nothing, so the transaction
//! can still audit it and remember it under the key. A database fault is an `Err` of the
//! whole movement: the transaction rolls back and nothing is stored. [`move_money`] maps a
//! fault once:
//!
//! * `serialization_failure` / `deadlock_detected`: the only errors PostgreSQL asks a client to
//!   retry. With locks taken in one order there should be none; the movement is retried a few
//!   times and each retry is counted ([`retried`]) so a test or a metric can say so.
//! * a lost connection, a server shutting down or failing over, a statement timeout, an
//!   exhausted server: `503 service_unavailable` with `Retry-After` (what the SQLite store
//!   answers when it cannot confirm durability), never a panic. The client retries with the
//!   same `Idempotency-Key`: if the commit did happen, the retry replays it.
//! * an integrity, data or syntax error (SQLSTATE classes 22, 23, 42, P0): a bug of bankd or a
//!   schema it does not know, `500`, its cause logged.
//!
//! # Postconditions
//!
//! After posting, each movement asserts with `assert!` (in release too) what SQLite's ledger
//! asserts: each `UPDATE` changed exactly the one row whose balance was read (the `WHERE` names
//! the balance read; under the row lock nothing else can change it), each ledger row was
//! inserted, the balance written is the balance read ± the amount, and a transfer's legs sum to
//! zero. A failed assertion panics while the transaction is open; dropping it rolls back. The
//! schema's `CHECK` constraints enforce the balances again.
//!
//! # Ids and posting time
//!
//! Ledger, transfer and pending-audit ids come from identity columns (sequences), taken while
//! the account rows are locked: among one account's rows, id order is posting order (what
//! statements rely on; see the schema). The posting time is the database server's clock
//! (`clock_timestamp()`, one clock for every node), read under the lock, in bankd's RFC 3339
//! text form, and never earlier than the `updated_at` of an account it posts to. SQLite keeps
//! its posting time from going backwards on its one writer; here "never backwards" is what
//! matters per account (each day's last `balance_after` is that day's closing balance), and
//! `updated_at` is the account's previous posting time, read under the same lock. So a clock
//! stepped back, or a failover to a server whose clock is behind, cannot reorder an account's
//! history; a posting at worst shares its predecessor's timestamp.
//!
//! The audit row goes to `audit_pending` (sealed into the hash chain later by one elected node,
//! docs/POSTGRESQL.md); the [`AuditId`] of [`MovementAnswer::Fresh`] is its `pending_id`, the
//! only id the row has when the movement commits.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Pool, Transaction};
use tokio_postgres::error::SqlState;

use crate::error::{ApiError, ErrorCode};
use crate::store::audit::{AuditContext, AuditEvent, Outcome};
use crate::store::ids::AuditId;
use crate::store::movements::{MovementAnswer, MovementCommand, audit_details};
use crate::store::postgres::idempotency::{self, Claim};

mod posting;

pub use posting::post;

/// How many times one movement is retried after a serialization failure or a deadlock.
pub const MOVEMENT_RETRIES_MAX: u32 = 5;

/// Movements retried since the process started (see the module doc: with ordered locks, zero).
static RETRIED: AtomicU64 = AtomicU64::new(0);

/// How many movements this process has retried because PostgreSQL asked it to.
pub fn retried() -> u64 {
    RETRIED.load(Ordering::Relaxed)
}

/// Why a movement's transaction ended without committing.
#[derive(Debug)]
pub enum Fault {
    /// PostgreSQL failed or refused a statement (mapped once, by [`move_money`]).
    Database(tokio_postgres::Error),
    /// bankd decided: an in-flight key (`409`), a render that failed, a row it cannot decode.
    Api(ApiError),
}

impl From<tokio_postgres::Error> for Fault {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Database(error)
    }
}

impl From<ApiError> for Fault {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

/// Runs one movement (see the module doc): replay, posting or refusal, audit row and stored
/// answer in one transaction. `Err` when the commit was not confirmed: nothing was written,
/// or (a connection lost during `COMMIT`) it was and the client was not told, in which case a
/// retry with the same key replays it.
pub async fn move_money(
    pool: &Pool,
    command: &MovementCommand,
) -> Result<MovementAnswer, ApiError> {
    let mut client = pool.get().await.map_err(|error| {
        tracing::warn!(%error, "no PostgreSQL connection for a movement");
        unavailable()
    })?;
    let mut retries = 0;
    loop {
        let transaction = client.transaction().await.map_err(|e| database_fault(&e))?;
        match attempt(transaction, command).await {
            Ok(answer) => return Ok(answer),
            Err(Fault::Database(error))
                if is_retryable(&error) && retries < MOVEMENT_RETRIES_MAX =>
            {
                retries += 1;
                RETRIED.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, retries, "movement retried at PostgreSQL's request");
            }
            Err(Fault::Database(error)) => return Err(database_fault(&error)),
            Err(Fault::Api(error)) => return Err(error),
        }
    }
}

/// One try of the movement's transaction. On `Err` the transaction is dropped, which rolls it
/// back (tokio-postgres sends `ROLLBACK` before the connection's next statement).
async fn attempt(
    transaction: Transaction<'_>,
    command: &MovementCommand,
) -> Result<MovementAnswer, Fault> {
    let now_unix = Utc::now().timestamp();
    if let Some(keyed) = &command.idempotency {
        match idempotency::claim(&transaction, command.user, keyed, now_unix).await? {
            Claim::Absent => {}
            Claim::InFlight => return Err(Fault::Api(in_flight())),
            Claim::Replay { status, body } => {
                transaction.commit().await?;
                return Ok(MovementAnswer::Replayed { status, body });
            }
            Claim::Mismatch => {
                transaction.commit().await?;
                return Ok(MovementAnswer::KeyReused);
            }
        }
    }
    let result = post(&transaction, command).await?;
    let answer = (command.render)(&result)?;
    let outcome = match result {
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Failure,
    };
    let event = AuditEvent {
        action: command.kind.action(),
        object: Some(("account", command.account.get())),
        outcome,
        details: audit_details(command, &result, &answer)?,
    };
    // The audit row and the stored answer are pipelined (see `posting.rs`).
    let remember = async {
        match &command.idempotency {
            Some(keyed) => {
                let answered = (answer.status, answer.body.as_str());
                idempotency::store(&transaction, command.user, keyed, answered, now_unix)
                    .await
                    .map(Some)
            }
            None => Ok(None),
        }
    };
    let (audit, remembered) = tokio::try_join!(
        record_pending(&transaction, &command.audit, &event),
        remember
    )?;
    if remembered == Some(false) {
        return Err(Fault::Api(ApiError::internal(
            "a live idempotency key was found while storing its answer under the key's lock",
        )));
    }
    transaction.commit().await?;
    Ok(MovementAnswer::Fresh {
        answer,
        outcome,
        audit,
    })
}

/// Writes the movement's audit row to `audit_pending` and returns its pending id. The columns
/// and their text are those SQLite's `audit::record` writes (the chain's hash will cover them).
async fn record_pending(
    transaction: &Transaction<'_>,
    context: &AuditContext,
    event: &AuditEvent<'_>,
) -> Result<AuditId, tokio_postgres::Error> {
    let insert = transaction
        .prepare_cached(
            "INSERT INTO audit_pending (created_at, actor_user_id, client_ip, request_id, action,
                 object_type, object_id, outcome, details, client_request_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             RETURNING pending_id",
        )
        .await?;
    let row = transaction
        .query_one(
            &insert,
            &[
                &crate::domain::time::now_rfc3339(),
                &context.actor_user_id,
                &context.client_ip,
                &context.request_id,
                &event.action,
                &event.object.map(|(kind, _)| kind),
                &event.object.map(|(_, id)| id),
                &event.outcome.as_str(),
                &event.details.to_string(),
                &context.client_request_id,
            ],
        )
        .await?;
    Ok(AuditId::new(row.try_get(0)?))
}

/// Whether PostgreSQL asks for the transaction to be run again.
fn is_retryable(error: &tokio_postgres::Error) -> bool {
    matches!(
        error.code(),
        Some(&SqlState::T_R_SERIALIZATION_FAILURE | &SqlState::T_R_DEADLOCK_DETECTED)
    )
}

/// A database error as the client sees it (see the module doc). The cause goes to the log only.
pub fn database_fault(error: &tokio_postgres::Error) -> ApiError {
    let class = error.code().map(|code| &code.code()[..2]);
    match class {
        Some("22" | "23" | "42" | "P0") => ApiError::internal(format!("PostgreSQL: {error}")),
        _ => {
            tracing::warn!(%error, "PostgreSQL failed a movement; answering 503");
            unavailable()
        }
    }
}

/// `503 service_unavailable` (with `Retry-After`, added for every 503 by `ApiError`'s response):
/// the database cannot be reached or cannot serve now. Same status and code as the SQLite
/// store's answer when it cannot confirm durability (`sqlite/commit/durability.rs`), with
/// words that fit a remote database.
pub fn unavailable() -> ApiError {
    ApiError::detail(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::ServiceUnavailable,
        "The database cannot be reached right now. Retry shortly (a write with the same \
         Idempotency-Key).",
    )
}

/// The `409` of a key whose first request is still running, on this node or another: the very
/// answer of the HTTP layer's per-node registry (`http/idempotency.rs`, `InFlight::claim`).
pub fn in_flight() -> ApiError {
    ApiError::detail(
        StatusCode::CONFLICT,
        ErrorCode::IdempotencyInProgress,
        "A request with this Idempotency-Key is still being processed. Retry later.",
    )
}

/// The later of the server's time and every locked account's last `updated_at` (see the module
/// doc), in bankd's stored form. A text that does not parse is ignored, never trusted.
fn posting_time(server_now: &str, account_times: &[&str]) -> String {
    let parse = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|time| time.with_timezone(&Utc))
    };
    let latest = std::iter::once(server_now)
        .chain(account_times.iter().copied())
        .filter_map(parse)
        .max();
    latest
        .map(crate::domain::time::format_time)
        .unwrap_or_else(crate::domain::time::now_rfc3339)
}
