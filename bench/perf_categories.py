#!/usr/bin/env python3
"""Attributes `perf script` samples of bankd to a few categories, by the frames on each stack.

    perf script -i perf.data -F comm,tid,ip,sym | python3 bench/perf_categories.py

Prints, per thread group (the writer thread; the tokio workers and blocking threads), the share
of samples by Rust call site (which code asked) and by mechanism (what the CPU did). A sample
counts once per table, under the first rule (in order) whose pattern is on its stack.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

# (label, regex searched in every frame of the stack, generic parameters removed). The first
# rule that matches anywhere on the stack wins, so specific rules come before generic ones.
WRITER_CALL_SITES = [
    ("COMMIT: WAL append + fsync", r"vdbeCommit"),
    ("WAL auto-checkpoint after COMMIT", r"walCheckpoint|sqlite3WalCheckpoint|doWalCallbacks|sqlite3Checkpoint"),
    ("audit::record (hash-chained audit row)", r"bankd::store::sqlite::audit::record|^record$"),
    ("ledger::append (INSERT ledger row + its 2 indexes)", r"bankd::store::sqlite::ledger::append|^append$"),
    ("ledger::set_balance (UPDATE accounts)", r"set_balance"),
    ("accounts::find_* (SELECT source, destination)", r"bankd::store::sqlite::accounts::find_by|^find_by"),
    ("ledger::transfer other (INSERT transfers, checks)", r"bankd::store::sqlite::ledger::transfer"),
    ("savepoints (SAVEPOINT/ROLLBACK/RELEASE job + nested)", r"run_in_savepoint|in_savepoint"),
    ("movements::execute other (JSON body, audit details)", r"bankd::http::movements::execute"),
    ("BEGIN IMMEDIATE, channel, batch bookkeeping", r"writer_loop"),
]

WRITER_MECHANISMS = [
    ("fsync / fdatasync", r"__x64_sys_fsync|__x64_sys_fdatasync|unixSync|full_fsync|^fsync$|^fdatasync$"),
    ("WAL checkpoint (copy pages to the main file)", r"walCheckpoint|sqlite3WalCheckpoint"),
    ("savepoint sub-journal page writes", r"subjournalPage"),
    ("WAL frame writes at COMMIT", r"pagerWalFrames|walWriteOneFrame|walFrames"),
    ("other file reads/writes (pread/pwrite)", r"unixRead|unixWrite|__x64_sys_pread|__x64_sys_pwrite"),
    ("SHA-256 (audit hash)", r"sha2::|sha256"),
    ("serde_json (audit details, canonical row, response)", r"serde_json::"),
    ("b-tree search / insert / balance", r"sqlite3Btree|balance_nonroot|balance_deeper|^balance$|moveToChild|btreeMoveto|insertCell"),
    ("page cache", r"pcache1|sqlite3Pcache|getPageNormal|sqlite3PagerGet"),
    ("SQL parse / prepare", r"sqlite3RunParser|sqlite3Prepare|sqlite3LockAndPrepare|yy_reduce"),
    ("malloc / free", r"^malloc$|_int_malloc|_int_free|^free$|__libc_malloc|realloc|^cfree$|unlink_chunk"),
    ("VDBE (other SQL execution)", r"sqlite3VdbeExec|sqlite3_step"),
    ("futex / channel wait", r"futex|std::sync::mpmc|std::sync::mpsc|tokio::sync"),
]

WORKER_MECHANISMS = [
    ("tracing: per-request log line, spans", r"tracing_subscriber::|tracing_core::"),
    ("argon2 (password hashing)", r"argon2::|blake2"),
    ("SHA-256 (token hash)", r"sha2::|sha256"),
    ("serde_json", r"serde_json::"),
    ("SQLite reads (reader pool)", r"sqlite3|rusqlite::|r2d2::"),
    ("metrics (mutex-guarded HashMap per request)", r"bankd::http::metrics::"),
    ("auth cache", r"bankd::auth::"),
    ("malloc / free", r"^malloc$|_int_malloc|_int_free|^free$|__libc_malloc|realloc|^cfree$|unlink_chunk"),
    ("socket I/O (kernel)", r"^tcp_|^sock_|^inet_|__x64_sys_(sendto|recvfrom|writev|readv|read|write)$"),
    ("epoll / futex / park (waiting, waking)", r"epoll|futex|sched_yield|::park|unpark"),
]

# Layers that sit under everything (hyper calls axum calls bankd; tokio runs it all): a sample
# belongs to the innermost one on its stack, looked up only when no rule above matched.
WORKER_LAYERS = [
    ("hyper (HTTP/1 parse and encode)", r"^hyper::|httparse"),
    ("axum / tower (routing, middleware, extractors)", r"^axum::|^tower::|^tower_http::|^matchit::"),
    ("bankd handlers and middleware (other)", r"^bankd::"),
    ("tokio runtime", r"^tokio::"),
]


def strip_generics(name: str) -> str:
    """`foo<a::B, c<D>>::bar` → `foo::bar`; a leading `<T as Trait>` keeps T."""
    out, depth = [], 0
    for ch in name:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    text = "".join(out).strip()
    if not text or text.startswith("::"):
        # `<T as Trait>::method`: keep the implementing type's path for matching.
        inner = name[1:].split(" as ", 1)[0]
        text = inner + text
    return text.replace(" (inlined)", "")


def parse(stream):
    comm, frames = None, []
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
            continue
        if not line.startswith((" ", "\t")):
            comm = line.split()[0] if line.split() else "?"
            # perf prints the comm first; thread names may contain spaces only in theory.
            frames = []
        else:
            parts = line.strip().split(None, 1)
            frames.append(parts[1] if len(parts) > 1 else parts[0])
    if comm is not None:
        yield comm, frames


def classify(frames: list[str], rules: list[tuple[str, str]],
             layers: list[tuple[str, str]] | None = None) -> str:
    for label, pattern in rules:
        rx = re.compile(pattern)
        if any(rx.search(f) for f in frames):
            return label
    for frame in frames:  # leaf first
        for label, pattern in layers or []:
            if re.search(pattern, frame):
                return label
    return "other"


COMPILED: dict[str, re.Pattern] = {}


def main() -> None:
    groups: dict[str, list[Counter]] = {}
    totals = Counter()
    for comm, frames in parse(sys.stdin):
        group = "writer thread (bankd-writer)" if comm == "bankd-writer" else "tokio workers and blocking pool"
        totals[group] += 1
        tables = groups.setdefault(group, [Counter(), Counter()])
        frames = [strip_generics(f) for f in frames]
        if comm == "bankd-writer":
            tables[0][classify(frames, WRITER_CALL_SITES)] += 1
            tables[1][classify(frames, WRITER_MECHANISMS)] += 1
        else:
            tables[1][classify(frames, WORKER_MECHANISMS, WORKER_LAYERS)] += 1
    all_samples = sum(totals.values())
    print(f"{all_samples} samples in all")
    for group, (sites, mechanisms) in groups.items():
        n = totals[group]
        print(f"\n## {group}: {n} samples ({100 * n / all_samples:.1f}% of the server's)")
        if sites:
            print("\nby call site:")
            for label, count in sites.most_common():
                print(f"  {100 * count / n:5.1f}%  {label}")
        print("\nby mechanism:")
        for label, count in mechanisms.most_common():
            print(f"  {100 * count / n:5.1f}%  {label}")


if __name__ == "__main__":
    main()
