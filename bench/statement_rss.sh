#!/bin/bash
# Peak RSS of `bankd serve` while 16 clients fetch the same one-year statement of an account
# with 32,000 movements in parallel (issue #11 item 5: this took the old server to 596 MiB).
#
#   bench/statement_rss.sh BANKD_BINARY                 # 16 parallel CSV downloads
#   QUERY=page_size=100 bench/statement_rss.sh BINARY   # 16 parallel JSON details instead
#
# Any BANKD_* variable set in the environment reaches the server (e.g.
# BANKD_STATEMENTS_CONCURRENT_MAX=16). Needs curl and python3 (its sqlite3 module writes the
# movements straight into the ledger, consistently chained, as the tests do). Prints the
# answers' status codes, the size of one answer and the server's VmHWM (peak RSS).
set -eu
BIN=$1; DIR=$(mktemp -d); PORT=${PORT:-18765}; URL=http://127.0.0.1:$PORT
BANKD_THROTTLE_AUTH_PER_IP_PER_MINUTE=0 BANKD_LOG_LEVEL=warn \
  $BIN serve --listen 127.0.0.1:$PORT --database $DIR/bank.db 2>$DIR/log & PID=$!
trap 'kill $PID 2>/dev/null || true; sleep 0.5; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do curl -sf $URL/healthz >/dev/null && break; sleep 0.2; done
curl -sf -H 'Content-Type: application/json' -d '{"username":"rss","password":"a-strong-password123","full_name":"R","email":"r@example.com"}' $URL/api/register/ >/dev/null
TOKEN=$(curl -sf -H 'Content-Type: application/json' -d '{"username":"rss","password":"a-strong-password123"}' $URL/api/get-token/ | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
ACC=$(curl -sf -H "Authorization: Token $TOKEN" -H 'Content-Type: application/json' -d '{}' $URL/api/accounts/ | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
python3 - "$DIR/bank.db" "$ACC" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); acc = int(sys.argv[2])
cust = db.execute("SELECT customer_id FROM accounts WHERE id=?", (acc,)).fetchone()[0]
base = db.execute("SELECT coalesce(max(id),0) FROM transactions").fetchone()[0]
rows = []
for i in range(1, 32001):
    secs = i * 980  # spread over ~363 days of 2025
    rows.append((base+i, acc, cust, 'deposit', 100, 100*i, 'salary and other income %d' % i))
db.executemany("INSERT INTO transactions (id, account_id, customer_id, transaction_type, amount_cents, balance_after_cents, description, created_at) VALUES (?,?,?,?,?,?,?, strftime('%Y-%m-%dT%H:%M:%S','2025-01-01','+' || ? || ' seconds') || '.000000Z')",
               [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], i*980) for i, r in enumerate(rows, 1)])
db.execute("UPDATE accounts SET balance_cents=?, transaction_count=? WHERE id=?", (3200000, 32000, acc))
db.commit()
PY
SID=$(curl -sf -H "Authorization: Token $TOKEN" -H 'Content-Type: application/json' -d '{"start_date":"2025-01-01","end_date":"2025-12-31"}' $URL/api/accounts/$ACC/statements/ | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["id"], d["transaction_count"], file=sys.stderr); print(d["id"])')
grep VmRSS /proc/$PID/status | sed 's/^/before: /'
for n in $(seq 16); do curl -s -w "%{http_code}\n" -H "Authorization: Token $TOKEN" "$URL/api/statements/$SID/?${QUERY:-format=csv}" -o $DIR/csv$n >> $DIR/codes & done
JSON_BYTES=$(curl -sf -H "Authorization: Token $TOKEN" "$URL/api/statements/$SID/?page_size=100" | wc -c)
wait $(jobs -p | grep -v "^$PID$") 2>/dev/null || true
sort $DIR/codes | uniq -c | sed "s/^/status: /"; ls -l $DIR/csv1 | awk "{print \"csv bytes each: \" \$5}"
wc -l $DIR/csv*  | tail -1
grep -E "VmRSS|VmHWM" /proc/$PID/status
