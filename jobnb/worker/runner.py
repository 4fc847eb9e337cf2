"""Executes a payload in any worker: the one function every backend runs.

``run(payload, reporter)`` sends what the job prints and its ``jobnb.progress`` calls to
``reporter`` as they happen, and returns an Outcome. It never raises for the job's own
errors: they come back as a failed Outcome carrying the traceback text.
"""

from __future__ import annotations

import traceback
from typing import Any

from ..exceptions import JobnbError, NotebookError
from ..model import JobStatus
from ..payload import Outcome, Payload, loads
from .interrupts import CancelInterrupt, Interrupted, TimeoutInterrupt
from .reporting import Reporter, own_process, reporting_to

__all__ = [
    "CancelInterrupt",
    "Interrupted",
    "TimeoutInterrupt",
    "interrupted_outcome",
    "own_process",
    "run",
]


class RunningJob:
    """The payload.Worker a payload runs with: the job's id and reporter, and what only
    a worker does (a notebook's execution)."""

    def __init__(self, job_id: str, reporter: Reporter, results=None) -> None:
        self.job_id = job_id
        self.reporter = reporter
        self._results = results

    def result_of(self, job_id: str) -> Any:
        """The value of job ``job_id``, whose result is an argument of this one
        (payload/futures.py): asked of whoever runs the job, which reads it where its
        backend keeps outcomes."""
        if self._results is None:
            raise JobnbError(
                f"this job takes the result of job {job_id} as an argument, but it runs "
                "where no job results can be read: submit it through jobnb.submit"
            )
        return self._results(job_id)

    def run_notebook(self, payload: Any) -> dict[str, Any]:
        # nbclient is heavy: imported when a notebook job runs, never by `import jobnb`
        from . import notebook_client

        return notebook_client.execute(payload, self.reporter)


def run(payload, reporter: Reporter, job_id: str = "job", results=None) -> Outcome:
    """Execute ``payload`` (a Payload, or its serialization in one buffer: its arrays
    are loaded as views of that buffer) and return its Outcome. ``results(id)`` gives
    the value of a job whose result is one of its arguments (payload/futures.py)."""
    with reporting_to(reporter):
        try:
            if not isinstance(payload, Payload):
                payload = loads(payload)
            value = payload.execute(RunningJob(job_id, reporter, results))
            return Outcome(JobStatus.FINISHED, value, named_outputs=payload.named_outputs)
        except Interrupted as exc:
            return interrupted_outcome(exc)
        except NotebookError as exc:  # the notebook's traceback, not jobnb's frames
            error = exc.traceback or f"{type(exc).__name__}: {exc}\n"
            return Outcome(JobStatus.FAILED, exception=exc, error=error)
        except BaseException as exc:  # the job's own error, SystemExit included: keep it
            return Outcome(JobStatus.FAILED, exception=exc, error=_format(exc))


def interrupted_outcome(exc: Interrupted) -> Outcome:
    """The Outcome of a job stopped by a CancelInterrupt or TimeoutInterrupt."""
    if isinstance(exc, CancelInterrupt):
        return Outcome.cancelled("while running")
    return Outcome.timed_out(None, _format(exc))


def _is_own(frame: Any) -> bool:
    """A frame of this module or of a payload's ``execute``: not the job's own."""
    module = frame.f_globals.get("__name__", "")
    return module == __name__ or module.startswith("jobnb.payload.")


def _format(exc: BaseException) -> str:
    """The traceback text without jobnb's own frames at its top."""
    tb = exc.__traceback__
    while tb is not None and _is_own(tb.tb_frame):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))
