"""Job records kept in kernel memory, for the backends whose workers the kernel owns
(``thread`` and ``subprocess``): they end with the kernel, as their jobs do."""

from __future__ import annotations

import dataclasses
import os
import random
import threading
import time
from collections.abc import Iterable

from ..exceptions import JobNotFound
from ..job import JobRecord, JobStatus, Progress
from ..payload import Outcome, Payload
from .base import JobOptions

_ids = random.Random()  # seeded from os.urandom; reseeded in forked children below
os.register_at_fork(after_in_child=_ids.seed)


def new_job_id() -> str:
    """12 random hex digits: short enough to type, unique enough across kernels.

    From a seeded generator rather than ``uuid4``, whose ``os.urandom`` call per job
    was a fifth of the cost of a thread-backend submit.
    """
    return f"{_ids.getrandbits(48):012x}"


class Entry:
    """Everything the kernel holds about one job. Fields change under ``MemoryStore.lock``."""

    __slots__ = ("record", "payload", "output", "outcome", "done", "cancel_requested")

    def __init__(self, record: JobRecord, payload: Payload) -> None:
        self.record = record
        self.payload: Payload | None = payload  # dropped once the job has started
        self.output: list[str] = []
        self.outcome: Outcome | None = None
        self.done = threading.Event()
        self.cancel_requested = False

    # An Entry is the runner.Reporter of its job when the job runs in this process.
    def log(self, stream: str, text: str) -> None:
        self.output.append(text)  # list.append is atomic: no lock on the hot path

    def progress(self, done: float, total: float | None, message: str | None) -> None:
        self.record.progress = Progress(done, total, message)


class MemoryStore:
    """An insertion-ordered dict of Entries, with the state changes backends need."""

    def __init__(self, backend_name: str) -> None:
        self.backend_name = backend_name
        self.lock = threading.Lock()
        self._entries: dict[str, Entry] = {}

    def add(self, payload: Payload, options: JobOptions) -> Entry:
        record = JobRecord(
            id=new_job_id(),
            name=options.name or payload.default_name(),
            backend=self.backend_name,
            kind=payload.kind,
            description=payload.describe(),
            queue=options.queue,
            timeout=options.timeout,
        )
        entry = Entry(record, payload)
        self._entries[record.id] = entry
        return entry

    def add_many(self, payloads: Iterable[Payload], options: JobOptions) -> list[Entry]:
        return [self.add(p, options) for p in payloads]

    def get(self, job_id: str) -> Entry:
        try:
            return self._entries[job_id]
        except KeyError:
            raise JobNotFound(f"no job {job_id!r} on backend {self.backend_name!r}") from None

    def snapshot(self, job_id: str) -> JobRecord:
        return dataclasses.replace(self.get(job_id).record)

    def records(self, status: JobStatus | None = None, limit: int | None = None) -> list[JobRecord]:
        found = []
        for entry in reversed(list(self._entries.values())):
            if status is None or entry.record.status == status:
                found.append(dataclasses.replace(entry.record))
                if limit is not None and len(found) >= limit:
                    break
        return found

    def start(self, entry: Entry, worker: str) -> bool:
        """Mark a queued job running; False if it was cancelled meanwhile."""
        with self.lock:
            if entry.record.status is not JobStatus.QUEUED:
                return False
            entry.record.status = JobStatus.RUNNING
            entry.record.started = time.time()
            entry.record.worker = worker
            return True

    def finish(self, entry: Entry, outcome: Outcome) -> None:
        with self.lock:
            if entry.done.is_set():
                return
            entry.outcome = outcome
            entry.payload = None
            record = entry.record
            record.status = outcome.status
            record.error = outcome.error
            record.finished = time.time()
            if outcome.status is JobStatus.FINISHED and record.progress.total:
                record.progress = record.progress._replace(done=record.progress.total)
        entry.done.set()

    def cancel_queued(self, entry: Entry) -> bool:
        """Cancel a job that has not started; False if it is already running or ended."""
        with self.lock:
            entry.cancel_requested = True
            if entry.record.status is not JobStatus.QUEUED:
                return False
        self.finish(entry, Outcome.cancelled("before it started"))
        return True

    def wait(self, job_id: str, timeout: float | None) -> bool:
        return self.get(job_id).done.wait(timeout)

    def outcome(self, job_id: str) -> Outcome:
        entry = self.get(job_id)
        if entry.outcome is None:
            raise RuntimeError(f"job {job_id} has not ended")
        return entry.outcome

    def logs(self, job_id: str) -> str:
        return "".join(self.get(job_id).output)
