"""Job records kept in kernel memory, for the backends whose workers the kernel owns
(``thread`` and ``subprocess``): they end with the kernel, as their jobs do."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable

from .. import defaults
from ..exceptions import JobnbError, JobNotFound
from ..model import JobRecord, JobStatus, Progress, refuse_to_forget
from ..payload import Outcome, Payload, SealedOutcome
from .base import Backend, JobOptions, new_job_id, new_record
from .kernel_log import KernelLog
from .memory_dependencies import Waits
from .retries import ended_attempt, retry_note, retry_plan


class Entry:
    """Everything the kernel holds about one job. Fields change under ``MemoryStore.lock``."""

    __slots__ = ("record", "payload", "output", "outcome", "done", "cancel_requested")

    def __init__(self, record: JobRecord, payload: Payload | bytes, log_bytes_kept: int) -> None:
        self.record = record
        #: what runs (serialized on process backends); kept for resubmit unless large
        self.payload: Payload | bytes | None = payload
        self.output = KernelLog(log_bytes_kept)
        #: sealed as a worker process sent it, until the kernel first asks for it
        self.outcome: Outcome | SealedOutcome | None = None
        self.done = threading.Event()
        self.cancel_requested = False

    # An Entry is the reporting.Reporter of its job when the job runs in this process.
    def log(self, stream: str, text: str) -> None:
        self.output.append(text)

    def progress(self, done: float, total: float | None, message: str | None) -> None:
        self.record.progress = Progress(done, total, message)


#: a serialized payload larger than this is dropped when its job ends (no resubmit)
KEEP_PAYLOAD_BYTES = 16 * 2**20


class MemoryStore:
    """An insertion-ordered dict of Entries, with the state changes backends need, and
    a count per status kept as states change (so counting reads no history)."""

    def __init__(self, backend_name: str, log_bytes_kept: int = defaults.LOG_BYTES_KEPT) -> None:
        self.backend_name = backend_name
        self.log_bytes_kept = log_bytes_kept
        self.lock = threading.Lock()
        self._entries: dict[str, Entry] = {}
        self._counts: Counter[JobStatus] = Counter()
        #: the waiting jobs, by what they wait for (memory_dependencies.py)
        self.waits = Waits(self)
        #: what queues a waiting entry once what it waits for has finished (the backend)
        self.on_release: Callable[[Entry], None] | None = None

    def add(self, payload: Payload, options: JobOptions) -> Entry:
        return self._insert(
            Entry(new_record(self.backend_name, payload, options), payload, self.log_bytes_kept)
        )

    def add_again(self, job_id: str) -> Entry:
        """A new queued job running what ``job_id`` ran, with its name and options."""
        old = self.get(job_id)
        if old.payload is None:
            raise JobnbError(
                f"job {job_id} cannot be resubmitted: what it ran was larger "
                f"than {KEEP_PAYLOAD_BYTES // 2**20} MiB and was not kept"
            )
        return self._insert(Entry(old.record.again(new_job_id()), old.payload, self.log_bytes_kept))

    def _insert(self, entry: Entry) -> Entry:
        with self.lock:
            self._entries[entry.record.id] = entry
            self._counts[entry.record.status] += 1  # (queued, or waiting)
        return entry

    def _set_status(self, record: JobRecord, status: JobStatus) -> None:
        # under self.lock
        self._counts[record.status] -= 1
        self._counts[status] += 1
        record.status = status

    def counts(self) -> dict[JobStatus, int]:
        with self.lock:
            return {status: self._counts[status] for status in JobStatus}

    def add_many(self, payloads: Iterable[Payload], options: JobOptions) -> list[Entry]:
        return [self.add(p, options) for p in payloads]

    def get(self, job_id: str) -> Entry:
        try:
            return self._entries[job_id]
        except KeyError:
            raise JobNotFound(f"no job {job_id!r} on backend {self.backend_name!r}") from None

    def snapshot(self, job_id: str) -> JobRecord:
        return dataclasses.replace(self.get(job_id).record)

    def records(
        self,
        status: JobStatus | None = None,
        limit: int | None = None,
        offset: int = 0,
        since: float | None = None,
    ) -> list[JobRecord]:
        """Newest first. Reads ``offset + limit`` entries, not the whole history, when
        no status is asked for (or the status is common); with ``since``, stops at the
        first job submitted before it (entries are in the order this process submitted
        them, on one clock)."""
        found = []
        with self.lock:
            for entry in reversed(self._entries.values()):
                if since is not None and entry.record.submitted < since:
                    break
                if status is None or entry.record.status == status:
                    if offset:
                        offset -= 1
                        continue
                    found.append(dataclasses.replace(entry.record))
                    if limit is not None and len(found) >= limit:
                        break
        return found

    def start(self, entry: Entry, worker: str) -> bool:
        """Mark a queued job running; False if it was cancelled meanwhile."""
        with self.lock:
            if entry.record.status is not JobStatus.QUEUED:
                return False
            self._set_status(entry.record, JobStatus.RUNNING)
            entry.record.started = time.time()
            entry.record.worker = worker
            entry.record.retry_at = None
            return True

    def retry(self, entry: Entry, outcome: Outcome | SealedOutcome) -> float | None:
        """Put a job whose run ended ``outcome`` back in the queue when its retries allow
        (retries.py), that run kept in its ``attempts``; the seconds before it runs
        again, or None (then the caller ends it). A job asked to cancel never runs again."""
        with self.lock:
            record = entry.record
            if record.status is not JobStatus.RUNNING or entry.cancel_requested:
                return None
            delay = retry_plan(record, outcome.status, outcome.exception_classes)
            if delay is None:
                return None
            attempt = ended_attempt(record, outcome.status, outcome.error)
            record.attempts = [*record.attempts, attempt]  # (snapshots share the old list)
            self._set_status(record, JobStatus.QUEUED)
            record.started = record.worker = None
            record.progress = Progress()
            record.retry_at = time.time() + delay
        entry.output.append(retry_note(attempt, record.retries, delay))
        return delay

    def finish(self, entry: Entry, outcome: Outcome | SealedOutcome) -> None:
        with self.lock:
            if entry.done.is_set():
                return
            entry.outcome = outcome
            if isinstance(entry.payload, bytes) and len(entry.payload) > KEEP_PAYLOAD_BYTES:
                entry.payload = None
            record = entry.record
            self._set_status(record, outcome.status)
            record.error = outcome.error
            record.finished = time.time()
            if outcome.status is JobStatus.FINISHED and record.progress.total:
                record.progress = record.progress._replace(done=record.progress.total)
        entry.done.set()
        self.waits.ended(entry)  # its waiting dependents: queued or cancelled

    def cancel_queued(self, entry: Entry, by: str) -> bool:
        """Cancel a job that has not started; False if it is already running or ended.
        ``by`` asked for it (kept in the record of a job not ended yet)."""
        with self.lock:
            entry.cancel_requested = True
            if not entry.record.status.is_done:
                entry.record.cancelled_by = by
            if entry.record.status not in (JobStatus.QUEUED, JobStatus.WAITING):
                return False
        self.finish(entry, Outcome.cancelled("before it started"))
        return True

    def forget(self, job_id: str) -> None:
        """Drop an ended job's entry (what it ran, its outcome and output with it)."""
        with self.lock:
            record = self.get(job_id).record
            if not record.status.is_done:
                raise refuse_to_forget(job_id, record.status)
            del self._entries[job_id]
            self._counts[record.status] -= 1

    def forget_many(self, job_ids: list[str]) -> list[str]:
        """Drop the ended entries among ``job_ids``; the others are left (see Backend)."""
        deleted = []
        with self.lock:
            for job_id in job_ids:
                entry = self._entries.get(job_id)
                if entry is not None and entry.record.status.is_done:
                    del self._entries[job_id]
                    self._counts[entry.record.status] -= 1
                    deleted.append(job_id)
        return deleted

    def prune(self, before: float, status: JobStatus | None = None) -> int:
        """Drop the entries of the jobs that ended before ``before`` (of ``status``)."""
        with self.lock:
            old = [
                job_id
                for job_id, entry in self._entries.items()
                if entry.record.status.is_done
                and (status is None or entry.record.status is status)
                and (entry.record.finished or entry.record.submitted) < before
            ]
        return len(self.forget_many(old))

    def wait(self, job_id: str, timeout: float | None) -> bool:
        return self.get(job_id).done.wait(timeout)

    def outcome(self, job_id: str) -> Outcome:
        entry = self.get(job_id)
        outcome = entry.outcome
        if outcome is None:
            raise RuntimeError(f"job {job_id} has not ended")
        if isinstance(outcome, SealedOutcome):
            # opened here, in the kernel, once: then kept opened in its place
            opened = outcome.open()
            with self.lock:
                if entry.outcome is outcome:
                    entry.outcome = opened
            return opened
        return outcome

    def logs(self, job_id: str) -> str:
        return self.get(job_id).output.text()

    def log_tail(self, job_id: str, lines: int) -> str:
        return self.get(job_id).output.tail(lines)

    def log_dropped(self, job_id: str) -> int:
        return self.get(job_id).output.dropped


class MemoryBackend(Backend):
    """A backend whose job records live in this process (``thread``, ``subprocess``).
    Subclasses start the work: ``submit`` and ``_enqueue``."""

    in_process = True

    def __init__(self, workers: int = 2, log_bytes_kept: int = defaults.LOG_BYTES_KEPT) -> None:
        self.workers = workers
        self.store = MemoryStore(self.name, log_bytes_kept)
        self.store.on_release = self._enqueue  # a waiting job, once released

    def _enqueue(self, entry: Entry) -> None:
        raise NotImplementedError("The '_enqueue' method must be implemented.")

    def _end(self, entry: Entry, outcome: Outcome | SealedOutcome) -> None:
        """Record how a run ended: the job ends, or, when its retries allow, is queued
        again once its delay has passed (a timer of this process: the kernel's jobs end
        with it)."""
        delay = self.store.retry(entry, outcome)
        if delay is None:
            self.store.finish(entry, outcome)
            return

        def again() -> None:
            try:
                self._enqueue(entry)
            except RuntimeError:  # the pool was shut down meanwhile: it ends as it ran
                self.store.finish(entry, outcome)

        timer = threading.Timer(delay, again)
        timer.daemon = True
        timer.start()

    def _enqueue_when_ready(self, entry: Entry) -> None:
        """Queue a job just added; a waiting one once what it waits for has finished
        (memory_dependencies.py)."""
        if entry.record.status is JobStatus.WAITING:
            self.store.waits.file(entry)
        else:
            self._enqueue(entry)

    def resubmit(self, job_id: str) -> str:
        entry = self.store.add_again(job_id)
        self._enqueue_when_ready(entry)
        return entry.record.id

    def record(self, job_id: str) -> JobRecord:
        return self.store.snapshot(job_id)

    def status(self, job_id: str) -> JobStatus:
        return self.store.get(job_id).record.status

    def records(
        self,
        status: JobStatus | None = None,
        limit: int | None = None,
        offset: int = 0,
        since: float | None = None,
    ) -> list[JobRecord]:
        return self.store.records(status, limit, offset, since)

    def counts(self) -> dict[JobStatus, int]:
        return self.store.counts()

    def stats(self) -> dict[str, object]:
        counts = self.store.counts()
        return {
            "workers": self.workers,
            "queued": counts[JobStatus.QUEUED],
            "running": counts[JobStatus.RUNNING],
        }

    def wait(self, job_id: str, timeout: float | None) -> bool:
        return self.store.wait(job_id, timeout)

    def outcome(self, job_id: str) -> Outcome:
        return self.store.outcome(job_id)

    def logs(self, job_id: str) -> str:
        return self.store.logs(job_id)

    def log_tail(self, job_id: str, lines: int) -> str:
        return self.store.log_tail(job_id, lines)

    def log_dropped(self, job_id: str) -> int:
        return self.store.log_dropped(job_id)

    def forget(self, job_id: str) -> None:
        self.store.forget(job_id)

    def forget_many(self, job_ids: list[str]) -> list[str]:
        return self.store.forget_many(job_ids)

    def prune(self, before: float, status: JobStatus | None = None) -> int:
        return self.store.prune(before, status)

    def describe(self) -> dict[str, object]:
        return {"backend": self.name, "workers": self.workers}
