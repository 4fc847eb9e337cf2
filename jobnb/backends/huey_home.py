"""A jobnb home for huey, as the kernel and the worker both see it: the Huey (its
storage in the records' SQLite file ``HOME/jobs.db``, or in Redis when the home is a
``redis://`` URL) with its one task registered, and the job records beside it.

Both sides import this module; the queue side (huey_queue) also imports the worker
module (a kernel starts workers), never the reverse.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from huey import Huey
from huey.serializer import Serializer
from huey.storage import RedisStorage, SqliteStorage

from .. import defaults
from ..exceptions import SignatureMismatch
from ..payload.signing import Signer
from ..worker.recorded_job import run_recorded_job
from .huey_wakeup import WakeUps
from .private_home import home_path
from .records.redis import RedisRecords
from .records.sqlite import SqliteRecords
from .redis_connection import connect
from .redis_outage import CONNECTION_ERRORS, say, wait_for_server
from .secret_key import signer_for

TASK_NAME = "jobnb.run"
QUEUE_NAME = "jobnb"


def records_path(home: str | os.PathLike) -> Path:
    """The SQLite file of a jobnb home: the job records and the queue's messages."""
    return Path(home) / "jobs.db"


class QueueStorage(SqliteStorage):
    """Huey's SQLite storage in the records' file, through the records' connections
    (SqliteRecords.connection): WAL and ``synchronous=NORMAL``, the records' busy
    timeout, clear errors, and a file deleted under a running worker made again (with
    the queue's tables) rather than read on, unaware, in its old inode."""

    def __init__(self, name: str, records: SqliteRecords, **kwargs) -> None:
        self.records = records
        self._prepared = threading.local()  # the last connection its tables were seen in
        super().__init__(name, filename=str(records.path), **kwargs)

    @property
    def conn(self) -> sqlite3.Connection:
        db = self.records.connection()
        if getattr(self._prepared, "db", None) is not db:  # new: maybe a new file
            self.prepare(db)
            self._prepared.db = db
        return db

    def prepare(self, db: sqlite3.Connection) -> None:
        """Make the queue's tables in the file ``db`` is open on, if they are missing
        (in the caller's transaction, if it has one)."""
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'task'").fetchone():
            return
        for statement in self.ddl:
            db.execute(statement)

    #: the worker's wake-ups (huey_wakeup.py), given by the worker: its threads then
    #: wait for one when the queue is empty, instead of Huey's sleeps between polls
    wake_ups: WakeUps | None = None

    @property
    def blocking(self) -> bool:  # (Huey's worker sleeps after an empty dequeue if not)
        return self.wake_ups is not None

    def dequeue(self) -> bytes | None:
        """The next message; if there is none, the next one queued before a wake-up
        comes (or ``LOOK_EVERY`` s pass)."""
        message = self._take()
        if message is None and self.wake_ups is not None:
            self.wake_ups.wait()
            message = self._take()
        return message

    def _take(self) -> bytes | None:
        """The next message, taken in one statement: the write lock of the file, which
        the records share, is held for that statement only (Huey's takes it across a
        SELECT and a DELETE, and two trips between Python and SQLite). When more wait,
        another thread of the worker is woken for them."""
        db = self.conn
        (waiting,) = db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM task WHERE queue = ? LIMIT 2)", (self.name,)
        ).fetchone()
        if not waiting:
            return None
        row = db.execute(
            "DELETE FROM task WHERE id = (SELECT id FROM task WHERE queue = ? "
            "ORDER BY priority DESC, id LIMIT 1) RETURNING data",
            (self.name,),
        ).fetchone()
        if waiting > 1 and self.wake_ups is not None:
            self.wake_ups.wake()
        return row[0] if row else None

    def initialize_schema(self) -> None:
        self.conn  # noqa: B018 - (its tables are made with each new connection)

    def close(self) -> bool:
        return False  # (the connections are the records', which keep them)


class PatientRedisStorage(RedisStorage):
    """Huey's Redis storage whose workers wait out a server restart: a read that cannot
    reach the server waits until it answers (saying so in the worker's log), where
    Huey's would log a traceback and retry at once, a hundred times a second."""

    def __init__(self, *args, url: str | None = None, **kwargs) -> None:
        super().__init__(*args, url=url, **kwargs)
        self.url = url

    def dequeue(self):
        try:
            return super().dequeue()
        except CONNECTION_ERRORS:
            wait_for_server(self.conn, self.url)
            return None

    def read_schedule(self, timestamp):
        """(Huey's scheduler reads it every second, even with nothing scheduled: jobnb
        schedules nothing there; a server away for a moment is said by the workers.)"""
        try:
            return super().read_schedule(timestamp)
        except CONNECTION_ERRORS:
            return []


#: what a huey queue message's signature is for
MESSAGE_CONTEXT = "huey-message"


class SignedSerializer(Serializer):
    """Huey's pickles of its queue messages, signed (payload/signing.py): whoever can
    write the queue (its SQLite file, its Redis server) but has not the key cannot make
    a worker unpickle what they wrote."""

    def __init__(self, signer: Signer) -> None:
        super().__init__()
        self.signer = signer

    def serialize(self, data) -> bytes:
        return self.signer.sign(super().serialize(data), MESSAGE_CONTEXT)

    def deserialize(self, data):
        return super().deserialize(self.signer.verify(data, MESSAGE_CONTEXT, "a queue message"))


class SignedHuey(Huey):
    """A Huey whose worker drops a message that fails its signature with one line in its
    log (never unpickled; Huey's would log a traceback), and goes on. A job whose
    genuine message was replaced is still queued in its records: MessageRepair queues
    it again (huey_messages)."""

    def dequeue(self):
        try:
            return super().dequeue()
        except SignatureMismatch as exc:
            say(f"dropped a message of the queue {self.name}: {exc}")
            return None

    # jobnb never revokes a huey task: a job is cancelled in its records, which the
    # worker reads as it starts the job (a cancelled job is never started) and at each
    # heartbeat. Huey's own checks around every task (a read before it, a delete after
    # it: two round trips on Redis, a read and a write transaction on SQLite) are skipped.
    def is_revoked(self, task, timestamp=None, peek=True) -> bool:
        return False

    def delete(self, key: str) -> bool:
        if key.startswith("r:"):  # (a task's revoke key: Task.revoke_id)
            return False
        return super().delete(key)


def make_huey(
    home: str | os.PathLike, redis_url: str | None = None, key_file: str | None = None
) -> Huey:
    """The Huey of a jobnb home (or of a Redis server, when ``redis_url`` is given), with
    its one task registered: kernel and worker alike. ``key_file``: the setting
    ``secret_key_file`` (secret_key.py)."""
    if redis_url:
        connect(redis_url)  # a clear error, now, if no server answers there
        records = open_records(home, redis_url, key_file=key_file)  # (no key: refused here)
        storage = {"storage_class": PatientRedisStorage, "url": redis_url}
    else:
        records = open_records(home)  # (its clear errors first: an unwritable home, ...)
        storage = {"storage_class": QueueStorage, "records": records}
    huey = SignedHuey(
        name=QUEUE_NAME, results=False, serializer=SignedSerializer(records.signer), **storage
    )
    place = (str(home_path(home)), redis_url)
    huey.jobnb_task = huey.task(name=TASK_NAME)(lambda job_id: execute_job(place, job_id))
    return huey


_records: dict[tuple, SqliteRecords | RedisRecords] = {}


def open_records(
    home: str | os.PathLike,
    redis_url: str | None = None,
    result_ttl: float | None = None,
    key_file: str | None = None,
    log_bytes_kept: int = defaults.LOG_BYTES_KEPT,
):
    """The job records beside the queue: ``HOME/jobs.db``, or hashes in Redis; the jobs
    added are forgotten ``result_ttl`` s after they end, if given, and keep
    ``log_bytes_kept`` bytes of their logs. Opened once per process (each keeps a
    connection per thread, or a pool)."""
    place = (str(home_path(home)), redis_url, result_ttl, log_bytes_kept)
    records = _records.get(place)
    if records is None:
        kept = {"result_ttl": result_ttl, "log_bytes_kept": log_bytes_kept}
        if redis_url:
            signer = signer_for(home, redis_url, key_file)
            records = RedisRecords(redis_url, QUEUE_NAME, signer=signer, **kept)
        else:  # (the store finds the home's key itself, once its file's errors have spoken)
            records = SqliteRecords(records_path(home), **kept)
        records = _records.setdefault(place, records)
    return records


def execute_job(place: tuple[str, str | None], job_id: str) -> None:
    """The Huey task: run the job in this worker thread's child process."""
    run_recorded_job(open_records(*place), job_id)
