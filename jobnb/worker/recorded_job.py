"""Running one job whose record and payload wait in a records store (SQLite or Redis):
what a queue worker does with the job id its queue hands it, on huey and rq alike.

The worker runs the job in a clean child process it can kill (worker/child.py), one
per worker thread. Every ``BEAT_SECONDS`` it writes what the job printed and its
progress meanwhile into the records (one write, however much the job printed) and
beats the job's heartbeat; the beat also brings back a cancel request, so a running
job stops within ``BEAT_SECONDS``.

A records store that fails for a while (a Redis server restarting, a full disk) does
not break the job: its output and progress wait in memory and are written when the
store answers again, a failed heartbeat is tried again at the next beat, and the
outcome is written as soon as the store answers (tried for ``RECORD_FOR`` seconds).
The worker says so on its stderr, once per outage. Whatever happens, the job ends as
itself: its own outcome if the store came back in time, ``lost`` if it stayed away
longer than the lost window (readers saw its heartbeat stop).

The outcome goes into the records as the child serialized it: the worker reads its
header (status, traceback text), never its value, so a value whose class only the job
can import comes back all the same.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from ..exceptions import SignatureMismatch
from ..model import JobStatus
from ..payload import Outcome, SealedOutcome
from .child import ChildProcess

BEAT_SECONDS = 0.2  # also how soon a running job sees its cancel
RETRY_FIRST = 0.2  # seconds before trying a failed store again, doubling ...
RETRY_MOST = 2.0  # ... up to this (short: the heartbeat must be back within the lost window)
RECORD_FOR = 300.0  # seconds a job's start or outcome is tried while the store fails
#: characters of a job's output kept in memory while the store cannot take them
#: (beyond: dropped, and the log says how much)
KEEP_UNWRITTEN = 64 * 2**20

T = TypeVar("T")


class StoreOutage:
    """Whether a job's records store fails, since when, and when to try it again:
    backing off, and saying so on the worker's stderr once per outage."""

    def __init__(self, records, job_id: str) -> None:
        self.records, self.job_id = records, job_id
        self.failing = False
        self.retry_at = 0.0
        self.pause = RETRY_FIRST

    def failed(self, exc: BaseException) -> None:
        if not self.failing:
            _say(
                f"jobnb worker: cannot write the records of job {self.job_id} "
                f"({_reason(self.records, exc)}), retrying"
            )
        self.failing = True
        self.retry_at = time.monotonic() + self.pause
        self.pause = min(2 * self.pause, RETRY_MOST)

    def answered(self) -> None:
        if self.failing:
            _say(f"jobnb worker: the records of job {self.job_id} are written again")
        self.failing = False
        self.retry_at = 0.0
        self.pause = RETRY_FIRST

    def persist(self, write: Callable[[], T], what: str) -> tuple[bool, T | None]:
        """Call ``write`` until it returns (then ``(True, its value)``), backing off
        while the store fails, for ``RECORD_FOR`` seconds at most (then ``(False,
        None)``, said in the worker's log: ``what`` could not be recorded)."""
        give_up = time.monotonic() + RECORD_FOR
        while True:
            pause = self.retry_at - time.monotonic()
            if pause > 0:  # (a sleep(0) gives the CPU away: a job's start waits for it)
                time.sleep(pause)
            try:
                value = write()
            except SignatureMismatch:
                raise  # not the store's fault: trying again would not help
            except Exception as exc:  # the store's error: it is said, and tried again
                self.failed(exc)
                if time.monotonic() >= give_up:
                    _say(
                        f"jobnb worker: {what} of job {self.job_id} could not be recorded: "
                        f"the records store failed for {RECORD_FOR:g} s "
                        f"({_reason(self.records, exc)})"
                    )
                    return False, None
                continue
            self.answered()
            return True, value


class RecordsReporter:
    """reporting.Reporter gathering a job's output and progress in memory, written into
    the records at each ``tick`` with the job's heartbeat: a job printing 200 MB costs
    a write per tick, not one per line. While the store fails, nothing is lost (up to
    ``KEEP_UNWRITTEN`` characters) and nothing is raised: the writes wait for a later
    tick."""

    def __init__(self, records, job_id: str) -> None:
        self.records, self.job_id = records, job_id
        self.outage = StoreOutage(records, job_id)
        self._output: list[str] = []
        self._size = 0
        self._dropped = 0
        self._progress: tuple | None = None

    def log(self, stream: str, text: str) -> None:
        if self._size >= KEEP_UNWRITTEN:
            self._dropped += len(text)
            return
        self._output.append(text)
        self._size += len(text)

    def progress(self, done: float, total: float | None, message: str | None) -> None:
        self._progress = (done, total, message)  # only the newest is worth writing

    def tick(self) -> bool:
        """Write what the job printed and reported since the last tick, and beat its
        heartbeat; whether a cancel was asked for. A failing store is tried again at a
        later tick, backing off; never raised."""
        if time.monotonic() < self.outage.retry_at:
            return False
        try:
            self.write()
            cancel = self.records.heartbeat(self.job_id)
        except Exception as exc:  # the store's error: the job goes on
            self.outage.failed(exc)
            return False
        self.outage.answered()
        return cancel

    def write(self) -> None:
        """Write the gathered output and the newest progress (raises if the store fails;
        what was not written is kept)."""
        if self._dropped:
            self._output.append(
                f"\n[jobnb: {self._dropped} characters of output were dropped here: the "
                "job's records could not be written meanwhile]\n"
            )
            self._dropped = 0
        if self._output:
            text = "".join(self._output)
            self._output = [text]  # joined once, even if this write fails
            self.records.log(self.job_id, text)
            self._output = []
            self._size = 0
        if self._progress is not None:
            self.records.progress(self.job_id, *self._progress)
            self._progress = None

    def finish(self, outcome: SealedOutcome) -> None:
        """Write the rest of the output, then the outcome (in that order: a reader who
        sees the job ended sees all its log), waiting for a failing store."""

        def record() -> bool:
            self.write()
            return self.records.finish(self.job_id, outcome.status, outcome.error, outcome.blob)

        self.outage.persist(record, f"the outcome ({outcome.status.value})")


_children = threading.local()  # one clean child process per worker thread
_running: dict[str, ChildProcess] = {}  # job id -> the child running it, in this process
_stopped: set[str] = set()  # jobs whose child stop_running killed: the stopper requeues them


def stop_running() -> list[str]:
    """A worker stopping past its grace period: kill the children still running jobs
    here; returns those jobs' ids, which the caller requeues (their threads record no
    end for them)."""
    stopped = list(_running)
    _stopped.update(stopped)
    for job_id in stopped:
        child = _running.get(job_id)
        if child is not None:
            child.kill()
    return stopped


def run_recorded_job(records, job_id: str) -> SealedOutcome | None:
    """Take the queued job ``job_id`` from ``records``, run it in this thread's child
    process, and record how it ended. None when it was cancelled (or taken) before, or
    when the store failed for ``RECORD_FOR`` seconds before it could start."""
    child = getattr(_children, "child", None)
    if child is None:
        child = _children.child = ChildProcess()
    child.ready()
    worker = f"{socket.gethostname()} pid {child.pid}"
    reporter = RecordsReporter(records, job_id)
    try:
        written, started = reporter.outage.persist(
            lambda: records.start(job_id, worker), "the start"
        )
    except SignatureMismatch as exc:  # never unpickled: the job ends failed, saying why
        _say(f"jobnb worker: job {job_id} not run: {exc}")
        error = f"SignatureMismatch: {exc}\n"
        outcome = SealedOutcome.seal(Outcome(JobStatus.FAILED, exception=exc, error=error))
        reporter.finish(outcome)
        return outcome
    if not written or started is None:
        return None
    payload, timeout, cwd, sys_path = started
    _running[job_id] = child
    try:
        outcome = child.run(
            payload,
            reporter,
            timeout,
            check_cancel=reporter.tick,
            tick=BEAT_SECONDS,
            context=(cwd, sys_path),
            results=records.outcome,  # a dependency's, asked by the job (futures.py)
        )
    finally:
        del _running[job_id]
    if job_id in _stopped and outcome.status is JobStatus.LOST:
        return None  # killed by stop_running: requeued, not ended
    if outcome.status in (JobStatus.FAILED, JobStatus.LOST) and _retried(reporter, outcome):
        return outcome  # queued again: its next attempt runs later, maybe elsewhere
    reporter.finish(outcome)
    return outcome


def _retried(reporter: RecordsReporter, outcome: SealedOutcome) -> bool:
    """Whether the store put the job back in the queue for another attempt (its retries
    allow it: records/base.py ``retry``), its output written first."""

    def record() -> float | None:
        reporter.write()
        return reporter.records.retry(
            reporter.job_id, outcome.status, outcome.error, outcome.exception_classes
        )

    written, delay = reporter.outage.persist(record, "the retry")
    return written and delay is not None


def _reason(records, exc: BaseException) -> str:
    """The error, in one line, without the store's password (if its URL has one)."""
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    password = urlsplit(str(getattr(records, "url", "") or "")).password
    return text.replace(password, "***") if password else text


def _say(text: str) -> None:
    """A line on the worker's stderr (its log); never raises: that log may be on the
    very disk that is full."""
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
