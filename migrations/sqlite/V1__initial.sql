-- V1: users, tokens, customers, accounts, transfers and the immutable transaction ledger.
--
-- Conventions used throughout:
-- * Money is INTEGER cents. Never REAL: a float cannot hold 0.07 exactly.
-- * Times are TEXT in RFC 3339 UTC with microseconds and a trailing `Z`
--   ("2026-11-21T09:30:00.123456Z"), which sorts lexicographically in time order.
-- * Every table is STRICT so that a wrong type is an error, not a silent coercion.
-- * Every list the API serves has an index whose leading columns match the list's filter and
--   whose last column is the sort key, so a page costs the same at 10 rows or 10 million.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    -- As typed at registration; uniqueness is case-insensitive (see the index below).
    username        TEXT    NOT NULL CHECK (length(username) BETWEEN 1 AND 150),
    email           TEXT    NOT NULL,
    -- argon2id PHC string ("$argon2id$v=19$m=19456,t=2,p=1$..."); never returned or logged.
    password_hash   TEXT    NOT NULL,
    is_staff        INTEGER NOT NULL DEFAULT 0 CHECK (is_staff IN (0, 1)),
    is_superuser    INTEGER NOT NULL DEFAULT 0 CHECK (is_superuser IN (0, 1)),
    is_active       INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    date_joined     TEXT    NOT NULL
) STRICT;

-- Django compares usernames case-insensitively for uniqueness; `lower()` on ASCII is enough
-- because usernames are restricted to ASCII letters, digits and @.+-_ .
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));

-- Opaque API tokens. Only the SHA-256 of the token is stored, so a copy of the database does
-- not let anyone log in.
CREATE TABLE auth_tokens (
    token_sha256    BLOB    PRIMARY KEY CHECK (length(token_sha256) = 32),
    user_id         INTEGER NOT NULL REFERENCES users (id),
    created_at      TEXT    NOT NULL,
    -- Unix seconds; compared with the clock on every authenticated request.
    expires_at      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX auth_tokens_user ON auth_tokens (user_id);
CREATE INDEX auth_tokens_expiry ON auth_tokens (expires_at);

CREATE TABLE customers (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    full_name       TEXT    NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    email           TEXT    NOT NULL,
    phone_number    TEXT,
    date_of_birth   TEXT,
    gender          TEXT    CHECK (gender IN ('M', 'F', 'O')),
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    -- A deleted profile is kept (with its closed accounts and their history, which a bank must
    -- retain) but no longer visible to its user, who may create a new one.
    deleted_at      TEXT
) STRICT;

-- At most one live profile per user.
CREATE UNIQUE INDEX customers_live_user ON customers (user_id) WHERE deleted_at IS NULL;

CREATE TABLE accounts (
    id                  INTEGER PRIMARY KEY,
    -- "ACC-" + 9 CSPRNG digits. UNIQUE over all accounts ever made, closed ones included, so a
    -- number is never reused.
    account_number      TEXT    NOT NULL UNIQUE CHECK (account_number GLOB 'ACC-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    customer_id         INTEGER NOT NULL REFERENCES customers (id),
    account_type        TEXT    NOT NULL DEFAULT 'checking' CHECK (account_type IN ('checking', 'savings', 'business')),
    nickname            TEXT    NOT NULL DEFAULT '' CHECK (length(nickname) <= 100),
    -- The balance may never be negative and never exceed 9,999,999,999,999,999.99.
    balance_cents       INTEGER NOT NULL DEFAULT 0 CHECK (balance_cents >= 0 AND balance_cents <= 999999999999999999),
    status              TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'frozen', 'closed')),
    -- Number of ledger rows for this account: keeps the unfiltered transaction count O(1).
    transaction_count   INTEGER NOT NULL DEFAULT 0 CHECK (transaction_count >= 0),
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL
) STRICT;

-- The customer's account list, filtered by status, in id order.
CREATE INDEX accounts_customer_status ON accounts (customer_id, status, id);

-- A transfer joins its two ledger legs.
CREATE TABLE transfers (
    id                      INTEGER PRIMARY KEY,
    source_account_id       INTEGER NOT NULL REFERENCES accounts (id),
    destination_account_id  INTEGER NOT NULL REFERENCES accounts (id),
    amount_cents            INTEGER NOT NULL CHECK (amount_cents > 0),
    created_at              TEXT    NOT NULL,
    CHECK (source_account_id <> destination_account_id)
) STRICT;

-- The ledger. One row per posting; a transfer posts two rows sharing transfer_id.
CREATE TABLE transactions (
    id                          INTEGER PRIMARY KEY,
    account_id                  INTEGER NOT NULL REFERENCES accounts (id),
    -- The owning customer, copied from the account (ownership never changes), so that "all my
    -- transactions, newest first" is one index range instead of a merge over accounts.
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
    CHECK ((transfer_id IS NULL) = (counterparty_account_number IS NULL))
) STRICT;

-- Lists are ordered newest first by (created_at, id). SQLite appends the rowid to every index
-- entry, so these two indexes serve "WHERE customer_id = ? [AND created_at BETWEEN ..] ORDER BY
-- created_at DESC, id DESC LIMIT .." as one range scan with no sort, and the same per account
-- (statements and the account filter).
CREATE INDEX transactions_customer ON transactions (customer_id, created_at);
CREATE INDEX transactions_account ON transactions (account_id, created_at);

-- History is never edited: corrections are new rows.
CREATE TRIGGER transactions_no_update BEFORE UPDATE ON transactions
BEGIN
    SELECT RAISE(ABORT, 'transactions are immutable');
END;

CREATE TRIGGER transactions_no_delete BEFORE DELETE ON transactions
BEGIN
    SELECT RAISE(ABORT, 'transactions are immutable');
END;

CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers
BEGIN
    SELECT RAISE(ABORT, 'transfers are immutable');
END;

CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers
BEGIN
    SELECT RAISE(ABORT, 'transfers are immutable');
END;
