-- V2: the audit log, idempotency keys, cards, statements and server settings.

-- Server-wide secrets and settings generated on first start (the JWT signing secret and the
-- card hashing key when the configuration does not provide them).
CREATE TABLE settings (
    name    TEXT PRIMARY KEY,
    value   BLOB NOT NULL
) STRICT, WITHOUT ROWID;

-- Append-only, hash-chained audit log. Each row stores
--   hash = sha256(prev_hash || canonical row)
-- where the canonical row is the JSON array of every other column in order (see db/audit.rs),
-- so editing, deleting or reordering any row breaks the chain from there on. The first row's
-- prev_hash is 32 zero bytes. No secret (password, token, card number, CVV) is ever written here.
CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    created_at      TEXT    NOT NULL,
    -- The authenticated user, if any; failed logins name the attempted username in details.
    actor_user_id   INTEGER,
    client_ip       TEXT    NOT NULL,
    request_id      TEXT    NOT NULL,
    -- What happened: deposit, withdrawal, transfer, register, login, login_failed,
    -- token_issued, token_revoked, permission_denied, account_frozen, account_unfrozen, ...
    action          TEXT    NOT NULL,
    object_type     TEXT,
    object_id       INTEGER,
    outcome         TEXT    NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    details         TEXT    NOT NULL CHECK (json_valid(details)),
    prev_hash       BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash            BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;

-- Staff filters: by actor, by object, by action; each newest first.
CREATE INDEX audit_log_actor ON audit_log (actor_user_id, id);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id, id);
CREATE INDEX audit_log_action ON audit_log (action, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- Idempotency keys for money movement, scoped per user and kept 24 hours. Written in the same
-- transaction as the movement they guard, so a crash cannot separate the two.
CREATE TABLE idempotency_keys (
    user_id         INTEGER NOT NULL REFERENCES users (id),
    idempotency_key TEXT    NOT NULL,
    -- sha256(method, path, canonical body): a reuse with another request is refused.
    fingerprint     BLOB    NOT NULL CHECK (length(fingerprint) = 32),
    response_status INTEGER NOT NULL,
    response_body   TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    -- Unix seconds; expired keys are ignored and pruned in the background.
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
) STRICT, WITHOUT ROWID;

CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- Payment cards. The full number is never stored: only a keyed hash (to keep numbers unique)
-- and the last four digits (to show "**** **** **** 1234"). The CVV is stored only as a keyed
-- hash.
CREATE TABLE cards (
    id                  INTEGER PRIMARY KEY,
    account_id          INTEGER NOT NULL REFERENCES accounts (id),
    customer_id         INTEGER NOT NULL REFERENCES customers (id),
    card_type           TEXT    NOT NULL CHECK (card_type IN ('debit', 'credit')),
    number_hmac         BLOB    NOT NULL UNIQUE CHECK (length(number_hmac) = 32),
    last4               TEXT    NOT NULL CHECK (last4 GLOB '[0-9][0-9][0-9][0-9]'),
    cvv_hmac            BLOB    NOT NULL CHECK (length(cvv_hmac) = 32),
    expiry_month        INTEGER NOT NULL CHECK (expiry_month BETWEEN 1 AND 12),
    expiry_year         INTEGER NOT NULL CHECK (expiry_year BETWEEN 2000 AND 9999),
    status              TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'frozen', 'cancelled')),
    -- Only credit cards have a limit, and it is positive.
    credit_limit_cents  INTEGER CHECK (credit_limit_cents IS NULL OR credit_limit_cents > 0),
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    CHECK ((card_type = 'credit') = (credit_limit_cents IS NOT NULL))
) STRICT;

CREATE INDEX cards_customer ON cards (customer_id, id);
CREATE INDEX cards_account ON cards (account_id, status);

-- A cancelled card stays cancelled.
CREATE TRIGGER cards_cancelled_is_final BEFORE UPDATE OF status ON cards
WHEN OLD.status = 'cancelled' AND NEW.status <> 'cancelled'
BEGIN
    SELECT RAISE(ABORT, 'a cancelled card cannot be reactivated');
END;

-- Stored statements. The transactions are not copied: the ledger is immutable, so the rows
-- with created_at in the range and id <= last_transaction_id are exactly those of the
-- statement, now and forever.
CREATE TABLE statements (
    id                      INTEGER PRIMARY KEY,
    account_id              INTEGER NOT NULL REFERENCES accounts (id),
    customer_id             INTEGER NOT NULL REFERENCES customers (id),
    start_date              TEXT    NOT NULL,
    end_date                TEXT    NOT NULL,
    opening_balance_cents   INTEGER NOT NULL CHECK (opening_balance_cents >= 0),
    closing_balance_cents   INTEGER NOT NULL CHECK (closing_balance_cents >= 0),
    total_deposits_cents    INTEGER NOT NULL CHECK (total_deposits_cents >= 0),
    total_withdrawals_cents INTEGER NOT NULL CHECK (total_withdrawals_cents >= 0),
    transaction_count       INTEGER NOT NULL CHECK (transaction_count >= 0),
    last_transaction_id     INTEGER NOT NULL,
    generated_at            TEXT    NOT NULL,
    CHECK (start_date <= end_date),
    CHECK (opening_balance_cents + total_deposits_cents - total_withdrawals_cents = closing_balance_cents)
) STRICT;

CREATE INDEX statements_customer ON statements (customer_id, id);

CREATE TRIGGER statements_no_update BEFORE UPDATE ON statements
BEGIN
    SELECT RAISE(ABORT, 'statements are immutable');
END;
