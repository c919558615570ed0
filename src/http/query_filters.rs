//! Query-string filters shared by the customer and staff lists: ids, dates as `created_at`
//! bounds (inclusive UTC days), DRF's `?ordering=` and `?search=`, and DRF-style field errors
//! for every bad value at once.

use crate::domain::time::{parse_date, start_of_day};
use crate::error::{ApiError, FieldErrors};
use crate::http::extract::{QueryPairs, parse_positive_id};
use crate::limits::SEARCH_TERMS_MAX;
use crate::store::ordering::OrderTerm;

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

impl QueryFilters<'_> {
    /// DRF's `OrderingFilter`: comma-separated fields, `-` for descending; a field not in
    /// `allowed` (API name, the store's field) is ignored, as DRF ignores it, and a repeated
    /// field counts once. An empty result means "the default order".
    pub fn ordering<F: Copy + PartialEq>(&self, allowed: &[(&str, F)]) -> Vec<OrderTerm<F>> {
        let mut terms: Vec<OrderTerm<F>> = Vec::new();
        let Some(text) = self.given("ordering") else {
            return terms;
        };
        for term in text.split(',').map(str::trim) {
            let (descending, name) = match term.strip_prefix('-') {
                Some(name) => (true, name),
                None => (false, term),
            };
            let field = allowed
                .iter()
                .find(|(allowed_name, _)| *allowed_name == name)
                .map(|(_, field)| *field);
            if let Some(field) = field
                && !terms.iter().any(|known| known.field == field)
            {
                terms.push(OrderTerm { field, descending });
            }
        }
        terms
    }

    /// DRF's `SearchFilter` terms: NUL characters dropped, then split on whitespace and commas; every term
    /// must match. More than `SEARCH_TERMS_MAX` terms is a field error, so a search's cost is
    /// bounded.
    pub fn search_terms(&mut self) -> Vec<String> {
        let Some(text) = self.given("search") else {
            return Vec::new();
        };
        let terms: Vec<String> = text
            .replace('\0', "")
            .replace(',', " ")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if terms.len() > SEARCH_TERMS_MAX {
            self.errors.add(
                "search",
                format!("Search with at most {SEARCH_TERMS_MAX} terms."),
            );
            return Vec::new();
        }
        terms
    }
}
