//! DRF's `?ordering=` as a typed value, shared by every list that takes it (accounts,
//! transactions).
//!
//! A term names a field of the list's own field enum (`AccountOrderField`,
//! `TransactionOrderField`), never a column: the HTTP edge parses the query string into terms
//! (`http::query_filters`), and each backend maps the fields to its columns
//! (`sqlite/accounts.rs`, `sqlite/transactions.rs`), so no client text reaches SQL.

/// One `?ordering=` term over a list's field enum `F`: the field and its direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderTerm<F> {
    pub field: F,
    pub descending: bool,
}
