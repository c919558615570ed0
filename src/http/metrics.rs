//! `GET /metrics`: Prometheus text exposition, hand-written (a few counters do not need a
//! metrics framework).
//!
//! * `bankd_http_requests_total{route,method,status}` — by route template, never raw path.
//! * `bankd_http_request_duration_seconds` — one latency histogram over all requests.
//! * `bankd_money_movements_total{kind,outcome}` — success / refused / replayed.
//! * `bankd_writer_*` — commits, jobs, queue depth; `bankd_db_readers_*` — pool use.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;

/// Upper bounds of the latency buckets, in microseconds (rendered in seconds).
const LATENCY_BUCKETS_US: [u64; 12] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000, 5_000_000,
];

/// Request counts of one route by (method, status).
type ByStatus = HashMap<(axum::http::Method, u16), u64>;

#[derive(Default)]
pub struct Metrics {
    /// By route template, then (method, status): looked up by `&str`, so counting a request
    /// allocates nothing once its route has been seen.
    requests: Mutex<HashMap<String, ByStatus>>,
    movements: Mutex<HashMap<(&'static str, &'static str), u64>>,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS_US.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

impl Metrics {
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
            *by_status.entry((method.clone(), status)).or_default() += 1;
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

    pub fn record_movement(&self, kind: &'static str, outcome: &'static str) {
        if let Ok(mut movements) = self.movements.lock() {
            *movements.entry((kind, outcome)).or_default() += 1;
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>) -> Response {
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
                    .map(move |((method, status), count)| (route, method.as_str(), *status, *count))
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
    let writer = state.db.writer_stats();
    let pool = state.db.reader_pool_state();
    for (name, kind, help, value) in [
        (
            "bankd_writer_commits_total",
            "counter",
            "Write transactions committed (each holds a batch of jobs).",
            writer.commits,
        ),
        (
            "bankd_writer_jobs_total",
            "counter",
            "Write jobs run by the writer.",
            writer.jobs,
        ),
        (
            "bankd_writer_queue_depth",
            "gauge",
            "Write jobs waiting for the writer.",
            writer.queued,
        ),
        (
            "bankd_db_readers_connections",
            "gauge",
            "Open read connections.",
            u64::from(pool.connections),
        ),
        (
            "bankd_db_readers_idle",
            "gauge",
            "Idle read connections.",
            u64::from(pool.idle_connections),
        ),
    ] {
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
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
    use super::seconds;

    #[test]
    fn seconds_render_exactly() {
        assert_eq!(seconds(2_500), "0.0025");
        assert_eq!(seconds(1_000_000), "1");
        assert_eq!(seconds(0), "0");
    }
}
