#!/usr/bin/env python3
"""What each part of a transfer costs the single writer, on bankd's real schema.

    python3 bench/sql_cost.py                 # every variant, 20,000 transfers each
    python3 bench/sql_cost.py --transfers 5000 --variants baseline no-savepoints

Replays, with Python's sqlite3 module, the statements the writer thread runs for one transfer
(src/store/sqlite/commit/writer.rs, src/http/movements.rs, src/store/sqlite/ledger.rs, src/store/sqlite/audit.rs): per job a
`SAVEPOINT job` and a nested `SAVEPOINT nested`; the source account (joined to its customer)
and the destination (by number); `INSERT transfers`; two `UPDATE accounts`; two ledger
`INSERT`s; the audit row (read the chain head, SHA-256 over a canonical JSON row, `INSERT`);
groups of `--batch` jobs in one `BEGIN IMMEDIATE ... COMMIT`, WAL, `synchronous=FULL`, the
server's 16 MiB page cache. The schema is migrations V1 and V2, applied as is: this replay is
the analysis that led to V3 (ledger clustered by account), V4 (audit filters indexed in bulk)
and the syncer thread, and it models the writer as it was before them (revision 3049009).

Then it removes one piece at a time and reports transfers/s and the bytes the database wrote
(WAL + main file + temporary files, from /proc/self/io) per transfer. Absolute numbers include
Python's per-statement overhead (a few µs); the differences between variants are the point.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import random
import sqlite3
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

VARIANTS = {
    "baseline": "as the server does it today",
    "temp-store-memory": "PRAGMA temp_store = MEMORY (savepoint journals never spill to a file)",
    "no-savepoints": "no SAVEPOINT job / nested (checks before writes instead)",
    "no-audit-row": "no audit row",
    "audit-no-indexes": "audit row kept, its 3 secondary indexes dropped",
    "ledger-no-customer-index": "transactions_customer index dropped",
    "ledger-no-secondary-indexes": "both ledger secondary indexes dropped",
    "lean": "no savepoints + temp_store MEMORY + audit without secondary indexes",
}


def proc_io() -> dict[str, int]:
    with open("/proc/self/io") as f:
        return {k: int(v) for k, v in (line.split(":") for line in f)}


def setup(path: str, variant: str, accounts: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, cached_statements=256)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA cache_size = -16384")
    if variant in ("temp-store-memory", "lean"):
        conn.execute("PRAGMA temp_store = MEMORY")
    for migration in sorted(glob.glob(os.path.join(ROOT, "migrations", "sqlite", "V[12]__*.sql"))):
        with open(migration) as f:
            conn.executescript(f.read())
    if variant in ("audit-no-indexes", "lean"):
        for index in ("audit_log_actor", "audit_log_object", "audit_log_action"):
            conn.execute(f"DROP INDEX {index}")
    if variant in ("ledger-no-customer-index", "ledger-no-secondary-indexes"):
        conn.execute("DROP INDEX transactions_customer")
    if variant == "ledger-no-secondary-indexes":
        conn.execute("DROP INDEX transactions_account")
    now = "2026-11-22T00:00:00.000000Z"
    conn.execute("BEGIN")
    for user in range(1, accounts // 2 + 1):
        conn.execute("INSERT INTO users (id, username, email, password_hash, date_joined) VALUES (?, ?, ?, 'x', ?)",
                     (user, f"u{user}", f"u{user}@example.com", now))
        conn.execute("INSERT INTO customers (id, user_id, full_name, email, created_at, updated_at) "
                     "VALUES (?, ?, 'U', 'u@example.com', ?, ?)", (user, user, now, now))
    for account in range(1, accounts + 1):
        conn.execute("INSERT INTO accounts (id, account_number, customer_id, balance_cents, created_at, updated_at) "
                     "VALUES (?, ?, ?, 100000000000, ?, ?)",
                     (account, f"ACC-{account:09d}", (account + 1) // 2, now, now))
    conn.execute("COMMIT")
    return conn


SELECT_ACCOUNT = ("SELECT a.id, a.account_number, a.account_type, a.nickname, a.balance_cents, a.status, "
                  "a.customer_id, a.created_at, a.updated_at FROM accounts a")


def transfer(conn: sqlite3.Connection, variant: str, src: int, dst: int, seq: int, clock: list[int]) -> None:
    savepoints = variant not in ("no-savepoints", "lean")
    if savepoints:
        conn.execute("SAVEPOINT job")
        conn.execute("SAVEPOINT nested")
    user = (src + 1) // 2
    source = conn.execute(f"{SELECT_ACCOUNT} JOIN customers c ON c.id = a.customer_id "
                          "WHERE a.id = ?1 AND c.user_id = ?2 AND c.deleted_at IS NULL", (src, user)).fetchone()
    destination = conn.execute(f"{SELECT_ACCOUNT} WHERE a.account_number = ?1", (f"ACC-{dst:09d}",)).fetchone()
    clock[0] += 37
    micros = clock[0]
    now = f"2026-11-22T{micros // 3_600_000_000 % 24:02d}:{micros // 60_000_000 % 60:02d}:" \
          f"{micros // 1_000_000 % 60:02d}.{micros % 1_000_000:06d}Z"
    amount = 1
    transfer_id = conn.execute("INSERT INTO transfers (source_account_id, destination_account_id, amount_cents, created_at) "
                               "VALUES (?1, ?2, ?3, ?4)", (src, dst, amount, now)).lastrowid
    src_balance, dst_balance = source[4] - amount, destination[4] + amount
    for account, balance in ((src, src_balance), (dst, dst_balance)):
        conn.execute("UPDATE accounts SET balance_cents = ?1, transaction_count = transaction_count + ?2, "
                     "updated_at = ?3 WHERE id = ?4", (balance, 1, now, account))
    for account, customer, kind, balance, other in ((src, source[6], "transfer_out", src_balance, destination[1]),
                                                    (dst, destination[6], "transfer_in", dst_balance, source[1])):
        conn.execute("INSERT INTO transactions (account_id, customer_id, transaction_type, amount_cents, "
                     "balance_after_cents, counterparty_account_number, transfer_id, description, created_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                     (account, customer, kind, amount, balance, other, transfer_id, "", now))
    if savepoints:
        conn.execute("RELEASE nested")
    if variant != "no-audit-row":
        head = conn.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        audit_id, prev = (head[0] + 1, head[1]) if head else (1, bytes(32))
        details = json.dumps({"amount": "0.01", "status": 200, "to_account_number": destination[1],
                              "transfer_id": transfer_id}, separators=(",", ":"))
        request_id = f"{seq:032x}"
        canonical = json.dumps([audit_id, now, user, "127.0.0.1", request_id, "transfer", "account", src,
                                "success", details], separators=(",", ":"))
        digest = hashlib.sha256(prev + canonical.encode()).digest()
        conn.execute("INSERT INTO audit_log (id, created_at, actor_user_id, client_ip, request_id, action, "
                     "object_type, object_id, outcome, details, prev_hash, hash) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                     (audit_id, now, user, "127.0.0.1", request_id, "transfer", "account", src, "success",
                      details, prev, digest))
    if savepoints:
        conn.execute("RELEASE job")


def run(variant: str, transfers: int, batch: int, accounts: int, warmup: int, directory: str) -> dict:
    path = os.path.join(directory, f"{variant}.db")
    conn = setup(path, variant, accounts)
    rng = random.Random(7)
    clock = [0]

    def drive(count: int) -> None:
        done = 0
        while done < count:
            conn.execute("BEGIN IMMEDIATE")
            for _ in range(min(batch, count - done)):
                src, dst = rng.sample(range(1, accounts + 1), 2)
                transfer(conn, variant, src, dst, done, clock)
                done += 1
            conn.execute("COMMIT")

    drive(warmup)
    io_before = proc_io()
    started = time.perf_counter()
    drive(transfers)
    seconds = time.perf_counter() - started
    io_after = proc_io()
    conn.close()
    written = io_after["write_bytes"] - io_before["write_bytes"]
    return {"variant": variant, "what": VARIANTS[variant], "transfers_per_s": round(transfers / seconds),
            "us_per_transfer": round(seconds / transfers * 1e6, 1),
            "bytes_written_per_transfer": round(written / transfers),
            "write_syscalls_per_transfer": round((io_after["syscw"] - io_before["syscw"]) / transfers, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=32, help="jobs per commit (the server reached ~32 at 64 connections)")
    parser.add_argument("--accounts", type=int, default=128)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--dir", help="where the databases go [a temporary directory]")
    args = parser.parse_args()
    directory = args.dir or tempfile.mkdtemp(prefix="bankd-sqlcost-")
    print(f"SQLite {sqlite3.sqlite_version} (Python's), {args.transfers:,} transfers per variant after "
          f"{args.warmup:,} warm-up, {args.batch} per commit, {args.accounts} accounts\n")
    print("| variant | transfers/s | µs per transfer | bytes written per transfer | write syscalls per transfer |")
    print("| --- | ---: | ---: | ---: | ---: |")
    results = []
    for variant in args.variants:
        r = run(variant, args.transfers, args.batch, args.accounts, args.warmup, directory)
        results.append(r)
        print(f"| {variant}: {r['what']} | {r['transfers_per_s']:,} | {r['us_per_transfer']} | "
              f"{r['bytes_written_per_transfer']:,} | {r['write_syscalls_per_transfer']} |", flush=True)
    if not args.dir:
        for f in glob.glob(os.path.join(directory, "*")):
            os.unlink(f)
        os.rmdir(directory)


if __name__ == "__main__":
    main()
