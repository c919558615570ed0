//! The test harness shared by every test binary: one way to start the application in-process
//! ([`app`]) and one way to run the real `bankd` binary as a child process ([`child`]).
//!
//! Every integration binary includes this folder with
//! `#[path = "support/mod.rs"] mod support;` (the API suite, whose root is `tests/api/main.rs`,
//! with `#[path = "../support/mod.rs"]`). A binary uses only part of it, so each include carries
//! `#[allow(dead_code)]`: without it every binary would warn about the helpers only the others
//! call, and splitting the harness per binary to avoid that is how it came to have copies.
//!
//! Variations are options of these two harnesses, never new copies: a different configuration
//! is `spawn_app_with(|config| ...)`, a database prepared before the app starts is
//! `spawn_app_on(database, ...)`, a different environment or stderr is set on the
//! `bankd_command` handed to `ChildServer::start`, and a wrapper such as `strace` is
//! `bankd_command_under`.
//!
//! # Where to add a test
//!
//! * **A new API behaviour** (a route, a refusal, a header, a limit an HTTP client can see):
//!   `tests/api/<resource>.rs`, black-box through `support::app::spawn_app()` and the typed
//!   helpers of `tests/api/helpers.rs`, named as a sentence. This suite is the one that will run
//!   against every store, so it must not depend on which database is underneath: arrange through
//!   the API, and reach for `execute_sql` / `query_sql` only for what the API cannot do.
//! * **A new CLI behaviour** (`migrate`, `createsuperuser`, configuration, signals, the banner):
//!   `tests/cli.rs` or `tests/cli/*.rs`, running the real binary from `support::child`
//!   (`bankd_command` for one-shot commands, `ChildServer` for `bankd serve`). Operator commands
//!   have their own binaries: `tests/verify_and_backup.rs` and `tests/restore.rs`.
//! * **A crash or durability case** (SIGKILL, a failing disk, recovery after restart):
//!   a `ChildServer` that is killed or wrapped (`bankd_command_under` with `strace`), in
//!   `tests/cli/serve.rs` (acknowledged work survives a SIGKILL), `tests/durability.rs` (fail-stop
//!   on `EIO`) or `tests/api/idempotency.rs` (a key survives a restart).
//! * **A unit test of the store, the writer or the ledger** (a savepoint rolled back, a failed
//!   commit, a panicking job, a posting's postconditions): beside the code in `src/`, in its
//!   `#[cfg(test)]` module over a temporary or in-memory database, not through HTTP.
//! * **Pure domain rules** (money, account numbers, passwords): unit and `proptest` tests beside
//!   the type in `src/domain/`.

pub mod app;
pub mod child;
pub mod postgres;
