//! Statements (contract §7): generate for one of the caller's accounts, list, view, download
//! as CSV (`?format=csv`).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;

use crate::app::AppState;
use crate::db::statements::{self, Statement};
use crate::domain::TransactionType;
use crate::domain::money::format_cents;
use crate::domain::time::{parse_date, today_utc};
use crate::error::ApiError;
use crate::http::extract::{AuthUser, Body, Id, QueryPairs};
use crate::http::form::Fields;
use crate::http::pagination::page_response;

/// The longest statement, in days (a leap year).
pub const STATEMENT_DAYS_MAX: i64 = 366;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/accounts/{id}/statements",
            get(list_for_account).post(generate),
        )
        .route("/api/statements", get(list))
        .route("/api/statements/{id}", get(retrieve))
}

async fn generate(
    State(state): State<AppState>,
    user: AuthUser,
    Id(account_id): Id,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::new(&body);
    let date = |text: &str| {
        parse_date(text).ok_or_else(|| {
            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.".to_owned()
        })
    };
    let start = fields.required("start_date", date);
    let end = fields.required("end_date", |text| {
        let end = date(text)?;
        if end > today_utc() {
            return Err("end_date cannot be after today (UTC).".to_owned());
        }
        Ok(end)
    });
    if let (Some(start), Some(end)) = (start, end) {
        check_range(&mut fields, start, end);
    }
    // Someone else's account is a 404 whatever the body says.
    let account = state
        .db
        .read_point(move |conn| {
            crate::db::accounts::find_by_id_and_owner(conn, account_id, user.user_id)
        })
        .await?;
    fields.finish()?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(ApiError::internal("validated statement is incomplete"));
    };
    let draft = state
        .db
        .read(move |conn| statements::draft(conn, account, start, end))
        .await?;
    let statement = state
        .db
        .write(move |conn| statements::store(conn, draft))
        .await?;
    Ok((StatusCode::CREATED, statement_json(&statement)?))
}

/// Bytes of JSON per statement row, generously: the buffer is sized once instead of growing.
const JSON_BYTES_PER_ROW: usize = 320;

/// A statement as JSON, serialized into a buffer sized for its rows up front: a month of a busy
/// account is megabytes, and growing axum's default 128-byte buffer copied it ~15 times.
fn statement_json(statement: &Statement) -> Result<Response, ApiError> {
    let rows = statement.transactions.as_ref().map_or(0, Vec::len);
    let mut body = Vec::with_capacity(512 + rows.saturating_mul(JSON_BYTES_PER_ROW));
    serde_json::to_writer(&mut body, statement)
        .map_err(|e| ApiError::internal(format!("cannot render the statement: {e}")))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

fn check_range(fields: &mut Fields<'_>, start: NaiveDate, end: NaiveDate) {
    if start > end {
        fields.errors.add(
            "non_field_errors",
            "start_date must be on or before end_date.",
        );
    } else if (end - start).num_days() + 1 > STATEMENT_DAYS_MAX {
        fields.errors.add(
            "non_field_errors",
            format!("A statement covers at most {STATEMENT_DAYS_MAX} days."),
        );
    }
}

async fn list(
    state: State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<impl IntoResponse, ApiError> {
    list_page(
        state,
        user,
        None,
        headers,
        query,
        "/api/statements/".to_owned(),
    )
    .await
}

async fn list_for_account(
    state: State<AppState>,
    user: AuthUser,
    Id(account_id): Id,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<impl IntoResponse, ApiError> {
    let path = format!("/api/accounts/{account_id}/statements/");
    state
        .db
        .read_point(move |conn| {
            crate::db::accounts::find_by_id_and_owner(conn, account_id, user.user_id)
        })
        .await?;
    list_page(state, user, Some(account_id), headers, query, path).await
}

async fn list_page(
    State(state): State<AppState>,
    user: AuthUser,
    account_id: Option<i64>,
    headers: HeaderMap,
    query: QueryPairs,
    path: String,
) -> Result<Json<serde_json::Value>, ApiError> {
    page_response(
        &state,
        &headers,
        &query,
        &path,
        move |conn, limit, offset| {
            statements::list_for_user(conn, user.user_id, account_id, limit, offset)
        },
    )
    .await
}

async fn retrieve(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let statement = state
        .db
        .read(move |conn| statements::find(conn, id, user.user_id, true))
        .await?;
    match query.get("format") {
        None | Some("json") => statement_json(&statement),
        Some("csv") => Ok(csv_response(&statement)),
        Some(_) => Err(ApiError::not_found()),
    }
}

/// The statement's transactions as CSV, one row each, oldest first, with signed amounts so
/// that `opening + sum(amount) = closing`.
fn csv_response(statement: &Statement) -> Response {
    let mut csv = String::from(
        "created_at,transaction_id,transaction_type,description,amount,balance_after,counterparty_account_number\r\n",
    );
    for row in statement.transactions.iter().flatten() {
        let credit =
            TransactionType::parse(&row.transaction_type).is_some_and(TransactionType::is_credit);
        let amount = if credit {
            format_cents(row.amount)
        } else {
            format!("-{}", format_cents(row.amount))
        };
        let fields = [
            row.created_at.clone(),
            row.id.to_string(),
            row.transaction_type.clone(),
            row.description.clone(),
            amount,
            format_cents(row.balance_after),
            row.counterparty_account_number.clone().unwrap_or_default(),
        ];
        csv.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        csv.push_str("\r\n");
    }
    let filename = format!(
        "statement-{}-{}-{}.csv",
        statement.account_number, statement.start_date, statement.end_date
    );
    let mut response = csv.into_response();
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
