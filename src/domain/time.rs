//! Timestamps and dates in the contract's formats.
//!
//! Times are stored and served as RFC 3339 UTC with microseconds and `Z`, which sorts in time
//! order as text; dates are `YYYY-MM-DD`.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// The current time in the stored/served format.
pub fn now_rfc3339() -> String {
    format_time(Utc::now())
}

pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a strict `YYYY-MM-DD` date that exists in the calendar.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape_ok {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// The first instant of `date` in UTC, in the stored format, for `created_at >= ...` bounds.
pub fn start_of_day(date: NaiveDate) -> String {
    format!("{}T00:00:00.000000Z", date.format("%Y-%m-%d"))
}

/// Today's date in UTC.
pub fn today_utc() -> NaiveDate {
    Utc::now().date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strict() {
        assert!(parse_date("2024-02-29").is_some());
        for bad in [
            "2023-02-29",
            "2024-2-29",
            "20240229",
            "2024-02-29T00:00",
            "abcd-ef-gh",
            "+2024-02-2",
        ] {
            assert!(parse_date(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn stored_times_sort_as_text() {
        let earlier = start_of_day(parse_date("2026-01-01").expect("date"));
        let later = format_time(Utc::now());
        assert!(earlier < later);
        assert!(later.ends_with('Z') && later.len() == "2026-11-21T09:30:00.123456Z".len());
    }
}
