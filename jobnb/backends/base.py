"""The interface every backend implements.

A backend takes payloads and gives back job ids; everything else about a job (its
record, logs, outcome, cancellation) is asked of the backend by id, so a Job handle is
only ``(backend, id)`` and works the same on every backend.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..exceptions import JobNotFound
from ..model import RETRY_ON_ANY, JobRecord, JobStatus
from ..payload import Outcome, Payload
from .retries import checked_retries, retry_on_names


@dataclass(frozen=True)
class JobOptions:
    """Options of a job, kept apart from the function's own arguments.

    ``retries``: how many times a run that failed (or was lost) runs again, at most;
    ``retry_delay``: seconds before the second run (default ``defaults.RETRY_DELAY``),
    doubling before each next one; ``retry_on``: the exception classes that call for
    another run (default: any Exception), matched against the failure's class and its
    bases, and kept as qualified names, so that they travel to a worker unpickled. A
    timeout is a failure (``JobTimeout``), a lost run a ``JobLost``; a cancelled job
    never runs again (backends/retries.py).
    """

    name: str | None = None
    timeout: float | None = None
    queue: str | None = None
    retries: int = 0
    retry_delay: float | None = None
    retry_on: object = RETRY_ON_ANY
    #: the ids of the jobs this one waits for, on the same backend (dependencies.py
    #: resolves Jobs and names to them at submit): it stays ``waiting`` until they have
    #: all finished, and is cancelled when one fails, is cancelled or is lost
    after: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {self.timeout!r}")
        retries, delay = checked_retries(self.retries, self.retry_delay)
        object.__setattr__(self, "retry_delay", delay)  # (frozen: set once, here)
        object.__setattr__(self, "retry_on", retry_on_names(self.retry_on))


#: a job id is 12 hex digits: the day it was made (3 digits, UTC, wrapping every 11
#: years) then this process's counter (9 digits), which starts at a random number
_DAY_DIGITS, _COUNTER_DIGITS = 3, 9
_ids = random.Random()  # seeded from os.urandom; reseeded in forked children below
_counter = itertools.count(_ids.getrandbits(4 * _COUNTER_DIGITS))


def _reseed_after_fork() -> None:
    """A forked child counts from a random number of its own, not its parent's."""
    global _counter
    _ids.seed()
    _counter = itertools.count(_ids.getrandbits(4 * _COUNTER_DIGITS))


os.register_at_fork(after_in_child=_reseed_after_fork)


def new_job_id() -> str:
    """12 hex digits, in the order jobs are made: short enough to type, unique across
    kernels.

    In order, so that the jobs of one stretch of time sit side by side in every index
    keyed by id (a store's job, payload and outcome tables): a prune, which deletes
    the jobs that ended first, then rewrites a few pages per thousand jobs, not a page
    per job (random ids cost a million-job SQLite prune 3.5x its time). The day comes
    first; then a counter, so that one process never makes the same id twice, and
    starting at a random number of 36 bits, so that two processes of the same day
    share an id only if their counters' runs overlap (two kernels submitting 1,000 jobs
    each: 1 chance in 34 million; a minute instead of a day, with fewer digits left to
    the counter, made it 1 in 130,000). The day wraps every 4,096 days, which costs
    order only. Ids made by an older jobnb (12 random digits) go on working: an id is
    only ever compared whole.

    From a seeded generator rather than ``uuid4``, whose ``os.urandom`` call per job
    was a fifth of the cost of a thread-backend submit.
    """
    day = int(time.time() // 86400) % (1 << (4 * _DAY_DIGITS))
    count = next(_counter) % (1 << (4 * _COUNTER_DIGITS))
    return f"{day:0{_DAY_DIGITS}x}{count:0{_COUNTER_DIGITS}x}"


def new_record(backend: str, payload: Payload, options: JobOptions) -> JobRecord:
    """The record of a job just submitted: queued, named, described; its id is the
    one the payload was made for, if any (a notebook's default output name has it)."""
    return JobRecord(
        id=payload.job_id or new_job_id(),
        name=options.name or payload.default_name(),
        backend=backend,
        kind=payload.kind,
        description=payload.describe(),
        queue=options.queue,
        timeout=options.timeout,
        output=payload.output,  # a notebook job's; None for the other kinds
        retries=options.retries,
        retry_delay=options.retry_delay,
        retry_on=options.retry_on,
        status=JobStatus.WAITING if options.after else JobStatus.QUEUED,
        after=tuple(options.after),
    )


class Backend:
    """Base class of the backends. Subclasses set ``name`` and implement the methods."""

    name: str = "base"
    #: whether its jobs run in the process that submitted them, and end with it
    in_process: bool = False

    def submit(self, payload: Payload, options: JobOptions) -> str:
        """Queue one payload; return the new job's id."""
        raise NotImplementedError("The 'submit' method must be implemented.")

    def submit_many(self, payloads: Iterable[Payload], options: JobOptions) -> list[str]:
        """Queue many payloads, in one round trip where the backend allows."""
        return [self.submit(p, options) for p in payloads]

    def record(self, job_id: str) -> JobRecord:
        """A snapshot of the job's record; JobNotFound if there is none."""
        raise NotImplementedError("The 'record' method must be implemented.")

    def status(self, job_id: str) -> JobStatus:
        return self.record(job_id).status

    def records(
        self,
        status: JobStatus | None = None,
        limit: int | None = None,
        offset: int = 0,
        since: float | None = None,
    ) -> list[JobRecord]:
        """Records of this backend's jobs, newest first: a page of ``limit`` from
        ``offset`` of the jobs submitted at or after ``since`` (a ``time.time()`` stamp;
        None: all), reading about that many, not the whole history, where it can."""
        raise NotImplementedError("The 'records' method must be implemented.")

    def counts(self) -> dict[JobStatus, int]:
        """How many jobs are in each status."""
        found = dict.fromkeys(JobStatus, 0)
        for rec in self.records():
            found[rec.status] += 1
        return found

    def stats(self) -> dict[str, Any]:
        """Workers and queue depth, where the backend knows them."""
        return {}

    def resubmit(self, job_id: str) -> str:
        """Queue a new job that runs what ``job_id`` ran, with its name and options."""
        raise NotImplementedError("The 'resubmit' method must be implemented.")

    def find(self, name: str) -> str:
        """The id of the newest job called ``name``."""
        for rec in self.records():
            if rec.name == name:
                return rec.id
        raise JobNotFound(f"no job named {name!r} on backend {self.name!r}")

    def wait(self, job_id: str, timeout: float | None) -> bool:
        """Block until the job ends; False if ``timeout`` seconds passed first."""
        raise NotImplementedError("The 'wait' method must be implemented.")

    def outcome(self, job_id: str) -> Outcome:
        """How an ended job ended (value, or exception and traceback)."""
        raise NotImplementedError("The 'outcome' method must be implemented.")

    def logs(self, job_id: str) -> str:
        raise NotImplementedError("The 'logs' method must be implemented.")

    def log_tail(self, job_id: str, lines: int) -> str:
        """The end of the job's log holding its last ``lines`` lines, read from the end
        where the backend can (its cost then does not follow the log's length)."""
        return "".join(self.logs(job_id).splitlines(keepends=True)[-lines:] if lines > 0 else [])

    def log_dropped(self, job_id: str) -> int:
        """Bytes of the job's log its backend dropped (kept its head and tail only)."""
        return 0

    def poll(self, job_ids: list[str], log_lines: int) -> dict[str, tuple[JobRecord, str]]:
        """Record and log tail (``log_lines`` lines) of each of ``job_ids`` (those that
        exist), in one request where the backend allows: what the widgets' monitor asks
        each tick."""
        found = {}
        for job_id in job_ids:
            try:
                found[job_id] = (self.record(job_id), self.log_tail(job_id, log_lines))
            except JobNotFound:
                pass
        return found

    def cancel(self, job_id: str, by: str) -> bool:
        """Cancel a queued or running job on behalf of ``by`` (who, from where: kept in
        its record); False if it had already ended."""
        raise NotImplementedError("The 'cancel' method must be implemented.")

    def forget(self, job_id: str) -> None:
        """Delete an ended job: record, payload, outcome, logs. A queued or running job
        is refused with ``job.refuse_to_forget``'s error; JobNotFound if there is none."""
        raise NotImplementedError("The 'forget' method must be implemented.")

    def forget_many(self, job_ids: list[str]) -> list[str]:
        """Delete the ended jobs among ``job_ids``, as ``forget`` does, at once where the
        backend can; return their ids. Queued and running jobs, and ids it does not
        hold, are left out (not an error)."""
        deleted = []
        for job_id in job_ids:
            try:
                if self.status(job_id).is_done:
                    self.forget(job_id)
                    deleted.append(job_id)
            except JobNotFound:
                pass
        return deleted

    def prune(self, before: float, status: JobStatus | None = None) -> int:
        """Delete the jobs that ended before ``before`` (a ``time.time()`` stamp), of one
        ended ``status`` or of every one, in batches that never hold up a running job;
        return how many. Queued and running jobs are never touched."""
        raise NotImplementedError("The 'prune' method must be implemented.")

    def shutdown(self, wait: bool = True) -> None:
        """Stop this backend's workers owned by this process (if any)."""

    def describe(self) -> dict[str, Any]:
        """Settings worth showing (never secrets)."""
        return {"backend": self.name}
