//! The SQLite commit pipeline: the single writer thread (`writer`), the syncer threads that
//! fsync each commit before anyone is answered (`durability`), and the checkpointer that copies
//! the WAL into the database file off the writer's path (`checkpoint`).

pub(super) mod checkpoint;
pub(super) mod durability;
pub(super) mod writer;
