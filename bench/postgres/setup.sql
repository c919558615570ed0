-- Accounts for the movement-locking comparison (bench/postgres/locking.sh), on the real bankd
-- schema (migrations/postgres/ applied first): one user and customer, :accounts accounts of
-- 1,000,000.00 each, so no transfer in the run is refused for funds.
INSERT INTO users (id, username, email, password_hash, date_joined)
    VALUES (1, 'bench', 'bench@example.com', 'x', '2026-01-01T00:00:00.000000Z');
INSERT INTO customers (id, user_id, full_name, email, created_at, updated_at)
    VALUES (1, 1, 'Bench', 'bench@example.com', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
INSERT INTO accounts (id, account_number, customer_id, balance_cents, created_at, updated_at)
    SELECT n, 'ACC-' || lpad(n::text, 9, '0'), 1, 100000000, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'
    FROM generate_series(1, :accounts) AS n;
SELECT setval(pg_get_serial_sequence('accounts', 'id'), :accounts);
VACUUM ANALYZE;
