#!/usr/bin/env bash
# The bankd benchmark, one command from a fresh clone:
#
#   bench/run.sh                 # build, then every scenario at 64 connections (~3 minutes)
#   bench/run.sh --crash         # ... plus the SIGKILL-under-load check
#   bench/run.sh --crash-only    # only the crash check
#   bench/run.sh --rev HEAD      # build and measure a committed revision (see bench/build.sh)
#   bench/run.sh --duration 5 --scenarios healthz transfers   # a quick look
#   bench/run.sh --env BANKD_LOG_LEVEL=warn                    # a server setting to compare
#   bench/run.sh --quiet 0.3     # on a shared machine: wait until others use < 0.3 cores
#
# Needs: cargo, wrk, python3 (standard library only). Starts `bankd serve` on a free port of
# 127.0.0.1 with a fresh database in a temporary directory (removed afterwards unless --keep),
# with the auth throttles off so that setting up users is not throttled. Results:
# bench/results/<timestamp>/results.{md,json} and the Markdown on stdout. Exit status 1 if money
# was not conserved or the crash check failed. `python3 bench/bench.py run --help` lists every
# option. See BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in cargo wrk python3; do
  command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool is required" >&2; exit 2; }
done
source bench/build.sh

mode=run
rev=()
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --crash-only) mode=crash; shift ;;
    --rev) rev=(--rev "$2"); shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

bench_build ${rev[@]+"${rev[@]}"}
exec python3 bench/bench.py "$mode" --binary "$BANKD_BIN" ${args[@]+"${args[@]}"}
