"""Retries in a SQLite store (backends/retries.py says when a job runs again): a run that
failed, or was lost, with attempts left goes back to ``queued`` in the transaction that
ends it, with ``retry_at`` (when it may run again, on this machine's wall clock: worker
and readers share it) and the run kept in ``attempts``; ``take_due`` hands the jobs whose
time has come to a worker's sweep, which queues them (backends/retry_sweep.py).

A job with ``retry_at`` set is never started (``start`` skips it) nor queued again by
the repair of missing messages (``queued_ids`` leaves it out): only the sweep that
takes it from here queues it, once.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from ...model import JobRecord, JobStatus
from ..retries import (
    RETRY_FIELDS,
    attempts_json,
    decode_retry_fields,
    ended_attempt,
    retry_note,
    retry_plan,
)
from .sqlite_chores import LOST_RUNNING
from .sqlite_log import append_log

#: what a plan reads of a running job: its id, worker and start, then its retries
_PLAN_COLUMNS = "id, worker, started, " + ", ".join(RETRY_FIELDS)


def _as_record(row) -> JobRecord:
    job_id, worker, started, *retries = row
    return JobRecord(
        id=job_id,
        name="",
        backend="",
        worker=worker,
        started=started,
        **decode_retry_fields(retries),
    )


def _put_back(
    db: sqlite3.Connection,
    home: Path,
    kept: int,
    row,
    status: JobStatus,
    error: str | None,
    classes,
) -> float | None:
    """Queue again the running job of ``row`` (``_PLAN_COLUMNS``) whose run ended
    ``status`` when its retries allow; the seconds before it runs again, or None."""
    record = _as_record(row)
    delay = retry_plan(record, status, classes)
    if delay is None:
        return None
    attempt = ended_attempt(record, status, error)
    db.execute(
        # (where its submitter was stays: the next run starts there too)
        "UPDATE jobs SET status = 'queued', started = NULL, worker = NULL, heartbeat = NULL, "
        "beat_monotonic = NULL, boot_id = NULL, progress_done = 0, progress_total = NULL, "
        "progress_message = NULL, attempts = ?, retry_at = ? WHERE id = ?",
        (attempts_json([*record.attempts, attempt]), time.time() + delay, record.id),
    )
    append_log(db, home, record.id, retry_note(attempt, record.retries, delay), kept)
    return delay


def retry_run(
    db: sqlite3.Connection,
    home: Path,
    kept: int,
    job_id: str,
    status: JobStatus,
    error: str | None,
    classes,
) -> float | None:
    """In the caller's write transaction: queue again the running job ``job_id`` whose run
    ended ``status`` (``error``, its exception's ``classes``) when its retries allow; a
    job asked to cancel never runs again."""
    row = db.execute(
        f"SELECT {_PLAN_COLUMNS} FROM jobs WHERE id = ? AND status = 'running' "
        "AND cancel_requested = 0 AND retries > 0",
        (job_id,),
    ).fetchone()
    return None if row is None else _put_back(db, home, kept, row, status, error, classes)


def retry_running(
    db: sqlite3.Connection, home: Path, kept: int, error: str, where: str, args: dict
) -> None:
    """In the caller's write transaction: queue again, rather than lose, the running jobs
    matching ``where`` (with ``args``) that have attempts left; their run ended lost
    with ``error``."""
    rows = db.execute(
        f"SELECT {_PLAN_COLUMNS} FROM jobs WHERE {where} AND retries > 0 AND cancel_requested = 0",
        args,
    ).fetchall()
    for row in rows:
        _put_back(db, home, kept, row, JobStatus.LOST, error, ())


def retry_lost(db: sqlite3.Connection, home: Path, kept: int, error: str, args: dict) -> None:
    """Before a reader marks the silent running jobs lost (``sqlite_chores.find_lost``,
    with its ``args``): those with attempts left are queued again instead."""
    look = f"SELECT 1 FROM jobs WHERE {LOST_RUNNING} AND retries > 0 LIMIT 1"
    if db.execute(look, args).fetchone() is None:
        return
    with db:
        db.execute("BEGIN IMMEDIATE")
        retry_running(db, home, kept, error, LOST_RUNNING, args)


def take_due(db: sqlite3.Connection) -> list[str]:
    """The queued jobs whose next attempt is due, taken (their ``retry_at`` cleared: one
    sweep queues each); read first, so that an idle store takes no write lock."""
    now = time.time()
    if db.execute("SELECT 1 FROM jobs WHERE retry_at <= ? LIMIT 1", (now,)).fetchone() is None:
        return []
    rows = db.execute(
        "UPDATE jobs SET retry_at = NULL WHERE retry_at <= ? AND status = 'queued' RETURNING id",
        (now,),
    ).fetchall()
    return [job_id for (job_id,) in rows]
