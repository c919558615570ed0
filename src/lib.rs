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
//! `AuthUser` resolves the token (an in-memory cache, else `Store::token_owner`) → the
//! `MovementRequest` extractor reads at most 64 KiB of JSON and turns `amount` into an `Amount`
//! or a DRF field error → `Store::move_money` with a typed `MovementCommand` → the SQLite
//! backend queues one writer job, which runs `ledger::execute` inside a savepoint of the
//! writer's current transaction (idempotency key, posting, audit row, stored answer) and
//! commits the batch → a syncer thread fsyncs the WAL and only then answers → the handler
//! renders the `Posted` result, or the typed `Refusal`, as the contract's JSON.
//! `docs/ARCHITECTURE.md` follows a transfer the same way, file by file.
//!
//! # Reading order
//!
//! `limits.rs`, `domain/money.rs`, `error.rs`, `store/mod.rs`, `store/sqlite/commit/mod.rs`,
//! `store/sqlite/commit/writer.rs`, `store/sqlite/ledger.rs`, `state.rs`, `http/mod.rs`,
//! `http/movements.rs`.
//!
//! # Where to add a test
//!
//! * A new API behaviour: `tests/api/<resource>.rs`, black-box through
//!   `tests/support/app.rs::spawn_app()`; it runs against the real router on port 0 and a
//!   temporary database, and must not depend on which store is underneath.
//! * A new CLI behaviour, a crash or a durability case: the real binary through
//!   `tests/support/child.rs` (`ChildServer`), in `tests/cli/`, `tests/durability.rs`,
//!   `tests/verify_and_backup.rs` or `tests/restore.rs`.
//! * The writer, the ledger or a store query: a `#[cfg(test)]` module beside the code
//!   (`store/sqlite/commit/writer/tests.rs`, `store/sqlite/ledger/tests.rs`) over a temporary or
//!   in-memory database.
//! * Pure rules (money, numbers, passwords): unit and `proptest` tests in `src/domain/`.
//!
//! `tests/support/mod.rs` says more.

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
