//! Extractors that turn a raw request into typed, checked values or a contract-shaped error.
//!
//! * `AuthUser` / `StaffUser` — the caller behind `Authorization` (see `auth.rs`).
//! * `Id` — a positive integer path id; anything else is `404`, as DRF's `<int:pk>` would be.
//! * `Body` — a JSON, form-encoded or multipart object, at most 64 KiB; `400`/`413`/`415`
//!   otherwise.
//! * `QueryPairs` — the query string as ordered pairs, for filters and pagination links.

mod auth;
mod client_ip;
mod multipart;

pub use auth::{AuthUser, StaffUser};
pub use client_ip::{client_ip, parse_forwarded_entry, throttle_key};

use std::net::{IpAddr, SocketAddr};

use axum::body::to_bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::{StatusCode, header, request::Parts};
use serde_json::{Map, Value};

use crate::error::{ApiError, ErrorCode};
use crate::http::RequestId;
use crate::limits::REQUEST_BODY_BYTES_MAX;
use crate::state::AppState;
use crate::store::audit::AuditContext;

/// Where a request came from, for the audit log and throttling.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub client_ip: IpAddr,
    /// The server's id of this request.
    pub request_id: String,
    /// The client's own `X-Request-Id`, if it sent an acceptable one.
    pub client_request_id: Option<String>,
}

impl RequestContext {
    /// The audit context of this request with no authenticated actor.
    pub fn audit(&self) -> AuditContext {
        AuditContext {
            actor_user_id: None,
            client_ip: self.client_ip.to_string(),
            request_id: self.request_id.clone(),
            client_request_id: self.client_request_id.clone(),
        }
    }

    /// The audit context of this request made by `user`.
    pub fn audit_as(&self, user: &AuthUser) -> AuditContext {
        self.audit().with_actor(user.user_id.get())
    }

    /// The key this client is throttled by (its IPv4 address or IPv6 /64).
    pub fn throttle_key(&self) -> String {
        throttle_key(self.client_ip)
    }
}

impl FromRequestParts<AppState> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (request_id, client_request_id) = parts
            .extensions
            .get::<RequestId>()
            .map(|ids| (ids.server.clone(), ids.client.clone()))
            .unwrap_or_default();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |info| info.0.ip());
        let client_ip = client_ip(peer, &parts.headers, &state.config.trusted_proxies);
        Ok(Self {
            client_ip,
            request_id,
            client_request_id,
        })
    }
}

/// A positive integer id from the path.
#[derive(Clone, Copy, Debug)]
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        parse_positive_id(&raw)
            .map(Id)
            .ok_or_else(ApiError::not_found)
    }
}

/// Parses a canonical positive integer (`"17"`, not `"+17"`, `"017"` or `"1e1"`).
pub fn parse_positive_id(text: &str) -> Option<i64> {
    let canonical =
        !text.is_empty() && !text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit());
    canonical.then(|| text.parse::<i64>().ok()).flatten()
}

/// A request body that is a JSON object or a form: the fields, not yet validated.
#[derive(Debug, Default)]
pub struct Body(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let too_large = ApiError::payload_too_large;
        let declared_length = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared_length.is_some_and(|length| length > REQUEST_BODY_BYTES_MAX as u64) {
            return Err(too_large());
        }
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let bytes = to_bytes(request.into_body(), REQUEST_BODY_BYTES_MAX)
            .await
            .map_err(|_| too_large())?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            // DRF treats an empty body as empty data: the fields are then "required".
            return Ok(Body::default());
        }
        let media_type = content_type
            .as_deref()
            .map(|ct| {
                ct.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        match media_type.as_str() {
            "application/json" => parse_json(&bytes),
            "application/x-www-form-urlencoded" => parse_form(&bytes),
            "multipart/form-data" => parse_multipart(content_type.as_deref(), &bytes),
            _ => Err(ApiError::detail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                format!(
                    "Unsupported media type \"{}\" in request.",
                    content_type.unwrap_or_default()
                ),
            )),
        }
    }
}

fn parse_json(bytes: &[u8]) -> Result<Body, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::detail(
            StatusCode::BAD_REQUEST,
            ErrorCode::ParseError,
            format!("JSON parse error - {e}"),
        )
    })?;
    let kind = match value {
        Value::Object(map) => return Ok(Body(map)),
        Value::Array(_) => "list",
        Value::String(_) => "str",
        Value::Number(ref n) if n.is_i64() || n.is_u64() => "int",
        Value::Number(_) => "float",
        Value::Bool(_) => "bool",
        Value::Null => "NoneType",
    };
    Err(ApiError::non_field(format!(
        "Invalid data. Expected a dictionary, but got {kind}."
    )))
}

fn parse_multipart(content_type: Option<&str>, bytes: &[u8]) -> Result<Body, ApiError> {
    multipart::parse(content_type.unwrap_or_default(), bytes)
        .map(Body)
        .map_err(|reason| {
            ApiError::detail(
                StatusCode::BAD_REQUEST,
                ErrorCode::ParseError,
                format!("Multipart form parse error - {reason}"),
            )
        })
}

fn parse_form(bytes: &[u8]) -> Result<Body, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).map_err(|e| {
        ApiError::detail(
            StatusCode::BAD_REQUEST,
            ErrorCode::ParseError,
            format!("Form parse error - {e}"),
        )
    })?;
    // Like a QueryDict read as a dict, the last value of a repeated key wins.
    Ok(Body(
        pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    ))
}

/// The query string as ordered `(key, value)` pairs.
#[derive(Clone, Debug, Default)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl QueryPairs {
    /// The last value given for `key`, like Django's `QueryDict.get`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(QueryPairs)
            .map_err(|_| {
                ApiError::detail(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::ParseError,
                    "Malformed query string.",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_positive_id;

    #[test]
    fn only_canonical_positive_ids() {
        assert_eq!(parse_positive_id("17"), Some(17));
        for bad in [
            "0",
            "-1",
            "+1",
            "017",
            "1e3",
            "abc",
            "",
            "99999999999999999999",
            "1.0",
            " 1",
        ] {
            assert_eq!(parse_positive_id(bad), None, "{bad:?}");
        }
    }
}
