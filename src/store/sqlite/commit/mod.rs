//! The SQLite commit pipeline: the single writer thread (`writer`), the syncer threads that
//! fsync each commit before anyone is answered (`durability`), and the checkpointer that copies
//! the WAL into the database file off the writer's path (`checkpoint`).
//!
//! # `synchronous`: the decision, made here
//!
//! An acknowledged write must survive a crash or a power loss. In WAL mode that means the WAL
//! frames of its commit are fsynced before its caller is answered. SQLite offers two ways, and
//! bankd uses each where it is right; the pragma is set only by the two functions below.
//!
//! * **The writer, with syncer threads: `NORMAL`** ([`start_syncer`]). `COMMIT` does not fsync;
//!   the syncer threads `fdatasync` the WAL and only then answer the batch's callers, while the
//!   writer runs the next batch (`durability.rs` has the argument and the numbers: the writer
//!   sat idle in the fsync ~45% of its time under `FULL`). SQLite still fsyncs the WAL before
//!   every checkpoint copies it, so `NORMAL` never lets a checkpoint outrun the disk.
//! * **The writer without a syncer (its WAL file could not be opened, or no thread started):
//!   `FULL`**. `COMMIT` fsyncs the WAL itself and the writer answers right after it.
//! * **Every other connection: `FULL`** ([`synchronous_full`], applied by `open_connection` to
//!   every connection bankd opens, the writer's first). The readers are `query_only` and never
//!   commit; the checkpointer's own connection only checkpoints, which fsyncs the WAL and the
//!   database file under either setting; the short-lived connections that do commit without a
//!   syncer (the generated keys at start-up, `settings.rs`; `bankd migrate`) need `FULL` for
//!   their commits to be durable.
//!
//! `NORMAL` without a syncer would acknowledge commits that a power loss can take back, and
//! `FULL` with a syncer would fsync twice; neither combination exists.

pub(super) mod checkpoint;
pub(super) mod durability;
pub(super) mod writer;

use rusqlite::Connection;

use durability::{Poison, Syncer};

/// `synchronous=FULL`: every commit fsyncs the WAL before it returns. The setting of every
/// connection but the writer with a syncer (see the module doc).
pub(super) fn synchronous_full(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "synchronous", "FULL")
}

/// Starts the syncer threads on the writer connection's WAL and, when they run, switches the
/// writer to `synchronous=NORMAL`: its commits are then made durable by a syncer before anyone
/// is answered. `None` (no WAL path, or the WAL could not be opened): the writer stays `FULL`.
pub(super) fn start_syncer(
    writer_conn: &Connection,
    poison: &Poison,
) -> rusqlite::Result<Option<Syncer>> {
    let syncer = writer_conn
        .path()
        .and_then(|database| Syncer::start(database, poison));
    if syncer.is_some() {
        writer_conn.pragma_update(None, "synchronous", "NORMAL")?;
    }
    Ok(syncer)
}
