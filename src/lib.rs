//! bankd: a bank's REST API server in one statically linked binary on embedded SQLite.
//!
//! # Layers
//!
//! The sync/async boundary is the layer boundary, so a file's path tells whether it may block:
//!
//! * `domain/` — pure types and rules (`Amount`, `AccountNumber`, `Password`, ...). No I/O.
//! * `store/` — the storage seam: typed commands, queries and rows, backend-neutral, dispatched
//!   by the `Store` enum. `store/sqlite/` is the SQLite backend and holds all SQL, synchronous,
//!   run on blocking threads (or inline for by-key reads, see `Db::read_point`).
//!   `store/sqlite/ledger.rs` is the only code that moves money; `store/sqlite/commit/` is the
//!   commit pipeline: the single writer thread that runs every write inside `BEGIN IMMEDIATE`
//!   and commits in groups, the syncer threads that fsync each commit before anyone is answered,
//!   the checkpointer that copies the WAL into the database file off the writer's path, and the
//!   `synchronous` decision (its `mod.rs`). The store owns its background work (pruning,
//!   checkpoints, audit indexing) and stops it in `Store::shutdown`.
//! * `server.rs` — the accept loop: connection cap, header-read timeout, shutdown deadline,
//!   signals.
//! * `http/` — axum handlers, async. They parse requests into domain values, make one store
//!   call, and render the contract's JSON. `http::service` applies every layer, in one place,
//!   in the order `http/mod.rs` lists.
//! * `state.rs` — the state every handler shares, each field documented; `app.rs` — the
//!   composition root: builds the state, starts the background work, serves, stops.
//! * `limits.rs` — every hard limit and tunable, with their relationships asserted.
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
//! `limits.rs`, `domain/money.rs`, `error.rs`, `store/mod.rs`, `store/sqlite/commit/mod.rs`,
//! `store/sqlite/commit/writer.rs`, `store/sqlite/ledger.rs`, `state.rs`, `http/mod.rs`,
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
