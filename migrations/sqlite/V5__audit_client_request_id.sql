-- V5: the client's own X-Request-Id, recorded apart from the server's.
--
-- Until now a client's X-Request-Id became the audit row's request_id, so a client could give
-- two requests one id, or plant an id that points at someone else's trace. The server now
-- always assigns request_id itself; an acceptable client id (1 to 64 printable ASCII
-- characters, http::RequestId) is kept here. NULL for rows written before this migration and
-- for requests that sent none. A row's hash covers the column only when it is set
-- (db/audit/mod.rs CanonicalRow::encode), so chains written before V5 still verify.

ALTER TABLE audit_log ADD COLUMN client_request_id TEXT
    CHECK (client_request_id IS NULL OR length(client_request_id) BETWEEN 1 AND 64);
