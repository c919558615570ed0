#!/usr/bin/env python3
"""Do concurrent fdatasyncs of one file overlap on this disk? (src/store/sqlite/commit/durability.rs)

    python3 bench/fsync_overlap.py [DIRECTORY]

Writes 180 KiB (about one group commit's WAL frames under the transfer benchmark) at a new
offset of a 64 MiB file and fdatasyncs it, 300 times per thread, with 1, 2 and 3 threads, and
prints syncs per second and the latency of each fdatasync. If two threads reach more syncs a
second than one, a commit need not wait for the fsync of the previous one to finish.
"""

import os
import sys
import tempfile
import threading
import time

WRITE_BYTES = 180 * 1024
FILE_BYTES = 64 << 20
SYNCS_PER_THREAD = 300


def run(fd: int, threads: int) -> tuple[float, list[float]]:
    data = os.urandom(WRITE_BYTES)
    offset = [0]
    lock = threading.Lock()
    latencies: list[float] = []

    def worker() -> None:
        for _ in range(SYNCS_PER_THREAD):
            with lock:
                at = offset[0]
                offset[0] = (offset[0] + WRITE_BYTES) % (FILE_BYTES - WRITE_BYTES)
            os.pwrite(fd, data, at)
            start = time.perf_counter()
            os.fdatasync(fd)
            latencies.append(time.perf_counter() - start)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - start, sorted(latencies)


def main() -> None:
    directory = sys.argv[1] if len(sys.argv) > 1 else "."
    with tempfile.NamedTemporaryFile(dir=directory, prefix="fsync-overlap-") as file:
        fd = file.fileno()
        os.ftruncate(fd, FILE_BYTES)
        os.fsync(fd)
        for threads in (1, 2, 3):
            elapsed, latencies = run(fd, threads)
            p50 = latencies[len(latencies) // 2] * 1e3
            p99 = latencies[int(len(latencies) * 0.99)] * 1e3
            print(f"{threads} thread(s): {len(latencies) / elapsed:,.0f} fdatasyncs/s, "
                  f"p50 {p50:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()
