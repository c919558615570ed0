-- V5: revocation that is final, and passwords that can change.
--
-- `auth_generation` counts the times a user's sessions were revoked wholesale (a password
-- change, a staff reset, `bankd changepassword`). Every JWT carries the generation it was issued
-- under and stops working once the user's generation moves on, which is how a stateless JWT is
-- revoked without a blacklist. The value is cached with the user (src/auth.rs), so checking it
-- costs no database read on the hot path.
ALTER TABLE users ADD COLUMN auth_generation INTEGER NOT NULL DEFAULT 0
    CHECK (auth_generation >= 0);

-- One row per wholesale revocation, in commit order. A running server reads the rows after the
-- last one it saw once a second and drops the user's cached credentials, so a revocation made
-- by another process (`bankd changepassword`) reaches its in-memory cache; on a multi-node
-- backend the same rows would arrive by LISTEN/NOTIFY. Rows older than a day are pruned: a
-- server that was down that long starts with an empty cache anyway.
CREATE TABLE auth_revocations (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    -- Unix seconds.
    revoked_at      INTEGER NOT NULL
) STRICT;

-- One-time password reset tokens a staff member hands to a customer out of band (see README,
-- "Decisions where the contract is silent"). Like API tokens, only the SHA-256 is stored; a user
-- has at most one live reset token, so a new reset replaces the old one.
CREATE TABLE password_resets (
    user_id         INTEGER PRIMARY KEY REFERENCES users (id),
    token_sha256    BLOB    NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    -- Unix seconds.
    expires_at      INTEGER NOT NULL
) STRICT;
