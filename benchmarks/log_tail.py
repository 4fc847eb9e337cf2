"""What a live view pays for a long log: a job widget's snapshot and a dashboard's
refresh (one page, the job's details open) with a 1 KB log and with a 200 MB one.

    python benchmarks/log_tail.py                  # huey (SQLite), huey on Redis, rq
    python benchmarks/log_tail.py --only rq
    PYTHONPATH=/work/main python benchmarks/log_tail.py --mb 35   # another jobnb

The logs are appended through the backend's records store as a queue worker appends
them (worker/recorded_job.py: what the job printed since the last tick, in one write
per tick; here 1 MB per write), to a running job (a running job's views refresh; an
ended one's stop). The same script measures any jobnb on PYTHONPATH (one without
``log_bytes_kept`` keeps its whole log: issue 16's "before"), and prints a markdown
table: the median refresh with each log, their ratio (issue 16's target: <= 1.5x),
and the append throughput. Not a timed test: read the ratios of one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

from redis_server import start_redis

BACKENDS = ("huey", "huey-redis", "rq")
WRITE_MB = 1  # what one worker tick writes for a job printing flat out
LINE = "step {n:09d}: loss 0.{n:06d} " + "x" * 40 + "\n"


def lines_of(nbytes: int, start: int = 0) -> str:
    """About ``nbytes`` of log lines, numbered from ``start``."""
    per_line = len(LINE.format(n=0))
    return "".join(LINE.format(n=n) for n in range(start, start + max(1, nbytes // per_line)))


def running_job(store, name: str) -> str:
    from jobnb.backends.memory import new_job_id
    from jobnb.model import JobRecord

    rec = JobRecord(
        id=new_job_id(), name=name, backend="huey", description=f"{name}()", submitted=time.time()
    )
    store.add([rec], [b"payload"])
    store.start(rec.id, "benchmark pid 0")
    return rec.id


def append_like_a_worker(store, job_id: str, mb: float) -> float:
    """Append ``mb`` MB of lines, a write per worker tick; MB/s."""
    block = lines_of(WRITE_MB * 2**20)
    writes = max(1, int(mb / WRITE_MB))
    started = time.perf_counter()
    for _ in range(writes):
        store.log(job_id, block)
    return writes * len(block.encode()) / 2**20 / (time.perf_counter() - started)


def median_seconds(call, repeats: int) -> float:
    call()  # warm
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(name: str, mb: float, repeats: int, url: str | None, home: str) -> dict:
    import jobnb
    from jobnb import api
    from jobnb.widgets.dashboard import Dashboard
    from jobnb.widgets.job import take_snapshot

    api.shutdown()
    if name == "huey":
        jobnb.configure("huey", home=home)
    elif name == "huey-redis":
        jobnb.configure("huey", home=url)
    else:
        jobnb.configure("rq", redis_url=url)
    store = api.get_backend().records_store
    short = running_job(store, "short")
    store.log(short, lines_of(1024))
    long = running_job(store, "long")
    throughput = append_like_a_worker(store, long, mb)
    row = {"append MB/s": throughput}
    for which, job_id in (("1 KB", short), (f"{mb:g} MB", long)):
        job = jobnb.get(job_id)
        board = Dashboard(page_size=20, interval=3600)
        board.selected = job  # its details open: the tail of its log shown
        row[f"widget {which}"] = median_seconds(lambda job=job: take_snapshot(job), repeats)
        row[f"dashboard {which}"] = median_seconds(board.refresh, repeats)
        board.close()
    kept = len(job.logs().encode())
    row["kept MB"] = kept / 2**20
    api.shutdown()
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=BACKENDS)
    parser.add_argument("--mb", type=float, default=200.0, help="the long log's size")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    os.environ.setdefault("JOBNB_SECRET_KEY", "log-tail-benchmark-key-0123456789abcdef")
    import jobnb

    where = os.path.dirname(os.path.dirname(os.path.abspath(jobnb.__file__)))
    bounded = "log_bytes_kept" in {f for f in jobnb.config.Settings.__dataclass_fields__}
    print(f"jobnb from {where} ({'bounded logs' if bounded else 'whole logs'}), ", end="")
    print(f"python {sys.version.split()[0]}, median of {args.repeats}\n")
    print(
        f"| backend | widget 1 KB | widget {args.mb:g} MB | ratio | dashboard 1 KB | "
        f"dashboard {args.mb:g} MB | ratio | log kept | append |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        server, url = start_redis(scratch)
        os.chdir(scratch)
        try:
            for name in [args.only] if args.only else BACKENDS:
                home = os.path.join(scratch, f"home-{name}")
                row = measure(name, args.mb, args.repeats, url, home)
                big = f"{args.mb:g} MB"
                widget = (row["widget 1 KB"], row[f"widget {big}"])
                board = (row["dashboard 1 KB"], row[f"dashboard {big}"])
                print(
                    f"| {name} | {widget[0] * 1e3:.2f} ms | {widget[1] * 1e3:.2f} ms | "
                    f"{widget[1] / widget[0]:.2f}x | {board[0] * 1e3:.2f} ms | "
                    f"{board[1] * 1e3:.2f} ms | {board[1] / board[0]:.2f}x | "
                    f"{row['kept MB']:.1f} MB | {row['append MB/s']:.0f} MB/s |",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
