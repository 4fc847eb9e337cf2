"""What the queue backends (huey, rq) share: the job records and payloads live in a
records store (records/base.py: a SqliteRecords or a RedisRecords) readable from any
process, and the queue carries only job ids. A subclass says how ids are queued (``queue_ids``); the
rest (status, pages, counts, logs, outcome, cancel, resubmit) is read and written
here, the same way for both.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable

from ..exceptions import JobnbWarning, JobNotFound
from ..model import JobRecord, JobStatus
from ..payload import Outcome, Payload, dumps_payloads, loads_outcome
from .base import Backend, JobOptions, new_job_id, new_record
from .records.base import CANCELLED_ERROR, CANCELLED_WHEN, Records


class RecordsBackend(Backend):
    """A backend whose jobs are in ``self.records_store``."""

    #: where its jobs are: the subclass opens it in its ``__init__``
    records_store: Records

    def submit(self, payload: Payload, options: JobOptions) -> str:
        return self.submit_many([payload], options)[0]

    def submit_many(self, payloads: Iterable[Payload], options: JobOptions) -> list[str]:
        payloads = list(payloads)
        blobs = dumps_payloads(payloads)  # raises before anything is queued
        records = [new_record(self.name, p, options) for p in payloads]
        return self._enqueue(records, blobs)

    _looked_for_workers = False

    def _enqueue(self, records: list[JobRecord], blobs: list[bytes]) -> list[str]:
        self.store_and_queue(records, blobs)
        if not self._looked_for_workers:  # once per backend: it costs a round trip
            self._looked_for_workers = True
            message = self.unserved(records)
            if message:
                warnings.warn(message, JobnbWarning, stacklevel=5)  # at the submit call
        return [rec.id for rec in records]

    def store_and_queue(self, records: list[JobRecord], blobs: list[bytes]) -> None:
        """Write the records and payloads (with where the submitter is: the job runs
        there), then queue their ids."""
        self.records_store.add(records, blobs, cwd=os.getcwd(), sys_path=sys.path)
        self.queue_ids(records)

    def queue_ids(self, records: list[JobRecord]) -> None:
        """Hand the ids of these recorded jobs to the queue's workers."""
        raise NotImplementedError

    def unserved(self, records: list[JobRecord]) -> str | None:
        """Where workers are started by hand: what to say when no worker serves these
        jobs' queue (how to start one), else None."""
        return None

    def record(self, job_id: str) -> JobRecord:
        return self.records_store.record(job_id)

    def records(
        self,
        status: JobStatus | None = None,
        limit: int | None = None,
        offset: int = 0,
        since: float | None = None,
    ) -> list[JobRecord]:
        return self.records_store.records(status, limit, offset, since)

    def counts(self) -> dict[JobStatus, int]:
        return self.records_store.counts()

    def poll(self, job_ids: list[str], log_lines: int) -> dict[str, tuple[JobRecord, str]]:
        found = self.records_store.records_of(job_ids)
        store = self.records_store
        return {job_id: (rec, store.log_tail(job_id, log_lines)) for job_id, rec in found.items()}

    def wait(self, job_id: str, timeout: float | None) -> bool:
        return self.records_store.wait(job_id, timeout)

    def outcome(self, job_id: str) -> Outcome:
        blob = self.records_store.outcome(job_id)
        if blob is not None:
            return loads_outcome(blob)
        rec = self.record(job_id)
        if rec.status is JobStatus.CANCELLED:
            if rec.error and rec.error != CANCELLED_ERROR:  # (a dependency's end: why)
                return Outcome(JobStatus.CANCELLED, error=rec.error)
            return Outcome.cancelled(CANCELLED_WHEN)
        if rec.status is JobStatus.LOST:
            return Outcome.lost(rec.error.strip().removeprefix("JobLost: "))
        raise RuntimeError(f"job {job_id} has not ended")

    def logs(self, job_id: str) -> str:
        return self.records_store.logs(job_id)

    def log_tail(self, job_id: str, lines: int) -> str:
        return self.records_store.log_tail(job_id, lines)

    def log_dropped(self, job_id: str) -> int:
        return self.records_store.log_dropped(job_id)

    def cancel(self, job_id: str, by: str) -> bool:
        status = self.records_store.request_cancel(job_id, by)
        if status is JobStatus.QUEUED:
            self.forget_queued(job_id)
            return True
        if status is JobStatus.WAITING:
            return True  # (never queued: no message to take back)
        return status is JobStatus.RUNNING  # its worker stops it at its next heartbeat

    def forget(self, job_id: str) -> None:
        self.records_store.forget(job_id)

    def forget_many(self, job_ids: list[str]) -> list[str]:
        deleted = self.forget_batch(job_ids)
        self.records_store.shrink()
        return deleted

    def forget_batch(self, job_ids: list[str]) -> list[str]:
        """Delete the ended jobs among ``job_ids`` from the store (one short transaction
        or script), without giving the space back yet; their ids. A backend that keeps
        copies of its own (rq) deletes them here too."""
        return list(self.records_store.forget_many(job_ids))

    def prune(self, before: float, status: JobStatus | None = None) -> int:
        """The store's ended jobs, a batch at a time: each read, then deleted in one
        short transaction or script (``forget_batch``); the space given back once, at
        the end, in short steps."""
        deleted = sum(
            len(self.forget_batch(batch))
            for batch in self.records_store.ended_before(before, status)
        )
        self.records_store.shrink()
        return deleted

    def forget_queued(self, job_id: str) -> None:
        """A queued job was cancelled: its worker will skip it (its record says so);
        a queue that can drop it now does so here."""

    def resubmit(self, job_id: str) -> str:
        rec = self.record(job_id)
        blob = self.records_store.payload(job_id)
        if blob is None:
            raise JobNotFound(f"job {job_id} has no payload left to resubmit")
        return self._enqueue([rec.again(new_job_id())], [blob])[0]
