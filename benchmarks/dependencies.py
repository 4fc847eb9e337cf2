"""A chain of jobs released by the workers, against the same jobs waited for one at a
time by the kernel, on each queue backend, in one run:

    python benchmarks/dependencies.py            # huey (SQLite), huey on Redis, rq
    python benchmarks/dependencies.py --only rq

- chain: ``CHAIN`` no-op jobs, each submitted with ``after=[the one before]``, all at
  once; then the kernel waits for the last. Between two jobs of the chain the kernel
  does nothing: the worker that ends one releases the next (its store settles it in
  the script or transaction of the end, and the worker queues it).
- round trips: the same number of no-op jobs, each submitted and its result read
  before the next is submitted (the kernel in between every time).

Issue 17 asks that the chain take at most twice the round trips' time. Prints a
markdown table with the ratio (chain / round trips; lower is better). Machines are
shared and noisy: read the ratio of one run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402 - the other benchmarks' set-ups: workers, a redis-server

import jobnb  # noqa: E402

CHAIN = 100
REPEATS = 3  # each measure, alternating


def chain(length: int) -> float:
    """Seconds from the first submit to the last job's result."""
    began = time.perf_counter()
    job = jobnb.submit(run.noop)
    for _ in range(length - 1):
        job = jobnb.options(after=[job]).submit(run.noop)
    job.result(timeout=300)
    return time.perf_counter() - began


def round_trips(count: int) -> float:
    """Seconds for ``count`` submit-then-result round trips from the kernel."""
    began = time.perf_counter()
    for _ in range(count):
        jobnb.submit(run.noop).result(timeout=300)
    return time.perf_counter() - began


def measure(system: run.System) -> tuple[float, float]:
    """The median of ``REPEATS`` chains and of as many round-trip runs, alternating."""
    round_trips(10)  # warm up: the worker's children, the connections
    chains, trips = [], []
    for _ in range(REPEATS):
        chains.append(chain(CHAIN))
        trips.append(round_trips(CHAIN))
    system.close()
    return statistics.median(chains), statistics.median(trips)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["huey", "huey-redis", "rq"])
    args = parser.parse_args(argv)
    os.environ.setdefault("JOBNB_SECRET_KEY", secrets.token_hex(32))
    os.chdir(run.SCRATCH)
    rows = []
    server = None
    try:
        for name in ["huey", "huey-redis", "rq"]:
            if args.only and name != args.only:
                continue
            if name == "huey":
                system = run.jobnb_system("huey")
            else:
                if server is None:
                    server, url = run.start_redis()
                make = run.jobnb_huey_redis_system if name == "huey-redis" else run.jobnb_rq_system
                system = make(url)
            chained, tripped = measure(system)
            rows.append((system.label, chained, tripped))
    finally:
        if server is not None:
            server.terminate()
    print(f"\n{CHAIN} no-op jobs, median of {REPEATS} runs each\n")
    print("| backend | chain (released by workers) | round trips (kernel) | ratio |")
    print("|---|---|---|---|")
    for label, chained, tripped in rows:
        print(f"| {label} | {chained:.3f} s | {tripped:.3f} s | {chained / tripped:.2f} |")


if __name__ == "__main__":
    main()
