"""The jobs of this process, read across its backends: what the dashboard, ``jobnb.jobs()``
and ``jobnb.jobs_df()`` show.

A read model and nothing else: it counts, pages and lists records, newest first, and hands
out Job handles to act on one. Made by ``jobnb.job_history()`` over the backends the api
has used in this process; it asks for them at every read, so it sees a backend first used
after it was made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .exceptions import JobnbError, JobNotFound
from .job import Job
from .model import JobRecord, JobStatus

if TYPE_CHECKING:
    import pandas

    from .backends.base import Backend  # for type hints only: the history is above them

#: the columns of ``jobs_df()``, in order
JOBS_DF_COLUMNS = [
    "id",
    "name",
    "status",
    "backend",
    "submitted",
    "started",
    "finished",
    "duration",
    "progress",
    "worker",
    "error",
    "attempts",
]


class JobHistory:
    """The jobs of the backends used in this process, newest first.

    Every method reads the backends now (nothing is cached), and raises what they raise
    when one cannot be read (BackendUnavailable, StoreUnavailable). ``status`` is a
    JobStatus, its name (``"failed"``), or None for every status; an unknown name is a
    ValueError that lists the statuses.
    """

    def __init__(self, backends: Callable[[], Sequence[Backend]]) -> None:
        self._backends = backends

    def backends(self) -> Sequence[Backend]:
        """The backends read (what the dashboard's schedules are read from too)."""
        return self._backends()

    def counts(self) -> dict[JobStatus, int]:
        """How many jobs are in each status (every status is a key)."""
        total = dict.fromkeys(JobStatus, 0)
        for backend in self._backends():
            for status, n in backend.counts().items():
                total[status] += n
        return total

    def page(
        self, status: str | JobStatus | None = None, offset: int = 0, limit: int = 50
    ) -> list[JobRecord]:
        """The records from ``offset`` to ``offset + limit`` of the newest-first list.
        One backend (the usual case) is asked for that page alone; with several, each is
        asked for its newest ``offset + limit`` records, whatever its history, and the
        page is cut from their merge (an older page costs more there)."""
        backends = self._backends()
        if len(backends) == 1:
            return backends[0].records(parse_status(status), limit, offset)
        return [rec for _, rec in self._newest_first(status, offset + limit)][offset:]

    def records(self, status: str | JobStatus | None = None) -> list[JobRecord]:
        """Every record, newest first."""
        return [rec for _, rec in self._newest_first(status)]

    def jobs(self, status: str | JobStatus | None = None) -> list[Job]:
        """A Job handle for every job, newest first."""
        return [Job(backend, rec.id) for backend, rec in self._newest_first(status)]

    def job(self, job_id: str) -> Job:
        """The Job with that id; JobNotFound when no backend used here has it."""
        for backend in self._backends():
            try:
                backend.record(job_id)
            except JobNotFound:
                continue
            return Job(backend, job_id)
        raise JobNotFound(f"no job has the id {job_id!r} on the backends used here")

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per backend name: its workers and queue depth, where it knows them."""
        return {backend.name: backend.stats() for backend in self._backends()}

    def dataframe(
        self,
        status: str | JobStatus | None = None,
        limit: int | None = None,
        since: dt.datetime | float | None = None,
    ) -> pandas.DataFrame:
        """The records as rows of a DataFrame with the columns of ``JOBS_DF_COLUMNS``,
        newest first: at most ``limit`` (None: all) of the jobs submitted at or after
        ``since`` (a datetime, naive meaning local time, or a ``time.time()`` stamp; None:
        all). Each backend reads only those. Times are UTC timestamps, ``progress`` the
        fraction done (None when unknown)."""
        import pandas as pd  # lazy: pandas is heavy and only this method needs it

        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise JobnbError(
                f"limit={limit!r} is not a number of jobs: give a whole number >= 0, "
                "or None for every job"
            )
        since = None if since is None else as_timestamp(since, "since")
        rows = [record_row(rec) for _, rec in self._newest_first(status, limit, since)]
        df = pd.DataFrame(rows, columns=JOBS_DF_COLUMNS)
        for column in ("submitted", "started", "finished"):
            df[column] = pd.to_datetime(df[column], unit="s", utc=True)
        return df

    def _newest_first(
        self, status: str | JobStatus | None, limit: int | None = None, since: float | None = None
    ) -> list[tuple[Backend, JobRecord]]:
        wanted = parse_status(status)
        found = [(b, r) for b in self._backends() for r in b.records(wanted, limit, since=since)]
        found.sort(key=lambda pair: pair[1].submitted, reverse=True)
        return found[:limit]


def parse_status(status: str | JobStatus | None) -> JobStatus | None:
    """``status`` as a JobStatus (None stays None); ValueError listing the statuses."""
    if status is None or isinstance(status, JobStatus):
        return status
    try:
        return JobStatus(str(status).lower())
    except ValueError:
        known = ", ".join(s.value for s in JobStatus)
        raise ValueError(f"unknown status {status!r}; the statuses are: {known}") from None


def as_timestamp(value: dt.datetime | float, name: str) -> float:
    """``value`` (a datetime, naive meaning local time, a pandas Timestamp, or a
    ``time.time()`` stamp) as a ``time.time()`` stamp; a JobnbError naming ``name``."""
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise JobnbError(
        f"{name}={value!r} is not a time: give a datetime (naive means local time) "
        "or a time.time() stamp"
    )


def record_row(rec: JobRecord) -> dict[str, Any]:
    """A row of ``dataframe()``: the record's values of ``JOBS_DF_COLUMNS``, times as
    ``time.time()`` stamps."""
    return {
        "id": rec.id,
        "name": rec.name,
        "status": rec.status.value,
        "backend": rec.backend,
        "submitted": rec.submitted,
        "started": rec.started,
        "finished": rec.finished,
        "duration": rec.duration,
        "progress": rec.progress.fraction,
        "worker": rec.worker,
        "error": rec.error,
        # the number of its run under way, or of its last one (1 without retries)
        "attempts": rec.attempt,
    }
