//! Black-box tests of the HTTP API: the real application on port 0 with a fresh database per
//! test (the shared harness in `tests/support/`), driven only through HTTP with the typed
//! helpers of `helpers.rs`. One binary, one module per concern.

// Part of the shared harness is for the other test binaries (see `tests/support/mod.rs`).
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;

mod helpers;

mod accounts;
mod auth;
mod bad_input;
mod cards;
mod compression;
mod concurrency;
mod connections_and_metrics;
mod console;
mod cors;
mod customers;
mod formats_ordering_and_search;
mod idempotency;
mod jwt;
mod me;
mod movements;
mod multipart;
mod options_metadata;
mod passwords;
mod registration;
mod request_origin;
mod revocation;
mod staff;
mod staff_names;
mod statement_pages;
mod statements;
mod throttling;
mod transactions;
mod user_isolation;
mod wire_format;
