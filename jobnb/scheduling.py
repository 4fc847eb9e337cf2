"""Schedules in the public API: ``jobnb.schedule(fn_or_notebook, cron=... | every=...)``
returns a :class:`Schedule`; ``jobnb.schedules()`` and ``jobnb.schedules_df()`` list
them. A schedule lives in its backend's store (the SQLite home, or Redis for huey on
Redis and rq) and fires from that backend's workers (backends/schedule_firing.py), so
it outlives the kernel that made it; each run is an ordinary job whose record carries
the schedule's name and its due time.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .api import get_backend
from .backends.base import Backend
from .backends.records.schedules import Schedules
from .backends.records_backend import RecordsBackend
from .backends.schedule_firing import schedules_of
from .exceptions import ConfigError, JobnbWarning, ScheduleNotFound, SchedulesNeedAQueue
from .history import as_timestamp
from .job import Job
from .model import JobRecord
from .payload import CallPayload, NotebookPayload
from .payload.base import dumps_payload
from .schedule_record import ScheduleRecord, checked_name
from .schedule_times import Timing, checked_catchup

if TYPE_CHECKING:
    import pandas

#: the columns of ``schedules_df()``
SCHEDULES_DF_COLUMNS = (
    "name",
    "when",
    "next_run",
    "last_run",
    "last_status",
    "paused",
    "catchup",
    "description",
    "queue",
)


def store_of(backend: Backend) -> Schedules:
    """The schedules of ``backend``'s store; SchedulesNeedAQueue for a backend without
    workers of its own (thread, subprocess)."""
    if not isinstance(backend, RecordsBackend):
        raise SchedulesNeedAQueue(
            f"the {backend.name} backend cannot keep schedules: schedules fire from queue "
            "workers, which outlive the kernel, and its jobs run inside this kernel. Use "
            "jobnb.configure('huey') (the default: a worker of the SQLite home, started "
            "for you) or 'rq', or pass backend='huey' to jobnb.schedule"
        )
    return schedules_of(backend.records_store)


class Schedule:
    """A handle on a stored schedule: every property reads the store, so it is current.

    ``.name``, ``.next_run``, ``.last_run`` (the Job of its last run), ``.paused``,
    ``.pause()``, ``.resume()``, ``.remove()``, ``.runs()`` (the Jobs it ran).
    """

    def __init__(self, backend: Backend, name: str) -> None:
        self._backend = backend
        self._store = store_of(backend)
        self.name = name

    def record(self) -> ScheduleRecord:
        return self._store.get(self.name)

    def _local(self, stamp: float | None) -> dt.datetime | None:
        if stamp is None:
            return None
        return dt.datetime.fromtimestamp(stamp, ZoneInfo(self.record().timing.tz))

    @property
    def when(self) -> str:
        """``cron '0 6 * * *' (Europe/Paris)`` or ``every 15 min``."""
        return self.record().timing.describe()

    @property
    def next_run(self) -> dt.datetime | None:
        """Its next due time, in its time zone (None while paused)."""
        return self._local(self.record().next_due)

    @property
    def last_run(self) -> Job | None:
        """The job of its last run (None: it has not run yet)."""
        last_job = self.record().last_job
        return None if last_job is None else Job(self._backend, last_job)

    @property
    def paused(self) -> bool:
        return self.record().paused

    def pause(self) -> Schedule:
        """Fire no more runs until resumed (runs already queued go on)."""
        self._store.pause(self.name)
        return self

    def resume(self) -> Schedule:
        """Fire again from its next due time: what fell due while paused is not run."""
        self._store.resume(self.name, time.time())
        _serve(self._backend)
        return self

    def remove(self) -> None:
        """Delete the schedule; its runs' jobs stay (``jobnb.forget`` them)."""
        self._store.remove(self.name)

    def runs(self, limit: int | None = None) -> list[Job]:
        """The jobs of its runs, newest first (at most ``limit``). Read from the jobs
        submitted since the schedule was made (no index by schedule: a long history
        costs a longer read)."""
        try:
            created = self.record().created
        except ScheduleNotFound:  # removed: its jobs stay, found by its name
            created = 0.0
        found = []
        for rec in self._backend.records(since=created):
            if rec.schedule == self.name:
                found.append(Job(self._backend, rec.id))
                if limit is not None and len(found) >= limit:
                    break
        return found

    def __repr__(self) -> str:
        rec = self.record()
        when = self._local(rec.next_due)
        state = "paused" if when is None else f"next run {when:%Y-%m-%d %H:%M:%S %Z}"
        return f"<Schedule {self.name!r} {rec.timing.describe()}, {state}>"


def _serve(backend: Backend) -> None:
    """A SQLite home's worker is started by its kernels: start it, so that the schedule
    fires (it then stays up while a schedule is active)."""
    ensure = getattr(backend, "ensure_worker", None)
    if ensure is not None:
        ensure()


def _start_of(start: dt.datetime | float | None, now: float) -> float:
    return now if start is None else as_timestamp(start, "start")


def schedule(
    fn_or_notebook: Callable[..., Any] | str | os.PathLike,
    /,
    *args: Any,
    cron: str | None = None,
    every: str | float | dt.timedelta | None = None,
    tz: str | None = None,
    name: str | None = None,
    parameters: dict[str, Any] | None = None,
    catchup: str = "one",
    start: dt.datetime | float | None = None,
    kwargs: dict[str, Any] | None = None,
    job_name: str | None = None,
    timeout: float | None = None,
    queue: str | None = None,
    backend: str | None = None,
    output: str | os.PathLike | None = None,
    kernel_name: str | None = None,
    replace: bool = True,
) -> Schedule:
    """Run ``fn(*args, **kwargs)``, or the notebook at a path (with ``parameters``), on a
    schedule, from the queue workers: ``cron="0 6 * * *"`` (five fields, on the wall
    clock of ``tz``; default: this machine's zone) or ``every="15m"`` (seconds, a
    timedelta, or '2s', '15m', '1h30m', '1d'; counted from ``start``, default now).

    ``name`` names the schedule (default: the function's or notebook's name); a
    schedule of that name is replaced (its state starts again: nothing missed is run)
    unless ``replace=False``, which raises ScheduleExists instead. ``catchup`` says
    what runs for the due times missed while no worker served the queue: ``"one"``
    (a single run), ``"all"`` (each, at most 1000) or ``"none"``. Job options of each
    run: ``job_name`` (default: the schedule's name), ``timeout``, ``queue``;
    ``backend`` (huey or rq: schedules need queue workers). A notebook is read at each
    run (its output: ``output``, default ``<name>-<job id>.ipynb`` beside it).
    """
    target = get_backend(backend)
    store = store_of(target)
    timing_start = None
    now = time.time()
    begin = _start_of(start, now)
    if every is not None:
        timing_start = begin
    timing = Timing.parse(cron=cron, every=every, tz=tz, start=timing_start or 0.0)
    checked_catchup(catchup)
    if isinstance(fn_or_notebook, str | os.PathLike):
        if args or kwargs:
            raise ConfigError("a notebook schedule takes parameters=, not arguments")
        path = Path(fn_or_notebook).expanduser().resolve()
        # prepared once now, so that a mistake (no such file, a parameter that is not a
        # literal) is an error here, not a failed run later
        checked = NotebookPayload.prepare(path, parameters, output, kernel_name, "check")
        kind, payload, description = "notebook", None, f"{checked.path}"
        notebook = {
            "path": str(path),
            "parameters": repr(dict(parameters or {})),
            "output": None if output is None else str(Path(output).expanduser().resolve()),
            "kernel_name": kernel_name,
        }
        default_name = path.stem
    else:
        if parameters is not None:
            raise ConfigError("parameters= is for a notebook schedule: give a call its arguments")
        call = CallPayload(fn_or_notebook, args, kwargs or {})
        kind, payload, description = "call", dumps_payload(call).joined(), call.describe()
        notebook = None
        default_name = getattr(fn_or_notebook, "__name__", "schedule")
    name = checked_name(name if name is not None else default_name)
    last_due = max(now, begin - 1e-3) if every is not None else max(now, begin)
    options = target.options
    record = ScheduleRecord(
        name=name,
        timing=timing,
        catchup=catchup,
        kind=kind,
        description=description,
        backend=target.name,
        job_name=job_name,
        queue=queue,
        timeout=timeout,
        notebook=notebook,
        cwd=os.getcwd(),
        sys_path=list(sys.path),
        result_ttl=options.result_ttl,
        log_bytes_kept=options.log_bytes_kept,
        created=now,
        last_due=last_due,
        next_due=timing.next_after(last_due),
    )
    store.add(record, payload, replace=replace)
    _serve(target)
    _say_if_unserved(target, name, queue)
    return Schedule(target, name)


def _say_if_unserved(backend: Backend, name: str, queue: str | None) -> None:
    """On Redis, where workers are started by hand: warn when none serves the queue, since
    then nothing fires the schedule (a SQLite home's worker was just started)."""
    probe = JobRecord(id="", name=name, backend=backend.name, queue=queue)
    message = backend.unserved([probe])
    if message:
        warnings.warn(
            f"schedule {name!r} fires from the workers, and none is there: {message}",
            JobnbWarning,
            stacklevel=3,  # at the user's jobnb.schedule call
        )


def schedules(backend: str | None = None) -> list[Schedule]:
    """The schedules of the configured backend's store (or ``backend``'s), by name."""
    target = get_backend(backend)
    return [Schedule(target, rec.name) for rec in store_of(target).all()]


def schedules_df(backend: str | None = None) -> pandas.DataFrame:
    """The schedules as a DataFrame (columns ``SCHEDULES_DF_COLUMNS``): when each runs,
    its next and last run (times as local datetimes) and how its last run went."""
    import pandas  # lazy: pandas is heavy

    target = get_backend(backend)
    rows = []
    for rec in store_of(target).all():
        rows.append(schedule_row(target, rec))
    return pandas.DataFrame(rows, columns=list(SCHEDULES_DF_COLUMNS))


def schedule_row(backend: Backend, rec: ScheduleRecord) -> dict[str, Any]:
    """A schedule's row, as the DataFrame and the dashboard show it."""
    last_run = last_status = None
    if rec.last_job is not None:
        try:
            job = backend.record(rec.last_job)
            last_run, last_status = job.submitted, job.status.value
        except LookupError:  # forgotten since
            last_status = "forgotten"
    return {
        "name": rec.name,
        "when": rec.timing.describe(),
        "next_run": None if rec.next_due is None else dt.datetime.fromtimestamp(rec.next_due),
        "last_run": None if last_run is None else dt.datetime.fromtimestamp(last_run),
        "last_status": last_status,
        "paused": rec.paused,
        "catchup": rec.catchup,
        "description": rec.description,
        "queue": rec.queue,
    }
