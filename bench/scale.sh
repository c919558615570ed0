#!/usr/bin/env bash
# The 10-million-transaction scale run:
#
#   bench/scale.sh                          # generate 10M ledger rows, then measure (~5 minutes)
#   bench/scale.sh --transactions 1000000   # smaller
#   bench/scale.sh --dir /tmp/scale --keep  # keep the database; a second run with the same
#                                           # --dir reuses it instead of generating again
#   bench/scale.sh --rev HEAD               # a committed revision (see bench/build.sh)
#   bench/scale.sh --skip-verify --quiet 0.3
#
# 1. builds bankd and examples/generate_ledger.rs (release);
# 2. writes the database directly with the generator (bankd's own migrations, then prepared
#    inserts in big transactions; every balance, balance_after chain, transaction_count and
#    transfer pair consistent; created_at increasing over 12 months);
# 3. times `bankd verify` on it (when the binary has that command);
# 4. times start-up to ready, then measures with wrk a transaction-list page (an account with a
#    long history, page 1 and a deep page; the heavy user's all-accounts list; a typical
#    account) and one-month statement generation for accounts with large and small histories.
# Results: bench/results/<timestamp>/results.{md,json}. Needs cargo, wrk, python3; ~3 GiB of
# free disk in the --dir (default: a new directory under $TMPDIR or /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/build.sh
transactions=10000000
users=10000
rev=()
dir=""
keep=0
pass=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --transactions) transactions=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --dir) dir=$2; keep=1; shift 2 ;;
    --keep) keep=1; shift ;;
    --rev) rev=(--rev "$2"); shift 2 ;;
    *) pass+=("$1"); shift ;;
  esac
done

bench_build --generator ${rev[@]+"${rev[@]}"}
binary=$BANKD_BIN
generator=$BANKD_GENERATOR

if [[ -z $dir ]]; then
  dir=$(mktemp -d "${TMPDIR:-/tmp}/bankd-scale-XXXXXX")
fi
mkdir -p "$dir"
db=$dir/scale.db
summary=$dir/summary.json
cleanup() { [[ $keep == 1 ]] || rm -rf "$dir"; }
trap cleanup EXIT

if [[ -f $db && -f $summary ]] && python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["rows"] != int(sys.argv[2]))' "$summary" "$transactions"; then
  echo "bench/scale.sh: reusing $db" >&2
else
  rm -f "$db" "$db-wal" "$db-shm" "$summary"
  echo "bench/scale.sh: generating $transactions ledger rows into $db" >&2
  start=$(date +%s.%N)
  "$generator" --database "$db" --transactions "$transactions" --users "$users" > "$summary"
  end=$(date +%s.%N)
  python3 - "$summary" "$start" "$end" <<'PY'
import json, sys
path, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
summary = json.load(open(path))
summary["wall_seconds"] = round(end - start, 1)
json.dump(summary, open(path, "w"))
print(f"bench/scale.sh: generated {summary['rows']:,} rows in {end - start:.1f} s", file=sys.stderr)
PY
fi

python3 bench/bench.py scale --binary "$binary" --summary "$summary" ${pass[@]+"${pass[@]}"}
