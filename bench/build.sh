# Sourced by run.sh, scale.sh and profile.sh: builds bankd (and, on request, the ledger
# generator) and sets BANKD_BIN / BANKD_GENERATOR.
#
#   bench_build [--rev REV] [--generator] [--symbols]
#
# Without --rev: the working tree, with `cargo build --release` (target/). With --rev: `git
# archive REV` exported into target/bench-src/<commit>/ and built there (target dir
# target/bench-rev), so a committed revision is measured exactly, whatever is uncommitted in
# the tree, and two revisions can be compared with the same harness. --symbols keeps symbols
# and line tables (for perf) in target/bench-profile; the optimisation is unchanged.
# BANKD_BENCH_NO_BUILD=1 skips building and uses what is there.

bench_build() {
  local rev="" generator=0 symbols=0
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --rev) rev=$2; shift 2 ;;
      --generator) generator=1; shift ;;
      --symbols) symbols=1; shift ;;
      *) echo "bench_build: unknown argument $1" >&2; return 2 ;;
    esac
  done
  local root src target built
  root=$(pwd)
  built="working tree at $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
  if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    built="$built + uncommitted changes"
  fi
  src=$root
  target=$root/target
  if [[ -n $rev ]]; then
    local commit
    commit=$(git rev-parse --verify "$rev^{commit}") || return 2
    src=$root/target/bench-src/${commit:0:12}
    if [[ ! -f $src/Cargo.toml ]]; then
      mkdir -p "$src"
      git archive "$commit" | tar -x -C "$src"
    fi
    if [[ $generator == 1 && ! -f $src/examples/generate_ledger.rs ]]; then
      # The generator uses only the crate's public API; older revisions get today's copy.
      mkdir -p "$src/examples"
      cp "$root/examples/generate_ledger.rs" "$src/examples/"
    fi
    target=$root/target/bench-rev
    built="revision ${commit:0:12}"
    echo "bench: revision ${commit:0:12} in $src" >&2
  fi
  local env_args=()
  if [[ $symbols == 1 ]]; then
    target=$root/target/bench-profile${rev:+-rev}
    env_args=(CARGO_PROFILE_RELEASE_STRIP=none CARGO_PROFILE_RELEASE_DEBUG=line-tables-only)
  fi
  local what=(--bin bankd)
  [[ $generator == 1 ]] && what+=(--example generate_ledger)
  if [[ -z "${BANKD_BENCH_NO_BUILD:-}" ]]; then
    local attempt
    for attempt in 1 2 3 4 5; do
      # Retries: work in progress elsewhere in the tree may briefly not compile.
      if (cd "$src" && env ${env_args[@]+"${env_args[@]}"} cargo build --release --target-dir "$target" "${what[@]}" >&2); then
        mkdir -p "$target"
        echo "$built" > "$target/bench-built-from"
        break
      fi
      [[ $attempt == 5 ]] && { echo "bench: cargo build failed" >&2; return 2; }
      echo "bench: build failed; retrying in 60 s" >&2
      sleep 60
    done
  fi
  local out=$target/x86_64-unknown-linux-gnu/release
  [[ -x $out/bankd ]] || out=$target/release
  # What the binary was built from (with BANKD_BENCH_NO_BUILD, whatever was built last).
  export BANKD_BENCH_BUILT_FROM
  BANKD_BENCH_BUILT_FROM=$(cat "$target/bench-built-from" 2>/dev/null || echo "unknown (built outside bench/)")
  BANKD_BIN=$out/bankd
  BANKD_GENERATOR=$out/examples/generate_ledger
  [[ -x $BANKD_BIN ]] || { echo "bench: no bankd binary in $out" >&2; return 2; }
  if [[ $generator == 1 && ! -x $BANKD_GENERATOR ]]; then
    echo "bench: no generate_ledger in $out" >&2
    return 2
  fi
}
