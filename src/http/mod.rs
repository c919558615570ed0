//! The HTTP layer: the routes and the layers every request passes through, all applied in one
//! place, [`service`].
//!
//! Outermost first:
//!
//! 1. trailing-slash normalisation (so `/api/accounts/` and `/api/accounts` are one route);
//! 2. CORS (`cors.rs`), for every request but an `OPTIONS` that is not a preflight, which goes
//!    around it to DRF's metadata answer (5);
//! 3. `compression::only_for_safe_methods`: `Accept-Encoding` dropped from all but `GET`/`HEAD`;
//! 4. response compression (`compression.rs`: large `GET` answers only), outside everything
//!    below so it compresses the finished response, headers included;
//! 5. `around_request`: request id, forwarded headers, `Host` check, body limit, security
//!    headers, the contract's `405` body, one log line and the metrics per request;
//! 6. `metadata::answer_options`: DRF's `OPTIONS` answer, outside routing because no route has
//!    an `OPTIONS` handler;
//! 7. routing; then, on matched routes only: `explorer::negotiate` (`?format=` and a browser's
//!    `Accept: text/html`), `remember_route` (the matched template, for the log line), and the
//!    request timeout (`deadline.rs`), innermost so its `503` still gets its route, id and log
//!    line;
//! 8. the handler. Each resource module owns its `router()`.
//!
//! Connection-level limits (connection cap, header-read timeout, shutdown drain) are below HTTP,
//! in `server.rs`.

pub mod accounts;
pub mod admin;
pub mod cards;
pub mod compression;
pub mod console;
pub mod cors;
pub mod customers;
pub mod deadline;
pub mod explorer;
pub mod extract;
pub mod form;
pub mod health;
pub mod host;
pub mod idempotency;
pub mod login;
pub mod me;
pub mod metadata;
pub mod metrics;
pub mod movements;
pub mod pagination;
pub mod password;
pub mod query_filters;
pub mod register;
pub mod schema;
pub mod statements;
pub mod throttle;
pub mod transactions;

use std::convert::Infallible;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::Layer as _;
use tower_http::normalize_path::NormalizePathLayer;
use tracing::Instrument;

use crate::error::{ApiError, ErrorCode};
use crate::limits::{REQUEST_BODY_BYTES_MAX, REQUEST_ID_CHARS_MAX};
use crate::state::AppState;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole service: every route with every layer, in the order the module doc lists
/// (outermost first there; `layer` calls below go innermost first, as axum applies them).
pub fn service(
    state: AppState,
) -> impl tower::Service<
    Request,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send + 'static,
> + Clone
+ Send
+ 'static {
    let cors = cors::layer(&state.config);
    let router = routes()
        // 7. On matched routes, innermost first: the request timeout, the matched route
        // template (copied to the response for the log line), then content negotiation.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            deadline::request_deadline,
        ))
        .route_layer(middleware::from_fn(remember_route))
        .route_layer(middleware::from_fn(explorer::negotiate))
        // 6. DRF's metadata answer to `OPTIONS`.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metadata::answer_options,
        ))
        // 5. Request id, checks, headers, log line.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            around_request,
        ))
        // 4, 3. Compression of the finished response, for safe methods only.
        .layer(compression::layer())
        .layer(middleware::from_fn(compression::only_for_safe_methods))
        .with_state(state);
    // 2. CORS, around which a non-preflight `OPTIONS` goes (cors.rs).
    let with_cors = router.clone().layer(cors);
    let routed = tower::service_fn(move |request: Request| {
        let target = if cors::goes_through_cors(&request) {
            with_cors.clone()
        } else {
            router.clone()
        };
        tower::ServiceExt::oneshot(target, request)
    });
    // 1. Trailing slashes.
    NormalizePathLayer::trim_trailing_slash().layer(routed)
}

/// Every route of the service, without layers (`service` applies them).
fn routes() -> Router<AppState> {
    Router::new()
        .merge(register::router())
        .merge(login::router())
        .merge(me::router())
        .merge(password::router())
        .merge(customers::router())
        .merge(accounts::router())
        .merge(admin::router())
        .merge(cards::router())
        .merge(statements::router())
        .merge(movements::router())
        .merge(transactions::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(schema::router())
        .merge(console::router())
        .fallback(console::not_found)
}

async fn remember_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// Request id, security headers, the `405` body and the request's log line.
async fn around_request(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = RequestId::new(request.headers().get(&X_REQUEST_ID));
    let method = request.method().clone();
    request.extensions_mut().insert(request_id.clone());
    let span = match &request_id.client {
        Some(client) => {
            tracing::info_span!("request", id = %request_id.server, client_id = %client)
        }
        None => tracing::info_span!("request", id = %request_id.server),
    };

    // The body limit holds for every route, including those that never read a body.
    let declared_length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    strip_untrusted_forwarding(&state, &mut request);
    let host_allowed = host::is_allowed(&state.config, request.uri().path(), request.headers());
    let mut response = if !host_allowed {
        // The name is not echoed: it is the client's text, and the operator's log line
        // has the request id to find it by.
        ApiError::detail(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidHost,
            "Invalid Host header: add the name to server.allowed_hosts to serve it.",
        )
        .into_response()
    } else if declared_length.is_some_and(|length| length > REQUEST_BODY_BYTES_MAX as u64) {
        // The body is not read, so the connection cannot be reused: say so.
        let mut response = ApiError::payload_too_large().into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    } else {
        next.run(request).instrument(span.clone()).await
    };

    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        let allow = response.headers().get(header::ALLOW).cloned();
        response = ApiError::detail(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            format!("Method \"{method}\" not allowed."),
        )
        .into_response();
        if let Some(allow) = allow {
            response.headers_mut().insert(header::ALLOW, allow);
        }
    }
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or("(unmatched)", |r| r.as_str())
        .to_owned();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Ok(value) = HeaderValue::from_str(request_id.echoed()) {
        headers.insert(X_REQUEST_ID.clone(), value);
    }
    let status = response.status().as_u16();
    let latency = started.elapsed();
    state
        .metrics
        .record_request(&route, &method, status, latency);
    let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    span.in_scope(|| tracing::info!(%method, %route, status, latency_us, "request"));
    response
}

/// Removes `X-Forwarded-Proto` and `X-Forwarded-Host` unless the TCP peer is a trusted proxy,
/// so no handler can be fooled by a client claiming its own scheme or host. (`X-Forwarded-For`
/// is handled where the client IP is derived, in `extract::client_ip`.)
fn strip_untrusted_forwarding(state: &AppState, request: &mut Request) {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let trusted = peer.is_some_and(|ip| {
        state
            .config
            .trusted_proxies
            .iter()
            .any(|net| net.contains(ip))
    });
    if !trusted {
        request.headers_mut().remove("x-forwarded-proto");
        request.headers_mut().remove("x-forwarded-host");
    }
}

/// The request's ids, for handlers (audit rows) and error logs.
///
/// The server always assigns its own id, which the log line and the audit row carry as
/// `request_id`: a client cannot make two requests share one, or plant an id that points
/// somewhere else. A client's own `X-Request-Id`, when short and printable, is kept beside it
/// (`client_request_id`) so the client's tracing still correlates, and is echoed back.
#[derive(Clone, Debug)]
pub struct RequestId {
    /// Assigned here: unique within and across runs.
    pub server: String,
    /// The client's `X-Request-Id`: 1 to `REQUEST_ID_CHARS_MAX` printable ASCII characters.
    pub client: Option<String>,
}

impl RequestId {
    /// A fresh server id, and the client's id if it is acceptable (otherwise it is dropped).
    fn new(client_header: Option<&HeaderValue>) -> Self {
        let client = client_header
            .and_then(|v| v.to_str().ok())
            .filter(|v| {
                !v.is_empty()
                    && v.len() <= REQUEST_ID_CHARS_MAX
                    && v.bytes().all(|b| b.is_ascii_graphic())
            })
            .map(str::to_owned);
        Self {
            server: new_request_id(),
            client,
        }
    }

    /// What the response's `X-Request-Id` says: the client's id when it sent one (the
    /// contract's echo), the server's otherwise.
    pub fn echoed(&self) -> &str {
        self.client.as_deref().unwrap_or(&self.server)
    }
}

/// A fresh request id: a random per-process prefix and a counter. Unique within and across
/// runs, and costs no system call (a `getrandom` per request showed in profiles).
fn new_request_id() -> String {
    static PREFIX: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let mut bytes = [0u8; 8];
        let _ = getrandom::fill(&mut bytes);
        hex::encode(bytes)
    });
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let sequence = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}{sequence:016x}", PREFIX.as_str())
}

/// Serializes a domain value by its `Display` text (account numbers, statuses, balances as the
/// contract's two-decimal strings).
pub fn display<T: std::fmt::Display, S: serde::Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}
