"""The Job handle users hold: every property asks the job's backend by id."""

from __future__ import annotations

import getpass
import os
import socket
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .done_callbacks import done_callbacks
from .exceptions import (
    JobCancelled,
    JobFailed,
    JobLost,
    JobnbError,
    JobnbWarning,
    ResultTimeout,
)
from .model import Attempt, JobRecord, JobStatus, Progress


def asked_by(via: str | None = None) -> str:
    """Who this process acts for, as a job's record keeps it (``user@host``), and from
    where (``via``)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a uid with no name (some containers)
        user = f"uid {os.getuid()}"
    who = f"{user}@{socket.gethostname()}"
    return f"{who} via {via}" if via else who


if TYPE_CHECKING:
    from .backends.base import Backend  # for type hints only: the handle is above the backends
    from .payload import Outcome


class RemoteTraceback(Exception):
    """Carries a worker's traceback text as the ``__cause__`` of a re-raised job error."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb}"""'


class Job:
    """A handle on a submitted job. Every property reads the backend, so it is always current.

    Obtain one from ``jobnb.submit``, ``jobnb.map``, ``jobnb.get`` or ``%%submit``.
    """

    def __init__(self, backend: Backend, job_id: str, namespace: dict | None = None) -> None:
        self._backend = backend
        self.id = job_id
        #: where ``pull()`` writes a cell job's outputs (the notebook's namespace)
        self.namespace = namespace
        self.pulled: list[str] | None = None
        #: the ended job's outcome, loaded once (its value may be large to load)
        self._outcome: Outcome | None = None

    # --- what the backend knows -------------------------------------------------------
    def record(self) -> JobRecord:
        """A snapshot of the job's record (status, times, progress, worker, error)."""
        return self._backend.record(self.id)

    @property
    def name(self) -> str:
        return self.record().name

    @property
    def backend(self) -> str:
        return self._backend.name

    @property
    def status(self) -> JobStatus:
        return self._backend.status(self.id)

    @property
    def progress(self) -> Progress:
        return self.record().progress

    @property
    def attempts(self) -> list[Attempt]:
        """The runs of this job that ended before its current (or last) one, oldest
        first: each failed or lost, with its error (``jobnb.options(retries=N)``)."""
        return self.record().attempts

    @property
    def error(self) -> str | None:
        """The job's traceback text when it failed, else None."""
        return self.record().error

    def done(self) -> bool:
        """True once the job has ended, however it ended."""
        return self.status.is_done

    def logs(self) -> str:
        """What the job wrote to stdout and stderr so far (also while it runs).

        Every backend keeps at most ``log_bytes_kept`` bytes of a job's log (a setting,
        4 MB by default): its head and its tail. When a longer log had its middle
        dropped, a line ``[jobnb: N bytes of log dropped here; ...]`` stands there,
        saying where the whole log is (a SQLite home keeps it in a file); the
        ``logs_dropped`` property says how many bytes were dropped (0: this is all).
        """
        return self._backend.logs(self.id)

    def log_tail(self, lines: int = 12) -> str:
        """The end of the job's log holding its last ``lines`` lines (what a live view
        shows): read from the end, so its cost does not follow the log's length;
        ``job.log_tail(n).splitlines() == job.logs().splitlines()[-n:]``."""
        return self._backend.log_tail(self.id, lines)

    @property
    def logs_dropped(self) -> int:
        """How many bytes of the job's log its store dropped (0 when ``logs()`` has it
        whole; see ``logs``)."""
        return self._backend.log_dropped(self.id)

    # --- waiting and results ---------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> Job:
        """Block until the job ends; raise ResultTimeout if ``timeout`` seconds pass first."""
        if not self._backend.wait(self.id, timeout):
            raise ResultTimeout(
                f"job {self.id} is still {self.status.value} after {timeout} s; it goes on running"
            )
        return self

    def add_done_callback(self, fn: Callable[[Job], object]) -> None:
        """Call ``fn(job)`` once, in this process, when the job ends, however it ends
        (finished, failed, cancelled, lost): at once when it has already ended, else
        from a thread of this process that watches the ended jobs' records (within a
        quarter of a second of the end, on every backend). The name and the contract
        are ``concurrent.futures.Future``'s::

            job.add_done_callback(lambda job: print(f"{job.name}: {job.status.value}"))

        Callbacks run in the order they were added. One that raises is logged (logger
        ``jobnb``, with the job's id and the traceback) and the others still run.
        """
        done_callbacks().add(self, fn)

    def result(self, timeout: float | None = None) -> Any:
        """The job's return value (for a cell job: a dict of the names it assigned).

        Re-raises the job's own exception, with the worker's traceback chained as its
        cause; raises JobCancelled or JobLost when the job did not run to its end, and
        JobFailed when the exception cannot be rebuilt in this process.
        """
        if self._outcome is None:
            self.wait(timeout)  # here, not below: a warning it gives points at the caller
        outcome = self._ended_outcome()
        status = outcome.status
        if status is JobStatus.FINISHED:
            return outcome.value
        if status is JobStatus.CANCELLED:
            raise JobCancelled(f"job {self.id} ({self.name}) was cancelled", outcome.error)
        if status is JobStatus.LOST:
            raise JobLost(
                f"job {self.id} ({self.name}) was lost: {outcome.summary()}", outcome.error
            )
        exc = outcome.exception
        if exc is None:
            raise JobFailed(
                f"job {self.id} ({self.name}) failed: {outcome.summary()}", outcome.error
            )
        if outcome.error and not isinstance(exc, JobFailed):
            exc.__cause__ = RemoteTraceback(outcome.error)
        raise exc

    def _ended_outcome(self) -> Outcome:
        """How the ended job ended: loaded on the first call only (an ended job's outcome
        never changes), so ``result()``, ``pull()`` and the widget share one load."""
        if self._outcome is None:
            self._outcome = self._backend.outcome(self.id)
        return self._outcome

    def cancel(self, via: str | None = None) -> bool:
        """Cancel the job: a queued job never runs, a running one is stopped. Its record
        keeps who asked (``cancelled_by``: ``user@host``, then ``via ...`` when given, say
        ``via="the dashboard"``).

        Returns False when the job had already ended.
        """
        return self._backend.cancel(self.id, asked_by(via))

    def resubmit(self) -> Job:
        """Queue a new job that runs what this one ran, with its name and options, and
        return its handle (a cell job's outputs go to the same namespace). This job is
        left as it is; the new one has an id of its own.

        Raises JobNotFound when this job was forgotten (nothing left to run again).
        """
        return Job(self._backend, self._backend.resubmit(self.id), namespace=self.namespace)

    def forget(self) -> None:
        """Delete the ended job from its backend: its record, what it ran, its result and
        its logs (a persistent home gives the space back). From then on it is not found.

        Raises JobnbError for a queued or running job: cancel it first, or wait.
        """
        self._backend.forget(self.id)
        self._outcome = None  # gone: this handle no longer has a result either

    def pull(self) -> list[str]:
        """Assign a finished cell job's outputs into the notebook's namespace now."""
        if self.namespace is None:
            raise JobnbError(f"job {self.id} is not a %%submit cell job: nothing to pull")
        outputs = self.result()
        for message in self._ended_outcome().warnings:
            warnings.warn(f"job {self.id}: {message}", JobnbWarning, stacklevel=2)
        self.namespace.update(outputs)
        self.pulled = list(outputs)
        return self.pulled

    # --- display ---------------------------------------------------------------------------
    def __repr__(self) -> str:
        rec = self.record()
        extra = ""
        if rec.status is JobStatus.RUNNING and rec.progress.fraction is not None:
            extra = f" {rec.progress.fraction:.0%}"
        return f"<Job {rec.id} {rec.name!r} {rec.status.value}{extra} on {rec.backend}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


def poll(jobs: Iterable[Job], log_lines: int) -> dict[Job, tuple[JobRecord, str]]:
    """The record and log tail (``log_lines`` lines: ``Job.log_tail``) of each of ``jobs``,
    in one request per backend: what a live view (the widgets' monitor) reads each round.

    A job that is not found is left out, and so are the jobs of a backend that cannot be
    read now (a live view tries again next round instead of failing).
    """
    by_backend: dict[Backend, list[Job]] = defaultdict(list)
    for job in jobs:
        by_backend[job._backend].append(job)
    found: dict[Job, tuple[JobRecord, str]] = {}
    for backend, group in by_backend.items():
        try:
            read = backend.poll([job.id for job in group], log_lines)
        except Exception:  # noqa: BLE001 - unreachable now; the others still answer
            continue
        found.update((job, read[job.id]) for job in group if job.id in read)
    return found


def forget_together(jobs: Iterable[Job]) -> None:
    """Forget ended ``jobs`` (as ``Job.forget``), each backend's in one request: one
    transaction or script for a thousand ids, not a thousand. Their handles keep no
    result. Jobs not ended are left to the caller to refuse first."""
    by_backend: dict[Backend, list[Job]] = defaultdict(list)
    for job in jobs:
        by_backend[job._backend].append(job)
    for backend, group in by_backend.items():
        backend.forget_many([job.id for job in group])
        for job in group:
            job._outcome = None
