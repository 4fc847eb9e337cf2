"""How late a schedule's runs start: (run start - due time) over ``--runs`` runs of a
schedule ``every="1s"``, served by 2 workers, on huey (SQLite home), huey on Redis and
rq. Also counts the due times fired more than once (must be 0).

    python benchmarks/schedules.py               # 100 runs each (~2 min a backend)
    python benchmarks/schedules.py --runs 30 --only rq

"Start" is when a worker marked the job running (its record's ``started``), on the
worker's clock, as the due time is on the firing worker's: one machine here. Prints
a markdown table. Huey's own periodic tasks (``@huey.periodic_task(crontab(...))``)
are not measured beside it: their finest granularity is a minute, and the consumer's
scheduler enqueues them when its tick (every second by default, aligned to the
minute) finds them due, so a run starts up to a tick late after its minute begins;
jobnb's schedules take seconds and fire from a 0.1 s tick, in one write with the job.
"""

from __future__ import annotations

import argparse
import collections
import os
import secrets
import subprocess
import sys
import tempfile
import time

import redis_server

import jobnb
from jobnb import api
from jobnb.backends.huey_worker import stop_worker

JOBNB = [sys.executable, "-m", "jobnb.cli"]
WORKERS = 2


def start_workers(kind: str, scratch: str, url: str | None) -> list[subprocess.Popen]:
    if kind == "huey":  # one process serves a SQLite home, with 2 worker threads
        home = os.path.join(scratch, ".jobnb")
        command = [*JOBNB, "worker", "--backend", "huey", "--home", home, "-w", str(WORKERS)]
        return [subprocess.Popen(command, cwd=scratch)]
    backend = kind.removesuffix("-redis")
    command = [*JOBNB, "worker", "--backend", backend, "--url", url, "-w", "1"]
    return [subprocess.Popen(command, cwd=scratch) for _ in range(WORKERS)]


def measure(kind: str, runs: int) -> dict[str, float]:
    scratch = tempfile.mkdtemp(prefix=f"jobnb-sched-{kind}-")
    os.chdir(scratch)
    server = url = None
    if kind != "huey":
        server, url = redis_server.start_redis(scratch)
    api.shutdown()
    if kind == "huey":
        jobnb.configure("huey", home=os.path.join(scratch, ".jobnb"))
    elif kind == "huey-redis":
        jobnb.configure("huey", home=url)
    else:
        jobnb.configure("rq", redis_url=url)
    workers = start_workers(kind, scratch, url)
    try:
        time.sleep(3)  # the workers up
        schedule = jobnb.schedule(time.time, every="1s", name="bench")
        deadline = time.monotonic() + runs * 1.5 + 30
        while time.monotonic() < deadline:
            records = [r for r in api.get_backend().records(since=0) if r.schedule == "bench"]
            started = [r for r in records if r.started is not None]
            if len(started) >= runs:
                break
            time.sleep(1)
        schedule.pause()
        late = sorted(r.started - r.due for r in started[:runs])
        per_due = collections.Counter(round(r.due, 3) for r in records)
        return {
            "runs": len(late),
            "p50": late[len(late) // 2],
            "p95": late[min(len(late) - 1, int(0.95 * len(late)))],
            "max": late[-1],
            "twice": sum(1 for n in per_due.values() if n > 1),
        }
    finally:
        api.shutdown()
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.wait(timeout=30)
        if kind == "huey":
            stop_worker(os.path.join(scratch, ".jobnb"), grace=0)
        if server is not None:
            server.terminate()
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--only", choices=["huey", "huey-redis", "rq"])
    args = parser.parse_args()
    os.environ.setdefault("JOBNB_SECRET_KEY", secrets.token_hex(32))
    kinds = [args.only] if args.only else ["huey", "huey-redis", "rq"]
    print("| backend | runs | start - due p50 | p95 | max | due times fired twice |")
    print("|---|---|---|---|---|---|")
    for kind in kinds:
        found = measure(kind, args.runs)
        print(
            f"| {kind} | {found['runs']} | {found['p50'] * 1000:.0f} ms | "
            f"{found['p95'] * 1000:.0f} ms | {found['max'] * 1000:.0f} ms | {found['twice']} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
