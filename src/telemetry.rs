//! Logging: a `tracing` subscriber writing pretty or JSON lines to stderr.
//!
//! Request logging itself lives in `http/mod.rs` (one line per request with its id, route
//! template, status and latency). Nothing logs bodies or headers, so passwords and tokens never
//! reach a log line.

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; a second call (tests) is a no-op. Lines are handed to a
/// background writer thread (never dropped: when its buffer is full, logging waits); the
/// returned guard flushes it when dropped, so `main` keeps it to the end.
pub fn init(format: LogFormat, level: &str) -> WorkerGuard {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Pretty => builder.with_target(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    guard
}
