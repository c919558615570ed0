//! Response compression (gzip, and brotli for clients that prefer it) for the responses worth
//! it: the console's assets, paginated lists, statements (JSON and CSV), the schema, `/metrics`.
//!
//! What is compressed, and why only that:
//!
//! * **Only answers to `GET` and `HEAD`.** Every response that carries a credential is the
//!   answer to a `POST` (a token from `/api/get-token/` or `/api/token/`, a card number and CVV
//!   from `POST /api/cards/`), and compressing a secret next to text an attacker can influence
//!   is what BREACH exploits. The money-movement hot path is `POST` too, so a transfer never
//!   pays for compression, not even for negotiating it: `Accept-Encoding` is dropped from
//!   other requests before the compression layer sees them.
//! * **Only bodies of at least `COMPRESSION_BYTES_MIN`.** Below about a kilobyte gzip saves a
//!   few hundred bytes at best and costs an encoder's set-up; `/healthz`, one account or one
//!   transaction never qualify. A body of unknown length (a stream) is compressed.
//! * **Never `text/event-stream` or images** (tower-http's own exclusions): events must not
//!   wait in an encoder's buffer, and images are compressed already.
//!
//! Brotli runs at quality 4 (tower-http's default for on-the-fly compression), gzip at its
//! default level. The layer sets `Vary: Accept-Encoding` and drops `Content-Length` when it
//! compresses; the request side (the `413` for a declared oversized body) is untouched.

use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};

/// Bodies smaller than this are sent as they are: 1 KiB, below which gzip's saving is a few
/// hundred bytes at most and a list page of one item stays plain.
pub const COMPRESSION_BYTES_MIN: u16 = 1024;

/// The predicate deciding which responses are compressed (see the module comment).
pub type WorthCompressing = tower_http::compression::predicate::And<
    tower_http::compression::predicate::And<SizeAbove, NotForContentType>,
    NotForContentType,
>;

/// The compression layer, for `http::router` to wrap everything else.
pub fn layer() -> CompressionLayer<WorthCompressing> {
    let predicate = SizeAbove::new(COMPRESSION_BYTES_MIN)
        .and(NotForContentType::SSE)
        .and(NotForContentType::IMAGES);
    CompressionLayer::new()
        .gzip(true)
        .br(true)
        .compress_when(predicate)
}

/// Drops `Accept-Encoding` from every request but `GET` and `HEAD`, so their answers are sent
/// as they are (see the module comment for why).
pub async fn only_for_safe_methods(mut request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        request.headers_mut().remove(header::ACCEPT_ENCODING);
    }
    next.run(request).await
}
