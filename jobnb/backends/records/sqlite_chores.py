"""What a SQLite store does beside answering, in its readers' transactions: find the
running jobs whose worker stopped beating, forget the ended jobs past their result_ttl,
and give the pages of forgotten jobs back to the file system.

Heartbeats are judged on the machine's monotonic clock (the same for every process of
one boot, whatever the wall clock says), stamped with the boot they came from: a
heartbeat from another boot is a lost job. Worker and readers are always on one machine:
WAL needs shared memory.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from .base import SILENT_WORKER, lost_error
from .sqlite_blobs import files_of, remove_files


def _boot_id() -> str:
    """Which boot of this machine the monotonic clock counts from: Linux's random id of
    the boot (elsewhere one constant, and a reboot is seen only once the new boot's
    clock has passed the old heartbeat by ``lost_after``)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as file:
            return file.read().strip()
    except OSError:
        return "this boot"


BOOT_ID = _boot_id()

#: what an ended job no longer needs, dropped as it ends: where its submitter was (read
#: by ``start`` alone; a resubmit runs where its own submitter is), and its heartbeat
#: (read by ``find_lost`` alone, while it runs): a few hundred bytes a job in a long
#: history. Its payload stays: ``resubmit`` runs it again.
ENDED_DROPS = (
    "cwd = NULL, sys_path = NULL, origin = NULL, heartbeat = NULL, beat_monotonic = NULL, "
    "boot_id = NULL, retry_at = NULL"  # (a job cancelled between two attempts: never run again)
)

# A running job whose worker stopped beating: its last heartbeat is older than the cutoff
# on this machine's monotonic clock, or is from another boot. (A heartbeat without a
# boot id was written by an older jobnb: judged on the wall clock, as it was then.)
LOST_RUNNING = (
    "status = 'running' AND (boot_id IS NOT NULL AND (boot_id != :boot "
    "OR beat_monotonic < :cutoff) OR boot_id IS NULL AND heartbeat < :wall_cutoff)"
)


def lost_args(silence: float) -> dict:
    """The parameters of ``LOST_RUNNING`` for jobs silent for more than ``silence`` s."""
    return {
        "boot": BOOT_ID,
        "cutoff": time.monotonic() - silence,
        "wall_cutoff": time.time() - silence,
        "error": lost_error(SILENT_WORKER),
    }


def find_lost(
    db: sqlite3.Connection, silence: float, then: Callable[[list[str]], list[str]] | None = None
) -> list[str]:
    """Mark lost the running jobs silent for more than ``silence`` seconds, in one
    transaction with ``then(their ids)`` (what ends with them: their waiting
    dependents); what ``then`` returned (none: [])."""
    args = lost_args(silence)
    # a read first: an UPDATE would take the write lock even when it changes nothing
    if db.execute(f"SELECT 1 FROM jobs WHERE {LOST_RUNNING} LIMIT 1", args).fetchone() is None:
        return []
    with db:
        db.execute("BEGIN IMMEDIATE")
        lost = db.execute(
            # (the right-hand sides read the row as it was: its heartbeat before it is
            # dropped)
            "UPDATE jobs SET status = 'lost', finished = heartbeat, "
            f"expires = heartbeat + result_ttl, error = :error, {ENDED_DROPS} "
            f"WHERE {LOST_RUNNING} RETURNING id",
            args,
        ).fetchall()
        return then([job_id for (job_id,) in lost]) if then is not None else []


def forget_expired(db: sqlite3.Connection, home: Path) -> list[str]:
    """Forget the ended jobs past their result_ttl (a thousand at a time); their ids (the
    store deletes their whole logs' files; their big blobs' files go here)."""
    now = time.time()
    if db.execute("SELECT 1 FROM jobs WHERE expires < ? LIMIT 1", (now,)).fetchone() is None:
        return []
    with db:
        db.execute("BEGIN IMMEDIATE")
        expired = db.execute("SELECT id FROM jobs WHERE expires < ? LIMIT 1000", (now,))
        job_ids = [job_id for (job_id,) in expired.fetchall()]
        files = delete(db, job_ids, home)
    remove_files(files)
    shrink(db)
    return job_ids


#: the ids a ``delete`` is given, as one parameter (a JSON list): one statement per table
#: for a batch of thousands, not one per job
_IDS = "(SELECT value FROM json_each(?))"


def delete(db: sqlite3.Connection, job_ids: list[str], home: Path) -> list[Path]:
    """Every trace of these jobs, in the caller's transaction (the counts follow, by
    their trigger): their payloads, outcomes, log lines and rows. Returns the files of
    their big blobs, which the caller removes once the transaction is committed."""
    ids = json.dumps(job_ids)
    files = files_of(db, home, ids)
    for table in ("payloads", "outcomes", "blob_parts"):
        db.execute(f"DELETE FROM {table} WHERE id IN {_IDS}", (ids,))
    db.execute(f"DELETE FROM logs WHERE job_id IN {_IDS}", (ids,))
    db.execute(f"DELETE FROM dependencies WHERE job_id IN {_IDS}", (ids,))
    db.execute(f"DELETE FROM jobs WHERE id IN {_IDS}", (ids,))
    return files


#: pages an incremental vacuum frees per transaction: moving a page from the end of the
#: file into a free one takes microseconds, so a step holds the write lock briefly and a
#: running job's heartbeat waits for one step at most, not for a whole prune's pages
SHRINK_STEP = 1000


def shrink(db: sqlite3.Connection) -> None:
    """Give the pages that deletes freed back to the file system, a step of
    ``SHRINK_STEP`` pages per transaction, and checkpoint, so that the file is smaller
    at once. Best effort: pages left free are reused by the next writes, and the next
    delete tries again."""
    try:
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        for _ in range(-(-free // SHRINK_STEP)):  # (bounded: others may free pages too)
            # a script, which SQLite runs to its end: execute() would free one page only
            db.executescript(f"PRAGMA incremental_vacuum({SHRINK_STEP});")
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.OperationalError:
        pass
