"""Job records in a SQLite file: what the ``huey`` backend keeps beside its queue.

Huey keeps no per-task status, so jobnb keeps its own records (status, name, times,
progress, log, worker, heartbeat, error, outcome) in one SQLite file in WAL mode,
readable cheaply from any process: the kernel that submitted, another kernel, the
dashboard, ``jobnb jobs``. Every method opens nothing new: one connection per thread.

A running job's runner writes a heartbeat; a reader that finds a ``running`` job
whose heartbeat is older than ``LOST_AFTER`` seconds marks it ``lost``, so a job
whose worker was SIGKILLed never stays ``running``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from ..exceptions import JobNotFound
from ..job import JobRecord, JobStatus, Progress

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
    sys_path TEXT
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


class LostLook:
    """When a reader next looks for lost jobs: looking is a query, so at most every
    ``lost_after / 10`` s, and at most once a second (a waiting kernel reads a status
    every millisecond; a job is lost after 30 s, not 30 ms). Both stores use it."""

    def __init__(self, lost_after: float) -> None:
        self.every = min(1.0, lost_after / 10)
        self.last = -float("inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.every:
            return False
        self.last = now
        return True


_RECORD_COLUMNS = (
    "id, name, backend, status, kind, description, queue, timeout, submitted, started, "
    "finished, progress_done, progress_total, progress_message, worker, heartbeat, error"
)


def create_private_file(path: Path) -> None:
    """Create ``path`` readable and writable by its owner only, in a folder only its
    owner can enter (created if need be). An existing file is left as it is."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


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


class SqliteRecords:
    """The records of one jobnb home (``JOBNB_HOME``), in ``path``."""

    def __init__(self, path: str | os.PathLike, lost_after: float = LOST_AFTER) -> None:
        self.path = Path(path)
        self.lost_after = lost_after
        self._lost_look = LostLook(lost_after)
        self._local = threading.local()
        create_private_file(self.path)  # it holds pickles, which run code when loaded
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")  # one process creates the tables, the others wait
        try:
            has_counts = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'counts'").fetchone()
            for statement in _split(_SCHEMA + ("" if has_counts else _COUNTS)):
                db.execute(statement)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL keeps it consistent on a crash
            self._local.db = db
        return db

    # --- writing -------------------------------------------------------------------------
    def add(
        self,
        records: Iterable[JobRecord],
        payloads: Iterable[bytes],
        cwd: str | None = None,
        sys_path: list[str] | None = None,
    ) -> None:
        """Insert queued jobs with their serialized payloads, in one transaction, with
        where the submitter was (``cwd``, ``sys_path``): the job runs there."""
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
            )
            for r in records
        ]
        blobs = [(r.id, p) for r, p in zip(records, payloads, strict=True)]
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO jobs (id, name, backend, status, kind, description, queue, "
                "timeout, submitted, cwd, sys_path) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.executemany("INSERT INTO payloads (id, data) VALUES (?, ?)", blobs)

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
                "UPDATE jobs SET status = 'running', started = ?, heartbeat = ?, worker = ? "
                "WHERE id = ? AND status = 'queued' RETURNING timeout, cwd, sys_path",
                (now, now, worker, job_id),
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
                "UPDATE jobs SET heartbeat = ? WHERE id = ? RETURNING cancel_requested",
                (time.time(), job_id),
            )
            .fetchone()
        )
        return bool(row and row[0])

    def progress(self, job_id: str, done: float, total: float | None, message: str | None) -> None:
        self._connection().execute(
            "UPDATE jobs SET progress_done = ?, progress_total = ?, progress_message = ?, "
            "heartbeat = ? WHERE id = ?",
            (done, total, message, time.time(), job_id),
        )

    def log(self, job_id: str, text: str) -> None:
        self._connection().execute("INSERT INTO logs (job_id, text) VALUES (?, ?)", (job_id, text))

    def finish(self, job_id: str, status: JobStatus, error: str | None, outcome: bytes) -> bool:
        """Record how the job ended, unless it had already ended (e.g. found lost)."""
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            done = db.execute(
                "UPDATE jobs SET status = ?, error = ?, finished = ?, "
                "progress_done = CASE WHEN ? = 'finished' AND progress_total IS NOT NULL "
                "THEN progress_total ELSE progress_done END "
                "WHERE id = ? AND status IN ('queued', 'running')",
                (status.value, error, time.time(), status.value, job_id),
            ).rowcount
            if done:
                db.execute("INSERT INTO outcomes (id, data) VALUES (?, ?)", (job_id, outcome))
        return bool(done)

    def request_cancel(self, job_id: str) -> JobStatus:
        """Ask for a cancel; returns the status the job had (a queued job is cancelled
        here and now; a running one is stopped by its worker, which watches the flag)."""
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobNotFound(f"no job {job_id!r} in {self.path}")
            status = JobStatus(row[0])
            if status is JobStatus.QUEUED:
                db.execute(
                    "UPDATE jobs SET status = 'cancelled', finished = ?, "
                    "error = 'JobCancelled: the job was cancelled before it started\n'"
                    " WHERE id = ?",
                    (time.time(), job_id),
                )
            elif status is JobStatus.RUNNING:
                db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
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
        """Whoever reads finds the jobs whose worker stopped beating, and says so."""
        if not self._lost_look.due():
            return
        cutoff = time.time() - self.lost_after
        db = self._connection()
        # a read first: an UPDATE would take the write lock even when it changes nothing
        if (
            db.execute(
                "SELECT 1 FROM jobs WHERE status = 'running' AND heartbeat < ? LIMIT 1", (cutoff,)
            ).fetchone()
            is None
        ):
            return
        db.execute(
            "UPDATE jobs SET status = 'lost', finished = heartbeat, error = "
            "'JobLost: its worker stopped sending heartbeats (killed, out of memory, or its "
            "machine is gone) while running the job\n' "
            "WHERE status = 'running' AND heartbeat < ?",
            (cutoff,),
        )
