-- V5: statements cannot be deleted either.
--
-- SECURITY.md promises that ledger rows, transfers, statements and the audit log are never
-- changed or deleted, and V1/V2 gave every one of those tables an UPDATE and a DELETE trigger
-- except statements, which only refused UPDATE: a `DELETE FROM statements` went through and
-- nothing noticed. A statement is a record the customer was given (and may have filed); it is
-- history like the rest.
--
-- A deliberate editor can still drop the trigger first, so `bankd verify` also checks that
-- statement ids have no gaps (ids are assigned max + 1 and never reused while rows exist) and
-- recomputes every stored figure from the ledger (db/verify/statements.rs).
CREATE TRIGGER statements_no_delete BEFORE DELETE ON statements
BEGIN
    SELECT RAISE(ABORT, 'statements are immutable');
END;
