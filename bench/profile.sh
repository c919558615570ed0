#!/usr/bin/env bash
# A CPU profile of the server under one load scenario (default: random transfers):
#
#   bench/profile.sh                        # transfers, 10 s at 499 Hz
#   bench/profile.sh --scenario reads --dwarf
#   bench/profile.sh --rev HEAD --dwarf     # a committed revision
#
# Builds a release binary WITH symbols (same code and optimisation as the shipped binary; only
# `strip` is off and line tables are on, via CARGO_PROFILE_RELEASE_*) into target/bench-profile,
# then runs `perf record -p <pid>` while wrk drives the scenario. This VM exposes no hardware
# counters, so perf samples the cpu-clock software event. Writes perf-<scenario>-*.txt (by DSO,
# by thread, self time, the writer thread alone, inclusive time) and a summary that attributes
# samples to call sites and mechanisms (bench/perf_categories.py) into bench/results/<timestamp>/.
# --dwarf gives exact call graphs (Rust release code has no frame pointers); without it the
# self-time reports are still right but the call-site attribution is not.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "bench/profile.sh: perf is required (apt-get install linux-perf)" >&2; exit 2; }
source bench/build.sh
rev=()
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rev) rev=(--rev "$2"); shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
bench_build --symbols ${rev[@]+"${rev[@]}"}
exec python3 bench/bench.py profile --binary "$BANKD_BIN" ${args[@]+"${args[@]}"}
