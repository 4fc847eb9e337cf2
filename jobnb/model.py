"""The data model every layer shares: a job's status, its progress, and its record.

Apart from the Job handle (job.py), so that the stores, payloads and backends below the
handle can speak of jobs without importing the handle that drives them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from .exceptions import JobnbError


class JobStatus(str, Enum):
    """The seven states of a job. A ``str``, so it goes straight into pandas and JSON.

    ``waiting``: submitted with dependencies (``jobnb.options(after=...)``, or a Job
    passed as an argument) that have not all finished yet; it becomes ``queued`` when
    they have, or ``cancelled`` when one of them fails, is cancelled or is lost."""

    WAITING = "waiting"
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"

    @property
    def is_done(self) -> bool:
        return self not in (JobStatus.WAITING, JobStatus.QUEUED, JobStatus.RUNNING)

    def __str__(self) -> str:
        return self.value


def refuse_to_forget(job_id: str, status: JobStatus) -> JobnbError:
    """The error for forgetting a job that has not ended (every backend says the same)."""
    return JobnbError(
        f"job {job_id} is {status.value}: only an ended job can be forgotten. Cancel it "
        "first (job.cancel(), then job.wait()), or wait for it to end (job.wait())."
    )


class Progress(NamedTuple):
    """What ``jobnb.progress(done, total, message)`` last reported from inside a job."""

    done: float = 0
    total: float | None = None
    message: str | None = None

    @property
    def fraction(self) -> float | None:
        """``done / total`` in [0, 1], or None when the total is unknown."""
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))


@dataclass(frozen=True)
class Attempt:
    """One earlier run of a job that has ``retries``: how it ended and where (kept in
    ``JobRecord.attempts``; the run under way, or the last one, is the record itself)."""

    number: int  # 1 for the first run
    status: JobStatus  # failed or lost (an attempt that finished ends the job)
    error: str | None  # its traceback text (the end of a long one)
    worker: str | None = None
    started: float | None = None
    finished: float | None = None


#: the exception classes a job is retried on when its options name none (by name: a
#: class travels to a worker as its qualified name, never pickled)
RETRY_ON_ANY = ("builtins.Exception",)


def class_names(cls: type) -> tuple[str, ...]:
    """The qualified names of ``cls`` and its bases (``builtins.ValueError``, ...,
    ``builtins.object``): what a failure is matched with against ``retry_on``."""
    return tuple(f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__)


@dataclass
class JobRecord:
    """A snapshot of everything a backend knows about one job."""

    id: str
    name: str
    backend: str
    status: JobStatus = JobStatus.QUEUED
    kind: str = "call"  # "call", "cell" or "notebook"
    description: str = ""  # the call (``train(lr=0.1)``) or the cell's source
    queue: str | None = None
    timeout: float | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    progress: Progress = Progress()
    worker: str | None = None
    error: str | None = None  # traceback text of a failed job
    #: a notebook job's output notebook (absolute path); None for other kinds
    output: str | None = None
    #: who asked for the job to be cancelled (``user@host``, and from where), once asked
    cancelled_by: str | None = None
    #: how many times a failed (or lost) run is run again, after ``retry_delay`` s,
    #: doubling each time, when it failed with one of ``retry_on`` (qualified names)
    retries: int = 0
    retry_delay: float = 0.0
    retry_on: tuple[str, ...] = RETRY_ON_ANY
    #: the runs that ended before this one (each failed or lost), oldest first
    attempts: list[Attempt] = field(default_factory=list)
    #: while queued between two attempts: when the next one may start (wall clock)
    retry_at: float | None = None
    #: the schedule whose run this job is (its name), and the due time it ran for
    schedule: str | None = None
    due: float | None = None
    #: the ids of the jobs it waits for (``jobnb.options(after=...)``, Jobs passed as
    #: arguments), kept once they have ended
    after: tuple[str, ...] = ()

    @property
    def attempt(self) -> int:
        """The number of the run under way (or the last one, once ended): 1, 2, ..."""
        return len(self.attempts) + 1

    def again(self, job_id: str) -> JobRecord:
        """A fresh record for running the same thing again (resubmit): queued, or
        waiting for the same jobs."""
        return JobRecord(
            id=job_id,
            name=self.name,
            backend=self.backend,
            kind=self.kind,
            description=self.description,
            queue=self.queue,
            timeout=self.timeout,
            output=self.output,
            retries=self.retries,
            retry_delay=self.retry_delay,
            retry_on=self.retry_on,
            # it waits for the same jobs (ended by now: it is settled as it is added)
            status=JobStatus.WAITING if self.after else JobStatus.QUEUED,
            after=self.after,
        )

    @property
    def attempt_text(self) -> str:
        """``attempt 2 of 4`` for a job with retries (its run under way, or its last
        one, of the most it may run); "" for a job without."""
        if not self.retries and not self.attempts:
            return ""
        return f"attempt {self.attempt} of {max(self.retries + 1, self.attempt)}"

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (or to now, while running)."""
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started
