"""The messages of a huey queue, kept true to the job records: a job recorded as queued
always has a message that will run it, or gets one back.

A submit writes the records and the messages in one transaction (the SQLite file holds
both; on Redis, one MULTI), so a submitter killed halfway leaves both or neither. A
worker takes a message and then marks its job running, two steps: a worker killed
between them (or one whose store failed for a moment there) leaves a job queued with
no message. :class:`MessageRepair` finds those and queues them again; a job queued
twice runs once, since only one worker can move it from queued to running.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from huey import Huey
from huey.storage import RedisStorage, SqliteStorage

from ..exceptions import SignatureMismatch
from .huey_wakeup import wake_worker

OLD_QUEUE_FILE = "queue.db"  # where homes made before the queue moved into jobs.db kept it


def messages(huey: Huey, job_ids: Iterable[str]) -> list[bytes]:
    """The queue messages that run ``job_ids`` (one each)."""
    return [huey.serialize_task(huey.jobnb_task.s(job_id)) for job_id in job_ids]


def insert_messages(db: sqlite3.Connection, huey: Huey, data: list[bytes]) -> None:
    """Queue the messages ``data`` through ``db``, a connection to the queue's SQLite
    file, in the caller's transaction (SqliteRecords.add's ``within``)."""
    huey.storage.prepare(db)  # (a file made again since has no queue yet)
    rows = [(huey.storage.name, item) for item in data]
    db.executemany("INSERT INTO task (queue, data, priority) VALUES (?, ?, 0)", rows)


def queue_messages(huey: Huey, job_ids: list[str], first: bool = False) -> None:
    """Queue ``job_ids`` in one write; ``first``: ahead of the jobs waiting (a job put
    back by a stopping worker had its turn already)."""
    if not job_ids:
        return
    storage = huey.storage
    data = messages(huey, job_ids)
    if isinstance(storage, RedisStorage):  # workers pop from the right: RPUSH goes first
        push = storage.conn.rpush if first else storage.conn.lpush
        push(storage.queue_key, *(reversed(data) if first else data))
        return
    with storage.db(commit=True) as cursor:  # the highest priority is taken first
        cursor.executemany(
            "INSERT INTO task (queue, data, priority) VALUES (?, ?, ?)",
            [(storage.name, storage.to_blob(item), 1 if first else 0) for item in data],
        )
    wake_worker(storage.records.path.parent)


def queued_job_ids(huey: Huey) -> set[str]:
    """The ids of the jobs that have a message in the queue."""
    found = set()
    for data in huey.storage.enqueued_items():  # (jobnb's queue: each runs the one task)
        try:
            found.update(huey.serializer.deserialize(bytes(data)).args[:1])
        except SignatureMismatch:  # not ours (never unpickled): its job, if any, is missing
            continue
    return found


class MessageRepair:
    """Finds the jobs recorded as queued that no message will run, and queues them.

    A worker thread takes a message a moment before it marks the job running, so a job
    seen without a message once may be in that moment: it is queued again only when
    seen so twice in a row (sweeps are seconds apart), or at once by ``sweep(at_once=
    True)`` where no worker can be in that moment (the SQLite worker, at its start: it
    holds the home's lock).
    """

    def __init__(self, huey: Huey, records) -> None:
        self.huey, self.records = huey, records
        self.suspects: set[str] = set()

    def sweep(self, at_once: bool = False) -> list[str]:
        """Queue again the jobs found without a message; returns their ids."""
        queued = self.records.queued_ids()  # before the messages: a job submitted
        if not queued:  # in between has both, and is not in this list
            self.suspects = set()
            return []
        present = queued_job_ids(self.huey)
        missing = [job_id for job_id in queued if job_id not in present]
        repaired = missing if at_once else [j for j in missing if j in self.suspects]
        self.suspects = set(missing) - set(repaired)
        queue_messages(self.huey, repaired)
        return repaired


def move_old_queue(huey: Huey, home: Path) -> int:
    """Move the messages of ``HOME/queue.db`` (a home made before the queue moved into
    ``jobs.db``) into the queue, once, and delete that file; returns how many moved.
    Called by the worker that holds the home's lock, before it serves."""
    old = Path(home) / OLD_QUEUE_FILE
    if not old.exists() or not isinstance(huey.storage, SqliteStorage):
        return 0
    source = sqlite3.connect(old, timeout=30)
    try:
        rows = source.execute(
            "SELECT data, priority FROM task WHERE queue = ? ORDER BY priority DESC, id",
            (huey.storage.name,),
        ).fetchall()
    except sqlite3.OperationalError:  # no task table: nothing was ever queued there
        rows = []
    finally:
        source.close()
    with huey.storage.db(commit=True) as cursor:
        cursor.executemany(
            "INSERT INTO task (queue, data, priority) VALUES (?, ?, ?)",
            [(huey.storage.name, data, priority) for data, priority in rows],
        )
    # (killed before this, the messages are queued twice: each job still runs once)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{old}{suffix}").unlink(missing_ok=True)
    return len(rows)
