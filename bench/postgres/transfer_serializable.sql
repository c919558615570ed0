-- The same transfer under SERIALIZABLE without explicit locks: PostgreSQL detects the
-- conflicts and aborts one side (SQLSTATE 40001), which pgbench retries (--max-tries), as the
-- store would. Two transfers touching one account conflict on its row (first updater wins).
\set source random(1, :accounts)
\set offset random(1, :accounts - 1)
\set destination ((:source + :offset - 1) % :accounts) + 1
\set amount random(1, 500)
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT id, balance_cents, status FROM accounts WHERE id IN (:source, :destination);
UPDATE accounts SET balance_cents = balance_cents - :amount, transaction_count = transaction_count + 1, updated_at = '2026-02-01T00:00:00.000000Z' WHERE id = :source;
UPDATE accounts SET balance_cents = balance_cents + :amount, transaction_count = transaction_count + 1, updated_at = '2026-02-01T00:00:00.000000Z' WHERE id = :destination;
INSERT INTO transfers (source_account_id, destination_account_id, amount_cents, created_at) VALUES (:source, :destination, :amount, '2026-02-01T00:00:00.000000Z') RETURNING id AS transfer_id \gset
INSERT INTO transactions (account_id, customer_id, transaction_type, amount_cents, balance_after_cents, counterparty_account_number, transfer_id, created_at) VALUES (:source, 1, 'transfer_out', :amount, 1, 'ACC-000000000', :transfer_id, '2026-02-01T00:00:00.000000Z'), (:destination, 1, 'transfer_in', :amount, 1, 'ACC-000000000', :transfer_id, '2026-02-01T00:00:00.000000Z');
INSERT INTO audit_pending (created_at, actor_user_id, client_ip, request_id, action, object_type, object_id, outcome, details) VALUES ('2026-02-01T00:00:00.000000Z', 1, '127.0.0.1', 'r', 'transfer', 'account', :source, 'success', '{"transfer_id":1}');
INSERT INTO idempotency_keys (user_id, idempotency_key, fingerprint, response_status, response_body, created_at, expires_at) VALUES (1, md5(random()::text), decode(repeat('00', 32), 'hex'), 201, '{}', '2026-02-01T00:00:00.000000Z', 0);
COMMIT;
