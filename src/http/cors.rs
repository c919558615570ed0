//! CORS from `cors.allowed_origins`: none by default (the console is same-origin). Listed
//! origins may call every route with the headers the API uses, and read the headers it sets.
//!
//! tower-http's `CorsLayer` answers *every* `OPTIONS` itself, with an empty `200`, which hid
//! DRF's metadata answer (`metadata.rs`). So only a real preflight (`Origin` and
//! `Access-Control-Request-Method`) goes to it; any other `OPTIONS` skips it and reaches the
//! router, and every other method passes through the CORS layer as usual ([`is_preflight`]).

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::Config;

/// The CORS layer for the configured origins.
pub fn layer(config: &Config) -> CorsLayer {
    let origins: Vec<HeaderValue> = config
        .cors_allowed_origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("idempotent-replayed"),
            header::RETRY_AFTER,
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// Whether `request` goes through the CORS layer: every request but an `OPTIONS` that is not a
/// CORS preflight (that one is DRF's metadata request, for the router).
pub fn goes_through_cors(request: &Request) -> bool {
    request.method() != Method::OPTIONS || is_preflight(request)
}

/// A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
fn is_preflight(request: &Request) -> bool {
    let headers = request.headers();
    request.method() == Method::OPTIONS
        && headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}
