//! Black-box tests of the HTTP API: the real application on port 0 with a fresh SQLite file per
//! test, driven only through HTTP (see `helpers.rs`). One binary, one module per concern.

#[path = "../support/child_server.rs"]
mod child_server;
mod helpers;

mod accounts;
mod auth;
mod bad_input;
mod cards;
mod compression;
mod concurrency;
mod console;
mod customers;
mod drf;
mod idempotency;
mod isolation;
mod jwt;
mod me;
mod metadata;
mod movements;
mod multipart;
mod passwords;
mod registration;
mod request_origin;
mod revocation;
mod server_edges;
mod staff;
mod staff_names;
mod statement_pages;
mod statements;
mod throttling;
mod transactions;
mod wire;
