//! Query-string filters shared by the customer and staff lists: ids, dates as `created_at`
//! bounds (inclusive UTC days), and DRF-style field errors for every bad value at once.

use crate::domain::time::{parse_date, start_of_day};
use crate::error::{ApiError, FieldErrors};
use crate::http::extract::{QueryPairs, parse_positive_id};

/// Reads list filters from the query string, collecting every error. Empty values are
/// ignored, as django-filter does.
pub struct QueryFilters<'a> {
    query: &'a QueryPairs,
    pub errors: FieldErrors,
}

impl<'a> QueryFilters<'a> {
    pub fn new(query: &'a QueryPairs) -> Self {
        Self {
            query,
            errors: FieldErrors::default(),
        }
    }

    pub fn given(&self, name: &str) -> Option<&'a str> {
        self.query.get(name).filter(|v| !v.is_empty())
    }

    pub fn id(&mut self, name: &str) -> Option<i64> {
        let text = self.given(name)?;
        let id = parse_positive_id(text);
        if id.is_none() {
            self.errors.add(name, "Enter a whole number.");
        }
        id
    }

    /// `date_from` / `date_to` as `created_at` bounds (inclusive UTC days).
    pub fn dates(&mut self) -> (Option<String>, Option<String>) {
        let mut bound = |name: &str, next_day: bool| {
            let text = self.given(name)?;
            match parse_date(text) {
                Some(date) if next_day => date.succ_opt().map(start_of_day),
                Some(date) => Some(start_of_day(date)),
                None => {
                    self.errors.add(name, "Enter a valid date.");
                    None
                }
            }
        };
        (bound("date_from", false), bound("date_to", true))
    }

    pub fn finish(self) -> Result<(), ApiError> {
        self.errors.into_result()
    }
}
