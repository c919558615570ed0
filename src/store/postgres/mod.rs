//! The PostgreSQL backend (issue 14): for a bank that has outgrown one machine. Several `bankd
//! serve` processes on one database form one bank; the database, not a writer thread, is where
//! concurrent writers meet.
//!
//! Built so far, ahead of the `Store::Postgres` variant (which waits for the storage seam of
//! issue 13 to settle):
//!
//! * `connect.rs` — `database.url` (libpq URL syntax) to a connection pool with TLS by rustls;
//! * `migrate.rs` — the embedded `migrations/postgres/`, applied by refinery under an advisory
//!   lock so that nodes starting together do not race;
//! * `audit.rs` — the sealer that moves `audit_pending` rows into the hash-chained `audit_log`;
//! * `verify.rs` — `bankd verify`'s checks on PostgreSQL;
//! * `ledger.rs` — money movement, one transaction per movement with row locks in account-id
//!   order, and `idempotency.rs` — keys that hold across nodes (an advisory lock per key).
//!
//! The design of what follows (how a movement locks, the audit chain across nodes, idempotency
//! keys, revocation by LISTEN/NOTIFY) is in `docs/POSTGRESQL.md`.

pub mod audit;
pub mod connect;
pub mod idempotency;
pub mod ledger;
pub mod migrate;
pub mod verify;
