-- V4: the audit log's actor and object filters, indexed in bulk instead of row by row.
--
-- Every audited request (every money movement) inserted one audit row and, through
-- audit_log_actor and audit_log_object, an entry at a random place in each of two indexes: two
-- more distinct pages dirtied per request, written to the WAL at each commit and copied again by
-- the checkpoint. With group commit those pages were a third of what a commit wrote.
--
-- Now the audit row alone is written with the request (the chain and the action index are
-- append-only). The writer copies new rows' (actor, id) and (object, id) into the two filter
-- tables below in one statement per table every 100 ms (db/audit.rs `index_new_rows`), so an
-- actor's entries from many batches share a page. `audit_index_state` says how
-- far that has got: a staff list reads the filter table up to that id and scans the few rows
-- after it, so a row is listed the moment it commits, as before.

DROP INDEX audit_log_actor;
DROP INDEX audit_log_object;

CREATE TABLE audit_by_actor (
    actor_user_id   INTEGER NOT NULL,
    audit_id        INTEGER NOT NULL REFERENCES audit_log (id),
    PRIMARY KEY (actor_user_id, audit_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit_by_object (
    object_type     TEXT    NOT NULL,
    object_id       INTEGER NOT NULL,
    audit_id        INTEGER NOT NULL REFERENCES audit_log (id),
    PRIMARY KEY (object_type, object_id, audit_id)
) STRICT, WITHOUT ROWID;

-- One row: audit rows with id <= indexed_through are in the filter tables.
CREATE TABLE audit_index_state (
    singleton           INTEGER PRIMARY KEY CHECK (singleton = 1),
    indexed_through     INTEGER NOT NULL CHECK (indexed_through >= 0)
) STRICT;

INSERT INTO audit_by_actor (actor_user_id, audit_id)
    SELECT actor_user_id, id FROM audit_log WHERE actor_user_id IS NOT NULL
    ORDER BY actor_user_id, id;

INSERT INTO audit_by_object (object_type, object_id, audit_id)
    SELECT object_type, object_id, id FROM audit_log
    WHERE object_type IS NOT NULL AND object_id IS NOT NULL
    ORDER BY object_type, object_id, id;

INSERT INTO audit_index_state (singleton, indexed_through)
    VALUES (1, (SELECT coalesce(max(id), 0) FROM audit_log));
