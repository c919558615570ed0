//! A statement as CSV, streamed: the body is produced a chunk of rows at a time, each chunk
//! read from the ledger by the store (`Store::statement_rows_after`: on SQLite a pooled reader
//! on a blocking thread) only when the connection has taken the previous one. Memory per download is one chunk, whatever the statement's size,
//! and a slow client holds no database connection between chunks (only its gate permit).
//!
//! The bytes are exactly what the whole-statement CSV was: the same header line, the same rows
//! in the same order, `\r\n` line ends.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, stream};
use tokio::sync::OwnedSemaphorePermit;

use crate::store::Store;
use crate::store::statements::{Statement, StatementCursor, StatementRange};
use crate::store::transactions::Transaction;

/// Rows per chunk: about 30 KiB of CSV with long descriptions, few enough to keep memory flat
/// and many enough that the per-chunk cost (a reader checkout, a seek, a wake-up) stays small.
const CSV_ROWS_PER_CHUNK: u32 = 256;

const CSV_HEADER: &str = "created_at,transaction_id,transaction_type,description,amount,balance_after,counterparty_account_number\r\n";

/// Where a download has got to.
struct Cursor {
    store: Store,
    statement: StatementRange,
    /// The (created_at, id) key of the last row sent; `None` before the first chunk.
    after: Option<StatementCursor>,
    header_sent: bool,
    finished: bool,
    /// Released when the stream is dropped: when the body is done or the client went away.
    _permit: OwnedSemaphorePermit,
}

/// The streamed `text/csv` answer, with its `Content-Disposition` filename.
pub fn response(store: Store, statement: &Statement, permit: OwnedSemaphorePermit) -> Response {
    let filename = format!(
        "statement-{}-{}-{}.csv",
        statement.account_number, statement.start_date, statement.end_date
    );
    let cursor = Cursor {
        store,
        statement: statement.range(),
        after: None,
        header_sent: false,
        finished: false,
        _permit: permit,
    };
    let chunks = stream::unfold(cursor, |mut cursor| async move {
        if cursor.finished {
            return None;
        }
        let chunk = next_chunk(&mut cursor).await;
        if chunk.is_err() {
            // The status line is long gone: ending the body early is all that is left, and the
            // client sees a truncated download rather than a complete-looking wrong one.
            cursor.finished = true;
        }
        Some((chunk, cursor))
    });
    // Fused: `unfold` panics if polled again after its end, and a body wrapper (the
    // compression layer's encoder) may poll once more after the last chunk.
    let mut response = Body::from_stream(chunks.fuse()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The header line (first call), then the next chunk of rows as CSV.
async fn next_chunk(cursor: &mut Cursor) -> Result<Bytes, std::io::Error> {
    if !cursor.header_sent {
        cursor.header_sent = true;
        return Ok(Bytes::from_static(CSV_HEADER.as_bytes()));
    }
    let rows = cursor
        .store
        .statement_rows_after(
            cursor.statement.clone(),
            cursor.after.clone(),
            CSV_ROWS_PER_CHUNK,
        )
        .await
        .map_err(|error| {
            tracing::error!(
                ?error,
                "statement CSV stopped: the ledger could not be read"
            );
            std::io::Error::other("the statement could not be read")
        })?;
    if rows.len() < CSV_ROWS_PER_CHUNK as usize {
        cursor.finished = true;
    }
    if let Some(last) = rows.last() {
        cursor.after = Some(StatementCursor::after(last));
    }
    let mut csv = String::with_capacity(rows.len() * 128);
    for row in &rows {
        push_row(&mut csv, row);
    }
    Ok(Bytes::from(csv))
}

/// One transaction as a CSV line, with a signed amount so that `opening + sum(amount) =
/// closing`.
fn push_row(csv: &mut String, row: &Transaction) {
    let amount = if row.transaction_type.is_credit() {
        row.amount.to_string()
    } else {
        format!("-{}", row.amount)
    };
    let fields = [
        row.created_at.as_str(),
        &row.id.to_string(),
        row.transaction_type.as_str(),
        row.description.as_str(),
        &amount,
        &row.balance_after.to_string(),
        row.counterparty_account_number
            .as_ref()
            .map_or("", |number| number.as_str()),
    ];
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            csv.push(',');
        }
        csv.push_str(&csv_field(field));
    }
    csv.push_str("\r\n");
}

/// Quotes a CSV field (RFC 4180) and defuses spreadsheet formulas: a text field starting with
/// `= + - @` gets a leading `'`, so a description cannot run code in the customer's spreadsheet.
fn csv_field(text: &str) -> String {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let is_number =
        !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let defused = if !is_number && text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-12.50"), "-12.50");
        assert_eq!(csv_field("-cmd"), "'-cmd");
    }
}
