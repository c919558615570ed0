//! bankd: a bank's REST API server in one statically linked binary on embedded SQLite.
//!
//! # Layers
//!
//! The sync/async boundary is the layer boundary, so a file's path tells whether it may block:
//!
//! * `domain/` — pure types and rules (`Amount`, `AccountNumber`, `Password`, ...). No I/O.
//! * `db/` — all SQL, synchronous, run on blocking threads (or inline for by-key reads, see
//!   `Db::read_point`). `db::ledger` is the only code that moves money; `db::writer` is the
//!   single writer thread that runs every write inside `BEGIN IMMEDIATE` and commits in groups;
//!   `db::durability` fsyncs each commit before anyone is answered; `db::checkpoint` copies the
//!   WAL into the database file off the writer's path.
//! * `server.rs` — the accept loop: connection cap, header-read timeout, shutdown deadline,
//!   signals. `http/deadline.rs` is the request timeout.
//! * `http/` — axum handlers, async. They parse requests into domain values, submit one read or
//!   one write job to `db`, and render the contract's JSON.
//!
//! # A request's life
//!
//! `POST /api/accounts/7/withdraw/` → trailing slash trimmed → `around_request` gives it an id →
//! `AuthUser` resolves the token (an in-memory cache, else a read on the pool) → `Body` reads at
//! most 64 KiB of JSON → `Fields` turns `amount` into an `Amount` or a DRF field error →
//! `Db::write` queues a job → the writer thread runs `ledger::withdraw` inside a savepoint of its
//! current transaction and commits the batch → a syncer thread fsyncs the WAL and only then
//! answers → the handler renders `{"status": "withdrawal successful", ...}`.
//!
//! # Reading order
//!
//! `limits.rs`, `domain/money.rs`, `error.rs`, `db/writer.rs`, `db/ledger.rs`, `http/mod.rs`,
//! `http/movements.rs`.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod jwt;
pub mod limits;
pub mod server;
pub mod state;
pub mod store;
pub mod telemetry;
