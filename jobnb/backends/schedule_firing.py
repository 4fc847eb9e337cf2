"""Where schedules fire: a thread of every queue worker (``jobnb worker``, huey or rq)
that looks, every ``TICK`` s, at the earliest next due time in its store (one indexed
read: a SQLite ``MIN``, a Redis ``ZRANGE 0 0``), and when a schedule is due, queues
its runs as ordinary jobs, each record carrying the schedule's name and the due time.

Schedules fire from the workers, not from a kernel (which may be closed): a stopped
worker fires nothing, and when workers come back, ``schedule_times.plan`` decides
what runs for the due times missed meanwhile (the schedule's catch-up policy).

A due time fires once however many workers serve the store: the claim (the schedule's
``last_due`` advanced from the value read) and the runs' jobs and queue messages are
ONE write, a SQLite transaction (``SqliteSchedules.claim_in`` inside
``SqliteRecords.add``'s transaction) or a Redis MULTI watched on the schedule's hash.
The loser of a race writes nothing; a worker killed between reading and writing
leaves the due time due, and the next look (its own or another worker's) fires it.
"""

from __future__ import annotations

import ast
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from ..exceptions import JobnbError, NotebookError
from ..model import JobRecord
from ..payload import CallPayload, NotebookPayload
from ..payload.base import dumps_payload
from ..schedule_record import ScheduleRecord
from ..schedule_times import plan
from .base import new_job_id
from .records.base import Records
from .records.redis import RedisRecords
from .records.redis_schedules import RedisSchedules
from .records.schedules import Schedules
from .records.sqlite import SqliteRecords
from .records.sqlite_schedules import LostTheClaim, SqliteSchedules
from .redis_outage import CONNECTION_ERRORS, say

#: seconds between two looks at the earliest next due time: a run starts within a tick
#: (plus the queue's own latency) of its due time
TICK = 0.1
#: seconds a schedule that cannot be fired (its definition fails its signature, its
#: store refuses the write) is left alone before the next try; said once per error
RETRY_BROKEN = 30.0


def schedules_of(records: Records) -> Schedules:
    """The schedules kept beside ``records`` (the same file or server and prefix)."""
    if isinstance(records, SqliteRecords):
        return SqliteSchedules(records)
    if isinstance(records, RedisRecords):
        return RedisSchedules(records)
    raise TypeError(f"no schedules beside {records!r}")


def _cannot_run(message: str) -> None:
    """A run whose payload could not be made (its notebook gone, unreadable): the job
    fails with why, rather than the run being lost without a word."""
    raise NotebookError(message)


def runs_of(
    backend_name: str, schedule: ScheduleRecord, payload: bytes | None, due_times: list[float]
) -> tuple[list[JobRecord], list]:
    """The jobs of ``schedule``'s runs for ``due_times``: records and payloads. A call
    queues its stored payload (signed again as each job's); a notebook is read now."""
    records, blobs = [], []
    for due in due_times:
        job_id = new_job_id()
        kind, description, output = schedule.kind, schedule.description, None
        if schedule.kind == "notebook":
            book = schedule.notebook or {}
            try:
                prepared = NotebookPayload.prepare(
                    book["path"],
                    ast.literal_eval(book.get("parameters") or "{}"),
                    book.get("output"),
                    book.get("kernel_name"),
                    job_id,
                )
                blob = dumps_payload(prepared)
                description, output = prepared.describe(), prepared.output
            except JobnbError as exc:
                why = f"schedule {schedule.name!r} could not prepare its notebook run: {exc}"
                blob = dumps_payload(CallPayload(_cannot_run, (why,), {}))
                kind = "call"
        else:
            blob = payload
        records.append(
            JobRecord(
                id=job_id,
                name=schedule.jobs_name,
                backend=backend_name,
                kind=kind,
                description=description,
                queue=schedule.queue,
                timeout=schedule.timeout,
                output=output,
                schedule=schedule.name,
                due=due,
            )
        )
        blobs.append(blob)
    return records, blobs


def _claim(schedule: ScheduleRecord, now: float) -> tuple[list[float], float, float]:
    """(the due times to run, the next due time, the new ``last_due``)."""
    runs, upcoming = plan(schedule.timing, schedule.last_due, now, schedule.catchup)
    missed = schedule.timing.due_in(schedule.last_due or now, now, most=1)
    last = missed[-1] if missed else (schedule.last_due or now)
    return runs, upcoming, last


@dataclass(frozen=True)
class QueueSide:
    """What a worker's scheduler queues runs through, made by the worker
    (huey_worker.py, rq_worker.py): its backend's name, a records store of its queue
    (which applies a schedule's result_ttl and log bound to the jobs it adds), and how
    ids are queued: huey's queue (``home``: a SQLite home, woken after the commit), or
    RQ's ``queue_on(pipe, records)``."""

    name: str
    records_store: Records
    huey: object | None = None
    home: Path | None = None
    queue_on: Callable | None = None


class Scheduler:
    """A worker's scheduler. ``backend_for(result_ttl, log_bytes_kept)`` gives the
    QueueSide whose records store applies a schedule's settings to its runs' jobs."""

    def __init__(self, backend_for: Callable[[float | None, int | None], QueueSide]) -> None:
        self.backend_for = backend_for
        self.default = backend_for(None, None)
        self.store = schedules_of(self.default.records_store)
        self.stopped = threading.Event()
        self._broken: dict[str, float] = {}
        self.fired = 0  # runs queued by this scheduler (for its log and tests)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="jobnb-scheduler", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """A stopping worker fires nothing more."""
        self.stopped.set()

    def run(self) -> None:
        said = None
        while not self.stopped.wait(TICK):
            try:
                self.tick(time.time())
                said = None
            except Exception as exc:  # the store away for a moment: say so once, go on
                if str(exc) != said:
                    said = str(exc)
                    say(f"cannot look at the schedules: {exc}")
                self.stopped.wait(1.0)

    def tick(self, now: float) -> int:
        """Fire what is due at ``now``; how many runs were queued."""
        first = self.store.next_due()
        if first is None or first > now:
            return 0
        fired = 0
        for name in self.store.due(now):
            if self.stopped.is_set() or self._broken.get(name, 0) > time.monotonic():
                continue
            try:
                fired += self.fire(name, now)
            except (JobnbError, *CONNECTION_ERRORS) as exc:
                self._broken[name] = time.monotonic() + RETRY_BROKEN
                say(f"schedule {name!r} not fired (tried again in {RETRY_BROKEN:g} s): {exc}")
        self.fired += fired
        return fired

    def fire(self, name: str, now: float) -> int:
        if isinstance(self.store, SqliteSchedules):
            return self._fire_sqlite(name, now)
        return self._fire_redis(name, now)

    def _fire_sqlite(self, name: str, now: float) -> int:
        from .huey_messages import insert_messages, messages  # lazy: huey's alone
        from .huey_wakeup import wake_worker  # lazy: see above

        schedule, payload = self.store.payload(name)
        if schedule.paused or schedule.next_due is None or schedule.next_due > now:
            return 0
        runs, upcoming, last = _claim(schedule, now)
        backend = self.backend_for(schedule.result_ttl, schedule.log_bytes_kept)
        records, blobs = runs_of(backend.name, schedule, payload, runs)
        data = messages(backend.huey, [rec.id for rec in records])
        last_job = records[-1].id if records else None

        def claim_and_queue(db) -> None:
            self.store.claim_in(db, schedule, last, upcoming, last_job)
            insert_messages(db, backend.huey, data)

        try:
            backend.records_store.add(
                records, blobs, cwd=schedule.cwd, sys_path=schedule.sys_path,
                within=claim_and_queue,
            )  # fmt: skip
        except LostTheClaim:
            return 0
        if records:
            wake_worker(backend.home)
        return len(records)

    def _fire_redis(self, name: str, now: float) -> int:
        store = self.store
        with store.redis.pipeline(transaction=True) as pipe:
            found = store.watched(pipe, name)
            if found is None:
                return 0
            schedule, payload = found
            if schedule.paused or schedule.next_due is None or schedule.next_due > now:
                return 0
            runs, upcoming, last = _claim(schedule, now)
            backend = self.backend_for(schedule.result_ttl, schedule.log_bytes_kept)
            records, blobs = runs_of(backend.name, schedule, payload, runs)
            pipe.multi()
            added = backend.records_store.add(
                records, blobs, cwd=schedule.cwd, sys_path=schedule.sys_path, pipeline=pipe
            )
            if records:
                _push(backend, pipe, records)
            store.claim_on(pipe, schedule, last, upcoming, records[-1].id if records else None)
            try:
                results = pipe.execute()
            except redis.WatchError:
                return 0  # another worker claimed it (or it was paused, removed) first
        added(results)
        return len(records)


def _push(side: QueueSide, pipe, records: list[JobRecord]) -> None:
    """Queue the runs' ids in the MULTI ``pipe``: huey's message list, or RQ's queue."""
    if side.huey is not None:
        from .huey_messages import messages  # lazy: huey's alone

        pipe.lpush(side.huey.storage.queue_key, *messages(side.huey, [r.id for r in records]))
    else:
        side.queue_on(pipe, records)
