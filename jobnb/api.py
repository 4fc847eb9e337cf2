"""The Python API: configure, submit, submit_notebook, map, get, forget, prune, jobs,
jobs_df, job_history.

Backends are created on first use and kept for the life of the process, one per
(name, options), where the options are only the settings that backend takes
(backends/options.py): a job keeps working through its own backend after ``configure``
switches to another, a setting the backend does not take leaves it (and its pool) as
it is, and ``jobs()`` lists the jobs of every backend used here.
"""

from __future__ import annotations

import atexit
import builtins
import datetime as dt
import functools
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from . import config, notify
from .backends import canonical_name, create_backend
from .backends.base import Backend, JobOptions, new_job_id
from .backends.options import BackendOptions
from .dependencies import resolve_after, take_futures, with_after
from .exceptions import JobnbError, JobNotFound
from .history import JobHistory, as_timestamp
from .job import Job, forget_together
from .model import JobStatus, refuse_to_forget
from .payload import CallPayload, CellPayload, NotebookPayload

if TYPE_CHECKING:
    import pandas

_overrides: dict[str, Any] = {}
_backends: dict[tuple[str, BackendOptions], Backend] = {}
_lock = threading.Lock()


def configure(backend: str | None = None, **options: Any) -> config.Settings:
    """Choose the backend and its options for the jobs submitted from now on.

    Parameters
    ----------
    backend
        ``"huey"`` (the default), ``"thread"``, ``"subprocess"`` (or ``"process"``),
        ``"rq"`` (or ``"redis"``).
    **options
        ``workers`` (pool size), ``redis_url`` (rq's server), ``home`` (huey's folder,
        or a Redis URL), ``result_ttl``, ``secret_key_file`` (the Redis backends' key
        file). Each backend takes the ones it uses and ignores the rest, which are kept
        for the backends that use them. ``notify=True``: a desktop notification in the
        notebook's page when each job submitted from here ends.

    Returns the resolved settings. Unknown names raise ConfigError.
    """
    candidate = dict(_overrides, **options)
    if backend is not None:
        candidate["backend"] = backend
    settings = config.resolve(candidate)  # raises before anything changes
    _overrides.clear()
    _overrides.update(candidate)
    return settings


def settings() -> config.Settings:
    """The settings in force, after precedence."""
    return _resolve_cached(tuple(sorted(_overrides.items())), *config.sources_key())


@functools.lru_cache(maxsize=8)
def _resolve_cached(overrides: tuple, *_sources: object) -> config.Settings:
    # keyed on what the settings are read from, so submit does not re-read jobnb.toml
    return config.resolve(dict(overrides))


def get_backend(name: str | None = None) -> Backend:
    """The backend instance for ``name`` (default: the configured one)."""
    return _backend_and_settings(name)[0]


def _backend_and_settings(name: str | None) -> tuple[Backend, config.Settings]:
    """The backend for ``name`` and the settings it was chosen by: one read of the
    settings per submit (14 us each, a tenth of a thread-backend submit)."""
    current = settings()
    backend_name = canonical_name(name) if name else current.backend
    key = (backend_name, _backend_options(backend_name, current))
    backend = _backends.get(key)
    if backend is None:
        with _lock:
            backend = _backends.get(key)
            if backend is None:
                backend = _backends[key] = create_backend(*key)
    return backend, current


@functools.lru_cache(maxsize=16)
def _backend_options(name: str, current: config.Settings) -> BackendOptions:
    # cached: get_backend runs on every submit, and the settings rarely change
    return current.backend_options(name)


class Submitter:
    """Submits jobs with fixed job options; made by :func:`options`."""

    def __init__(
        self,
        job_options: JobOptions,
        backend: str | None = None,
        notify: bool | None = None,
        after: tuple = (),
    ) -> None:
        self.job_options = job_options
        self.backend = backend
        #: tell of each job's end (None: as ``configure(notify=...)`` says); kept in this
        #: kernel, not in the job's options: the wish is the submitter's (notify.py)
        self.notify = notify
        #: the jobs to wait for (Jobs, ids, names), resolved at each submit
        self.after = tuple(after)

    def _backend(self) -> tuple[Backend, bool]:
        """The backend to submit to, and whether its jobs are to be told of."""
        backend, current = _backend_and_settings(self.backend)
        return backend, current.notify if self.notify is None else self.notify

    def _options(self, backend: Backend, *more_after: tuple[str, ...]) -> JobOptions:
        """The job options, with what to wait for as ids of ``backend``."""
        return with_after(self.job_options, resolve_after(backend, self.after), *more_after)

    @staticmethod
    def _submitted(job: Job, notify_at_end: bool) -> Job:
        """``job``, handed to the notifier first if it is to be told of."""
        if notify_at_end:
            notify.notify_at_end(job)
        return job

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Job:
        """Run ``fn(*args, **kwargs)`` as a job; return its Job at once. A Job among the
        arguments stands for its result: this job waits for it (dependencies.py)."""
        backend, told = self._backend()
        args, kwargs, futures = take_futures(backend, args, kwargs)
        options = self._options(backend, futures)
        job_id = backend.submit(CallPayload(fn, args, kwargs), options)
        return self._submitted(Job(backend, job_id), told)

    def map(self, fn: Callable[..., Any], /, *iterables: Iterable[Any]) -> list[Job]:
        """One job per item, like the builtin ``map``; queued in one go."""
        backend, told = self._backend()
        payloads = [CallPayload(fn, args) for args in zip(*iterables, strict=False)]
        ids = backend.submit_many(payloads, self._options(backend))
        return [self._submitted(Job(backend, job_id), told) for job_id in ids]

    def submit_cell(
        self,
        source: str,
        inputs: dict[str, Any],
        outputs: tuple[str, ...],
        namespace: dict | None = None,
    ) -> Job:
        """Run notebook cell ``source`` as a job (the engine of ``%%submit``)."""
        backend, told = self._backend()
        job_id = backend.submit(CellPayload(source, inputs, outputs), self._options(backend))
        return self._submitted(Job(backend, job_id, namespace=namespace), told)

    def submit_notebook(
        self,
        path: str | os.PathLike,
        parameters: dict[str, Any] | None = None,
        output: str | os.PathLike | None = None,
        kernel_name: str | None = None,
    ) -> Job:
        """Run the notebook at ``path`` as a job (see :func:`submit_notebook`)."""
        backend, told = self._backend()
        payload = NotebookPayload.prepare(path, parameters, output, kernel_name, new_job_id())
        job_id = backend.submit(payload, self._options(backend))
        return self._submitted(Job(backend, job_id), told)


def options(
    *,
    name: str | None = None,
    timeout: float | None = None,
    queue: str | None = None,
    backend: str | None = None,
    retries: int = 0,
    retry_delay: float | None = None,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] | None = None,
    notify: bool | None = None,
    after: Iterable[Job | str] = (),
) -> Submitter:
    """Job options, kept apart from the function's own keyword arguments::

    jobnb.options(name="train", timeout=600).submit(train, lr=0.1)
    jobnb.options(retries=3, retry_delay=10, retry_on=(OSError,)).submit(fetch, url)
    jobnb.options(notify=True).submit(train)  # a desktop notification when it ends

    ``retries``: a run that fails (with one of ``retry_on``, default any Exception; a
    timeout is a ``JobTimeout``) or whose worker is lost (a ``JobLost``) runs again, up
    to ``retries`` times, ``retry_delay`` seconds later (default 1), the delay doubling
    each time; a cancelled job never runs again. ``job.attempts`` lists the runs that
    failed; once none is left, the job ends as its last run did.

    ``notify``: tell of the job's end with a desktop notification in the notebook's
    page (None: as ``jobnb.configure(notify=...)`` says, off by default).

    ``after``: Jobs, job ids or names, on the same backend: the job stays ``waiting``
    until they have all finished, and is cancelled (saying which) if one fails, is
    cancelled or is lost.
    """
    if backend is not None:
        canonical_name(backend)  # an unknown name fails here, not at submit
    if isinstance(after, (str, Job)):
        after = (after,)
    job_options = JobOptions(
        name=name,
        timeout=timeout,
        queue=queue,
        retries=retries,
        retry_delay=retry_delay,
        retry_on=retry_on,
    )
    return Submitter(job_options, backend, notify, tuple(after))


def submit(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Job:
    """Run ``fn(*args, **kwargs)`` as a background job on the configured backend."""
    return options().submit(fn, *args, **kwargs)


def submit_notebook(
    path: str | os.PathLike,
    parameters: dict[str, Any] | None = None,
    output: str | os.PathLike | None = None,
    kernel_name: str | None = None,
    timeout: float | None = None,
) -> Job:
    """Run a whole notebook as a background job, with nbclient, on the configured backend.

    Parameters
    ----------
    path
        The notebook. It is read now: the job runs it as it is at this moment.
    parameters
        Written into a new cell as ``name = repr(value)`` lines, as papermill does: after
        the cell tagged ``parameters``, or first when there is none. Values must be
        Python literals (str, int, float, bool, None, and containers of them).
    output
        Where the executed notebook is written (a file, or a folder); default: beside
        the input, ``<name>-<job id>.ipynb``. Written also when a cell fails.
    kernel_name
        The Jupyter kernel to run it in; default: the notebook's own, else python3.
    timeout
        Stop the job after this many seconds.

    ``job.progress`` counts the cells run over the cells to run, with the running
    cell's first line as its message; ``job.logs()`` holds what the cells print;
    ``job.result()`` is a dict of the values the notebook recorded with
    ``jobnb.record(name, value)``, or raises NotebookCellError naming the failed cell.
    Other job options: ``jobnb.options(name=..., backend=...).submit_notebook(...)``.
    """
    return options(timeout=timeout).submit_notebook(path, parameters, output, kernel_name)


def map(fn: Callable[..., Any], /, *iterables: Iterable[Any]) -> list[Job]:  # noqa: A001
    """Submit ``fn(item)`` for every item: ``jobnb.map(f, xs)``, or ``jobnb.map(f, xs, ys)``."""
    return options().map(fn, *iterables)


def _used_backends() -> list[Backend]:
    return builtins.list(_backends.values()) or [get_backend()]


def get(job_id_or_name: str) -> Job:
    """The Job with that id, or the newest job with that name."""
    if isinstance(job_id_or_name, Job):
        return job_id_or_name
    key = str(job_id_or_name)
    backends = _used_backends()
    for backend in backends:
        try:
            backend.record(key)
            return Job(backend, key)
        except JobNotFound:
            pass
    newest: tuple[float, Backend, str] | None = None
    for backend in backends:
        try:
            found = backend.find(key)
        except JobNotFound:
            continue
        submitted = backend.record(found).submitted
        if newest is None or submitted > newest[0]:
            newest = (submitted, backend, found)
    if newest is None:
        raise JobNotFound(f"no job has the id or name {key!r}")
    return Job(newest[1], newest[2])


def forget(*jobs: Job | str) -> list[str]:
    """Delete ended jobs with what they ran, their results and their logs; returns their
    ids. Each is a Job, an id, or a name (the newest job of that name, as :func:`get`).

    Nothing is deleted when one of them is not found or has not ended (JobnbError: cancel
    it first, or wait for it).
    """
    found = [get(job) for job in jobs]
    for job in found:
        status = job.status
        if not status.is_done:
            raise refuse_to_forget(job.id, status)
    forget_together(found)  # each backend's at once (one transaction or script)
    return [job.id for job in found]


def prune(
    older_than: dt.timedelta | float | None = None,
    *,
    before: dt.datetime | float | None = None,
    status: str | JobStatus | None = None,
) -> int:
    """Delete the ended jobs that ended more than ``older_than`` ago (a timedelta, or
    seconds), or ``before`` a time (a datetime, naive meaning local time, or a
    ``time.time()`` stamp), with what they ran, their results and their logs, as
    :func:`forget` does; on every backend used in this process. ``status``: only the jobs
    that ended so (``"finished"``, ``"failed"``, ``"cancelled"``, ``"lost"``); None: all
    of them. Returns how many jobs were deleted.

    Queued and running jobs are never deleted. The deletes go in batches of a few
    thousand jobs, each in its own short transaction (SQLite) or script (Redis), so
    running jobs and other kernels never wait for a prune more than a moment::

        jobnb.prune(older_than=datetime.timedelta(days=30))
        jobnb.prune(before=datetime.datetime(2026, 1, 1), status="failed")
    """
    cut = _prune_cut(older_than, before)
    ended = _ended_status(status)
    return sum(backend.prune(cut, ended) for backend in _used_backends())


def _prune_cut(
    older_than: dt.timedelta | float | None, before: dt.datetime | float | None
) -> float:
    """The ``time.time()`` stamp a prune deletes the jobs ended before."""
    if (older_than is None) == (before is None):
        raise JobnbError(
            "say which jobs to prune: older_than=<a timedelta or seconds> (e.g. "
            "older_than=datetime.timedelta(days=30)) or before=<a datetime>, not "
            + ("both" if before is not None else "neither")
        )
    if before is not None:
        return as_timestamp(before, "before")
    seconds = older_than.total_seconds() if isinstance(older_than, dt.timedelta) else older_than
    if (
        not isinstance(seconds, int | float)
        or isinstance(seconds, bool)
        or not seconds >= 0  # (NaN too)
    ):
        raise JobnbError(
            f"older_than={older_than!r} is not an age: give a timedelta or a number of "
            "seconds >= 0 (0 prunes every ended job)"
        )
    return time.time() - seconds


def _ended_status(status: str | JobStatus | None) -> JobStatus | None:
    """``status`` as an ended JobStatus (None: every one); a JobnbError otherwise."""
    ended = ", ".join(s.value for s in JobStatus if s.is_done)
    if status is None:
        return None
    try:
        parsed = JobStatus(str(status).lower())
    except ValueError:
        raise JobnbError(f"unknown status {status!r}: prune takes one of {ended}") from None
    if not parsed.is_done:
        raise JobnbError(
            f"prune deletes ended jobs only, not {parsed.value} ones: give one of {ended} "
            "(cancel a job first to delete it)"
        )
    return parsed


def job_history() -> JobHistory:
    """The jobs of every backend used in this process: counts, pages of records, stats
    and Job handles, newest first (what ``jobnb.dashboard()`` shows)."""
    return JobHistory(_used_backends)


def jobs(status: str | JobStatus | None = None) -> list[Job]:
    """Every job of the backends used in this process, newest first."""
    return job_history().jobs(status)


def counts() -> dict[JobStatus, int]:
    """How many jobs are in each status, over the backends used here (as
    ``job_history().counts()``)."""
    return job_history().counts()


def jobs_df(
    status: str | JobStatus | None = None,
    limit: int | None = None,
    since: dt.datetime | float | None = None,
) -> pandas.DataFrame:
    """The jobs as a DataFrame, newest first, with the columns of
    ``jobnb.history.JOBS_DF_COLUMNS``.

    ``limit``: at most that many rows, the newest (None: every job). ``since``: only the
    jobs submitted at or after it (a datetime, naive meaning local time, a pandas
    Timestamp, or a ``time.time()`` stamp; None: every job). The stores read only the
    rows asked for, so ``jobs_df(limit=50)`` is as quick on a long history as on a short
    one.
    """
    return job_history().dataframe(status, limit, since)


def shutdown(wait: bool = True) -> None:
    """Stop the workers this process started and forget its backends and settings.

    Jobs of ``thread`` and ``subprocess`` end with their workers; the next submit
    starts afresh from the configuration sources.
    """
    with _lock:
        backends = builtins.list(_backends.values())
        _backends.clear()
        _overrides.clear()
    for backend in backends:
        try:
            backend.shutdown(wait=wait)
        except Exception:  # noqa: BLE001 - stopping the others matters more
            pass


atexit.register(shutdown, wait=False)
