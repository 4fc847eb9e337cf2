"""Long histories (issue 16): what a dashboard refresh, ``jobs_df`` and ``jobnb.prune``
cost with a million ended jobs in the store, next to the same with 100, in one run.

    python benchmarks/history.py                      # SQLite home and Redis, 1,000,000 jobs
    python benchmarks/history.py --jobs 100000 --only sqlite
    python benchmarks/history.py --random-ids    # ids as an older jobnb made them

Each store is filled fast: the first ``REFERENCE`` jobs through the store's own API
(``add``, ``start``, ``finish``: a real no-op job's payload and outcome, the submitter's
cwd and sys.path), the rest with the same rows (SQLite: the columns those calls write,
in transactions of 10,000) or keys (Redis: the hash fields they write, filed by the
store's own INDEX script, in pipelines of 5,000); the fill checks that a filled job
reads back as the API-made one does. Bytes per job are measured on both, and where they
go: each table's and index's pages (SQLite's dbstat), or a job's hash and its share of
the pages' sorted sets (Redis ``MEMORY USAGE`` of its hash and of its payload's and
outcome's keys). Then:

- a dashboard refresh (a real ``Dashboard`` over a real huey backend on that home or
  server, 50 rows, every refresh paying the lost-job and expiry sweep that the first
  refresh of each second pays), on page 1, on page 101 and on the last page;
- ``jobs_df(limit=50)`` and ``jobs_df(since=<the last 100 jobs' first submit>)``;
- ``prune`` of every job (``Backend.prune``, what ``jobnb.prune`` calls), while a
  separate process beats for a running job in the same store (``heartbeat`` in a loop):
  the longest heartbeat is the longest a running job waited for the prune.

The redis-server is the benchmark's own, on a free port. Not a timed test: read the
ratios of one run on a quiet machine (on a shared one, the absolute figures move).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("JOBNB_SECRET_KEY", "jobnb-history-benchmark-key-0123456789abcdef")

from redis_server import start_redis

from jobnb.backends.huey_queue import HueyBackend  # noqa: E402
from jobnb.backends.memory import new_job_id  # noqa: E402
from jobnb.backends.options import HueyOptions  # noqa: E402
from jobnb.backends.records import redis_scripts as lua  # noqa: E402
from jobnb.history import JobHistory  # noqa: E402
from jobnb.model import JobRecord, JobStatus  # noqa: E402
from jobnb.payload import CallPayload, dumps_payloads  # noqa: E402
from jobnb.payload.outcome import Outcome, dumps_outcome  # noqa: E402

SMALL = 100
REFERENCE = 2000  # jobs made through the store's API
PAGE = 50
REPEATS = 30


def noop():
    return None


PAYLOAD = dumps_payloads([CallPayload(noop, (), {})])[0]
OUTCOME = dumps_outcome(Outcome(JobStatus.FINISHED))
#: their bytes as a store keeps them (a small value: one row, or one chunk)
PAYLOAD_BYTES, OUTCOME_BYTES = PAYLOAD.joined(), OUTCOME.joined()


def random_id() -> str:
    """An id as jobnb made them before they came in order: 12 random hex digits."""
    return f"{random.getrandbits(48):012x}"


#: how the jobs' ids are made (``--random-ids``: as an older jobnb made them)
make_id = new_job_id


def new_records(n: int, start: float) -> list[JobRecord]:
    return [
        JobRecord(
            id=make_id(),
            name="noop",
            backend="huey",
            description="noop()",
            submitted=start + i * 1e-4,
        )
        for i in range(n)
    ]


def fill_through_api(store, n: int, start: float) -> None:
    for first in range(0, n, 1000):
        recs = new_records(min(1000, n - first), start + first * 1e-4)
        store.add(recs, [PAYLOAD] * len(recs), cwd=os.getcwd(), sys_path=sys.path)
        for rec in recs:
            store.start(rec.id, f"bench pid {os.getpid()}")
            store.finish(rec.id, JobStatus.FINISHED, None, OUTCOME)


def fill_sqlite(store, n: int, start: float) -> None:
    """The rows ``add`` + ``start`` + ``finish`` leave for a no-op job, 10,000 a time (an
    ended job keeps no cwd, sys.path nor heartbeat)."""
    db = store.connection()
    for first in range(0, n, 10_000):
        recs = new_records(min(10_000, n - first), start + first * 1e-4)
        now = time.time()
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO payloads (id, data) VALUES (?, ?)",
                [(r.id, PAYLOAD_BYTES) for r in recs],
            )
            db.executemany(
                "INSERT INTO outcomes (id, data) VALUES (?, ?)",
                [(r.id, OUTCOME_BYTES) for r in recs],
            )
            db.executemany(
                "INSERT INTO jobs (id, name, backend, status, kind, description, submitted, "
                "payload_signature, started, worker, finished, outcome_signature, log_kept) "
                "VALUES (?, ?, ?, 'finished', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.id,
                        r.name,
                        r.backend,
                        r.kind,
                        r.description,
                        r.submitted,
                        store._signature("payload", r.id, PAYLOAD),
                        now,
                        f"bench pid {os.getpid()}",
                        now,
                        store._signature("outcome", r.id, OUTCOME),
                        store.log_bytes_kept,
                    )
                    for r in recs
                ],
            )


def fill_redis(store, n: int, start: float) -> None:
    """The hash fields ``add`` + ``start`` + ``finish`` leave, and the payload's and the
    outcome's keys (one chunk each), filed by INDEX, 5,000 a time."""
    for first in range(0, n, 5000):
        recs = new_records(min(5000, n - first), start + first * 1e-4)
        now = time.time()
        pipe = store.redis.pipeline(transaction=False)
        for r in recs:
            pipe.rpush(store._blob_key("payload", r.id), PAYLOAD_BYTES)
            pipe.rpush(store._blob_key("outcome", r.id), OUTCOME_BYTES)
            pipe.hset(
                store._job(r.id),
                mapping={
                    "name": r.name,
                    "backend": r.backend,
                    "status": "finished",
                    "kind": r.kind,
                    "description": r.description,
                    "submitted": r.submitted,
                    "progress_done": 0,
                    "payload_signature": store._signature("payload", r.id, PAYLOAD),
                    "payload_size": len(PAYLOAD_BYTES),
                    "started": now,
                    "log_kept": store.log_bytes_kept,
                    "worker": f"bench pid {os.getpid()}",
                    "outcome_signature": store._signature("outcome", r.id, OUTCOME),
                    "outcome_size": len(OUTCOME_BYTES),
                    "finished": now,
                },
            )
        pipe.eval(lua.INDEX, 0, store.prefix, "finished", *(r.id for r in recs))
        pipe.execute()


def same_shape(store) -> None:
    """A filled job reads back as an API-made one: same fields set, same outcome."""
    api_made, filled = store.records(limit=1, offset=0)[0], store.records(limit=1, offset=1)[0]
    for rec in (api_made, filled):
        assert rec.status is JobStatus.FINISHED and rec.started and rec.finished, rec
        assert bytes(store.outcome(rec.id)) == OUTCOME_BYTES
        assert bytes(store.payload(rec.id)) == PAYLOAD_BYTES
    blank = {k for k, v in vars(api_made).items() if v is None}
    assert blank == {k for k, v in vars(filled).items() if v is None}, (api_made, filled)
    if hasattr(store, "redis"):  # the same fields in the hash, where they are kept
        fields = [set(store.redis.hkeys(store._job(rec.id))) for rec in (api_made, filled)]
        assert fields[0] == fields[1], fields
    else:
        columns = ", ".join(
            f"{column} IS NULL"
            for column in ("cwd", "sys_path", "heartbeat", "boot_id", "payload_signature")
            + ("expires", "log_kept")
        )
        db = store.connection()
        shapes = [
            db.execute(f"SELECT {columns} FROM jobs WHERE id = ?", (rec.id,)).fetchone()
            for rec in (api_made, filled)
        ]
        assert shapes[0] == shapes[1], shapes


class Setup:
    """A huey backend on a home (SQLite) or a server (Redis), and how to fill it."""

    def __init__(self, kind: str, scratch: Path, url: str | None, name: str) -> None:
        self.kind = kind
        if kind == "sqlite":
            home = scratch / name
            self.backend = HueyBackend(HueyOptions(home=str(home)))
            self.place = home / "jobs.db"
        else:
            # a database of its own per setup, so that used_memory and the pages are its own
            db = {"small": 1, "big": 2}[name]
            self.backend = HueyBackend(HueyOptions(home=url.rsplit("/", 1)[0] + f"/{db}"))
            self.place = self.backend.records_store.url
        self.store = self.backend.records_store
        self.history = JobHistory(lambda: [self.backend])

    def size(self) -> int:
        """Bytes the store takes: the file (checkpointed), or the server's used memory."""
        if self.kind == "sqlite":
            self.store.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return os.path.getsize(self.place)
        return self.store.redis.info("memory")["used_memory"]

    def fill(self, n: int, start: float) -> tuple[float, float]:
        """``n`` ended jobs; bytes per job made through the API, and per job filled."""
        before = self.size()
        fill_through_api(self.store, min(n, REFERENCE), start)
        after_api = self.size()
        rest = n - min(n, REFERENCE)
        if rest:
            fast = fill_sqlite if self.kind == "sqlite" else fill_redis
            fast(self.store, rest, start + REFERENCE * 1e-4)
            same_shape(self.store)
        per_api = (after_api - before) / min(n, REFERENCE)
        per_filled = (self.size() - after_api) / rest if rest else float("nan")
        return per_api, per_filled

    def key_bytes(self) -> dict[str, float]:
        """Redis: MEMORY USAGE of a job's keys (its hash, its payload's and its outcome's
        chunk lists), plus its share of the pages' sorted sets. SQLite: the bytes of each
        table's and index's pages (dbstat), per job."""
        if self.kind == "sqlite":
            n = sum(self.store.counts().values())
            db = self.store.connection()
            pages = db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
            return {name: size / n for name, size in pages if size / n >= 1}
        r = self.store.redis
        job_id = self.store.records(limit=1)[0].id
        job = self.store._job(job_id)
        n = r.zcard(f"{self.store.prefix}all")
        sets = sum(
            (r.memory_usage(f"{self.store.prefix}{key}", samples=0) or 0) / n
            for key in ("all", "status:finished")
        )
        usage = {"hash": r.memory_usage(job, samples=0) or 0}
        for kind in ("payload", "outcome"):
            usage[kind] = r.memory_usage(self.store._blob_key(kind, job_id), samples=0) or 0
        encoding = r.object("encoding", job).decode()
        return {
            "all its keys + its share of the sets": sum(usage.values()) + sets,
            f"its hash ({encoding})": usage["hash"],
            f"its payload's key ({len(PAYLOAD_BYTES)} B)": usage["payload"],
            f"its outcome's key ({len(OUTCOME_BYTES)} B)": usage["outcome"],
            "its share of the sets (all, status:finished)": sets,
        }


def timed(action, repeats: int = REPEATS) -> float:
    """The median seconds of ``action``."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def refresh_time(setup: Setup, page: int) -> float:
    from jobnb.widgets.dashboard import Dashboard

    board = Dashboard(page_size=PAGE, interval=3600, history=setup.history)
    board.page = page

    def refresh() -> None:
        setup.store._lost_look.last = -float("inf")  # the sweep a refresh pays each second
        board.refresh()
        assert board.banner.layout.display == "none", board.banner.value

    took = timed(refresh)
    board.close()
    return took


def beat(kind: str, place: str, job_id: str, stop, out) -> None:
    """In a process of its own: heartbeat ``job_id`` until ``stop``; send the longest
    call and how many there were."""
    if kind == "sqlite":
        from jobnb.backends.records.sqlite import SqliteRecords

        store = SqliteRecords(place)
    else:
        from jobnb.backends.huey_home import QUEUE_NAME
        from jobnb.backends.records.redis import RedisRecords

        store = RedisRecords(place, QUEUE_NAME)
    longest, count = 0.0, 0
    out.send("ready")
    while not stop.is_set():
        began = time.perf_counter()
        store.heartbeat(job_id)
        longest = max(longest, time.perf_counter() - began)
        count += 1
        time.sleep(0.01)
    out.send((longest, count))


def prune_with_beats(setup: Setup, n: int) -> tuple[float, float, int, int]:
    """Prune every ended job while a process beats for a running one: (seconds, the
    longest heartbeat, heartbeats, jobs deleted)."""
    running = new_records(1, time.time())[0]
    setup.store.add([running], [PAYLOAD])
    setup.store.start(running.id, "bench")
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    mine, theirs = context.Pipe()
    beater = context.Process(
        target=beat, args=(setup.kind, str(setup.place), running.id, stop, theirs)
    )
    beater.start()
    assert mine.recv() == "ready"
    time.sleep(0.2)
    began = time.perf_counter()
    deleted = setup.backend.prune(time.time() + 1)
    took = time.perf_counter() - began
    stop.set()
    longest, beats = mine.recv()
    beater.join()
    assert setup.store.finish(running.id, JobStatus.FINISHED, None, OUTCOME)
    assert deleted == n, (deleted, n)
    return took, longest, beats, deleted


def bench(kind: str, n: int, scratch: Path, url: str | None) -> list[tuple[str, str, str]]:
    small, big = Setup(kind, scratch, url, "small"), Setup(kind, scratch, url, "big")
    start = time.time() - 86400
    small.fill(SMALL, start)
    began = time.perf_counter()
    per_api, per_filled = big.fill(n, start)
    print(f"{kind}: {n:,} jobs filled in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    rows = []

    def row(what: str, at_small: float, at_big: float) -> None:
        ratio = at_big / at_small
        rows.append((what, f"{at_small * 1000:.2f} ms", f"{at_big * 1000:.2f} ms ({ratio:.2f}x)"))

    row("dashboard refresh, page 1 (50 rows)", refresh_time(small, 0), refresh_time(big, 0))
    last = -(-n // PAGE) - 1
    rows.append(("dashboard refresh, page 101", "", f"{refresh_time(big, 100) * 1000:.2f} ms"))
    rows.append(
        (
            f"dashboard refresh, last page ({last + 1:,})",
            "",
            f"{refresh_time(big, last) * 1000:.2f} ms",
        )
    )
    row(
        "jobs_df(limit=50)",
        timed(lambda: small.history.dataframe(limit=50)),
        timed(lambda: big.history.dataframe(limit=50)),
    )

    def since_last_100(setup: Setup) -> float:
        since = setup.store.records(limit=100)[-1].submitted
        assert len(setup.history.dataframe(since=since)) == 100
        return timed(lambda: setup.history.dataframe(since=since))

    row("jobs_df(since=<the last 100 jobs>)", since_last_100(small), since_last_100(big))
    for what, size in big.key_bytes().items():
        where = "MEMORY USAGE" if kind == "redis" else "pages of"
        rows.append((f"bytes per ended job: {where} {what}", "", f"{size:.0f}"))
    grew = "file size" if kind == "sqlite" else "used_memory"
    rows.append((f"bytes per ended job: {grew} growth, API-made", "", f"{per_api:.0f}"))
    rows.append((f"bytes per ended job: {grew} growth, filled", "", f"{per_filled:.0f}"))
    took, longest, beats, deleted = prune_with_beats(big, n)
    rows.append((f"prune of {deleted:,} ended jobs", "", f"{took:.1f} s"))
    rows.append(
        (
            "longest heartbeat of a running job during it",
            "",
            f"{longest * 1000:.0f} ms ({beats} beats)",
        )
    )
    rows.append((f"{grew} after the prune", "", f"{big.size() / 2**20:.1f} MiB"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--only", choices=("sqlite", "redis"))
    parser.add_argument(
        "--random-ids", action="store_true", help="12 random hex digits, as an older jobnb"
    )
    args = parser.parse_args()
    if args.random_ids:
        global make_id
        make_id = random_id
    scratch = Path(tempfile.mkdtemp(prefix="jobnb-history-"))
    server = None
    try:
        ids = " (random ids)" if args.random_ids else ""
        print(f"| {args.jobs:,} ended jobs{ids} | {SMALL} jobs | {args.jobs:,} jobs |")
        print("|---|---|---|")
        for kind in ("sqlite", "redis"):
            if args.only and kind != args.only:
                continue
            url = None
            if kind == "redis":
                server, url = start_redis(str(scratch))
            for what, at_small, at_big in bench(kind, args.jobs, scratch, url):
                print(f"| {kind}: {what} | {at_small} | {at_big} |", flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
