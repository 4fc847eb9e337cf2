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
import socket
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from huey import Huey, RedisHuey
from huey.storage import RedisStorage, SqliteStorage

from ..exceptions import JobNotFound
from ..job import JobRecord, JobStatus
from ..payload import Outcome, Payload, dumps_outcome, dumps_payloads, loads_outcome
from .base import Backend, JobOptions, new_job_id, new_record
from .child import ChildProcess
from .redis_connection import connect, redacted
from .redis_records import RedisRecords
from .sqlite_records import SqliteRecords, create_private_file

TASK_NAME = "jobnb.run"
QUEUE_NAME = "jobnb"
BEAT_SECONDS = 0.2  # also how soon a running job sees its cancel


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


_records: dict[tuple[str, str | None], SqliteRecords | RedisRecords] = {}


def open_records(home: str | os.PathLike, redis_url: str | None = None):
    """The job records beside the queue: ``HOME/jobs.db``, or hashes in Redis. Opened once
    per process (each keeps a connection per thread, or a pool)."""
    place = (str(Path(home).resolve()), redis_url)
    records = _records.get(place)
    if records is None:
        if redis_url:
            records = RedisRecords(redis_url, QUEUE_NAME)
        else:
            records = SqliteRecords(paths(home)[1])
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
class RecordsReporter:
    """runner.Reporter writing a job's output and progress into the records."""

    def __init__(self, records: SqliteRecords, job_id: str) -> None:
        self.records, self.job_id = records, job_id

    def log(self, stream: str, text: str) -> None:
        self.records.log(self.job_id, text)

    def progress(self, done: float, total: float | None, message: str | None) -> None:
        self.records.progress(self.job_id, done, total, message)


_children = threading.local()  # one clean child process per Huey worker thread


def execute_job(place: tuple[str, str | None], job_id: str) -> None:
    """The Huey task: run one job in this worker thread's child process, beating its
    heartbeat (which also brings a cancel) while it runs."""
    records = open_records(*place)
    child = getattr(_children, "child", None)
    if child is None:
        child = _children.child = ChildProcess()
    child.ready()
    worker = f"{socket.gethostname()} pid {child.pid}"
    started = records.start(job_id, worker)
    if started is None:
        return  # cancelled while queued
    payload, timeout, cwd, sys_path = started
    outcome = child.run(
        payload,
        RecordsReporter(records, job_id),
        timeout,
        check_cancel=lambda: records.heartbeat(job_id),
        tick=BEAT_SECONDS,
        context=(cwd, sys_path),
    )
    records.finish(job_id, outcome.status, outcome.error, dumps_outcome(outcome))


# --- kernel side ---------------------------------------------------------------------------
class HueyBackend(Backend):
    """Jobs queued in SQLite under ``home`` (or in Redis at ``redis_url``), run by
    ``jobnb worker`` processes. On SQLite the first submit starts a local worker if
    none is alive; on Redis, workers are started by hand, on any machine."""

    name = "huey"

    def __init__(
        self,
        home: str = ".jobnb",
        workers: int = 2,
        redis_url: str | None = None,
        **_: object,
    ) -> None:
        self.home = Path(home).resolve()
        self.workers = workers
        self.redis_url = redis_url
        self.huey = make_huey(self.home, redis_url)
        self.records_store = open_records(self.home, redis_url)
        self._task = self.huey.jobnb_task
        self._looked_for_workers = False

    def submit(self, payload: Payload, options: JobOptions) -> str:
        return self.submit_many([payload], options)[0]

    def submit_many(self, payloads: Iterable[Payload], options: JobOptions) -> list[str]:
        payloads = list(payloads)
        blobs = dumps_payloads(payloads)  # raises before anything is queued
        records = [new_record(self.name, p, options) for p in payloads]
        return self._enqueue(records, blobs)

    def _enqueue(self, records: list[JobRecord], blobs: list[bytes]) -> list[str]:
        """Write the records and payloads, queue their ids, and see that a worker runs."""
        from .huey_worker import ensure_worker, warn_if_no_worker

        self.records_store.add(records, blobs, cwd=os.getcwd(), sys_path=sys.path)
        enqueue_all(self.huey, [self._task.s(rec.id) for rec in records])
        if self.redis_url:
            if not self._looked_for_workers:  # once per backend: a round trip
                self._looked_for_workers = True
                warn_if_no_worker(self.records_store, self.redis_url)
        else:
            ensure_worker(self.home, self.workers)
        return [rec.id for rec in records]

    def record(self, job_id: str) -> JobRecord:
        return self.records_store.record(job_id)

    def records(
        self, status: JobStatus | None = None, limit: int | None = None, offset: int = 0
    ) -> list[JobRecord]:
        return self.records_store.records(status, limit, offset)

    def counts(self) -> dict[JobStatus, int]:
        return self.records_store.counts()

    def poll(self, job_ids: list[str]) -> dict[str, tuple[JobRecord, str]]:
        found = self.records_store.records_of(job_ids)
        return {job_id: (rec, self.records_store.logs(job_id)) for job_id, rec in found.items()}

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

    def wait(self, job_id: str, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.0005
        while not self.records_store.status(job_id).is_done:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 1.5, 0.05)
        return True

    def outcome(self, job_id: str) -> Outcome:
        blob = self.records_store.outcome(job_id)
        if blob is not None:
            return loads_outcome(blob)
        rec = self.record(job_id)
        if rec.status is JobStatus.CANCELLED:
            return Outcome.cancelled("before it started")
        if rec.status is JobStatus.LOST:
            return Outcome.lost(rec.error.strip().removeprefix("JobLost: "))
        raise RuntimeError(f"job {job_id} has not ended")

    def logs(self, job_id: str) -> str:
        return self.records_store.logs(job_id)

    def cancel(self, job_id: str) -> bool:
        status = self.records_store.request_cancel(job_id)
        if status is JobStatus.RUNNING:
            return True  # its worker stops it at its next heartbeat
        return status is JobStatus.QUEUED

    def resubmit(self, job_id: str) -> str:
        rec = self.record(job_id)
        blob = self.records_store.payload(job_id)
        if blob is None:
            raise JobNotFound(f"job {job_id} has no payload left to resubmit")
        return self._enqueue([rec.again(new_job_id())], [blob])[0]

    def describe(self) -> dict[str, object]:
        if self.redis_url:
            return {"backend": self.name, "redis": redacted(self.redis_url)}
        return {"backend": self.name, "home": str(self.home), "workers": self.workers}
