"""What a job waits for, in a SQLite records file: the ``dependencies`` table (one row
per job and job it waits for, indexed by the latter), and the settling of waiting jobs,
run inside the transaction that adds a job or ends one.

A waiting job is settled when one of the jobs it waits for ends (``release``), and
once when it is added (``settle_added``: some may have ended already). Both run in the
writer's ``BEGIN IMMEDIATE`` transaction, so a dependency's end and the adding of its
dependent are ordered: either the end comes first and the add sees it, or the add does
and the end finds the dependent's row. A job whose every dependency finished becomes
``queued`` (the caller hands its id to the queue after the commit: ``on_release``); one
with a dependency that failed, was cancelled, was lost or is not held is cancelled,
saying which, and that ends it too: its own dependents are settled in turn.
"""

from __future__ import annotations

import json
import sqlite3
import time

from ...model import JobStatus
from .base import MISSING_DEPENDENCY, dependency_error
from .sqlite_chores import ENDED_DROPS

TABLE = """
CREATE TABLE IF NOT EXISTS dependencies (job_id TEXT NOT NULL, needs TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS dependencies_needs ON dependencies (needs);
CREATE INDEX IF NOT EXISTS dependencies_job ON dependencies (job_id);
"""

#: the statuses of a dependency that cancel its dependents
_BROKEN = {JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.LOST}


def file_added(db: sqlite3.Connection, job_ids_after: list[tuple[str, tuple[str, ...]]]) -> None:
    """Write the rows of the jobs just added that wait for others, in the add's
    transaction."""
    rows = [(job_id, needs) for job_id, after in job_ids_after for needs in after]
    db.executemany("INSERT INTO dependencies (job_id, needs) VALUES (?, ?)", rows)


def settle_added(db: sqlite3.Connection, job_ids: list[str]) -> list[str]:
    """Settle the waiting jobs just added against the dependencies that have ended
    already; the ids made queued."""
    queued: list[str] = []
    for job_id in job_ids:
        _settle(db, job_id, queued)
    return queued


def release(db: sqlite3.Connection, ended: list[str]) -> list[str]:
    """The jobs ``ended`` have just ended (in this transaction): settle their waiting
    dependents, and theirs in turn when one is cancelled; the ids made queued."""
    queued: list[str] = []
    todo = list(ended)
    while todo:
        rows = db.execute(
            "SELECT DISTINCT d.job_id FROM dependencies d JOIN jobs j ON j.id = d.job_id "
            "WHERE d.needs IN (SELECT value FROM json_each(?)) AND j.status = 'waiting'",
            (json.dumps(todo),),
        ).fetchall()
        todo = []
        for (job_id,) in rows:
            if _settle(db, job_id, queued) is JobStatus.CANCELLED:
                todo.append(job_id)  # its own dependents are settled next
    return queued


def _settle(db: sqlite3.Connection, job_id: str, queued: list[str]) -> JobStatus | None:
    """Queue or cancel the waiting job ``job_id`` if its dependencies say so; its new
    status (None: it still waits)."""
    needs = db.execute(
        "SELECT d.needs, j.name, j.status FROM dependencies d LEFT JOIN jobs j "
        "ON j.id = d.needs WHERE d.job_id = ? ORDER BY d.rowid",
        (job_id,),
    ).fetchall()
    pending = False
    for needed, name, status in needs:
        how = MISSING_DEPENDENCY if status is None else status
        if status is None or JobStatus(status) in _BROKEN:
            now = time.time()
            db.execute(
                "UPDATE jobs SET status = 'cancelled', finished = ?, expires = ? + result_ttl, "
                f"error = ?, {ENDED_DROPS} WHERE id = ? AND status = 'waiting'",
                (now, now, dependency_error(needed, name or "?", how), job_id),
            )
            return JobStatus.CANCELLED
        if status != JobStatus.FINISHED.value:
            pending = True
    if pending:
        return None
    db.execute("UPDATE jobs SET status = 'queued' WHERE id = ? AND status = 'waiting'", (job_id,))
    queued.append(job_id)
    return JobStatus.QUEUED
