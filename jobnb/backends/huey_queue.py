"""The ``huey`` backend: a SQLite queue (Huey) and job records in one file under
``JOBNB_HOME`` (default ``./.jobnb/jobs.db``), so jobs outlive the kernel that submitted
them, and a job's record and its queue message are written in one transaction.

The queue carries only job ids: the serialized payload is written once, into the
records, and the one registered Huey task (``jobnb.run``) reads it there, so
notebook-defined functions and ``%%submit`` cells run (Huey alone drops tasks it
does not find in its registry). Each worker thread runs its jobs in a clean child
process (worker/child.py) that it can kill: cancel and timeout work on both worker
kinds, and the worker beats a heartbeat into the records while the child runs.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
import warnings
from pathlib import Path

from huey import Huey
from huey.storage import RedisStorage, SqliteStorage

from ..exceptions import JobnbWarning
from ..model import JobRecord, JobStatus
from ..worker.recorded_job import run_recorded_job
from .huey_messages import insert_messages, messages
from .records_backend import RecordsBackend
from .redis_connection import check_url, connect, redacted, unreachable
from .redis_records import WORKER_BEAT, RedisRecords
from .sqlite_records import SqliteRecords

TASK_NAME = "jobnb.run"
QUEUE_NAME = "jobnb"
DEFAULT_HOME = ".jobnb"
WAIT_SLICE = 2.0  # seconds a waiting kernel waits between two looks for a worker
WORKER_SILENT_FOR = 3 * WORKER_BEAT  # no word from any worker for so long: none is alive


def records_path(home: str | os.PathLike) -> Path:
    """The SQLite file of a jobnb home: the job records and the queue's messages."""
    return Path(home) / "jobs.db"


class QueueStorage(SqliteStorage):
    """Huey's SQLite storage in the records' file, through the records' connections
    (SqliteRecords.connection): WAL and ``synchronous=NORMAL``, the records' busy
    timeout, clear errors, and a file deleted under a running worker made again (with
    the queue's tables) rather than read on, unaware, in its old inode."""

    def __init__(self, name: str, records: SqliteRecords, **kwargs) -> None:
        self.records = records
        self._prepared = threading.local()  # the last connection its tables were seen in
        super().__init__(name, filename=str(records.path), **kwargs)

    @property
    def conn(self) -> sqlite3.Connection:
        db = self.records.connection()
        if getattr(self._prepared, "db", None) is not db:  # new: maybe a new file
            self.prepare(db)
            self._prepared.db = db
        return db

    def prepare(self, db: sqlite3.Connection) -> None:
        """Make the queue's tables in the file ``db`` is open on, if they are missing
        (in the caller's transaction, if it has one)."""
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'task'").fetchone():
            return
        for statement in self.ddl:
            db.execute(statement)

    def dequeue(self) -> bytes | None:
        """The next message, taken in one statement: the write lock of the file, which
        the records share, is held for that statement only (Huey's takes it across a
        SELECT and a DELETE, and two trips between Python and SQLite)."""
        db = self.conn
        if db.execute("SELECT 1 FROM task WHERE queue = ? LIMIT 1", (self.name,)).fetchone():
            row = db.execute(
                "DELETE FROM task WHERE id = (SELECT id FROM task WHERE queue = ? "
                "ORDER BY priority DESC, id LIMIT 1) RETURNING data",
                (self.name,),
            ).fetchone()
            return row[0] if row else None
        return None

    def initialize_schema(self) -> None:
        self.conn  # noqa: B018 - (its tables are made with each new connection)

    def close(self) -> bool:
        return False  # (the connections are the records', which keep them)


class PatientRedisStorage(RedisStorage):
    """Huey's Redis storage whose workers wait out a server restart: a read that cannot
    reach the server waits until it answers (saying so in the worker's log), where
    Huey's would log a traceback and retry at once, a hundred times a second."""

    def __init__(self, *args, url: str | None = None, **kwargs) -> None:
        super().__init__(*args, url=url, **kwargs)
        self.url = url

    def dequeue(self):
        from .redis_outage import CONNECTION_ERRORS, wait_for_server

        try:
            return super().dequeue()
        except CONNECTION_ERRORS:
            wait_for_server(self.conn, self.url)
            return None

    def read_schedule(self, timestamp):
        """(Huey's scheduler reads it every second, even with nothing scheduled: jobnb
        schedules nothing there; a server away for a moment is said by the workers.)"""
        from .redis_outage import CONNECTION_ERRORS

        try:
            return super().read_schedule(timestamp)
        except CONNECTION_ERRORS:
            return []


def make_huey(home: str | os.PathLike, redis_url: str | None = None) -> Huey:
    """The Huey of a jobnb home (or of a Redis server, when ``redis_url`` is given), with
    its one task registered: kernel and worker alike."""
    if redis_url:
        connect(redis_url)  # a clear error, now, if no server answers there
        huey = Huey(
            name=QUEUE_NAME, storage_class=PatientRedisStorage, url=redis_url, results=False
        )
    else:
        records = open_records(home)  # (its clear errors first: an unwritable home, ...)
        huey = Huey(name=QUEUE_NAME, storage_class=QueueStorage, records=records, results=False)
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
            records = SqliteRecords(records_path(home), result_ttl=result_ttl)
        records = _records.setdefault(place, records)
    return records


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

    def store_and_queue(self, records: list[JobRecord], blobs: list[bytes]) -> None:
        """Records, payloads and queue messages in one transaction (SQLite) or one MULTI
        (Redis): a submitter killed halfway leaves no job queued that nothing will run."""
        data = messages(self.huey, [rec.id for rec in records])  # before: the lock is short
        where = {"cwd": os.getcwd(), "sys_path": sys.path}
        if self.redis_url:
            self._store_and_push(records, blobs, data, where)
            return
        self.records_store.add(
            records, blobs, **where, within=lambda db: insert_messages(db, self.huey, data)
        )
        self.ensure_worker()

    def _store_and_push(self, records, blobs, data: list[bytes], where: dict) -> None:
        import redis

        try:
            with self.records_store.redis.pipeline(transaction=True) as pipe:
                self.records_store.add(records, blobs, **where, pipeline=pipe)
                # LPUSH a b: a is popped first (huey's workers pop from the right)
                pipe.lpush(self.huey.storage.queue_key, *data)
                pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise unreachable(self.redis_url, exc) from None

    def ensure_worker(self) -> None:
        """The embedded default (SQLite) starts its own worker when none is alive."""
        from .huey_worker import ensure_worker

        if not self.redis_url:
            ensure_worker(self.home, self.workers)

    def wait(self, job_id: str, timeout: float | None) -> bool:
        """Wait in slices; between two, while the job is not done, look for a worker: on
        SQLite start one if the last one died (a kernel that only waits would otherwise
        wait for ever), on Redis warn once if none has been heard from."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = WAIT_SLICE if deadline is None else max(0.0, deadline - time.monotonic())
            if self.records_store.wait(job_id, min(WAIT_SLICE, left)):
                return True
            # looked for before giving up, too: a kernel that waits in short timeouts
            # (a loop of `wait(1)`) must also bring a dead worker back
            if not self.redis_url:
                self.ensure_worker()
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if (
                self.redis_url
                and not self._warned_unserved
                and not self.records_store.live_workers()
            ):
                self._warned_unserved = True
                url = redacted(self.redis_url)
                warnings.warn(
                    f"job {job_id} waits, but no jobnb worker has been heard from at {url} "
                    f"for {WORKER_SILENT_FOR:g} s: start one with `jobnb worker --backend huey "
                    f"--url {url}` (on this machine or any other that reaches the server)",
                    JobnbWarning,
                    stacklevel=4,  # at the user's wait() or result() call
                )

    _warned_unserved = False

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
