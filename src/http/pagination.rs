//! DRF's `PageNumberPagination`: `?page=` (1-based) and `?page_size=` (default 20, max 100),
//! answered with `{"count", "next", "previous", "results"}` where the links are absolute URLs
//! that keep every other query parameter.

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::PublicUrl;
use crate::error::{ApiError, ErrorCode};
use crate::http::extract::QueryPairs;
use crate::limits::{PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX};
use crate::state::AppState;

/// Which page was asked for.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    pub number: u32,
    pub size: u32,
}

fn invalid_page() -> ApiError {
    ApiError::detail(StatusCode::NOT_FOUND, ErrorCode::NotFound, "Invalid page.")
}

impl PageRequest {
    /// Reads `page` and `page_size`. A page that is not a positive integer is "Invalid page."
    /// (`404`, as DRF); a bad `page_size` falls back to the default and a large one is capped,
    /// as DRF does.
    pub fn from_query(query: &QueryPairs) -> Result<Self, ApiError> {
        let number = match query.get("page") {
            None => 1,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(invalid_page)?,
        };
        let size = query
            .get("page_size")
            .and_then(|text| text.parse::<u32>().ok())
            .filter(|size| *size >= 1)
            .map_or(PAGE_SIZE_DEFAULT, |size| size.min(PAGE_SIZE_MAX));
        Ok(Self { number, size })
    }

    pub fn limit(&self) -> u32 {
        self.size
    }

    pub fn offset(&self) -> u64 {
        u64::from(self.number - 1) * u64::from(self.size)
    }
}

/// Where the page links point: `server.public_url`, else the request's host (which
/// `http::host` has checked against `server.allowed_hosts`), and the list's canonical (slash)
/// path.
pub struct PageLinks<'a> {
    pub public_url: Option<&'a PublicUrl>,
    pub headers: &'a HeaderMap,
    pub path: &'a str,
    pub query: &'a QueryPairs,
}

/// The whole list answer from a store query: reads `page`/`page_size`, awaits
/// `fetch(window)` (a `Store` list method: the total count and one page of rows), and wraps the
/// rows in the envelope with links to `path`.
pub async fn store_page_response<T, F, Fut>(
    state: &AppState,
    headers: &HeaderMap,
    query: &QueryPairs,
    path: &str,
    fetch: F,
) -> Result<Json<Value>, ApiError>
where
    T: Serialize,
    F: FnOnce(crate::store::PageWindow) -> Fut,
    Fut: std::future::Future<Output = Result<(u64, Vec<T>), ApiError>>,
{
    let page = PageRequest::from_query(query)?;
    let (count, results) = fetch(crate::store::PageWindow {
        limit: page.limit(),
        offset: page.offset(),
    })
    .await?;
    envelope(
        &PageLinks {
            public_url: state.config.public_url.as_ref(),
            headers,
            path,
            query,
        },
        page,
        count,
        results,
    )
}

/// Builds the envelope, or "Invalid page." when the page is past the end (page 1 of an empty
/// list is a valid, empty page).
pub fn envelope<T: Serialize>(
    links: &PageLinks<'_>,
    page: PageRequest,
    count: u64,
    results: Vec<T>,
) -> Result<Json<Value>, ApiError> {
    if page.number > 1 && page.offset() >= count {
        return Err(invalid_page());
    }
    let has_next = page.offset() + u64::from(page.size) < count;
    let next = has_next.then(|| link(links, page.number + 1));
    let previous = (page.number > 1).then(|| link(links, page.number - 1));
    Ok(Json(
        json!({ "count": count, "next": next, "previous": previous, "results": results }),
    ))
}

fn link(links: &PageLinks<'_>, number: u32) -> String {
    let mut pairs: Vec<(&str, String)> = links
        .query
        .0
        .iter()
        .filter(|(k, _)| k != "page")
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    pairs.push(("page", number.to_string()));
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    if let Some(public_url) = links.public_url {
        return format!("{}{}?{query}", public_url.base(), links.path);
    }
    let host = links
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    // `X-Forwarded-Proto` reaches handlers only from a trusted proxy (the request layer strips
    // it otherwise), so behind a TLS proxy the links say https.
    let scheme = match links.headers.get("x-forwarded-proto").map(|v| v.as_bytes()) {
        Some(b"https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}{}?{query}", links.path)
}
