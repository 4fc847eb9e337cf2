"""Job records in a SQLite file: what the ``huey`` backend keeps beside its queue.

Huey keeps no per-task status, so jobnb keeps its own records (status, name, times,
progress, log, worker, heartbeat, error, outcome) in one SQLite file in WAL mode,
readable cheaply from any process: the kernel that submitted, another kernel, the
dashboard, ``jobnb jobs``. Every method opens nothing new: one connection per thread.

A running job's runner writes a heartbeat; a reader that finds a ``running`` job
whose heartbeat is older than ``LOST_AFTER`` seconds marks it ``lost``, so a job
whose worker was SIGKILLed never stays ``running``. Heartbeats are judged on the
machine's monotonic clock (the same for every process of one boot, whatever the wall
clock says), stamped with the boot they came from: a heartbeat from another boot is a
lost job. Worker and readers are always on one machine: WAL needs shared memory.

An error of the file (full, read-only, locked, deleted) is a StoreUnavailable naming
it and what to do; the thread's connection is dropped, so the next call opens the file
again and works once the cause is gone (a deleted file is made again, empty).
Forgotten jobs give their pages back to the file system (``auto_vacuum=INCREMENTAL``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..exceptions import JobNotFound
from ..model import JobRecord, JobStatus, Progress, refuse_to_forget
from .store_errors import SQLITE_FAULTS, said_clearly, sqlite_error

#: seconds without a heartbeat after which a running job is lost (JOBNB_LOST_AFTER: shorter
#: in tests; read by the kernels and workers alike, when jobnb is imported)
LOST_AFTER = float(os.environ.get("JOBNB_LOST_AFTER") or 30.0)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    backend TEXT NOT NULL,
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    queue TEXT,
    timeout REAL,
    submitted REAL NOT NULL,
    started REAL,
    finished REAL,
    progress_done REAL NOT NULL DEFAULT 0,
    progress_total REAL,
    progress_message TEXT,
    worker TEXT,
    heartbeat REAL,
    error TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    cwd TEXT,
    sys_path TEXT,
    beat_monotonic REAL,
    boot_id TEXT,
    result_ttl REAL,
    expires REAL
);
-- Serialized payloads and outcomes live apart from the jobs: SQLite rewrites a whole
-- row on any UPDATE, and a job's row is updated at every heartbeat (a 50 MB argument
-- in it would be copied five times a second).
CREATE TABLE IF NOT EXISTS payloads (id TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS outcomes (id TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);  -- each status, in insertion order
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_job ON logs (job_id, seq);
"""

# Columns added since the first records files: added to an older file when it is opened.
_ADDED_COLUMNS = {
    "beat_monotonic": "REAL",  # the last heartbeat on the machine's monotonic clock
    "boot_id": "TEXT",  # ... and the boot that clock counts from
    "result_ttl": "REAL",  # seconds the job is kept once ended (NULL: until forgotten)
    "expires": "REAL",  # when it is forgotten (wall clock), once ended
}
# made once those columns are there: the readers' sweep of ended jobs reads only these
_EXPIRES_INDEX = (
    "CREATE INDEX IF NOT EXISTS jobs_expires ON jobs (expires) WHERE expires IS NOT NULL"
)

# How many jobs are in each status, kept by triggers as statuses change, so counting
# (each dashboard refresh) reads a handful of rows, not the history.
_COUNTS = """
CREATE TABLE IF NOT EXISTS counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL);
INSERT INTO counts SELECT status, COUNT(*) FROM jobs GROUP BY status;
CREATE TRIGGER IF NOT EXISTS count_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO counts VALUES (NEW.status, 1) ON CONFLICT(status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS count_update AFTER UPDATE OF status ON jobs
WHEN OLD.status != NEW.status BEGIN
    UPDATE counts SET n = n - 1 WHERE status = OLD.status;
    INSERT INTO counts VALUES (NEW.status, 1) ON CONFLICT(status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS count_delete AFTER DELETE ON jobs BEGIN
    UPDATE counts SET n = n - 1 WHERE status = OLD.status;
END;
"""


#: the tables, indexes and triggers of a file that is up to date
_SCHEMA_NAMES = set(re.findall(r"IF NOT EXISTS (\w+)", _SCHEMA + _COUNTS + _EXPIRES_INDEX))


class LostLook:
    """When a reader next looks for lost jobs: looking is a query, so at most every
    ``lost_after / 10`` s, and at most once a second (a waiting kernel reads a status
    every millisecond; a job is lost after 30 s, not 30 ms). Both stores use it."""

    def __init__(self, lost_after: float) -> None:
        self.every = min(1.0, lost_after / 10)
        #: how long a running job may stay silent: a look every ``every`` s then finds
        #: it lost no later than ``lost_after`` s after its last heartbeat
        self.silence = lost_after - self.every
        self.last = -float("inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.every:
            return False
        self.last = now
        return True


# A running job whose worker stopped beating: its last heartbeat is older than the cutoff
# on this machine's monotonic clock, or is from another boot. (A heartbeat without a
# boot id was written by an older jobnb: judged on the wall clock, as it was then.)
_LOST = (
    "status = 'running' AND (boot_id IS NOT NULL AND (boot_id != :boot "
    "OR beat_monotonic < :cutoff) OR boot_id IS NULL AND heartbeat < :wall_cutoff)"
)

_RECORD_COLUMNS = (
    "id, name, backend, status, kind, description, queue, timeout, submitted, started, "
    "finished, progress_done, progress_total, progress_message, worker, heartbeat, error"
)


def create_private_file(path: Path) -> None:
    """Create ``path`` readable and writable by its owner only, in a folder only its
    owner can enter (created if need be). An existing file is left as it is."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as exc:  # a home on a read-only or full file system, or not ours
        raise sqlite_error(path, exc, 0) from None


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

#: what a WAL is cut back to once checkpointed (SQLite's default checkpoint: ~4 MB)
WAL_KEPT_BYTES = 4 * 2**20


def _identity(path: str | Path) -> tuple[int, int] | None:
    """Which file is at ``path`` now (None: none). An open connection keeps its file's
    inode in use, so a new file there never has the same one."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _split(script: str) -> list[str]:
    """The statements of ``script`` (triggers keep their inner semicolons)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [statement for statement in statements if statement]


def _record(row: tuple) -> JobRecord:
    (
        job_id,
        name,
        backend,
        status,
        kind,
        description,
        queue,
        timeout,
        submitted,
        started,
        finished,
        done,
        total,
        message,
        worker,
        _heartbeat,
        error,
    ) = row
    return JobRecord(
        id=job_id,
        name=name,
        backend=backend,
        status=JobStatus(status),
        kind=kind,
        description=description,
        queue=queue,
        timeout=timeout,
        submitted=submitted,
        started=started,
        finished=finished,
        progress=Progress(done, total, message),
        worker=worker,
        error=error,
    )


def _up_to_date(db: sqlite3.Connection) -> bool:
    names = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
    incremental = db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    return _SCHEMA_NAMES <= names and _ADDED_COLUMNS.keys() <= columns and incremental


def _failed(store: SqliteRecords, exc: BaseException) -> BaseException:
    """What to raise for a fault of the file; the thread's connection is dropped first,
    so that the next call opens the file again (remounted, freed, unlocked, re-made)."""
    store._drop_connection()
    return sqlite_error(store.path, exc, store.busy_timeout)


@said_clearly(SQLITE_FAULTS, _failed)
class SqliteRecords:
    """The records of one jobnb home (``JOBNB_HOME``), in ``path``: jobs added here are
    forgotten ``result_ttl`` seconds after they end (None: kept until forgotten); a
    write waits up to ``busy_timeout`` seconds for another process's lock."""

    def __init__(
        self,
        path: str | os.PathLike,
        lost_after: float = LOST_AFTER,
        result_ttl: float | None = None,
        busy_timeout: float = 30.0,
    ) -> None:
        self.path = Path(path)
        self._file = os.fspath(self.path)  # (a str: os.stat takes it without converting)
        self.lost_after = lost_after
        self.result_ttl = result_ttl
        self.busy_timeout = busy_timeout
        self._lost_look = LostLook(lost_after)
        self._local = threading.local()
        self._connection()  # made, with its tables, if need be: an error shows here

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, to the file at ``path`` now: one stat a call finds a
        file deleted or replaced under an open connection (which would go on, unaware,
        with the old one) and opens the new one, or makes it again."""
        local = self._local
        db = getattr(local, "db", None)
        if db is not None and _identity(self._file) == local.identity:
            # SQLite opens a file it cannot write read-only, and it stays so: once the
            # file can be written (remounted, permissions mended), open it again
            if local.writable or not os.access(self.path, os.W_OK):
                return db
        self._drop_connection()
        local.identity = self._make_if_missing()
        local.writable = os.access(self.path, os.W_OK)
        db = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        local.db = db
        if self.path.stat().st_size == 0:  # new: its pages go back as jobs are forgotten
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # (before WAL writes a header)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL keeps it consistent on a crash
        # a WAL that held a 500 MB result is cut back to this once checkpointed
        db.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
        self._prepare(db)
        return db

    def connection(self) -> sqlite3.Connection:
        """This thread's connection to the file (opened again, or the file made again,
        if it was replaced or deleted): for the huey queue, whose messages live in this
        file too."""
        return self._connection()

    def _drop_connection(self) -> None:
        db = getattr(self._local, "db", None)
        self._local.db = None
        if db is not None:
            try:
                db.close()
            except sqlite3.Error:
                pass

    def _make_if_missing(self) -> tuple[int, int]:
        """Create the file if it is missing, with a lock on its folder (several processes
        may find it gone at once); return its identity. A missing file's WAL and index
        are an older file's: left there, they would be read as the new one's."""
        if _identity(self.path) is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # gone too?
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                fcntl.flock(folder, fcntl.LOCK_EX)
                if _identity(self.path) is None:
                    for suffix in ("-wal", "-shm", "-journal"):
                        Path(f"{self.path}{suffix}").unlink(missing_ok=True)
                    create_private_file(self.path)  # it holds pickles, which run code
            finally:
                os.close(folder)  # (and the lock with it)
        return _identity(self.path)

    def _prepare(self, db: sqlite3.Connection) -> None:
        """Make the tables, or bring a file from an older jobnb up to date; only reads
        when all is in place (so that a read-only home can be read)."""
        if _up_to_date(db):
            return
        db.execute("BEGIN IMMEDIATE")  # one process creates the tables, the others wait
        try:
            has_counts = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'counts'").fetchone()
            for statement in _split(_SCHEMA + ("" if has_counts else _COUNTS)):
                db.execute(statement)
            present = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in present:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
            db.execute(_EXPIRES_INDEX)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if db.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:  # a file from before
            try:
                db.execute("PRAGMA auto_vacuum=INCREMENTAL")
                db.execute("VACUUM")  # once: the file is rewritten in that mode
            except sqlite3.OperationalError:
                pass  # no room for the copy, or busy: it works as it is; next time, then

    # --- writing -------------------------------------------------------------------------
    def add(
        self,
        records: Iterable[JobRecord],
        payloads: Iterable[bytes],
        cwd: str | None = None,
        sys_path: list[str] | None = None,
        within: Callable[[sqlite3.Connection], object] | None = None,
    ) -> None:
        """Insert queued jobs with their serialized payloads, in one transaction, with
        where the submitter was (``cwd``, ``sys_path``): the job runs there. ``within(db)``
        runs inside that transaction (the huey backend queues the jobs' messages there:
        a submitter killed halfway leaves both or neither)."""
        path_text = json.dumps(sys_path) if sys_path is not None else None
        rows = [
            (
                r.id,
                r.name,
                r.backend,
                r.status.value,
                r.kind,
                r.description,
                r.queue,
                r.timeout,
                r.submitted,
                cwd,
                path_text,
                self.result_ttl,
            )
            for r in records
        ]
        blobs = [(r.id, p) for r, p in zip(records, payloads, strict=True)]
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO jobs (id, name, backend, status, kind, description, queue, "
                "timeout, submitted, cwd, sys_path, result_ttl) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.executemany("INSERT INTO payloads (id, data) VALUES (?, ?)", blobs)
            if within is not None:
                within(db)

    def start(
        self, job_id: str, worker: str
    ) -> tuple[bytes, float | None, str | None, list[str]] | None:
        """Mark a queued job running; return its payload, its timeout and the submitter's
        working directory and sys.path, or None if it was cancelled (or taken) meanwhile."""
        now = time.time()
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "UPDATE jobs SET status = 'running', started = ?, heartbeat = ?, "
                "beat_monotonic = ?, boot_id = ?, worker = ? "
                "WHERE id = ? AND status = 'queued' RETURNING timeout, cwd, sys_path",
                (now, now, time.monotonic(), BOOT_ID, worker, job_id),
            ).fetchone()
            if row is None:
                return None
            (payload,) = db.execute("SELECT data FROM payloads WHERE id = ?", (job_id,)).fetchone()
        return payload, row[0], row[1], json.loads(row[2]) if row[2] else []

    def heartbeat(self, job_id: str) -> bool:
        """Say the job is alive; returns whether a cancel was asked for."""
        row = (
            self._connection()
            .execute(
                "UPDATE jobs SET heartbeat = ?, beat_monotonic = ?, boot_id = ? WHERE id = ? "
                "RETURNING cancel_requested",
                (time.time(), time.monotonic(), BOOT_ID, job_id),
            )
            .fetchone()
        )
        return bool(row and row[0])

    def progress(self, job_id: str, done: float, total: float | None, message: str | None) -> None:
        self._connection().execute(
            "UPDATE jobs SET progress_done = ?, progress_total = ?, progress_message = ?, "
            "heartbeat = ?, beat_monotonic = ?, boot_id = ? WHERE id = ?",
            (
                float(done),  # (a numpy number is one too: sqlite3 binds floats only)
                None if total is None else float(total),
                message,
                time.time(),
                time.monotonic(),
                BOOT_ID,
                job_id,
            ),
        )

    def log(self, job_id: str, text: str) -> None:
        self._connection().execute("INSERT INTO logs (job_id, text) VALUES (?, ?)", (job_id, text))

    def finish(self, job_id: str, status: JobStatus, error: str | None, outcome: bytes) -> bool:
        """Record how the job ended, unless it had already ended (e.g. found lost)."""
        now = time.time()
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            done = db.execute(
                "UPDATE jobs SET status = ?, error = ?, finished = ?, expires = ? + result_ttl, "
                "progress_done = CASE WHEN ? = 'finished' AND progress_total IS NOT NULL "
                "THEN progress_total ELSE progress_done END "
                "WHERE id = ? AND status IN ('queued', 'running')",
                (status.value, error, now, now, status.value, job_id),
            ).rowcount
            if done:
                db.execute("INSERT INTO outcomes (id, data) VALUES (?, ?)", (job_id, outcome))
        return bool(done)

    def requeue(self, job_id: str, reason: str) -> bool:
        """Put a running job back in the queued state (its worker stopped before it
        ended), saying ``reason`` in its log; False if it was no longer running. The
        caller queues its message again."""
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            done = db.execute(
                "UPDATE jobs SET status = 'queued', started = NULL, worker = NULL "
                "WHERE id = ? AND status = 'running'",
                (job_id,),
            ).rowcount
            if done:
                db.execute(
                    "INSERT INTO logs (job_id, text) VALUES (?, ?)", (job_id, f"jobnb: {reason}\n")
                )
        return bool(done)

    def lose_running(self, reason: str) -> list[str]:
        """Mark every running job lost, ``reason`` as its error: what the worker that takes
        over a home does (it holds the home's lock, so the worker that ran them is gone)."""
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(
                "UPDATE jobs SET status = 'lost', finished = :now, expires = :now + result_ttl, "
                "error = :error WHERE status = 'running' RETURNING id",
                {"now": time.time(), "error": f"JobLost: {reason}\n"},
            ).fetchall()
        return [job_id for (job_id,) in rows]

    def request_cancel(self, job_id: str) -> JobStatus:
        """Ask for a cancel; returns the status the job had (a queued job is cancelled
        here and now; a running one is stopped by its worker, which watches the flag)."""
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            status = self._status_in(db, job_id)
            if status is JobStatus.QUEUED:
                now = time.time()
                db.execute(
                    "UPDATE jobs SET status = 'cancelled', finished = ?, expires = ? + result_ttl, "
                    "error = 'JobCancelled: the job was cancelled before it started\n'"
                    " WHERE id = ?",
                    (now, now, job_id),
                )
            elif status is JobStatus.RUNNING:
                db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
        return status

    def _status_in(self, db: sqlite3.Connection, job_id: str) -> JobStatus:
        """The job's status, read inside the caller's transaction."""
        row = db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"no job {job_id!r} in {self.path}")
        return JobStatus(row[0])

    def forget(self, job_id: str) -> JobStatus:
        """Delete an ended job: its record, payload, outcome and logs (the file gives the
        pages back); returns how it had ended. A queued or running job is refused
        (cancel it first, or wait)."""
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            status = self._status_in(db, job_id)
            if not status.is_done:
                raise refuse_to_forget(job_id, status)
            _delete(db, [job_id])
        _shrink(db)
        return status

    # --- reading ---------------------------------------------------------------------------
    def record(self, job_id: str) -> JobRecord:
        self._mark_lost()
        row = (
            self._connection()
            .execute(f"SELECT {_RECORD_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
            .fetchone()
        )
        if row is None:
            raise JobNotFound(f"no job {job_id!r} in {self.path}")
        return _record(row)

    def status(self, job_id: str) -> JobStatus:
        """A job's status alone: what a waiting kernel reads, often."""
        self._mark_lost()
        row = (
            self._connection().execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        )
        if row is None:
            raise JobNotFound(f"no job {job_id!r} in {self.path}")
        return JobStatus(row[0])

    def wait(self, job_id: str, timeout: float | None) -> bool:
        """Poll the job's status until it has ended (True) or ``timeout`` passed (False):
        from 0.5 ms, backing off to 50 ms (SQLite cannot wake a reader)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.0005
        while not self.status(job_id).is_done:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 1.5, 0.05)
        return True

    def records(
        self, status: JobStatus | None = None, limit: int | None = None, offset: int = 0
    ) -> list[JobRecord]:
        """Newest first (in the order the queue received them): a page reads ``offset +
        limit`` rows from the end of the table, or of a status's index, not the history."""
        self._mark_lost()
        where, args = ("WHERE status = ?", [status.value]) if status else ("", [])
        rows = (
            self._connection()
            .execute(
                f"SELECT {_RECORD_COLUMNS} FROM jobs {where} ORDER BY rowid DESC LIMIT ? OFFSET ?",
                (*args, -1 if limit is None else limit, offset),
            )
            .fetchall()
        )
        return [_record(row) for row in rows]

    def records_of(self, job_ids: list[str]) -> dict[str, JobRecord]:
        """Several records in one query (what the widgets' monitor asks each tick)."""
        self._mark_lost()
        marks = ",".join("?" * len(job_ids))
        rows = (
            self._connection()
            .execute(f"SELECT {_RECORD_COLUMNS} FROM jobs WHERE id IN ({marks})", job_ids)
            .fetchall()
        )
        return {row[0]: _record(row) for row in rows}

    def counts(self) -> dict[JobStatus, int]:
        self._mark_lost()
        found = dict.fromkeys(JobStatus, 0)
        for status, n in self._connection().execute("SELECT status, n FROM counts"):
            found[JobStatus(status)] = n
        return found

    def queued_ids(self) -> list[str]:
        """The ids of the queued jobs, oldest first (what the queue's repair compares
        with the messages waiting)."""
        rows = self._connection().execute(
            "SELECT id FROM jobs WHERE status = 'queued' ORDER BY rowid"
        )
        return [job_id for (job_id,) in rows]

    def logs(self, job_id: str) -> str:
        rows = (
            self._connection()
            .execute("SELECT text FROM logs WHERE job_id = ? ORDER BY seq", (job_id,))
            .fetchall()
        )
        return "".join(text for (text,) in rows)

    def outcome(self, job_id: str) -> bytes | None:
        return self._blob("outcomes", job_id)

    def payload(self, job_id: str) -> bytes | None:
        return self._blob("payloads", job_id)

    def _blob(self, table: str, job_id: str) -> bytes | None:
        row = (
            self._connection()
            .execute(
                f"SELECT (SELECT data FROM {table} WHERE id = ?), "
                "EXISTS (SELECT 1 FROM jobs WHERE id = ?)",
                (job_id, job_id),
            )
            .fetchone()
        )
        if not row[1]:
            raise JobNotFound(f"no job {job_id!r} in {self.path}")
        return row[0]

    def _mark_lost(self) -> None:
        """Whoever reads finds the jobs whose worker stopped beating, and says so; and
        forgets the ended jobs past their result_ttl. Both are chores of a read: when the
        file cannot be written (full, read-only, locked), the read goes on without them,
        and the next look tries again."""
        if not self._lost_look.due():
            return
        db = self._connection()
        try:
            self._find_lost(db)
            self._forget_expired(db)
        except sqlite3.OperationalError:
            pass

    def _find_lost(self, db: sqlite3.Connection) -> None:
        now = time.monotonic()
        args = {
            "boot": BOOT_ID,
            "cutoff": now - self._lost_look.silence,
            "wall_cutoff": time.time() - self._lost_look.silence,
        }
        # a read first: an UPDATE would take the write lock even when it changes nothing
        if db.execute(f"SELECT 1 FROM jobs WHERE {_LOST} LIMIT 1", args).fetchone() is None:
            return
        db.execute(
            "UPDATE jobs SET status = 'lost', finished = heartbeat, "
            "expires = heartbeat + result_ttl, error = "
            "'JobLost: its worker stopped sending heartbeats (killed, out of memory, or its "
            "machine is gone) while running the job\n' "
            f"WHERE {_LOST}",
            args,
        )

    def _forget_expired(self, db: sqlite3.Connection) -> None:
        now = time.time()
        if db.execute("SELECT 1 FROM jobs WHERE expires < ? LIMIT 1", (now,)).fetchone() is None:
            return
        with db:
            db.execute("BEGIN IMMEDIATE")
            expired = db.execute("SELECT id FROM jobs WHERE expires < ? LIMIT 1000", (now,))
            _delete(db, [job_id for (job_id,) in expired.fetchall()])
        _shrink(db)


def _delete(db: sqlite3.Connection, job_ids: list[str]) -> None:
    """Every trace of these jobs, in the caller's transaction (the counts follow, by
    their trigger)."""
    rows = [(job_id,) for job_id in job_ids]
    for table in ("payloads", "outcomes"):
        db.executemany(f"DELETE FROM {table} WHERE id = ?", rows)
    db.executemany("DELETE FROM logs WHERE job_id = ?", rows)
    db.executemany("DELETE FROM jobs WHERE id = ?", rows)


def _shrink(db: sqlite3.Connection) -> None:
    """Give the pages that deletes freed back to the file system, and checkpoint, so that
    the file is smaller at once. Best effort: pages left free are reused by the next
    writes, and the next delete tries again."""
    try:
        # a script, which SQLite runs to its end: execute() would free one page only
        db.executescript("PRAGMA incremental_vacuum;")
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.OperationalError:
        pass
