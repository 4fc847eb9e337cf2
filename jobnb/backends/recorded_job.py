"""Running one job whose record and payload wait in a records store (SQLite or Redis):
what a queue worker does with the job id its queue hands it, on huey and rq alike.

The worker runs the job in a clean child process it can kill (backends/child.py), one
per worker thread, and beats the job's heartbeat while it runs; the beat also brings
back a cancel request, so a running job stops within ``BEAT_SECONDS``.
"""

from __future__ import annotations

import socket
import threading

from ..job import JobStatus
from ..payload import Outcome, dumps_outcome
from .child import ChildProcess

BEAT_SECONDS = 0.2  # also how soon a running job sees its cancel


class RecordsReporter:
    """runner.Reporter writing a job's output and progress into the records."""

    def __init__(self, records, job_id: str) -> None:
        self.records, self.job_id = records, job_id

    def log(self, stream: str, text: str) -> None:
        self.records.log(self.job_id, text)

    def progress(self, done: float, total: float | None, message: str | None) -> None:
        self.records.progress(self.job_id, done, total, message)


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


def run_recorded_job(records, job_id: str) -> Outcome | None:
    """Take the queued job ``job_id`` from ``records``, run it in this thread's child
    process, and record how it ended. None when it was cancelled (or taken) before."""
    child = getattr(_children, "child", None)
    if child is None:
        child = _children.child = ChildProcess()
    child.ready()
    worker = f"{socket.gethostname()} pid {child.pid}"
    started = records.start(job_id, worker)
    if started is None:
        return None
    payload, timeout, cwd, sys_path = started
    _running[job_id] = child
    try:
        outcome = child.run(
            payload,
            RecordsReporter(records, job_id),
            timeout,
            check_cancel=lambda: records.heartbeat(job_id),
            tick=BEAT_SECONDS,
            context=(cwd, sys_path),
        )
    except BaseException:  # (its store gone, a stop): the child may still hold the job
        child.kill()
        raise
    finally:
        del _running[job_id]
    if job_id in _stopped and outcome.status is JobStatus.LOST:
        return None  # killed by stop_running: requeued, not ended
    records.finish(job_id, outcome.status, outcome.error, dumps_outcome(outcome))
    return outcome
