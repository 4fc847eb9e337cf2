"""What a job waits for, resolved in the kernel at submit: the jobs named by
``jobnb.options(after=[job, "name_or_id"])`` or ``%%submit --after``, and the Jobs
passed among a call's top-level arguments (futures: payload/futures.py), become the
ids of ``JobOptions.after``, all on the backend the job is submitted to (a job waits
only for jobs its own workers or store can see end).

An id or name the backend does not hold, or a Job of another backend, is a
DependencyNotFound naming it, raised before anything is submitted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from .backends.base import Backend, JobOptions
from .exceptions import DependencyNotFound, JobNotFound
from .job import Job
from .payload.futures import ResultOf


def resolve_after(backend: Backend, after: Iterable[Job | str]) -> tuple[str, ...]:
    """The ids of the jobs ``after`` names (Jobs, ids or names), on ``backend``."""
    ids: list[str] = []
    for item in after:
        job_id = _id_of(backend, item)
        if job_id not in ids:
            ids.append(job_id)
    return tuple(ids)


def _id_of(backend: Backend, item: Job | str) -> str:
    if isinstance(item, Job):
        if item._backend is not backend:
            raise DependencyNotFound(
                f"job {item.id} runs on backend {item.backend!r} ({_where(item._backend)}), "
                f"not on {backend.name!r} ({_where(backend)}), where this job is submitted: "
                "a job can wait only for jobs of its own backend. Submit both to one backend "
                "(jobnb.options(backend=...))."
            )
        return item.id
    if not isinstance(item, str):
        raise DependencyNotFound(f"{item!r} names no job: after= takes Jobs, job ids and job names")
    try:
        return backend.record(item).id
    except JobNotFound:
        pass
    try:
        return backend.find(item)
    except JobNotFound:
        raise DependencyNotFound(
            f"no job with id or name {item!r} on backend {backend.name!r} "
            f"({_where(backend)}) to wait for: see jobnb.jobs_df() for the jobs there"
        ) from None


def _where(backend: Backend) -> str:
    described = backend.describe()
    return ", ".join(f"{k} {v}" for k, v in described.items() if k != "backend") or "here"


def take_futures(
    backend: Backend, args: tuple, kwargs: dict[str, Any]
) -> tuple[tuple, dict[str, Any], tuple[str, ...]]:
    """``args`` and ``kwargs`` with each top-level Job replaced by a ResultOf, and the
    ids of those jobs (checked to be on ``backend``)."""
    found: list[str] = []

    def placeholder(value: Any) -> Any:
        if not isinstance(value, Job):
            return value
        job_id = _id_of(backend, value)
        found.append(job_id)
        return ResultOf(job_id, value.name)

    args = tuple(placeholder(a) for a in args)
    kwargs = {k: placeholder(v) for k, v in kwargs.items()}
    return args, kwargs, tuple(dict.fromkeys(found))


def with_after(options: JobOptions, *ids: Iterable[str]) -> JobOptions:
    """``options`` waiting also for ``ids`` (in order, once each)."""
    after = tuple(dict.fromkeys([*options.after, *(i for group in ids for i in group)]))
    return options if after == options.after else dataclasses.replace(options, after=after)
