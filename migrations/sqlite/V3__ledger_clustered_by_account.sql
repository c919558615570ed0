-- V3: the ledger, clustered by account.
--
-- V1 kept the ledger in id order with two secondary indexes, (customer_id, created_at) and
-- (account_id, created_at). Every posting then dirtied three b-tree pages: the table's last page
-- plus one page in each index, the last two at random places. With group commit the number of
-- distinct pages a commit dirties is what it costs (each is a 4 KiB WAL frame, fsynced, then
-- copied again by the checkpoint), and these index pages were most of them.
--
-- Now the table itself is keyed (account_id, created_at, id), WITHOUT ROWID: a posting dirties
-- the one page where its account's history ends, one account's history newest first is a range
-- of the table (lists, statements and deep pages read consecutive rows, not one random row per
-- index entry), and a customer's list is the merge of their accounts' ranges (see
-- db/transactions.rs). A small index on id serves look-ups by id; ids still rise with posting
-- order, so its inserts always land on its last page.
--
-- Without a rowid the id is no longer assigned by SQLite: the writer inserts
-- max(id) + 1 (db/ledger.rs), one probe of transactions_id.

CREATE TABLE transactions_clustered (
    id                          INTEGER NOT NULL CHECK (id > 0),
    account_id                  INTEGER NOT NULL REFERENCES accounts (id),
    -- The owning customer, copied from the account (ownership never changes).
    customer_id                 INTEGER NOT NULL REFERENCES customers (id),
    transaction_type            TEXT    NOT NULL CHECK (transaction_type IN ('deposit', 'withdrawal', 'transfer_out', 'transfer_in')),
    -- Always positive; the type says which way the money went.
    amount_cents                INTEGER NOT NULL CHECK (amount_cents > 0),
    -- The account's balance right after this posting: statements and charts read it instead
    -- of summing history.
    balance_after_cents         INTEGER NOT NULL CHECK (balance_after_cents >= 0),
    counterparty_account_number TEXT,
    transfer_id                 INTEGER REFERENCES transfers (id),
    description                 TEXT    NOT NULL DEFAULT '',
    created_at                  TEXT    NOT NULL,
    -- Transfer legs, and only they, carry a transfer id and a counterparty.
    CHECK ((transaction_type IN ('transfer_out', 'transfer_in')) = (transfer_id IS NOT NULL)),
    CHECK ((transfer_id IS NULL) = (counterparty_account_number IS NULL)),
    PRIMARY KEY (account_id, created_at, id)
) STRICT, WITHOUT ROWID;

-- In key order, so the copy appends instead of inserting at random (transactions_account
-- already delivers the rows in this order).
INSERT INTO transactions_clustered (id, account_id, customer_id, transaction_type, amount_cents,
        balance_after_cents, counterparty_account_number, transfer_id, description, created_at)
    SELECT id, account_id, customer_id, transaction_type, amount_cents,
        balance_after_cents, counterparty_account_number, transfer_id, description, created_at
    FROM transactions ORDER BY account_id, created_at, id;

-- Drops the old table's indexes and immutability triggers with it. Nothing references
-- transactions by foreign key, so no implicit DELETE runs.
DROP TABLE transactions;

ALTER TABLE transactions_clustered RENAME TO transactions;

CREATE UNIQUE INDEX transactions_id ON transactions (id);

-- History is never edited: corrections are new rows.
CREATE TRIGGER transactions_no_update BEFORE UPDATE ON transactions
BEGIN
    SELECT RAISE(ABORT, 'transactions are immutable');
END;

CREATE TRIGGER transactions_no_delete BEFORE DELETE ON transactions
BEGIN
    SELECT RAISE(ABORT, 'transactions are immutable');
END;
