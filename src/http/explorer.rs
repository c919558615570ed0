//! Content negotiation the way DRF does it for `/api/` routes: `?format=` and `Accept`.
//!
//! DRF renders every API view with `JSONRenderer` or `BrowsableAPIRenderer`. A browser, whose
//! `Accept` names `text/html` but not `application/json`, gets the browsable API; everything
//! else (`*/*`, `application/json`, no `Accept`) gets JSON. `?format=json` forces JSON,
//! `?format=api` the browsable API, and a format no renderer has is DRF's `Http404`.
//!
//! bankd's browsable API is a small static page of the console (`static/explorer.html`): it
//! fetches the same URL as JSON with the token the console keeps in `sessionStorage`, and shows
//! the answer. The page is served without running the handler, because a browser's navigation
//! carries no token: the data is fetched by the page, with the user's credentials, as JSON.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The route whose handler renders CSV itself (`?format=csv`, contract §6).
const CSV_ROUTE: &str = "/api/statements/{id}";

/// What `?format=` and `Accept` ask of an `/api/` route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rendering {
    /// The handler's own answer (JSON, or the statement's CSV).
    Handler,
    /// The browsable API page.
    Explorer,
    /// A format no renderer of this route has.
    Unknown,
}

/// Runs inside routing (a `route_layer`), so only matched routes are negotiated: an unknown
/// path stays a JSON `404` whatever the browser accepts.
pub async fn negotiate(request: Request, next: Next) -> Response {
    // `MatchedPath` is an `Arc<str>`: cloning it costs no allocation on every request.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("", MatchedPath::as_str);
    if !route.starts_with("/api/") {
        return next.run(request).await;
    }
    let readable = matches!(*request.method(), Method::GET | Method::HEAD);
    let format = format_parameter(request.uri().query());
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match rendering(format.as_deref(), route, readable, accept) {
        Rendering::Unknown => ApiError::not_found().into_response(),
        Rendering::Explorer => with_vary(crate::http::console::serve(
            "explorer.html",
            request.headers(),
        )),
        Rendering::Handler => with_vary(next.run(request).await),
    }
}

/// DRF answers `Vary: Accept` on every API response, so a cache never hands the browsable
/// page to a program or JSON to a browser.
fn with_vary(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

/// The last `format` value, like `QueryDict.get`; an unreadable query string is left to the
/// handler, whose `QueryPairs` answers it with a `400`.
pub(crate) fn format_parameter(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    pairs
        .into_iter()
        .rev()
        .find(|(key, _)| key == "format")
        .map(|(_, value)| value)
}

fn rendering(format: Option<&str>, route: &str, readable: bool, accept: &str) -> Rendering {
    match format {
        // An empty value is no format at all (DRF tests the parameter for truth).
        None | Some("") if readable && browser_wants_html(accept) => Rendering::Explorer,
        None | Some("") | Some("json") => Rendering::Handler,
        Some("api") if readable => Rendering::Explorer,
        // The browsable API of a write is not served; the write is answered in JSON.
        Some("api") => Rendering::Handler,
        Some("csv") if route == CSV_ROUTE => Rendering::Handler,
        Some(_) => Rendering::Unknown,
    }
}

/// DRF's negotiation ignores `q` and picks by specificity: among the most specific media
/// ranges, `application/json` (the first renderer) wins over `text/html`; `text/*` alone
/// means HTML and `*/*` or `application/*` mean JSON. Anything else is answered in JSON rather
/// than DRF's `406`, because a JSON answer is what every programmatic client can read.
pub fn browser_wants_html(accept: &str) -> bool {
    // One pass over the media ranges, no allocation: this runs on every `/api/` request.
    let (mut json, mut html, mut text_any, mut application_any) = (false, false, false, false);
    for range in accept.split(',') {
        let range = range.split(';').next().unwrap_or_default().trim();
        let is = |name: &str| range.eq_ignore_ascii_case(name);
        json |= is("application/json");
        html |= is("text/html");
        text_any |= is("text/*");
        application_any |= is("application/*");
    }
    if json {
        return false;
    }
    html || (text_any && !application_any)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIREFOX: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

    #[test]
    fn browsers_get_html_and_programs_get_json() {
        assert!(browser_wants_html(FIREFOX));
        assert!(browser_wants_html("text/*"));
        for program in [
            "",
            "*/*",
            "application/json",
            "application/*",
            "text/html, application/json",
            "application/json;q=0.1, text/html",
        ] {
            assert!(!browser_wants_html(program), "{program}");
        }
    }

    #[test]
    fn formats_follow_drf() {
        let route = "/api/accounts";
        assert_eq!(
            rendering(Some("json"), route, true, FIREFOX),
            Rendering::Handler
        );
        assert_eq!(rendering(Some("api"), route, true, ""), Rendering::Explorer);
        assert_eq!(rendering(Some("api"), route, false, ""), Rendering::Handler);
        assert_eq!(rendering(Some(""), route, true, ""), Rendering::Handler);
        assert_eq!(rendering(Some("xml"), route, true, ""), Rendering::Unknown);
        assert_eq!(rendering(Some("csv"), route, true, ""), Rendering::Unknown);
        assert_eq!(
            rendering(Some("csv"), CSV_ROUTE, true, ""),
            Rendering::Handler
        );
        assert_eq!(rendering(None, route, false, FIREFOX), Rendering::Handler);
    }
}
