"""A job's result as another job's argument (futures style, as dask does):
``jobnb.submit(report, jobnb.submit(train, data))``.

In the kernel, a ``Job`` among a call's top-level arguments (positional or keyword) is
replaced by a ``ResultOf`` (its id and
name: a few bytes, never the Job, which holds a backend) and its id added to what the
job waits for (``JobOptions.after``), so the job runs only once that one has finished.
Where the job runs, each ``ResultOf`` is replaced by that job's value, which the worker
reads from where the backend keeps outcomes (worker/runner.py ``RunningJob.result_of``:
the kernel's memory, or the records store through the queue worker). A Job nested
inside a list or a dict is not replaced: it travels as itself, and fails to pickle
with a message naming it (a PayloadError; on the thread backend, where nothing is
pickled, it arrives as the Job). A ``%%submit`` cell's input variables are not
futures either: ``%%submit --after`` makes a cell wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..exceptions import JobnbError
from ..model import JobStatus
from .outcome import Outcome


@dataclass(frozen=True)
class ResultOf:
    """Stands, in a payload, for the value of job ``job_id`` (named ``name``)."""

    job_id: str
    name: str

    def __repr__(self) -> str:  # (what a job's description shows: report(<train 0a1b>))
        return f"<result of {self.name} {self.job_id}>"


def replace_results(values: list[Any], result_of) -> list[Any]:
    """``values`` with each ResultOf replaced by ``result_of(job_id)``."""
    return [result_of(v.job_id) if isinstance(v, ResultOf) else v for v in values]


def value_of(job_id: str, outcome: Outcome) -> Any:
    """The value a dependency's ``outcome`` gives its dependent; a JobnbError when it did
    not finish (its dependents are cancelled then, so this is seen only when it was
    forgotten and submitted again, or a value could not be loaded)."""
    if outcome.status is not JobStatus.FINISHED:
        raise JobnbError(
            f"job {job_id}, whose result is an argument of this job, {outcome.status.value}: "
            f"{outcome.summary()}. Run it again, then submit this job again."
        )
    return outcome.value
