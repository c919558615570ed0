//! Logging: a `tracing` subscriber writing pretty or JSON lines to stderr.
//!
//! Request logging itself lives in `http/mod.rs` (one line per request with its id, route
//! template, status and latency). Nothing logs bodies or headers, so passwords and tokens never
//! reach a log line.
//!
//! A log line is a record people and tools trust, so nothing a client sends may forge one: in
//! the pretty format every field value and message goes through [`EscapedFields`], which
//! writes control characters (`\n`, `\r`, ESC, other C0 and C1) and Unicode line separators and
//! direction overrides as escapes. The JSON format needs no help: `serde_json` escapes every
//! C0 character, and a C1 character inside a JSON string cannot end the line.

use std::fmt::{self, Write as _};
use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;

use tracing::field::{Field, Visit};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

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
        LogFormat::Pretty => builder
            .with_target(false)
            .fmt_fields(EscapedFields)
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    guard
}

/// The pretty format's field formatter: `message` bare, then `name=value` pairs, like
/// `tracing-subscriber`'s default, but with every character that could break or restyle a line
/// escaped (see [`escape_into`]). Escaping streams through the writer: no allocation per line.
pub struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = EscapingVisitor {
            writer,
            result: Ok(()),
            first: true,
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct EscapingVisitor<'writer> {
    writer: Writer<'writer>,
    result: fmt::Result,
    first: bool,
}

impl Visit for EscapingVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        // `log` crate metadata arrives as fields; the default formatter hides them too.
        if name.starts_with("log.") {
            return;
        }
        let separator = if self.first { "" } else { " " };
        self.first = false;
        let mut escaped = Escaping(&mut self.writer);
        self.result = if name == "message" {
            write!(escaped, "{separator}{value:?}")
        } else {
            let name = name.strip_prefix("r#").unwrap_or(name);
            write!(escaped, "{separator}{name}={value:?}")
        };
    }
}

/// A `fmt::Write` that escapes as it writes.
struct Escaping<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        escape_into(self.0, text)
    }
}

/// Whether `c` could end a log line, rewrite what a terminal shows, or reorder the text a
/// reader sees: C0 and C1 controls and DEL, Unicode line and paragraph separators, and the
/// bidirectional overrides and isolates ("Trojan Source").
fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Writes `text` with every [`must_escape`] character as `\n`, `\r`, `\t` or `\u{..}`; runs
/// of ordinary characters are written in one piece.
fn escape_into(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    // Nearly every piece of a log line is printable ASCII: one byte scan lets it through
    // whole. (The character-by-character search below cost ~7% of the /healthz ceiling, where
    // every request writes a line.)
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return out.write_str(text);
    }
    let mut rest = text;
    while let Some(index) = rest.find(must_escape) {
        out.write_str(&rest[..index])?;
        let mut chars = rest[index..].chars();
        if let Some(c) = chars.next() {
            match c {
                '\n' => out.write_str("\\n")?,
                '\r' => out.write_str("\\r")?,
                '\t' => out.write_str("\\t")?,
                other => write!(out, "\\u{{{:x}}}", u32::from(other))?,
            }
        }
        rest = chars.as_str();
    }
    out.write_str(rest)
}

#[cfg(test)]
mod tests {
    use super::escape_into;

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        escape_into(&mut out, text).expect("writing to a String");
        out
    }

    #[test]
    fn control_characters_and_separators_are_escaped_and_the_rest_is_kept() {
        assert_eq!(escaped("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(
            escaped("a\nb\rc\td\u{1b}[31me\u{7f}\u{85}\u{2028}\u{202e}"),
            "a\\nb\\rc\\td\\u{1b}[31me\\u{7f}\\u{85}\\u{2028}\\u{202e}"
        );
        assert_eq!(escaped("\u{0}"), "\\u{0}");
    }
}
