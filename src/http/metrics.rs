//! `GET /metrics`: Prometheus text exposition, hand-written (a few counters do not need a
//! metrics framework).
//!
//! * `bankd_http_requests_total{route,method,status}` — by route template, never raw path.
//! * `bankd_http_request_duration_seconds` — one latency histogram over all requests.
//! * `bankd_money_movements_total{kind,outcome}` — success / refused / replayed.
//! * `bankd_writer_*` — commits, jobs, queue depth; `bankd_db_readers_*` — pool use.
//! * `bankd_http_connections_open` / `_max` — connections served now, and the cap.
//! * `bankd_build_info{version}` and the standard `process_*` series (see `process`).
//!
//! Every label value comes from a closed set, so no client can make this page (or the memory
//! behind it) grow: routes are templates (`(unmatched)` for everything else), methods outside
//! the standard nine are counted as `OTHER`, statuses are the ones the server answers with,
//! and kinds and outcomes are `&'static str`. Twenty thousand made-up methods once grew RSS
//! by 86 MiB and this page to 88 MB (issue #11).
//!
//! With `metrics.token` set, the page needs `Authorization: Bearer <token>`; without it the
//! page stays open, as it always was, and the proxy is what hides it from the internet.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::state::AppState;

mod process;

/// Upper bounds of the latency buckets, in microseconds (rendered in seconds).
const LATENCY_BUCKETS_US: [u64; 12] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000, 5_000_000,
];

/// Request counts of one route by (method label, status).
type ByStatus = HashMap<(&'static str, u16), u64>;

/// The method as a label: one of the nine standard methods, else `OTHER`. HTTP lets a client
/// invent any token as a method; each would otherwise be a new series.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// Counters shared by every request; rendered by `GET /metrics`.
#[derive(Default)]
pub struct Metrics {
    /// By route template, then (method, status): looked up by `&str`, so counting a request
    /// allocates nothing once its route has been seen.
    requests: Mutex<HashMap<String, ByStatus>>,
    movements: Mutex<HashMap<(&'static str, &'static str), u64>>,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS_US.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
    /// Connections being served now (the accept loop counts them in and out).
    connections_open: AtomicU64,
    /// `server.max_connections`, shown beside the gauge so an alert can compare the two.
    connections_max: AtomicU64,
}

impl Metrics {
    /// Counts one answered request (called once per request by the request layer).
    pub fn record_request(
        &self,
        route: &str,
        method: &axum::http::Method,
        status: u16,
        latency: Duration,
    ) {
        if let Ok(mut requests) = self.requests.lock() {
            let by_status = match requests.get_mut(route) {
                Some(by_status) => by_status,
                None => requests.entry(route.to_owned()).or_default(),
            };
            *by_status.entry((method_label(method), status)).or_default() += 1;
        }
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        for (bucket, bound) in self.latency_buckets.iter().zip(LATENCY_BUCKETS_US) {
            if micros <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(micros, Ordering::Relaxed);
    }

    /// Counts one money movement by kind and outcome.
    pub fn record_movement(&self, kind: &'static str, outcome: &'static str) {
        if let Ok(mut movements) = self.movements.lock() {
            *movements.entry((kind, outcome)).or_default() += 1;
        }
    }

    /// A connection was accepted; the returned guard counts it out when dropped, however its
    /// task ends.
    pub fn connection_opened(self: &std::sync::Arc<Self>) -> ConnectionCounted {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        ConnectionCounted(self.clone())
    }

    /// Records the connection cap for `bankd_http_connections_max`.
    pub fn set_connections_max(&self, max: usize) {
        self.connections_max
            .store(u64::try_from(max).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// One open connection in `bankd_http_connections_open`, until dropped.
pub struct ConnectionCounted(std::sync::Arc<Metrics>);

impl Drop for ConnectionCounted {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.config.metrics_token
        && !bearer_matches(&headers, token.expose())
    {
        return ApiError::not_authenticated().into_response();
    }
    // /proc reads are file I/O: off the async threads, like every other blocking call.
    let process = tokio::task::spawn_blocking(process::render)
        .await
        .unwrap_or_default();
    let mut text = render(&state);
    text.push_str(&process);
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Whether `Authorization` is `Bearer <token>`. Compared by SHA-256 digest, so the time taken
/// says nothing about how much of a guess was right.
fn bearer_matches(headers: &HeaderMap, token: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "))
    else {
        return false;
    };
    Sha256::digest(given) == Sha256::digest(token)
}

/// The application's own series as exposition text.
fn render(state: &AppState) -> String {
    let mut text = String::new();
    let metrics = &state.metrics;
    let _ = writeln!(
        text,
        "# HELP bankd_http_requests_total HTTP requests by route template, method and status."
    );
    let _ = writeln!(text, "# TYPE bankd_http_requests_total counter");
    if let Ok(requests) = metrics.requests.lock() {
        let mut rows: Vec<_> = requests
            .iter()
            .flat_map(|(route, by_status)| {
                by_status
                    .iter()
                    .map(move |((method, status), count)| (route, *method, *status, *count))
            })
            .collect();
        rows.sort();
        for (route, method, status, count) in rows {
            let _ = writeln!(
                text,
                "bankd_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {count}",
                escape(route)
            );
        }
    }
    let _ = writeln!(
        text,
        "# HELP bankd_http_request_duration_seconds HTTP request latency."
    );
    let _ = writeln!(text, "# TYPE bankd_http_request_duration_seconds histogram");
    for (bucket, bound) in metrics.latency_buckets.iter().zip(LATENCY_BUCKETS_US) {
        let _ = writeln!(
            text,
            "bankd_http_request_duration_seconds_bucket{{le=\"{}\"}} {}",
            seconds(bound),
            bucket.load(Ordering::Relaxed)
        );
    }
    let count = metrics.latency_count.load(Ordering::Relaxed);
    let _ = writeln!(
        text,
        "bankd_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(
        text,
        "bankd_http_request_duration_seconds_sum {}",
        seconds(metrics.latency_sum_us.load(Ordering::Relaxed))
    );
    let _ = writeln!(text, "bankd_http_request_duration_seconds_count {count}");
    let _ = writeln!(
        text,
        "# HELP bankd_money_movements_total Deposits, withdrawals and transfers by outcome."
    );
    let _ = writeln!(text, "# TYPE bankd_money_movements_total counter");
    if let Ok(movements) = metrics.movements.lock() {
        let mut rows: Vec<_> = movements.iter().collect();
        rows.sort();
        for ((kind, outcome), count) in rows {
            let _ = writeln!(
                text,
                "bankd_money_movements_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {count}"
            );
        }
    }
    let store = state.store.stats();
    for (name, kind, help, value) in [
        (
            "bankd_writer_commits_total",
            "counter",
            "Write transactions committed (each holds a batch of jobs).",
            store.commits,
        ),
        (
            "bankd_writer_jobs_total",
            "counter",
            "Write jobs run by the writer.",
            store.jobs,
        ),
        (
            "bankd_writer_queue_depth",
            "gauge",
            "Write jobs waiting for the writer.",
            store.queued,
        ),
        (
            "bankd_db_readers_connections",
            "gauge",
            "Open read connections.",
            store.readers_open,
        ),
        (
            "bankd_db_readers_idle",
            "gauge",
            "Idle read connections.",
            store.readers_idle,
        ),
        (
            "bankd_http_connections_open",
            "gauge",
            "HTTP connections being served.",
            metrics.connections_open.load(Ordering::Relaxed),
        ),
        (
            "bankd_http_connections_max",
            "gauge",
            "The cap on HTTP connections (server.max_connections).",
            metrics.connections_max.load(Ordering::Relaxed),
        ),
    ] {
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    let _ = writeln!(
        text,
        "# HELP bankd_build_info The running build.\n# TYPE bankd_build_info gauge\n\
         bankd_build_info{{version=\"{}\"}} 1",
        escape(env!("CARGO_PKG_VERSION"))
    );
    text
}

/// Microseconds as decimal seconds, without floats: `2500` → `0.0025`.
fn seconds(micros: u64) -> String {
    let text = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::{method_label, seconds};

    #[test]
    fn seconds_render_exactly() {
        assert_eq!(seconds(2_500), "0.0025");
        assert_eq!(seconds(1_000_000), "1");
        assert_eq!(seconds(0), "0");
    }

    #[test]
    fn invented_methods_share_one_label() {
        let invented = axum::http::Method::from_bytes(b"FROBNICATE").expect("a token");
        assert_eq!(method_label(&invented), "OTHER");
        assert_eq!(method_label(&axum::http::Method::PATCH), "PATCH");
    }
}
