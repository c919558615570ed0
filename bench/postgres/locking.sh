#!/usr/bin/env bash
# How a movement should lock on PostgreSQL: row locks in account-id order (READ COMMITTED,
# SELECT ... FOR UPDATE) against SERIALIZABLE with retries, each at 32 and 64 clients, beside
# pgbench's own TPC-B on the same cluster as the physical reference. Prints one line per run;
# docs/POSTGRESQL.md records the figures.
#
#     bench/postgres/locking.sh [SECONDS] [ACCOUNTS]
#
# Starts its own throwaway cluster (tests/pg/cluster.sh) and stops it at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-20}
accounts=${2:-1000}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
dir=$(mktemp -d /tmp/bankd-pgbench.XXXXXX)
trap 'bash tests/pg/cluster.sh stop "$dir"' EXIT
url=$(bash tests/pg/cluster.sh start "$dir")
port=$(cat "$dir/port")
psql_at() { "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres "$@"; }

psql_at -d postgres -c 'CREATE DATABASE movements' -c 'CREATE DATABASE tpcb'
psql_at -d movements -f migrations/postgres/V1__initial.sql
psql_at -d movements -v accounts="$accounts" -f bench/postgres/setup.sql >/dev/null
"$bin/pgbench" -h "$dir" -p "$port" -U postgres -i -q -s 64 tpcb >/dev/null 2>&1

run() { # label database clients pgbench-arguments...
    local label=$1 database=$2 clients=$3
    shift 3
    local out
    out=$("$bin/pgbench" -h "$dir" -p "$port" -U postgres -n -c "$clients" -j 2 -T "$seconds" \
        -D accounts="$accounts" "$@" "$database" 2>&1)
    local tps failed retried
    tps=$(grep -oP 'tps = \K[0-9.]+' <<<"$out" | head -n 1)
    failed=$(grep -oP 'number of failed transactions: \K[0-9]+' <<<"$out" || echo 0)
    retried=$(grep -oP 'number of transactions retried: \K[0-9]+' <<<"$out" || echo 0)
    printf '%-26s clients=%-3s tps=%-9s retried=%-7s failed=%s\n' "$label" "$clients" "$tps" "$retried" "$failed"
}

echo "PostgreSQL $("$bin/postgres" --version | grep -oP "PostgreSQL\\) \\K[0-9.]+"), ${seconds}s per run, $accounts accounts, fsync on"
for clients in 32 64; do
    run "pgbench TPC-B (-s 64)" tpcb "$clients"
    run "row locks, id order" movements "$clients" -f bench/postgres/transfer_row_locks.sql
    run "serializable + retries" movements "$clients" --max-tries=100 -f bench/postgres/transfer_serializable.sql
done

# Money is conserved and nothing went negative in either mode.
psql_at -d movements -At -c "SELECT 'sum of balances ' || sum(balance_cents) || ' (expected ' || $accounts * 100000000::bigint || '), negative: ' || count(*) FILTER (WHERE balance_cents < 0) FROM accounts"
