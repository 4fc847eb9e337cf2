"""The ``huey`` backend: a SQLite queue (Huey) and job records beside it, under
``JOBNB_HOME`` (default ``./.jobnb/``), so jobs outlive the kernel that submitted them.

The queue carries only job ids: the serialized payload is written once, into the
records, and the one registered Huey task (``jobnb.run``) reads it there, so
notebook-defined functions and ``%%submit`` cells run (Huey alone drops tasks it
does not find in its registry). Each worker thread runs its jobs in a clean child
process (backends/child.py) that it can kill: cancel and timeout work on both worker
kinds, and the worker beats a heartbeat into the records while the child runs.
"""

from __future__ import annotations

import os
from pathlib import Path

from huey import Huey, RedisHuey
from huey.storage import RedisStorage, SqliteStorage

from ..job import JobRecord, JobStatus
from .recorded_job import run_recorded_job
from .records_backend import RecordsBackend
from .redis_connection import check_url, connect, redacted
from .redis_records import RedisRecords
from .sqlite_records import SqliteRecords, create_private_file

TASK_NAME = "jobnb.run"
QUEUE_NAME = "jobnb"
DEFAULT_HOME = ".jobnb"


def paths(home: str | os.PathLike) -> tuple[Path, Path]:
    """The queue file and the records file of a jobnb home."""
    home = Path(home)
    return home / "queue.db", home / "jobs.db"


class QueueStorage(SqliteStorage):
    """Huey's SQLite storage with ``synchronous=NORMAL``, as the records file has: in WAL
    mode a crash still cannot corrupt the queue, and a commit (one per job taken) no
    longer waits for an fsync, which Huey's default (FULL) makes it do."""

    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn


def make_huey(home: str | os.PathLike, redis_url: str | None = None) -> Huey:
    """The Huey of a jobnb home (or of a Redis server, when ``redis_url`` is given), with
    its one task registered: kernel and worker alike."""
    if redis_url:
        connect(redis_url)  # a clear error, now, if no server answers there
        huey = RedisHuey(name=QUEUE_NAME, url=redis_url, results=False)
    else:
        queue_path, _ = paths(home)
        create_private_file(queue_path)  # it holds task messages
        huey = Huey(
            name=QUEUE_NAME, storage_class=QueueStorage, filename=str(queue_path), results=False
        )
    place = (str(Path(home).resolve()), redis_url)
    huey.jobnb_task = huey.task(name=TASK_NAME)(lambda job_id: execute_job(place, job_id))
    return huey


_records: dict[tuple, SqliteRecords | RedisRecords] = {}


def open_records(
    home: str | os.PathLike, redis_url: str | None = None, result_ttl: float | None = None
):
    """The job records beside the queue: ``HOME/jobs.db``, or hashes in Redis; the jobs
    added are forgotten ``result_ttl`` s after they end, if given. Opened once per
    process (each keeps a connection per thread, or a pool)."""
    place = (str(Path(home).resolve()), redis_url, result_ttl)
    records = _records.get(place)
    if records is None:
        if redis_url:
            records = RedisRecords(redis_url, QUEUE_NAME, result_ttl=result_ttl)
        else:
            records = SqliteRecords(paths(home)[1], result_ttl=result_ttl)
        records = _records.setdefault(place, records)
    return records


def enqueue_all(huey: Huey, tasks: list) -> None:
    """Queue Huey tasks in one write (one SQLite transaction, one Redis LPUSH) where
    ``huey.enqueue`` would make one per task: submitting 2,000 jobs is then one write."""
    messages = [huey.serialize_task(task) for task in tasks]
    storage = huey.storage
    if isinstance(storage, SqliteStorage):
        with storage.db(commit=True) as cursor:
            cursor.executemany(
                "INSERT INTO task (queue, data, priority) VALUES (?, ?, 0)",
                [(storage.name, storage.to_blob(message)) for message in messages],
            )
    elif isinstance(storage, RedisStorage):
        storage.conn.lpush(storage.queue_key, *messages)  # LPUSH a b: a is popped first
    else:
        for message in messages:
            storage.enqueue(message)


# --- worker side -------------------------------------------------------------------------
def execute_job(place: tuple[str, str | None], job_id: str) -> None:
    """The Huey task: run the job in this worker thread's child process."""
    run_recorded_job(open_records(*place), job_id)


# --- kernel side ---------------------------------------------------------------------------
def redis_home(home: str | os.PathLike) -> str | None:
    """The Redis URL a huey home names (``redis://...``), or None for a folder."""
    text = str(home)
    return check_url(text) if "://" in text else None  # (refuses http://... and the like)


class HueyBackend(RecordsBackend):
    """Jobs queued in SQLite under ``home`` (or in Redis, when ``home`` is a URL), run by
    ``jobnb worker`` processes. On SQLite the first submit starts a local worker if
    none is alive; on Redis, workers are started by hand, on any machine."""

    name = "huey"

    def __init__(
        self,
        home: str = ".jobnb",
        workers: int = 2,
        result_ttl: float | None = None,
        **_: object,
    ) -> None:
        # the home is a folder (SQLite) or a Redis URL; not `redis_url`, which is rq's:
        # a URL set for rq must not move the embedded default's queue to Redis
        self.redis_url = redis_home(home)
        self.home = Path(DEFAULT_HOME if self.redis_url else home).resolve()
        self.workers = workers
        self.huey = make_huey(self.home, self.redis_url)
        self.records_store = open_records(self.home, self.redis_url, result_ttl)
        self._task = self.huey.jobnb_task

    def queue_ids(self, records: list[JobRecord]) -> None:
        from .huey_worker import ensure_worker

        enqueue_all(self.huey, [self._task.s(rec.id) for rec in records])
        if not self.redis_url:
            ensure_worker(self.home, self.workers)  # the embedded default starts its own

    def unserved(self, records: list[JobRecord]) -> str | None:
        if not self.redis_url or self.records_store.live_workers():
            return None
        url = redacted(self.redis_url)
        return (
            f"no jobnb worker serves the Redis queue at {url} yet: the job waits until one "
            f"does. Start one with `jobnb worker --backend huey --url {url}` (on this "
            "machine or any other that reaches the server)."
        )

    def stats(self) -> dict[str, object]:
        from .huey_worker import worker_pid

        counts = self.counts()
        if self.redis_url:
            seen = self.records_store.live_workers()
            workers = {"workers": f"{len(seen)} ({', '.join(seen)})" if seen else "none seen"}
        else:
            workers = {"worker pid": worker_pid(self.home) or "none"}
        return {
            **workers,
            "queued": counts[JobStatus.QUEUED],
            "running": counts[JobStatus.RUNNING],
        }

    def describe(self) -> dict[str, object]:
        if self.redis_url:
            return {"backend": self.name, "redis": redacted(self.redis_url)}
        return {"backend": self.name, "home": str(self.home), "workers": self.workers}
