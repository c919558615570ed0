//! Logging: a `tracing` subscriber writing pretty or JSON lines to stderr.
//!
//! Request logging itself lives in `http/mod.rs` (one line per request with its id, route
//! template, status and latency). Nothing logs bodies or headers, so passwords and tokens never
//! reach a log line.

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Bytes of log lines the writer thread gathers before writing them out.
const LOG_BUFFER_BYTES: usize = 64 * 1024;

/// Log bytes after which a log *file* is flushed to disk.
const LOG_SYNC_BYTES: u64 = 1024 * 1024;

/// stderr, and when it is a regular file, flushed to disk every [`LOG_SYNC_BYTES`].
///
/// At ten thousand requests a second the log grows by megabytes a second. Left to the kernel,
/// that data is written out in bursts of tens of MiB (after 30 s, `dirty_expire_centisecs`),
/// and while a burst is in flight every WAL fsync waits behind it: the transfer benchmark's p99
/// went from 20 ms to 65 ms whenever a burst landed (BENCHMARKS.md). Syncing the log file on
/// the log's own thread every MiB keeps writeback small and steady. A pipe or the journal (not
/// a regular file) is left alone.
struct SteadyStderr {
    stderr: std::io::Stderr,
    file: Option<std::fs::File>,
    unsynced: u64,
}

impl SteadyStderr {
    fn new() -> Self {
        let file = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .map(std::fs::File::from)
            .filter(|file| file.metadata().is_ok_and(|m| m.is_file()));
        Self {
            stderr: std::io::stderr(),
            file,
            unsynced: 0,
        }
    }
}

impl Write for SteadyStderr {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.stderr.write(bytes)?;
        self.unsynced += written as u64;
        if self.unsynced >= LOG_SYNC_BYTES
            && let Some(file) = &self.file
        {
            self.unsynced = 0;
            // Losing this only brings back the bursts; the lines themselves are written.
            let _ = file.sync_data();
        }
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.stderr.flush()
    }
}

/// Installs the global subscriber; a second call (tests) is a no-op. Lines are handed to a
/// background writer thread (never dropped: when its buffer is full, logging waits); the
/// returned guard flushes it when dropped, so `main` keeps it to the end.
pub fn init(format: LogFormat, level: &str) -> WorkerGuard {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    // The worker thread writes whatever lines are waiting, then flushes when the queue is empty:
    // a buffer turns a burst of lines into one write() instead of one per line.
    let (writer, guard) =
        NonBlockingBuilder::default()
            .lossy(false)
            .finish(std::io::BufWriter::with_capacity(
                LOG_BUFFER_BYTES,
                SteadyStderr::new(),
            ));
    // Colours only for a terminal: escape codes in a log file or the journal are noise (and a
    // third of each line's bytes).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
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
