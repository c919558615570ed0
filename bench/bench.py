#!/usr/bin/env python3
"""bankd benchmark driver (Python 3.11 standard library only; load comes from wrk).

Called by bench/run.sh and bench/scale.sh, which build the binaries first. Subcommands:

  run    fresh database: start-up time, idle RSS, set up N users with two funded accounts each,
         then wrk at 64 connections: /healthz ceiling, random transfers, deposits, account
         reads, transaction-list pages, a hot account, transfers beside a login flood; RSS under
         load; stop the server; check money was conserved (`bankd verify` + SQL + the
         acknowledged counts); restart timings. `--crash` adds the SIGKILL-under-load check.
  crash  only the crash-under-load check.
  scale  against a generated database (examples/generate_ledger.rs): verify time, start-up,
         list-page and one-month-statement latency.

Every run writes results.json and results.md into --out and prints the Markdown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import re
import resource
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
PASSWORD = "a-strong-password123"
FUNDING = "1000000.00"
FUNDING_CENTS = 100_000_000
MIB = 1024 * 1024

# The targets (issue 6, "Targets").
TARGET_TRANSFERS_RPS = 20_000
TARGET_TRANSFERS_P99_MS = 10.0
TARGET_HEALTHZ_SHARE = 0.40
TARGET_READS_RPS = 40_000
TARGET_FLOOD_P99_MS = 20.0
TARGET_LIST_P99_MS = 5.0
TARGET_STATEMENT_MS = 10.0
TARGET_STARTUP_MS = 200.0
TARGET_RSS_IDLE_MIB = 20.0
TARGET_RSS_LOAD_MIB = 100.0


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------------------------
# Machine


def machine() -> dict:
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], capture_output=True, text=True, cwd=os.path.dirname(BENCH_DIR))
        return proc.stdout.strip() if proc.returncode == 0 else ""
    return {
        "git_head": git("rev-parse", "--short", "HEAD"),
        "git_uncommitted_files": len([l for l in git("status", "--porcelain", "--untracked-files=no").splitlines() if l]),
        "cores": os.cpu_count(),
        "cpu_model": model,
        "kernel": os.uname().release,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "wrk": wrk_version.strip(),
        "python": sys.version.split()[0],
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def fsync_probe(directory: str, iterations: int = 200) -> dict:
    """Latency of a 4 KiB write + fsync in `directory` (where the database lives): the floor
    under every durable commit, and a tell-tale of a busy machine (the journal thread must get
    a CPU before fsync returns)."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    latencies = []
    try:
        for i in range(iterations):
            os.pwrite(fd, b"x" * 4096, (i % 16) * 4096)
            started = time.perf_counter()
            os.fsync(fd)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    latencies.sort()
    return {"p50_ms": round(latencies[len(latencies) // 2], 3),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 3)}


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return total - idle, total


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def wait_quiet(max_busy_cores: float, timeout: float, window: float = 5.0) -> float:
    """Waits until the whole machine used less than `max_busy_cores` over `window` seconds (this
    machine is shared; a benchmark under someone's compile measures the compile). Returns the
    busy cores of the last window; gives up after `timeout` seconds."""
    deadline = time.time() + timeout
    ticks = os.sysconf("SC_CLK_TCK")
    while True:
        busy0, _ = cpu_jiffies()
        time.sleep(window)
        busy1, _ = cpu_jiffies()
        busy = (busy1 - busy0) / ticks / window
        if busy < max_busy_cores or time.time() > deadline:
            if busy >= max_busy_cores:
                log(f"machine still busy ({busy:.2f} cores) after {timeout:.0f} s; going on")
            return round(busy, 2)
        log(f"waiting for a quiet machine: {busy:.2f} cores busy")


# ----------------------------------------------------------------------------------------------
# HTTP (setup and checks only; the load is wrk's)


def call(port: int, method: str, path: str, body: dict | None = None, token: str | None = None,
         timeout: float = 30.0) -> tuple[int, object]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body)
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Token {token}"
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        return response.status, payload
    finally:
        conn.close()


def expect(status: int, payload: object, wanted: int, what: str) -> object:
    if status != wanted:
        raise RuntimeError(f"{what}: expected {wanted}, got {status}: {payload}")
    return payload


# ----------------------------------------------------------------------------------------------
# The server process


class Server:
    """One bankd process: start (timed to /readyz), RSS, CPU, I/O, /metrics, stop."""

    def __init__(self, binary: str, database: str, workdir: str, env_extra: dict[str, str],
                 name: str = "server"):
        self.binary = binary
        self.database = database
        self.workdir = workdir
        self.env_extra = env_extra
        self.name = name
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(workdir, f"{name}.log")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "BANKD_THROTTLE_AUTH_PER_IP_PER_MINUTE": "0",
            "BANKD_THROTTLE_FAILED_LOGINS_PER_USER_PER_MINUTE": "0",
        })
        env.update(self.env_extra)
        return env

    def start(self, timeout: float = 60.0) -> float:
        """Spawns `bankd serve` and polls GET /readyz; returns seconds from spawn to 200."""
        self.port = free_port()
        log_file = open(self.log_path, "ab")
        started = time.perf_counter()
        # cwd = workdir so that a developer's ./bank.toml does not change the benchmark.
        self.proc = subprocess.Popen(
            NICE + [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--database", self.database],
            stdout=log_file, stderr=log_file, cwd=self.workdir, env=self.env(),
        )
        log_file.close()
        deadline = started + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bankd exited with {self.proc.returncode}; see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/readyz")
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status == 200:
                    return time.perf_counter() - started
            except OSError:
                pass
            if time.perf_counter() > deadline:
                raise RuntimeError(f"bankd not ready after {timeout}s; see {self.log_path}")
            time.sleep(0.0005)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def status_kib(self, field: str) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def thread_cpu(self) -> dict[str, float]:
        """CPU seconds by thread name (comm), summed over threads of the same name."""
        ticks = os.sysconf("SC_CLK_TCK")
        out: dict[str, float] = {}
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                with open(f"/proc/{self.pid}/task/{tid}/stat") as f:
                    text = f.read()
            except OSError:
                continue
            comm = text[text.index("(") + 1:text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            out[comm] = out.get(comm, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
        return out

    def io(self) -> dict[str, int]:
        out = {}
        try:
            with open(f"/proc/{self.pid}/io") as f:
                for line in f:
                    key, value = line.split(":")
                    out[key] = int(value)
        except OSError:
            pass
        return out

    def metrics(self) -> dict[str, float]:
        status, text = call(self.port, "GET", "/metrics")
        series = {}
        if isinstance(text, str):
            for line in text.splitlines():
                if line and not line.startswith("#"):
                    name, value = line.rsplit(" ", 1)
                    series[name] = float(value)
        return series

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120.0) -> tuple[int, float]:
        assert self.proc is not None
        started = time.perf_counter()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        return code, time.perf_counter() - started


# ----------------------------------------------------------------------------------------------
# Setup through the API


def setup_users(port: int, count: int, prefix: str, workers: int = 4) -> list[dict]:
    """Registers `count` users, logs each in, opens two accounts each and funds them."""

    def one(i: int) -> dict:
        username = f"{prefix}{i}"
        expect(*call(port, "POST", "/api/register/", {
            "username": username, "password": PASSWORD,
            "full_name": f"Bench User {i}", "email": f"{username}@example.com",
        }), 201, f"register {username}")
        token = expect(*call(port, "POST", "/api/get-token/",
                             {"username": username, "password": PASSWORD}), 200, "get-token")["token"]
        accounts = []
        for _ in range(2):
            account = expect(*call(port, "POST", "/api/accounts/", {}, token), 201, "open account")
            expect(*call(port, "POST", f"/api/accounts/{account['id']}/deposit/",
                         {"amount": FUNDING}, token), 200, "deposit")
            accounts.append({"id": account["id"], "number": account["account_number"]})
        return {"username": username, "password": PASSWORD, "token": token, "accounts": accounts}

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(1, count + 1)))


def login(port: int, username: str) -> str:
    return expect(*call(port, "POST", "/api/get-token/", {"username": username, "password": PASSWORD}),
                  200, f"get-token {username}")["token"]


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here (ASCII)


def write_lua_data(path: str, users: list[dict]) -> None:
    lines = ["-- written by bench/bench.py: users, tokens and accounts for the wrk scripts", "return {", "  users = {"]
    for u in users:
        lines.append(f"    {{ username = {lua_string(u['username'])}, password = {lua_string(u['password'])}, "
                     f"token = {lua_string(u['token'])} }},")
    lines.append("  },")
    lines.append("  accounts = {")
    for u in users:
        for a in u.get("accounts", []):
            lines.append(f"    {{ id = {a['id']}, number = {lua_string(a['number'])}, token = {lua_string(u['token'])} }},")
    lines.append("  },")
    lines.append("}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------------------------
# wrk


RESULT_RE = re.compile(r"^BENCH_RESULT (\{.*\})$", re.M)
NON2XX_RE = re.compile(r"Non-2xx or 3xx responses: (\d+)")


class Wrk:
    """One wrk process; `start` then `finish`, so two can run side by side."""

    def __init__(self, script: str, url: str, threads: int, connections: int, duration: int,
                 data_path: str, env_extra: dict[str, str] | None = None):
        self.cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
                    "--timeout", "10s", "-s", os.path.join(BENCH_DIR, script), url]
        self.env = dict(os.environ, BANKD_BENCH_DATA=data_path, BANKD_BENCH_DIR=BENCH_DIR, **(env_extra or {}))
        self.proc: subprocess.Popen | None = None

    def command_line(self) -> str:
        url = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:$PORT", self.cmd[-1])
        return " ".join(self.cmd[:-3] + ["-s", "bench/" + os.path.basename(self.cmd[-2]), url])

    def start(self) -> "Wrk":
        self.proc = subprocess.Popen(NICE + self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=self.env)
        return self

    def finish(self) -> dict:
        assert self.proc is not None
        out, _ = self.proc.communicate()
        match = RESULT_RE.search(out)
        if self.proc.returncode != 0 or not match:
            raise RuntimeError(f"wrk failed ({self.proc.returncode}):\n{out}")
        result = json.loads(match.group(1))
        non2xx = NON2XX_RE.search(out)
        # wrk prints the line only when there were some; it must agree with done()'s count.
        result["non2xx_wrk_line"] = int(non2xx.group(1)) if non2xx else 0
        if result["non2xx_wrk_line"] != result["non2xx"]:
            log(f"warning: wrk printed {result['non2xx_wrk_line']} non-2xx, done() counted {result['non2xx']}")
        result["raw"] = out
        result["command"] = self.command_line()
        return result


class Sampler:
    """Polls the server's VmRSS while a scenario runs."""

    def __init__(self, server: Server, interval: float = 0.1):
        self.server = server
        self.interval = interval
        self.peak_kib = 0
        self.last_kib = 0
        self.writeback_peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.server.status_kib("VmRSS")
            except OSError:
                return
            self.last_kib = rss
            self.peak_kib = max(self.peak_kib, rss)
            # Kernel writeback of dirty pages (anyone's) delays every fsync while it runs.
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("Writeback:"):
                        self.writeback_peak_kib = max(self.writeback_peak_kib, int(line.split()[1]))
            self._stop.wait(self.interval)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def movement_counts(metrics: dict[str, float]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        if key.startswith("bankd_money_movements_total"):
            kind = re.search(r'kind="([^"]+)"', key).group(1)
            outcome = re.search(r'outcome="([^"]+)"', key).group(1)
            out[f"{kind}:{outcome}"] = value
    return out


def status_counts(before: dict[str, float], after: dict[str, float]) -> dict[str, int]:
    """Requests by route and status during a scenario (from /metrics), /metrics itself excluded."""
    out = {}
    for key, value in after.items():
        if key.startswith("bankd_http_requests_total") and 'route="/metrics"' not in key:
            delta = int(value - before.get(key, 0))
            if delta:
                route = re.search(r'route="([^"]*)"', key).group(1)
                method = re.search(r'method="([^"]*)"', key).group(1)
                status = re.search(r'status="([^"]*)"', key).group(1)
                out[f"{method} {route} {status}"] = delta
    return out


QUIET = {"cores": 0.0, "timeout": 600.0}
NICE: list[str] = []  # e.g. ["nice", "-n", "-10"]: server and wrk ahead of other work on a shared machine


def measure(server: Server, name: str, runs: list[Wrk], primary: int = 0, sample_rss: bool = False) -> dict:
    """Runs wrk processes side by side against `server` and records what the server did."""
    idle_before = wait_quiet(QUIET["cores"], QUIET["timeout"]) if QUIET["cores"] > 0 else None
    metrics_before = server.metrics()
    cpu_before = server.cpu_seconds()
    threads_before = server.thread_cpu()
    io_before = server.io()
    busy_before, total_before = cpu_jiffies()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = loadavg()
    wall_started = time.perf_counter()
    sampler = Sampler(server)
    sampler.__enter__()
    try:
        for i, run in enumerate(runs):
            run.start()
            if i + 1 < len(runs):
                time.sleep(1.0)  # companions start first, so they cover the primary's window
        results = [None] * len(runs)
        # The primary is the last started; finish in reverse order of start.
        for i in reversed(range(len(runs))):
            results[i] = runs[i].finish()
    finally:
        sampler.__exit__()
    wall = time.perf_counter() - wall_started
    time.sleep(0.2)  # requests wrk abandoned at its deadline finish on the server
    metrics_after = server.metrics()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy_after, total_after = cpu_jiffies()
    io_after = server.io()
    server_cpu = server.cpu_seconds() - cpu_before
    threads_after = server.thread_cpu()
    by_thread = {name: round((value - threads_before.get(name, 0.0)) / wall, 2)
                 for name, value in sorted(threads_after.items())
                 if value - threads_before.get(name, 0.0) > 0.005 * wall}
    wrk_cpu = (children_after.ru_utime - children_before.ru_utime) + (children_after.ru_stime - children_before.ru_stime)
    ticks = os.sysconf("SC_CLK_TCK")
    machine_busy = (busy_after - busy_before) / ticks
    commits = metrics_after.get("bankd_writer_commits_total", 0) - metrics_before.get("bankd_writer_commits_total", 0)
    jobs = metrics_after.get("bankd_writer_jobs_total", 0) - metrics_before.get("bankd_writer_jobs_total", 0)
    mv_before, mv_after = movement_counts(metrics_before), movement_counts(metrics_after)
    movements = {k: int(v - mv_before.get(k, 0)) for k, v in mv_after.items() if v - mv_before.get(k, 0)}
    main = results[primary]
    out = {
        "name": name,
        "rps": main["rps"],
        "p50_ms": main["p50_us"] / 1000,
        "p90_ms": main["p90_us"] / 1000,
        "p99_ms": main["p99_us"] / 1000,
        "max_ms": main["max_us"] / 1000,
        "requests": main["requests"],
        "non2xx": main["non2xx"],
        "socket_errors": main["connect_errors"] + main["read_errors"] + main["write_errors"] + main["timeouts"],
        "command": main["command"],
        "wrk": results,
        "server_statuses": status_counts(metrics_before, metrics_after),
        "movements_committed": movements,
        "writer_commits": int(commits),
        "writer_jobs": int(jobs),
        "jobs_per_commit": round(jobs / commits, 1) if commits else None,
        "server_cpu_cores": round(server_cpu / wall, 2),
        "server_cpu_cores_by_thread": by_thread,
        "wrk_cpu_cores": round(wrk_cpu / wall, 2),
        "other_cpu_cores": round(max(0.0, machine_busy - server_cpu - wrk_cpu) / wall, 2),
        "server_write_bytes": io_after.get("write_bytes", 0) - io_before.get("write_bytes", 0),
        "loadavg_before": load_before,
        "machine_busy_cores_before": idle_before,
    }
    out["kernel_writeback_peak_mib"] = round(sampler.writeback_peak_kib / 1024, 1)
    if sample_rss:
        out["rss_peak_mib"] = round(sampler.peak_kib / 1024, 1)
        out["rss_end_mib"] = round(server.status_kib("VmRSS") / 1024, 1)
    log(f"{name}: {out['rps']:.0f} req/s, p50 {out['p50_ms']:.2f} ms, p99 {out['p99_ms']:.2f} ms, "
        f"non-2xx {out['non2xx']}, jobs/commit {out['jobs_per_commit']}, server {out['server_cpu_cores']} cores, "
        f"wrk {out['wrk_cpu_cores']}, other {out['other_cpu_cores']}; threads {by_thread}")
    return out


# ----------------------------------------------------------------------------------------------
# Checks


def has_verify(binary: str) -> bool:
    return subprocess.run([binary, "verify", "--help"], capture_output=True).returncode == 0


def run_verify(binary: str, database: str) -> dict:
    started = time.perf_counter()
    proc = subprocess.run([binary, "verify", "--database", database], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    return {"command": f"bankd verify --database {database}", "exit": proc.returncode,
            "seconds": round(seconds, 3), "output": (proc.stdout + proc.stderr).strip()}


def sql_checks(database: str) -> dict:
    """The ledger invariants, in SQL, for binaries without `bankd verify` (and as a second opinion)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    q = lambda sql: conn.execute(sql).fetchall()
    signed = ("CASE WHEN transaction_type IN ('deposit','transfer_in') THEN amount_cents "
              "ELSE -amount_cents END")
    checks = {}
    checks["accounts whose balance != signed sum of ledger rows"] = q(
        f"SELECT count(*) FROM accounts a LEFT JOIN (SELECT account_id, sum({signed}) s, count(*) n "
        f"FROM transactions GROUP BY account_id) l ON l.account_id = a.id "
        f"WHERE a.balance_cents != coalesce(l.s, 0)")[0][0]
    checks["accounts whose transaction_count != ledger rows"] = q(
        "SELECT count(*) FROM accounts a LEFT JOIN (SELECT account_id, count(*) n FROM transactions "
        "GROUP BY account_id) l ON l.account_id = a.id WHERE a.transaction_count != coalesce(l.n, 0)")[0][0]
    checks["transfers without exactly one out and one in leg of its amount"] = q(
        "SELECT count(*) FROM transfers t LEFT JOIN (SELECT transfer_id, "
        "sum(transaction_type = 'transfer_out') o, sum(transaction_type = 'transfer_in') i, "
        "sum(CASE WHEN transaction_type = 'transfer_in' THEN amount_cents ELSE -amount_cents END) net, "
        "max(amount_cents) amt FROM transactions WHERE transfer_id IS NOT NULL GROUP BY transfer_id) l "
        "ON l.transfer_id = t.id WHERE coalesce(l.o, 0) != 1 OR coalesce(l.i, 0) != 1 OR l.net != 0 "
        "OR l.amt != t.amount_cents")[0][0]
    checks["sum of transfer legs (cents, must be 0)"] = q(
        "SELECT coalesce(sum(CASE WHEN transaction_type = 'transfer_in' THEN amount_cents "
        "WHEN transaction_type = 'transfer_out' THEN -amount_cents END), 0) FROM transactions")[0][0]
    total_balance, deposits, withdrawals = q(
        "SELECT (SELECT coalesce(sum(balance_cents), 0) FROM accounts), "
        "(SELECT coalesce(sum(amount_cents), 0) FROM transactions WHERE transaction_type = 'deposit'), "
        "(SELECT coalesce(sum(amount_cents), 0) FROM transactions WHERE transaction_type = 'withdrawal')")[0]
    checks["total balances - (deposits - withdrawals) (cents, must be 0)"] = total_balance - (deposits - withdrawals)
    counts = dict(q("SELECT transaction_type, count(*) FROM transactions GROUP BY transaction_type"))
    transfers = q("SELECT count(*) FROM transfers")[0][0]
    conn.close()
    return {"problems": checks, "sound": all(v == 0 for v in checks.values()),
            "total_balance_cents": total_balance, "deposit_cents": deposits,
            "withdrawal_cents": withdrawals, "rows_by_type": counts, "transfers": transfers}


# ----------------------------------------------------------------------------------------------
# Reporting helpers


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def startup_series(server: Server, runs: int) -> dict:
    """Restarts the server `runs` times on its existing database; spawn → /readyz 200."""
    times = []
    for _ in range(runs):
        times.append(server.start() * 1000)
        server.stop()
    return {"runs": runs, "median_ms": round(statistics.median(times), 1),
            "min_ms": round(min(times), 1), "max_ms": round(max(times), 1),
            "all_ms": [round(t, 1) for t in times]}


# ----------------------------------------------------------------------------------------------
# run


SCENARIOS = {
    "healthz": ("(a) GET /healthz (HTTP ceiling)", "healthz.lua", "/healthz"),
    "transfers": ("(b) random transfers", "transfer.lua", "/"),
    "deposits": ("(c) deposits", "deposit.lua", "/"),
    "reads": ("(d) GET /api/accounts/{id}/", "read_account.lua", "/"),
    "list": ("(e) GET /api/transactions/?page_size=20", "list_transactions.lua", "/"),
    "hot": ("(f) hot account: every transfer into one account", "hot_account.lua", "/"),
    "flood": ("(g) random transfers beside a login flood", "transfer.lua", "/"),
}


def run_command(args: argparse.Namespace) -> int:
    out_dir = prepare_out(args)
    work = tempfile.mkdtemp(prefix="bankd-bench-")
    env_extra = dict(kv.split("=", 1) for kv in args.env)
    results: dict = {"kind": "run", "machine": machine(), "binary": args.binary,
                     "binary_bytes": os.path.getsize(args.binary), "server_env": env_extra,
                     "binary_built": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(os.path.getmtime(args.binary))),
                     "built_from": os.environ.get("BANKD_BENCH_BUILT_FROM", "unknown"),
                     "nice": args.nice, "quiet": args.quiet,
                     "settings": {"users": args.users, "threads": args.threads,
                                  "connections": args.connections, "duration_s": args.duration},
                     "scenarios": []}
    log(f"work dir {work}; results in {out_dir}")
    database = os.path.join(work, "bank.db")
    server = Server(args.binary, database, work, env_extra)
    try:
        if args.quiet:
            wait_quiet(args.quiet, args.quiet_timeout)
        results["fsync_4k"] = fsync_probe(work)
        log(f"fsync of 4 KiB here: p50 {results['fsync_4k']['p50_ms']} ms, p99 {results['fsync_4k']['p99_ms']} ms")
        first = server.start()
        results["startup_fresh_ms"] = round(first * 1000, 1)
        time.sleep(0.5)
        results["rss_idle_start_mib"] = round(server.status_kib("VmRSS") / 1024, 1)
        log(f"ready in {first * 1000:.1f} ms on a fresh database; idle RSS {results['rss_idle_start_mib']} MiB")

        started = time.perf_counter()
        users = setup_users(server.port, args.users, "bench")
        results["setup_seconds"] = round(time.perf_counter() - started, 1)
        data_path = os.path.join(work, "data.lua")
        write_lua_data(data_path, users)
        time.sleep(1.0)
        results["rss_idle_after_setup_mib"] = round(server.status_kib("VmRSS") / 1024, 1)
        log(f"{args.users} users, {2 * args.users} funded accounts in {results['setup_seconds']} s; "
            f"idle RSS {results['rss_idle_after_setup_mib']} MiB")
        # Setup ran 2 × users argon2 hashes (registration, login). Restart, so that the RSS
        # measured under load is the load's and not what the allocator kept from those hashes
        # (reported above). Tokens live in the database and stay valid.
        server.stop()
        results["startup_after_setup_ms"] = round(server.start() * 1000, 1)
        time.sleep(0.5)
        results["rss_idle_restarted_mib"] = round(server.status_kib("VmRSS") / 1024, 1)
        log(f"restarted in {results['startup_after_setup_ms']} ms; idle RSS {results['rss_idle_restarted_mib']} MiB")

        url = f"http://127.0.0.1:{server.port}"
        acked = {"transfer": 0, "deposit": 0}
        in_flight_slack = 0
        for key in args.scenarios:
            title, script, path = SCENARIOS[key]
            main = Wrk(script, url + path, args.threads, args.connections, args.duration, data_path)
            runs = [main]
            if key == "flood":
                flood = Wrk("login.lua", url + "/", 1, args.flood_connections, args.duration + 2, data_path)
                runs = [flood, main]
            result = measure(server, title, runs, primary=len(runs) - 1,
                             sample_rss=key in ("transfers", "flood", "hot"))
            result["key"] = key
            if key == "flood":
                result["login"] = {k: result["wrk"][0][k] for k in ("rps", "p50_us", "p99_us", "non2xx", "requests")}
                result["login_command"] = result["wrk"][0]["command"]
            if key in ("transfers", "hot", "flood"):
                acked["transfer"] += result["requests"] - result["non2xx"]
                in_flight_slack += args.connections
            if key == "deposits":
                acked["deposit"] += result["requests"] - result["non2xx"]
                in_flight_slack += args.connections
            if not args.keep_raw:
                for w in result["wrk"]:
                    w.pop("raw", None)
            results["scenarios"].append(result)
        results["rss_end_mib"] = round(server.status_kib("VmRSS") / 1024, 1)
        results["rss_hwm_mib"] = round(server.status_kib("VmHWM") / 1024, 1)
        final_metrics = movement_counts(server.metrics())
        code, seconds = server.stop()
        results["shutdown"] = {"exit": code, "seconds": round(seconds, 3)}
        log(f"stopped (exit {code}) in {seconds:.2f} s")

        # Money conservation.
        conservation = {"acknowledged_2xx": acked}
        if has_verify(args.binary):
            conservation["verify"] = run_verify(args.binary, database)
            log(f"bankd verify: exit {conservation['verify']['exit']} in {conservation['verify']['seconds']} s")
        else:
            conservation["verify"] = None
            log("this binary has no `bankd verify`; SQL checks only")
        sql = sql_checks(database)
        conservation["sql"] = sql
        setup_deposits = 2 * args.users
        deposit_rows = sql["rows_by_type"].get("deposit", 0) - setup_deposits
        conservation["deposit_rows_after_setup"] = deposit_rows
        conservation["transfers_committed"] = sql["transfers"]
        conservation["server_counted"] = final_metrics
        expected_total = args.users * 2 * FUNDING_CENTS + deposit_rows  # each bench deposit is 1 cent
        conservation["expected_total_cents"] = expected_total
        checks = {
            "sql invariants": sql["sound"],
            "total balance = funding + 1 cent per committed deposit": sql["total_balance_cents"] == expected_total,
            "every acknowledged deposit committed (wrk 2xx <= rows <= 2xx + in flight)":
                acked["deposit"] <= deposit_rows <= acked["deposit"] + in_flight_slack,
            "every acknowledged transfer committed (wrk 2xx <= rows <= 2xx + in flight)":
                acked["transfer"] <= sql["transfers"] <= acked["transfer"] + in_flight_slack,
        }
        # Informational: the server counts a movement after its commit, in the handler; a
        # request whose client went away at wrk's deadline may be committed but not counted.
        conservation["server_success_counters_match_rows"] = (
            deposit_rows == int(final_metrics.get("deposit:success", 0)) - setup_deposits
            and sql["transfers"] == int(final_metrics.get("transfer:success", 0)))
        if conservation["verify"] is not None:
            checks["bankd verify exit 0"] = conservation["verify"]["exit"] == 0
        conservation["checks"] = checks
        conservation["conserved"] = all(checks.values())
        results["conservation"] = conservation
        log(f"money conserved: {conservation['conserved']} {checks}")

        results["startup_restart"] = startup_series(server, args.startup_runs)
        log(f"restart to ready: median {results['startup_restart']['median_ms']} ms")
        results["server_log_bytes"] = os.path.getsize(server.log_path)

        if args.crash:
            results["crash"] = crash_check(args.binary, work, env_extra)
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()
        if not args.keep:
            subprocess.run(["rm", "-rf", work])
        else:
            log(f"kept {work}")
    write_results(out_dir, results, render_run(results))
    return 0 if results["conservation"]["conserved"] and results.get("crash", {}).get("passed", True) else 1


def render_run(r: dict) -> str:
    m = r["machine"]
    lines = [f"### bench/run.sh — {m['date']}", "",
             f"Machine: {m['cores']} cores, {m['cpu_model']}, kernel {m['kernel']}, {m['memory_gib']} GiB; "
             f"{m['wrk']}. Binary: built {r['binary_built']} from {r['built_from']}. Server env: {r['server_env'] or 'defaults (throttles off)'}; "
             f"{r['settings']['users']} users × 2 accounts; wrk -t{r['settings']['threads']} "
             f"-c{r['settings']['connections']} -d{r['settings']['duration_s']}s"
             + (f"; server and wrk under `nice -n {r['nice']}`" if r.get("nice") else "")
             + f". fsync of 4 KiB in the database's directory: p50 {r['fsync_4k']['p50_ms']} ms, "
               f"p99 {r['fsync_4k']['p99_ms']} ms. CPU columns: cores used by the server, by wrk, and by "
               f"everything else on the machine during the run.", "",
             "| scenario | req/s | p50 ms | p99 ms | max ms | non-2xx | jobs/commit | disk KiB written / request | CPU cores server / wrk / other | kernel writeback peak MiB | target | verdict |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | --- |"]
    by_key = {s["key"]: s for s in r["scenarios"]}
    healthz = by_key.get("healthz", {}).get("rps")
    for s in r["scenarios"]:
        target, ok = "—", None
        if s["key"] == "transfers":
            share = s["rps"] / healthz if healthz else None
            target = f"≥ {TARGET_TRANSFERS_RPS:,}/s, p99 ≤ {TARGET_TRANSFERS_P99_MS:g} ms, ≥ 40% of /healthz"
            if share is not None:
                target += f" (here {share:.0%})"
            ok = (s["rps"] >= TARGET_TRANSFERS_RPS and s["p99_ms"] <= TARGET_TRANSFERS_P99_MS
                  and (share is None or share >= TARGET_HEALTHZ_SHARE))
        elif s["key"] == "reads":
            target, ok = f"≥ {TARGET_READS_RPS:,}/s", s["rps"] >= TARGET_READS_RPS
        elif s["key"] == "flood":
            target, ok = f"transfer p99 ≤ {TARGET_FLOOD_P99_MS:g} ms", s["p99_ms"] <= TARGET_FLOOD_P99_MS
        lines.append(f"| {s['name']} | {s['rps']:,.0f} | {ms(s['p50_ms'])} | {ms(s['p99_ms'])} | {ms(s['max_ms'])} | {s['non2xx']} | "
                     f"{s['jobs_per_commit'] if s['jobs_per_commit'] is not None else '—'} | "
                     f"{s['server_write_bytes'] / max(1, s['requests']) / 1024:.1f} | "
                     f"{s['server_cpu_cores']} / {s['wrk_cpu_cores']} / {s['other_cpu_cores']} | "
                     f"{s.get('kernel_writeback_peak_mib', '—')} | {target} | {verdict(ok)} |")
        if s["key"] == "flood":
            lg = s["login"]
            lines.append(f"| … the login flood beside it (`{s['login_command']}`) | {lg['rps']:,.0f} | "
                         f"{lg['p50_us'] / 1000:.2f} | {lg['p99_us'] / 1000:.2f} | — | {lg['non2xx']} | — | — | — | — | — | — |")
    transfers = by_key.get("transfers", {})
    rss_load = max([s.get("rss_peak_mib", 0) for s in r["scenarios"]] or [0])
    lines += ["",
              "| measure | value | target | verdict |", "| --- | ---: | --- | --- |",
              f"| start-up to ready, fresh database (spawn → `/readyz` 200, migrations applied) | {r['startup_fresh_ms']} ms | ≤ {TARGET_STARTUP_MS:g} ms | {verdict(r['startup_fresh_ms'] <= TARGET_STARTUP_MS)} |",
              f"| start-up to ready, restart on the benchmark database (median of {r['startup_restart']['runs']}; min {r['startup_restart']['min_ms']}, max {r['startup_restart']['max_ms']}) | {r['startup_restart']['median_ms']} ms | ≤ {TARGET_STARTUP_MS:g} ms | {verdict(r['startup_restart']['median_ms'] <= TARGET_STARTUP_MS)} |",
              f"| RSS idle after start-up | {r['rss_idle_start_mib']} MiB | ≤ {TARGET_RSS_IDLE_MIB:g} MiB | {verdict(r['rss_idle_start_mib'] <= TARGET_RSS_IDLE_MIB)} |",
              f"| RSS idle after setup ({2 * r['settings']['users']} argon2 hashes: registrations and logins) | {r['rss_idle_after_setup_mib']} MiB | ≤ {TARGET_RSS_IDLE_MIB:g} MiB | {verdict(r['rss_idle_after_setup_mib'] <= TARGET_RSS_IDLE_MIB)} |",
              f"| RSS idle after a restart on the set-up database (the load runs start from here) | {r['rss_idle_restarted_mib']} MiB | ≤ {TARGET_RSS_IDLE_MIB:g} MiB | {verdict(r['rss_idle_restarted_mib'] <= TARGET_RSS_IDLE_MIB)} |",
              f"| RSS at the end of the transfer load (peak during it) | {transfers.get('rss_end_mib', '—')} MiB ({transfers.get('rss_peak_mib', '—')}) | ≤ {TARGET_RSS_LOAD_MIB:g} MiB | {verdict(transfers.get('rss_peak_mib', 0) <= TARGET_RSS_LOAD_MIB) if transfers else '—'} |",
              f"| RSS peak over the sampled runs (transfers, hot account, login flood) / VmHWM at the end | {rss_load} / {r['rss_hwm_mib']} MiB | — | — |",
              f"| binary size (static, stripped) | {r['binary_bytes'] / MIB:.1f} MiB ({r['binary_bytes']:,} bytes) | — | — |",
              f"| graceful shutdown (SIGTERM → exit, WAL checkpoint) | {r['shutdown']['seconds']} s, exit {r['shutdown']['exit']} | — | — |"]
    c = r["conservation"]
    lines += ["", f"Money conserved: **{'yes' if c['conserved'] else 'NO'}** — "
              f"{c['transfers_committed']:,} transfers and {c['deposit_rows_after_setup']:,} bench deposits committed "
              f"(wrk saw {c['acknowledged_2xx']['transfer']:,} and {c['acknowledged_2xx']['deposit']:,} 2xx); "
              f"total balance {c['sql']['total_balance_cents']:,} cents = expected {c['expected_total_cents']:,}."]
    for name, ok in c["checks"].items():
        lines.append(f"* {'OK' if ok else 'FAILED'} — {name}")
    if c["verify"]:
        lines.append(f"* `bankd verify`: exit {c['verify']['exit']} in {c['verify']['seconds']} s")
    if "crash" in r:
        lines += ["", render_crash(r["crash"])]
    lines += ["", "Commands:", ""]
    for s in r["scenarios"]:
        lines.append(f"* {s['name']}: `{s['command']}`" + (f" + `{s['login_command']}`" if "login_command" in s else ""))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# crash under load


def crash_check(binary: str, parent_work: str, env_extra: dict[str, str], users: int = 16,
                clients: int = 16, load_seconds: float = 3.0) -> dict:
    """Transfers from `clients` keep-alive connections; SIGKILL mid-load; restart; check that
    every acknowledged transfer is present exactly once and that money is conserved."""
    work = os.path.join(parent_work, "crash")
    os.makedirs(work, exist_ok=True)
    database = os.path.join(work, "crash.db")
    server = Server(binary, database, work, env_extra, name="crash-server")
    server.start()
    people = setup_users(server.port, users, "crash")
    accounts = [(a["id"], a["number"], u["token"]) for u in people for a in u["accounts"]]
    acked: list[int] = []
    errors = {"after_kill": 0, "non_200": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        while not stop.is_set():
            src, dst = rng.sample(accounts, 2)
            body = json.dumps({"to_account_number": dst[1], "amount": "0.01"})
            try:
                conn.request("POST", f"/api/accounts/{src[0]}/transfer/", body=body,
                             headers={"Content-Type": "application/json", "Authorization": f"Token {src[2]}"})
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                with lock:
                    errors["after_kill"] += 1
                return
            if response.status == 200:
                with lock:
                    acked.append(json.loads(payload)["transfer_id"])
            else:
                with lock:
                    errors["non_200"] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(load_seconds)
    with lock:
        acked_at_kill = len(acked)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    recovery_ms = round(server.start() * 1000, 1)
    server.stop()
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    present = {row[0]: row[1] for row in conn.execute(
        "SELECT t.id, count(l.id) FROM transfers t LEFT JOIN transactions l ON l.transfer_id = t.id GROUP BY t.id")}
    conn.close()
    missing = [t for t in acked if t not in present]
    wrong_legs = [t for t in acked if present.get(t, 2) != 2]
    duplicates = len(acked) - len(set(acked))
    sql = sql_checks(database)
    verify = run_verify(binary, database) if has_verify(binary) else None
    conserved = sql["total_balance_cents"] == users * 2 * FUNDING_CENTS
    passed = (not missing and not wrong_legs and duplicates == 0 and sql["sound"] and conserved
              and (verify is None or verify["exit"] == 0))
    result = {"users": users, "clients": clients, "load_seconds": load_seconds,
              "acknowledged": len(acked), "acknowledged_at_kill_signal": acked_at_kill,
              "committed_transfers": len(present), "committed_not_acknowledged": len(present) - len(set(acked)),
              "missing_acknowledged": len(missing), "wrong_leg_count": len(wrong_legs),
              "duplicate_acknowledgements": duplicates, "client_errors": errors,
              "recovery_startup_ms": recovery_ms, "sql_sound": sql["sound"],
              "total_balance_conserved": conserved, "verify": verify, "passed": passed}
    log(f"crash check: {'PASSED' if passed else 'FAILED'} — {len(acked)} acknowledged, {len(present)} committed, "
        f"{len(missing)} missing; recovery start-up {recovery_ms} ms")
    return result


def render_crash(c: dict) -> str:
    lines = [f"Crash under load: **{'passed' if c['passed'] else 'FAILED'}** — {c['clients']} keep-alive clients "
             f"sending transfers for {c['load_seconds']} s, then SIGKILL; {c['acknowledged']:,} transfers acknowledged, "
             f"{c['committed_transfers']:,} committed after restart ({c['committed_not_acknowledged']} committed "
             f"but never acknowledged, {c['missing_acknowledged']} acknowledged but missing, "
             f"{c['wrong_leg_count']} with a wrong leg count); total balance conserved: {c['total_balance_conserved']}; "
             f"restart after the crash ready in {c['recovery_startup_ms']} ms"]
    if c["verify"]:
        lines[0] += f"; `bankd verify` exit {c['verify']['exit']}"
    return lines[0] + "."


def crash_command(args: argparse.Namespace) -> int:
    out_dir = prepare_out(args)
    work = tempfile.mkdtemp(prefix="bankd-crash-")
    env_extra = dict(kv.split("=", 1) for kv in args.env)
    try:
        result = crash_check(args.binary, work, env_extra, clients=args.clients, load_seconds=args.load_seconds)
    finally:
        if not args.keep:
            subprocess.run(["rm", "-rf", work])
    write_results(out_dir, {"kind": "crash", "machine": machine(), "crash": result}, render_crash(result) + "\n")
    return 0 if result["passed"] else 1


# ----------------------------------------------------------------------------------------------
# scale


def scale_command(args: argparse.Namespace) -> int:
    out_dir = prepare_out(args)
    with open(args.summary) as f:
        summary = json.load(f)
    database = summary["database"]
    work = os.path.dirname(os.path.abspath(database))
    env_extra = dict(kv.split("=", 1) for kv in args.env)
    results: dict = {"kind": "scale", "machine": machine(), "generator": summary, "server_env": env_extra,
                     "built_from": os.environ.get("BANKD_BENCH_BUILT_FROM", "unknown"),
                     "nice": args.nice,
                     "database_bytes": os.path.getsize(database)}
    if has_verify(args.binary) and not args.skip_verify:
        if args.quiet:
            wait_quiet(args.quiet, args.quiet_timeout)
        results["verify"] = run_verify(args.binary, database)
        log(f"bankd verify on {summary['rows']:,} rows: exit {results['verify']['exit']} in {results['verify']['seconds']} s")
    server = Server(args.binary, database, work, env_extra, name="scale-server")
    try:
        if args.quiet:
            wait_quiet(args.quiet, args.quiet_timeout)
        results["fsync_4k"] = fsync_probe(work)
        results["startup_first_ms"] = round(server.start() * 1000, 1)
        server.stop()
        results["startup_restart"] = startup_series(server, args.startup_runs)
        log(f"start-up on the generated database: first {results['startup_first_ms']} ms, "
            f"median {results['startup_restart']['median_ms']} ms")
        server.start()
        time.sleep(0.5)
        results["rss_idle_mib"] = round(server.status_kib("VmRSS") / 1024, 1)
        port = server.port
        url = f"http://127.0.0.1:{port}"
        heavy_token = login(port, summary["heavy_user"])
        typical_token = login(port, summary["typical_user"])
        heavy_data = os.path.join(work, "heavy.lua")
        typical_data = os.path.join(work, "typical.lua")
        write_lua_data(heavy_data, [{"username": summary["heavy_user"], "password": PASSWORD, "token": heavy_token}])
        write_lua_data(typical_data, [{"username": summary["typical_user"], "password": PASSWORD, "token": typical_token}])

        heavy, busy, typical = summary["heavy_account"], summary["busy_account"], summary["typical_account"]
        runs = []
        list_cases = [
            ("list, heavy account, page 1", heavy_data, f"account={heavy}&page_size=20", True),
            ("list, heavy account, page 500 (offset 9,980)", heavy_data, f"account={heavy}&page_size=20&page=500", False),
            ("list, heavy user, all accounts, page 1", heavy_data, "page_size=20", False),
            ("list, typical account, page 1", typical_data, f"account={typical}&page_size=20", False),
        ]
        for title, data, query, loaded in list_cases:
            status, page = call(port, "GET", f"/api/transactions/?{query}", token=heavy_token if data == heavy_data else typical_token)
            count = page.get("count") if isinstance(page, dict) else None
            for threads, conns in ([(1, 1), (args.threads, args.connections)] if loaded else [(1, 1)]):
                w = Wrk("list_transactions.lua", url + "/", threads, conns, args.duration, data,
                        {"BANKD_BENCH_QUERY": query})
                r = measure(server, f"{title} (-c{conns})", [w])
                r.update({"kind": "list", "query": query, "connections": conns, "count": count, "first_status": status})
                runs.append(r)

        today = dt.datetime.now(dt.timezone.utc).date()
        last_month_end = today.replace(day=1) - dt.timedelta(days=1)
        start, end = last_month_end.replace(day=1).isoformat(), last_month_end.isoformat()
        for title, account, data, token in [
            ("statement, heavy account", heavy, heavy_data, heavy_token),
            ("statement, busy account", busy, heavy_data, heavy_token),
            ("statement, typical account", typical, typical_data, typical_token),
        ]:
            t0 = time.perf_counter()
            status, body = call(port, "POST", f"/api/accounts/{account}/statements/",
                                {"start_date": start, "end_date": end}, token)
            single_ms = (time.perf_counter() - t0) * 1000
            expect(status, body, 201, title)
            w = Wrk("statement.lua", url + "/", 1, 1, args.duration, data,
                    {"BANKD_BENCH_ACCOUNT": str(account), "BANKD_BENCH_START": start, "BANKD_BENCH_END": end})
            r = measure(server, f"{title} ({start}..{end}, -c1)", [w])
            r.update({"kind": "statement", "account": account, "month_rows": body["transaction_count"],
                      "response_bytes": len(json.dumps(body)), "first_call_ms": round(single_ms, 2),
                      "start_date": start, "end_date": end})
            runs.append(r)
        for r in runs:
            for w in r["wrk"]:
                w.pop("raw", None)
        results["runs"] = runs
        results["rss_end_mib"] = round(server.status_kib("VmRSS") / 1024, 1)
        results["rss_hwm_mib"] = round(server.status_kib("VmHWM") / 1024, 1)
        server.stop()
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()
    write_results(out_dir, results, render_scale(results))
    return 0


def render_scale(r: dict) -> str:
    g, m = r["generator"], r["machine"]
    lines = [f"### bench/scale.sh — {m['date']}", "",
             f"Machine: {m['cores']} cores, {m['cpu_model']}, kernel {m['kernel']}. Binary built from "
             f"{r['built_from']}. Database: {g['rows']:,} ledger rows, "
             f"{g['transfers']:,} transfers, {g['accounts']:,} accounts, {r['database_bytes'] / 2**30:.2f} GiB, "
             f"history {g['history_start'][:10]} .. {g['history_end'][:10]}; generated in {g['total_seconds']:.0f} s "
             f"(rows {g['load_seconds']:.0f} s, sorted copy and indexes {g['index_seconds']:.0f} s). Heavy account {g['heavy_account']} "
             f"has {g['heavy_account_rows']:,} rows, busy {g['busy_account']} {g['busy_account_rows']:,}, "
             f"typical {g['typical_account']} {g['typical_account_rows']:,}. fsync of 4 KiB there: "
             f"p50 {r['fsync_4k']['p50_ms']} ms. Latency runs use wrk -t1 -c1 (one request at a time) "
             f"unless -c64 is shown.", "",
             "| measure | rows | req/s | p50 ms | p99 ms | max ms | non-2xx | target | verdict |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for run in r["runs"]:
        if run["kind"] == "list":
            target = f"p99 ≤ {TARGET_LIST_P99_MS:g} ms"
            rows = f"count {run['count']:,}" if run.get("count") is not None else "—"
            ok = run["p99_ms"] <= TARGET_LIST_P99_MS
        else:
            target = f"≤ {TARGET_STATEMENT_MS:g} ms"
            rows = f"{run['month_rows']:,} in the month"
            ok = run["p99_ms"] <= TARGET_STATEMENT_MS
        lines.append(f"| {run['name']} | {rows} | {run['rps']:,.0f} | {ms(run['p50_ms'])} | {ms(run['p99_ms'])} | "
                     f"{ms(run['max_ms'])} | {run['non2xx']} | {target} | {verdict(ok)} |")
    s = r["startup_restart"]
    lines += ["", "| measure | value | target | verdict |", "| --- | ---: | --- | --- |",
              f"| start-up to ready, first start on the generated database | {r['startup_first_ms']} ms | ≤ {TARGET_STARTUP_MS:g} ms | {verdict(r['startup_first_ms'] <= TARGET_STARTUP_MS)} |",
              f"| start-up to ready, median of {s['runs']} restarts (min {s['min_ms']}, max {s['max_ms']}) | {s['median_ms']} ms | ≤ {TARGET_STARTUP_MS:g} ms | {verdict(s['median_ms'] <= TARGET_STARTUP_MS)} |",
              f"| RSS idle after start-up | {r['rss_idle_mib']} MiB | ≤ {TARGET_RSS_IDLE_MIB:g} MiB | {verdict(r['rss_idle_mib'] <= TARGET_RSS_IDLE_MIB)} |",
              f"| RSS at the end / VmHWM (not the transfer-load target, which run.sh measures; the peak comes from the runs above) | {r['rss_end_mib']} / {r['rss_hwm_mib']} MiB | — | — |"]
    if r.get("verify"):
        v = r["verify"]
        lines.append(f"| `bankd verify` on the generated database | {v['seconds']} s, exit {v['exit']} | — | — |")
    lines += ["", "Commands:", ""]
    for run in r["runs"]:
        lines.append(f"* {run['name']}: `{run['command']}`")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# profile


def profile_command(args: argparse.Namespace) -> int:
    """perf record (cpu-clock sampling; this VM has no hardware counters) of the server while
    wrk drives one scenario; writes perf.data and text reports into --out."""
    out_dir = prepare_out(args)
    work = tempfile.mkdtemp(prefix="bankd-profile-")
    env_extra = dict(kv.split("=", 1) for kv in args.env)
    server = Server(args.binary, os.path.join(work, "bank.db"), work, env_extra)
    reports = {}
    try:
        server.start()
        users = setup_users(server.port, args.users, "bench")
        data_path = os.path.join(work, "data.lua")
        write_lua_data(data_path, users)
        title, script, path = SCENARIOS[args.scenario]
        url = f"http://127.0.0.1:{server.port}"
        perf_data = os.path.join(out_dir, f"perf-{args.scenario}.data")
        wrk = Wrk(script, url + path, args.threads, args.connections, args.seconds + 3, data_path)
        metrics_before = server.metrics()
        threads_before = server.thread_cpu()
        wrk.start()
        time.sleep(1.5)
        call_graph = ["--call-graph", "dwarf,16384"] if args.dwarf else ["-g"]
        subprocess.run(["perf", "record", "-F", str(args.frequency), *call_graph, "-p", str(server.pid),
                        "-o", perf_data, "--", "sleep", str(args.seconds)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        result = wrk.finish()
        threads_after = server.thread_cpu()
        metrics_after = server.metrics()
        server.stop()
        commits = metrics_after.get("bankd_writer_commits_total", 0) - metrics_before.get("bankd_writer_commits_total", 0)
        jobs = metrics_after.get("bankd_writer_jobs_total", 0) - metrics_before.get("bankd_writer_jobs_total", 0)
        wall = args.seconds + 3
        summary = [f"scenario: {title}", f"wrk: {result['command']}",
                   f"rps {result['rps']:.0f}, p50 {result['p50_us'] / 1000:.2f} ms, p99 {result['p99_us'] / 1000:.2f} ms "
                   f"(under perf, {args.frequency} Hz)",
                   f"jobs/commit: {jobs / commits if commits else 0:.1f}",
                   "server CPU cores by thread: " + json.dumps({k: round((v - threads_before.get(k, 0)) / wall, 2)
                                                                for k, v in threads_after.items()})]
        for name, extra in [
            ("by-dso", ["--no-children", "--sort", "dso", "-g", "none"]),
            ("by-thread", ["--no-children", "--sort", "comm", "-g", "none"]),
            ("self", ["--no-children", "--sort", "symbol", "--percent-limit", "0.3", "-g", "none"]),
            ("writer-self", ["--no-children", "--comms", "bankd-writer", "--sort", "symbol", "--percent-limit", "0.3",
                             "-g", "none"]),
            ("writer-children", ["--children", "--comms", "bankd-writer", "--sort", "symbol", "--percent-limit", "1",
                                 "-g", "none"]),
            ("children", ["--children", "--sort", "symbol", "--percent-limit", "1", "-g", "none"]),
        ]:
            report = subprocess.run(["perf", "report", "-i", perf_data, "--stdio", *extra],
                                    capture_output=True, text=True)
            path_out = os.path.join(out_dir, f"perf-{args.scenario}-{name}.txt")
            with open(path_out, "w") as f:
                f.write("\n".join(summary) + "\n\n" + report.stdout)
            reports[name] = path_out
        script = subprocess.run(["perf", "script", "-i", perf_data, "-F", "comm,tid,ip,sym"],
                                capture_output=True, text=True)
        categories = subprocess.run([sys.executable, os.path.join(BENCH_DIR, "perf_categories.py")],
                                    input=script.stdout, capture_output=True, text=True)
        summary += ["", categories.stdout]
        with open(os.path.join(out_dir, f"perf-{args.scenario}-summary.txt"), "w") as f:
            f.write("\n".join(summary) + "\n")
        print("\n".join(summary))
        log(f"perf reports: {reports}")
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()
        if not args.keep:
            subprocess.run(["rm", "-rf", work])
    return 0


# ----------------------------------------------------------------------------------------------


def prepare_out(args: argparse.Namespace) -> str:
    out = args.out or os.path.join(BENCH_DIR, "results", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    return out


def write_results(out_dir: str, results: dict, markdown: str) -> None:
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(markdown)
    print(markdown)
    log(f"wrote {out_dir}/results.json and results.md")


def render_command(args: argparse.Namespace) -> int:
    with open(args.results) as f:
        results = json.load(f)
    renderers = {"run": render_run, "scale": render_scale, "crash": lambda r: render_crash(r["crash"]) + "\n"}
    print(renderers[results["kind"]](results), end="")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--binary", required=True, help="the bankd release binary")
        p.add_argument("--out", help="results directory [bench/results/<timestamp>]")
        p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                       help="extra environment for the server (e.g. BANKD_LOG_LEVEL=warn); repeatable")
        p.add_argument("--keep", action="store_true", help="keep the temporary database and server log")
        p.add_argument("--quiet", type=float, default=0.0, metavar="CORES",
                       help="before each scenario, wait until other processes use fewer than CORES cores "
                            "(0 = do not wait)")
        p.add_argument("--quiet-timeout", type=float, default=600.0, metavar="SECONDS")
        p.add_argument("--nice", type=int, default=0, metavar="N",
                       help="run the server and wrk under `nice -n N` (negative needs root): on a shared "
                            "machine, ahead of other people's builds")

    run = sub.add_parser("run", help="the benchmark suite on a fresh database")
    common(run)
    run.add_argument("--users", type=int, default=64)
    run.add_argument("--threads", type=int, default=2)
    run.add_argument("--connections", type=int, default=64)
    run.add_argument("--flood-connections", type=int, default=8)
    run.add_argument("--duration", type=int, default=15, help="seconds per scenario")
    run.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    run.add_argument("--startup-runs", type=int, default=10)
    run.add_argument("--crash", action="store_true", help="also run the crash-under-load check")
    run.add_argument("--keep-raw", action="store_true", help="keep wrk's full output in results.json")
    run.set_defaults(func=run_command)

    crash = sub.add_parser("crash", help="only the crash-under-load check")
    common(crash)
    crash.add_argument("--clients", type=int, default=16)
    crash.add_argument("--load-seconds", type=float, default=3.0)
    crash.set_defaults(func=crash_command)

    scale = sub.add_parser("scale", help="latency on a generated database")
    common(scale)
    scale.add_argument("--summary", required=True, help="the generator's JSON summary")
    scale.add_argument("--threads", type=int, default=2)
    scale.add_argument("--connections", type=int, default=64)
    scale.add_argument("--duration", type=int, default=10)
    scale.add_argument("--startup-runs", type=int, default=10)
    scale.add_argument("--skip-verify", action="store_true", help="do not time `bankd verify` (minutes at 10M rows)")
    scale.set_defaults(func=scale_command)

    render = sub.add_parser("render", help="print results.md again from a results.json")
    render.add_argument("results", help="a results.json written by run, crash or scale")
    render.set_defaults(func=render_command, binary="")

    prof = sub.add_parser("profile", help="perf record the server under one scenario")
    common(prof)
    prof.add_argument("--scenario", default="transfers", choices=list(SCENARIOS))
    prof.add_argument("--users", type=int, default=64)
    prof.add_argument("--threads", type=int, default=2)
    prof.add_argument("--connections", type=int, default=64)
    prof.add_argument("--seconds", type=int, default=10)
    prof.add_argument("--frequency", type=int, default=499)
    prof.add_argument("--dwarf", action="store_true", help="DWARF call graphs (bigger, slower, more exact)")
    prof.set_defaults(func=profile_command)

    args = parser.parse_args()
    if args.binary:
        args.binary = os.path.abspath(args.binary)
    QUIET["cores"], QUIET["timeout"] = getattr(args, "quiet", 0.0), getattr(args, "quiet_timeout", 600.0)
    if getattr(args, "nice", 0):
        NICE[:] = ["nice", "-n", str(args.nice)]
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
