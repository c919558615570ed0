//! The browsable console: static files from `static/`, embedded in the binary by rust-embed.
//!
//! Served with their content type, an `ETag` (so a reload costs a `304`), and a strict Content
//! Security Policy: everything from this origin only, no inline script, never framed.
//!
//! The console is a single-page app: every page path below answers the same `index.html`, and
//! `static/js/app.js` picks the page from the path. The paths are routed here so that a reload
//! or a bookmarked link works. (Trailing slashes are trimmed before routing.)
//!
//! A mistyped console address (a path that is no route) asked for by a browser gets the
//! console's own "Page not found" page with status `404`, not the API's JSON body: the same
//! `index.html`, whose script shows that page for any path it does not know. API clients
//! (anything not asking for `text/html`) and every `/api/` path still get the contract's JSON
//! `404`, so nothing a client relies on changes.

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The console's page paths, each answered with `index.html`.
const PAGES: &[&str] = &[
    "/",
    "/api-auth/login",
    "/api-auth/logout",
    "/register",
    "/accounts/{id}",
    "/profile",
    "/explorer",
    "/cards",
    "/statements",
    "/statements/{id}",
    "/staff",
    "/staff/{section}",
];

pub fn router() -> Router<AppState> {
    PAGES
        .iter()
        .fold(Router::new(), |router, path| router.route(path, get(index)))
        .route("/static/{*path}", get(asset))
}

/// Every console page is the same document; the script routes by path.
async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// The router's fallback: the console's 404 page for a browser on a console path, the
/// contract's JSON `404` for everything else.
pub async fn not_found(request: Request) -> Response {
    if wants_console_page(&request) {
        let mut response = serve("index.html", &HeaderMap::new());
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    }
    ApiError::not_found().into_response()
}

/// A `GET` (or `HEAD`) that accepts HTML, for a path outside the API and the static files.
fn wants_console_page(request: &Request) -> bool {
    let path = request.uri().path();
    let outside_api =
        !(path == "/api" || path.starts_with("/api/") || path.starts_with("/static/"));
    let accepts_html = request
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.to_ascii_lowercase().contains("text/html"));
    (request.method() == Method::GET || request.method() == Method::HEAD)
        && outside_api
        && accepts_html
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

/// One embedded file with its content type, `ETag` and the console's CSP (also used for the
/// browsable API page, `explorer.rs`).
pub(crate) fn serve(path: &str, request_headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return ApiError::not_found().into_response();
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let mut response = if request_headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        file.data.into_owned().into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
