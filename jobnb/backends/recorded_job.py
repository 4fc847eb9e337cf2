"""Running one job whose record and payload wait in a records store (SQLite or Redis):
what a queue worker does with the job id its queue hands it, on huey and rq alike.

The worker runs the job in a clean child process it can kill (backends/child.py), one
per worker thread, and beats the job's heartbeat while it runs; the beat also brings
back a cancel request, so a running job stops within ``BEAT_SECONDS``.
"""

from __future__ import annotations

import socket
import threading

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
    outcome = child.run(
        payload,
        RecordsReporter(records, job_id),
        timeout,
        check_cancel=lambda: records.heartbeat(job_id),
        tick=BEAT_SECONDS,
        context=(cwd, sys_path),
    )
    records.finish(job_id, outcome.status, outcome.error, dumps_outcome(outcome))
    return outcome
