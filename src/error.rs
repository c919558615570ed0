//! `ApiError`: every failure a client can see, in the contract's two body shapes.
//!
//! Field validation answers `400` with DRF's `{"field": ["message", ...]}`; everything else
//! answers `{"detail": "...", "code": "..."}` with a closed `ErrorCode`. Internal causes (SQLite
//! errors, panics, I/O) are logged with the request's id and never reach the client, which sees
//! only `500 {"detail": "A server error occurred.", "code": "server_error"}`.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::ser::SerializeMap;

/// The closed set of machine-readable error codes (contract §1, §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400 malformed JSON.
    ParseError,
    /// 400 the source account cannot cover the amount.
    InsufficientFunds,
    /// 400 an account involved is frozen / closed.
    AccountFrozen,
    AccountClosed,
    /// 400 closing an account that still holds money.
    AccountNotEmpty,
    /// 400 the customer already has the maximum number of open accounts.
    AccountLimitReached,
    /// 400 the movement would push a balance past its maximum.
    BalanceLimitExceeded,
    /// 400 deleting a customer profile that still has open accounts.
    CustomerHasOpenAccounts,
    /// 401 no credentials / bad credentials.
    NotAuthenticated,
    AuthenticationFailed,
    /// 401 a JWT that is malformed, badly signed, expired or of the wrong type (simplejwt).
    TokenNotValid,
    /// 401 wrong credentials at `POST /api/token/` (simplejwt).
    NoActiveAccount,
    /// 403 authenticated but not allowed.
    PermissionDenied,
    /// 404 missing, or someone else's.
    NotFound,
    /// 405 wrong method.
    MethodNotAllowed,
    /// 413 / 415 body too large / wrong media type.
    PayloadTooLarge,
    UnsupportedMediaType,
    /// 400 the account already has the maximum number of cards.
    CardLimitReached,
    /// 400 the card is cancelled; nothing about it can change.
    CardCancelled,
    /// 400 the `Host` header names a host not in `server.allowed_hosts`.
    InvalidHost,
    /// 400 a malformed `Idempotency-Key` header.
    InvalidIdempotencyKey,
    /// 409 the same `Idempotency-Key` is still being processed.
    IdempotencyInProgress,
    /// 422 the `Idempotency-Key` was used with a different request.
    IdempotencyKeyReused,
    /// 429 too many requests.
    Throttled,
    /// 503 the writer's queue is full, or the server lost durability and is restarting
    /// (store/sqlite/commit/durability.rs); retry shortly.
    ServiceUnavailable,
    /// 500 a bug.
    ServerError,
}

/// DRF field errors in the order the fields were checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<(String, Vec<String>)>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        match self.0.iter_mut().find(|(name, _)| name == field) {
            Some((_, messages)) => messages.push(message),
            None => self.0.push((field.to_owned(), vec![message])),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, field: &str) -> bool {
        self.0.iter().any(|(name, _)| name == field)
    }

    /// `Ok(())` when empty, else the errors as a `400`.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Fields(self))
        }
    }
}

impl Serialize for FieldErrors {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (field, messages) in &self.0 {
            map.serialize_entry(field, messages)?;
        }
        map.end()
    }
}

/// Everything a handler can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// `400` with DRF field errors.
    Fields(FieldErrors),
    /// A `{"detail", "code"}` error with its status.
    Detail {
        status: StatusCode,
        code: ErrorCode,
        detail: Cow<'static, str>,
    },
    /// `429` with `Retry-After`.
    Throttled { wait_seconds: u64 },
    /// `500`; the cause is logged, never shown.
    Internal(String),
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        Self::Fields(errors)
    }

    pub fn non_field(message: impl Into<String>) -> Self {
        Self::field("non_field_errors", message)
    }

    pub fn detail(
        status: StatusCode,
        code: ErrorCode,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::Detail {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// A `400` business-rule refusal.
    pub fn rule(code: ErrorCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::detail(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn not_found() -> Self {
        Self::detail(StatusCode::NOT_FOUND, ErrorCode::NotFound, "Not found.")
    }

    pub fn not_authenticated() -> Self {
        Self::detail(
            StatusCode::UNAUTHORIZED,
            ErrorCode::NotAuthenticated,
            "Authentication credentials were not provided.",
        )
    }

    pub fn invalid_token() -> Self {
        Self::detail(
            StatusCode::UNAUTHORIZED,
            ErrorCode::AuthenticationFailed,
            "Invalid token.",
        )
    }

    /// simplejwt's answer to a bad `Bearer` token.
    pub fn jwt_not_valid() -> Self {
        Self::detail(
            StatusCode::UNAUTHORIZED,
            ErrorCode::TokenNotValid,
            "Given token not valid for any token type",
        )
    }

    pub fn permission_denied() -> Self {
        Self::detail(
            StatusCode::FORBIDDEN,
            ErrorCode::PermissionDenied,
            "You do not have permission to perform this action.",
        )
    }

    pub fn insufficient_funds() -> Self {
        Self::rule(ErrorCode::InsufficientFunds, "Insufficient funds.")
    }

    pub fn balance_limit_exceeded() -> Self {
        Self::rule(
            ErrorCode::BalanceLimitExceeded,
            "This movement would take the balance past 9999999999999999.99.",
        )
    }

    pub fn account_frozen() -> Self {
        Self::rule(ErrorCode::AccountFrozen, "Account is frozen.")
    }

    pub fn account_closed() -> Self {
        Self::rule(ErrorCode::AccountClosed, "Account is closed.")
    }

    pub fn payload_too_large() -> Self {
        Self::detail(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!(
                "Request body is too large (the limit is {} bytes).",
                crate::limits::REQUEST_BODY_BYTES_MAX
            ),
        )
    }

    pub fn unavailable() -> Self {
        Self::detail(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
            "The server is busy. Retry shortly.",
        )
    }

    pub fn internal(cause: impl Into<String>) -> Self {
        Self::Internal(cause.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Fields(_) => StatusCode::BAD_REQUEST,
            Self::Detail { status, .. } => *status,
            Self::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl ApiError {
    /// The status and JSON body a client sees (used to store a refused movement's answer
    /// for idempotent replay). Internal errors have no client body worth storing.
    pub fn client_body(&self) -> Option<(StatusCode, serde_json::Value)> {
        let body = match self {
            Self::Fields(errors) => serde_json::to_value(errors).ok()?,
            Self::Detail { code, detail, .. } => serde_json::to_value(DetailBody {
                detail,
                code: *code,
            })
            .ok()?,
            Self::Throttled { wait_seconds } => serde_json::to_value(DetailBody {
                detail: &throttled_detail(*wait_seconds),
                code: ErrorCode::Throttled,
            })
            .ok()?,
            Self::Internal(_) => return None,
        };
        Some((self.status(), body))
    }
}

/// DRF's throttling message.
fn throttled_detail(wait_seconds: u64) -> String {
    format!("Request was throttled. Expected available in {wait_seconds} seconds.")
}

#[derive(Serialize)]
struct DetailBody<'a> {
    detail: &'a str,
    code: ErrorCode,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = match &self {
            Self::Fields(errors) => (status, axum::Json(errors)).into_response(),
            Self::Detail { code, detail, .. } => (
                status,
                axum::Json(DetailBody {
                    detail,
                    code: *code,
                }),
            )
                .into_response(),
            Self::Throttled { wait_seconds } => {
                let detail = throttled_detail(*wait_seconds);
                let mut response = (
                    status,
                    axum::Json(DetailBody {
                        detail: &detail,
                        code: ErrorCode::Throttled,
                    }),
                )
                    .into_response();
                if let Ok(value) = HeaderValue::from_str(&wait_seconds.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            Self::Internal(cause) => {
                // The request span carries the request id, so the log line can be matched with
                // the client's report; the cause itself never leaves the server.
                tracing::error!(%cause, "internal error");
                let body = DetailBody {
                    detail: "A server error occurred.",
                    code: ErrorCode::ServerError,
                };
                (status, axum::Json(body)).into_response()
            }
        };
        let headers = response.headers_mut();
        match status {
            StatusCode::UNAUTHORIZED => {
                // JWT failures challenge like simplejwt; everything else like DRF's TokenAuthentication.
                let jwt = matches!(
                    &self,
                    Self::Detail {
                        code: ErrorCode::TokenNotValid | ErrorCode::NoActiveAccount,
                        ..
                    }
                );
                let challenge = if jwt { "Bearer realm=\"api\"" } else { "Token" };
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}
