"""Job records in a SQLite file: what the ``huey`` backend keeps beside its queue.

Huey keeps no per-task status, so jobnb keeps its own records in one SQLite file in WAL
mode (sqlite_file.py), readable cheaply from any process: the kernel that submitted,
another kernel, the dashboard, ``jobnb jobs``; the huey queue's messages live in the same
file. The tables are in sqlite_schema.py, the readers' chores (lost and expired jobs) in
sqlite_chores.py; the contract every method keeps is in base.py.

A running job's runner writes a heartbeat; a reader that finds a ``running`` job whose
heartbeat is older than ``lost_after`` seconds marks it ``lost``, so a job whose worker
was SIGKILLed never stays ``running``.

An error of the file (full, read-only, locked, deleted) is a StoreUnavailable naming
it and what to do; the thread's connection is dropped, so the next call opens the file
again and works once the cause is gone (a deleted file is made again, empty).
Forgotten jobs give their pages back to the file system (``auto_vacuum=INCREMENTAL``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ... import defaults
from ...model import JobRecord, JobStatus, refuse_to_forget
from ...payload.signing import Signer
from ..retries import retry_fields
from ..secret_key import home_signer
from .base import (
    CANCELLED_ERROR,
    ENDED,
    LOST_AFTER,
    RECORD_FIELDS,
    LostLook,
    Records,
    decode_record,
    lost_error,
    requeue_note,
)
from .errors import SQLITE_FAULTS, said_clearly, sqlite_error
from .log_bounds import checked_log_bytes_kept, tail_of
from .sqlite_blobs import read_blob, remove_files, sweep_orphans, write_blob
from .sqlite_chores import (
    BOOT_ID,
    ENDED_DROPS,
    delete,
    find_lost,
    forget_expired,
    lost_args,
    shrink,
)
from .sqlite_dependencies import file_added, release, settle_added
from .sqlite_file import SqliteFile
from .sqlite_log import KeptLog, append_log, whole_log_path
from .sqlite_retries import retry_lost, retry_run, retry_running, take_due

_RECORD_COLUMNS = ", ".join(RECORD_FIELDS)
#: a prune's batches in a SQLite file: the first, and the bounds of the next ones, which
#: are sized from the time the last one held the write lock (``PRUNE_HOLD``). Ids made
#: in order (backends/base.py) put the jobs that ended together side by side in every
#: index: on a million-job file 1,000 take ~20 ms to delete; an older file's random ids
#: cost a page per job and index, 1,000 ~0.2 s
PRUNE_BATCH_SQLITE = 1000
PRUNE_BATCH_LEAST, PRUNE_BATCH_MOST = 100, 10_000
#: seconds a prune's batch aims to hold the write lock: a running job's heartbeat that
#: comes meanwhile waits that long
PRUNE_HOLD = 0.15
#: seconds a prune leaves the file to the other writers between two batches (see
#: ``ended_before``)
LEAVE_THE_LOCK = 0.1
#: seconds between two looks of a waiting reader, for its first ``WAIT_CLOSELY`` s
WAIT_FIRST_PAUSE = 0.0002
WAIT_CLOSELY = 0.02


def _failed(store: SqliteRecords, exc: BaseException) -> BaseException:
    """What to raise for a fault of the file; the thread's connection is dropped first,
    so that the next call opens the file again (remounted, freed, unlocked, re-made)."""
    store._file.drop()
    return sqlite_error(store.path, exc, store.busy_timeout)


def _next_batch(batch: int, deleted: int, held: float) -> int:
    """The size of a prune's next batch: what deletes in ``PRUNE_HOLD`` s at the pace of
    the last one (``deleted`` jobs in ``held`` s), at most twice the last, within the
    bounds."""
    if deleted < batch:  # a batch with jobs kept says little of the pace
        return batch
    aimed = int(deleted * PRUNE_HOLD / max(held, 1e-3))
    return max(PRUNE_BATCH_LEAST, min(PRUNE_BATCH_MOST, 2 * batch, aimed))


def _retry_columns(record: JobRecord) -> tuple:
    """The columns ``retries, retry_delay, retry_on`` of a new job (NULL: none)."""
    found = retry_fields(record)
    return found.get("retries"), found.get("retry_delay"), found.get("retry_on")


def origin_of(
    cwd: str | None, sys_path: list[str] | None
) -> tuple[str, str | None, str | None] | None:
    """(key, cwd, sys.path as JSON): where a submitter was, a row of ``origins`` that
    every job it submits from there names by its key (None: it did not say). Kept in
    the job's row, a sys.path of a few hundred bytes made each row that much bigger
    while the job waited and ran, and its page stayed so once it was dropped."""
    if cwd is None and sys_path is None:
        return None
    path_text = json.dumps(sys_path) if sys_path is not None else None
    key = hashlib.blake2b(json.dumps([cwd, path_text]).encode(), digest_size=8).hexdigest()
    return key, cwd, path_text


@said_clearly(SQLITE_FAULTS, _failed)
class SqliteRecords(Records):
    """The records of one jobnb home (``JOBNB_HOME``), in ``path``: jobs added here are
    forgotten ``result_ttl`` seconds after they end (None: kept until forgotten), and
    keep ``log_bytes_kept`` bytes of their log (the whole log is in a file of the home:
    sqlite_log.py); a write waits up to ``busy_timeout`` seconds for another process's
    lock."""

    def __init__(
        self,
        path: str | os.PathLike,
        lost_after: float = LOST_AFTER,
        result_ttl: float | None = None,
        busy_timeout: float = 30.0,
        signer: Signer | None = None,
        log_bytes_kept: int = defaults.LOG_BYTES_KEPT,
    ) -> None:
        self.log_bytes_kept = checked_log_bytes_kept(log_bytes_kept)
        self.path = Path(path)
        self.place = str(self.path)
        self.lost_after = lost_after
        self.result_ttl = result_ttl
        self.busy_timeout = busy_timeout
        self._lost_look = LostLook(lost_after)
        self._file = SqliteFile(self.path, busy_timeout)
        self._connection = self._file.connection
        self._connection()  # made, with its tables, if need be: an error shows here
        # the home's own key (made on first use) unless the caller gives one: after the
        # file, whose errors say what is wrong with the home (read-only, full, not ours)
        self.signer = signer if signer is not None else home_signer(self.path.parent)

    def connection(self) -> sqlite3.Connection:
        """This thread's connection to the file (opened again, or the file made again,
        if it was replaced or deleted): for the huey queue, whose messages live in this
        file too. Not part of the Records contract: SQLite's own."""
        return self._connection()

    # --- writing -------------------------------------------------------------------------
    def add(
        self,
        records: Iterable[JobRecord],
        payloads: Iterable,
        cwd: str | None = None,
        sys_path: list[str] | None = None,
        within: Callable[[sqlite3.Connection], object] | None = None,
    ) -> None:
        """One transaction; ``within(db)`` runs inside it (the huey backend queues the jobs'
        messages there: a submitter killed halfway leaves both or neither)."""
        records = list(records)
        # hashed on the hashing threads while SQLite writes the payloads: a 50 MB
        # argument's signature then costs nothing next to its write
        pairs = list(zip(records, payloads, strict=True))
        signatures = [self._signature_later("payload", r.id, p) for r, p in pairs]
        origin = origin_of(cwd, sys_path)
        db = self._connection()
        files: list = []  # (big payloads' files: removed if the transaction fails)
        try:
            with db:
                db.execute("BEGIN IMMEDIATE")
                if origin is not None:
                    db.execute("INSERT OR IGNORE INTO origins VALUES (?, ?, ?)", origin)
                for rec, payload in pairs:  # (a big one in pieces: sqlite_blobs.py)
                    files.append(write_blob(db, "payload", rec.id, payload, self.path.parent))
                db.executemany(
                    "INSERT INTO jobs (id, name, backend, status, kind, description, queue, "
                    "timeout, submitted, origin, result_ttl, output, payload_signature, "
                    "log_kept, retries, retry_delay, retry_on, schedule, due, after_ids) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
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
                            origin and origin[0],
                            self.result_ttl,
                            r.output,
                            signature(),
                            self.log_bytes_kept,
                            *_retry_columns(r),
                            r.schedule,
                            r.due,
                            ",".join(r.after) or None,
                        )
                        for r, signature in zip(records, signatures, strict=True)
                    ],
                )
                waiting = [(r.id, r.after) for r in records if r.after]
                released = []
                if waiting:  # (sqlite_dependencies.py)
                    file_added(db, waiting)
                    released = settle_added(db, [job_id for job_id, _ in waiting])
                if within is not None:
                    within(db)
        except BaseException:
            remove_files(files)
            raise
        self._released(released)

    def start(
        self, job_id: str, worker: str
    ) -> tuple[bytes, float | None, str | None, list[str]] | None:
        now = time.time()
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            # (asked again by the worker that started it, whose answer was lost, a
            # start is answered again: see redis_scripts.START)
            row = db.execute(
                "UPDATE jobs SET status = 'running', started = coalesce(started, ?), "
                "heartbeat = ?, beat_monotonic = ?, boot_id = ?, worker = ? "
                "WHERE id = ? AND (status = 'queued' AND retry_at IS NULL "
                "OR status = 'running' AND worker = ?) "
                "RETURNING timeout, cwd, sys_path, payload_signature, origin",
                (now, now, time.monotonic(), BOOT_ID, worker, job_id, worker),
            ).fetchone()
            if row is None:
                return None
            timeout, cwd, path_text, signature, origin = row
            if origin is not None:  # (cwd and sys_path in the row: an older jobnb's job)
                cwd, path_text = db.execute(
                    "SELECT cwd, sys_path FROM origins WHERE key = ?", (origin,)
                ).fetchone() or (None, None)
            payload, hashed = read_blob(db, "payload", job_id, self.path.parent)
        # (the job is running: see base)
        payload = self._checked("payload", job_id, signature, payload, hashed)
        return payload, timeout, cwd, json.loads(path_text) if path_text else []

    def heartbeat(self, job_id: str) -> bool:
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
        """One transaction: the whole log's file, the pieces kept, the counters."""
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            append_log(db, self.path.parent, job_id, text, self.log_bytes_kept)

    def finish(self, job_id: str, status: JobStatus, error: str | None, outcome) -> bool:
        signature = self._signature_later("outcome", job_id, outcome)  # (see add)
        now = time.time()
        db = self._connection()
        written = None  # (a big outcome's file: removed if the transaction fails)
        try:
            with db:
                db.execute("BEGIN IMMEDIATE")
                done = db.execute(
                    "UPDATE jobs SET status = ?, error = ?, finished = ?, "
                    f"expires = ? + result_ttl, {ENDED_DROPS}, progress_done = CASE WHEN "
                    "? = 'finished' AND progress_total IS NOT NULL THEN progress_total "
                    "ELSE progress_done END WHERE id = ? AND status IN ('queued', 'running')",
                    (status.value, error, now, now, status.value, job_id),
                ).rowcount
                released = []
                if done:
                    written = write_blob(db, "outcome", job_id, outcome, self.path.parent)
                    db.execute(
                        "UPDATE jobs SET outcome_signature = ? WHERE id = ?", (signature(), job_id)
                    )
                    released = release(db, [job_id])  # its waiting dependents
        except BaseException:
            remove_files([written])
            raise
        self._released(released)
        return bool(done)

    def requeue(self, job_id: str, reason: str) -> bool:
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            done = db.execute(
                "UPDATE jobs SET status = 'queued', started = NULL, worker = NULL "
                "WHERE id = ? AND status = 'running'",
                (job_id,),
            ).rowcount
            if done:
                append_log(db, self.path.parent, job_id, requeue_note(reason), self.log_bytes_kept)
        return bool(done)

    def retry(
        self, job_id: str, status: JobStatus, error: str | None, classes: tuple[str, ...]
    ) -> float | None:
        """One transaction (sqlite_retries.py)."""
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            return retry_run(
                db, self.path.parent, self.log_bytes_kept, job_id, status, error, classes
            )

    def take_due_retries(self) -> list[str]:
        self._mark_lost()
        return take_due(self._connection())

    def lose_running(self, reason: str) -> list[str]:
        """(The jobs with attempts left are queued again: sqlite_retries.py.)"""
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            home, kept = self.path.parent, self.log_bytes_kept
            retry_running(db, home, kept, lost_error(reason), "status = 'running'", {})
            rows = db.execute(
                "UPDATE jobs SET status = 'lost', finished = :now, expires = :now + result_ttl, "
                f"error = :error, {ENDED_DROPS} WHERE status = 'running' RETURNING id",
                {"now": time.time(), "error": lost_error(reason)},
            ).fetchall()
            released = release(db, [job_id for (job_id,) in rows])
        self._released(released)
        return [job_id for (job_id,) in rows]

    def request_cancel(self, job_id: str, by: str) -> JobStatus:
        """(A running job's flag is read by its worker's next ``heartbeat``.)"""
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            status = self._status_in(db, job_id)
            released = []
            if status in (JobStatus.QUEUED, JobStatus.WAITING):
                now = time.time()
                db.execute(
                    "UPDATE jobs SET status = 'cancelled', finished = ?, expires = ? + result_ttl, "
                    f"error = ?, cancelled_by = ?, {ENDED_DROPS} WHERE id = ?",
                    (now, now, CANCELLED_ERROR, by, job_id),
                )
                released = release(db, [job_id])  # its dependents are cancelled too
            elif status is JobStatus.RUNNING:
                db.execute(
                    "UPDATE jobs SET cancel_requested = 1, cancelled_by = ? WHERE id = ?",
                    (by, job_id),
                )
        self._released(released)
        return status

    def _status_in(self, db: sqlite3.Connection, job_id: str) -> JobStatus:
        """The job's status, read inside the caller's transaction."""
        row = db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise self._missing(job_id)
        return JobStatus(row[0])

    def forget(self, job_id: str) -> JobStatus:
        """The file gives the freed pages back (``auto_vacuum=INCREMENTAL``)."""
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            status = self._status_in(db, job_id)
            if not status.is_done:
                raise refuse_to_forget(job_id, status)
            files = delete(db, [job_id], self.path.parent)
        remove_files(files)
        shrink(db)
        self._forget_whole_logs([job_id])
        return status

    def _forget_whole_logs(self, job_ids: list[str]) -> None:
        """Delete the whole logs' files of forgotten jobs (best effort: a file left is
        only space, and the next forget of its job is never asked)."""
        for job_id in job_ids:
            path = whole_log_path(self.path.parent, job_id)
            try:
                if path is not None:
                    path.unlink(missing_ok=True)
            except OSError:
                pass

    def forget_many(self, job_ids: list[str]) -> dict[str, JobStatus]:
        """One short transaction (``delete``, as ``forget``); the freed pages are reused by
        the next writes, and given back to the file system by ``shrink``."""
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(
                "SELECT id, status, log_written IS NOT NULL FROM jobs "
                "WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(job_ids),),
            ).fetchall()
            rows = [row for row in rows if JobStatus(row[1]).is_done]
            files = delete(db, [job_id for job_id, _, _ in rows], self.path.parent)
        remove_files(files)
        # only the jobs that wrote a log have a whole log's file (written with the
        # counters): a look for the file of each of a million silent jobs took 20 s
        self._forget_whole_logs([job_id for job_id, _, logged in rows if logged])
        return {job_id: JobStatus(status) for job_id, status, _ in rows}

    def shrink(self) -> None:
        """Incremental vacuum, ``SHRINK_STEP`` pages per transaction, then a checkpoint;
        and the files of big blobs that no row names (sqlite_blobs.sweep_orphans)."""
        db = self._connection()
        shrink(db)
        sweep_orphans(db, self.path.parent)

    def ended_before(
        self, before: float, status: JobStatus | None = None, batch: int = PRUNE_BATCH_SQLITE
    ) -> Iterator[list[str]]:
        """Each status along its index (status, rowid), resuming after the last rowid read:
        reads, not a transaction, so that writers never wait for it (WAL).

        Once the caller has deleted a batch, the next one is sized so that deleting it
        holds the lock about ``PRUNE_HOLD`` s (from the time the last one took: an
        older file's random ids, a busy machine), and the file is left alone for
        ``LEAVE_THE_LOCK`` s first: SQLite's write lock is not a queue, and a heartbeat
        waiting for it retries every 100 ms at most, so without the pause a prune that
        takes the lock back at once can starve it for seconds (a million-job prune held
        a heartbeat 11 s)."""
        for ended in (status,) if status else ENDED:
            after = 0
            while True:
                rows = (
                    self._connection()
                    .execute(
                        "SELECT rowid, id, COALESCE(finished, submitted) < ? FROM jobs "
                        "INDEXED BY jobs_status WHERE status = ? AND rowid > ? "
                        "ORDER BY rowid LIMIT ?",
                        (before, ended.value, after, batch),
                    )
                    .fetchall()
                )
                if not rows:
                    break
                after = rows[-1][0]
                older = [job_id for _, job_id, is_older in rows if is_older]
                if not older:
                    continue
                began = time.monotonic()
                yield older
                batch = _next_batch(batch, len(older), time.monotonic() - began)
                time.sleep(LEAVE_THE_LOCK)

    # --- reading ---------------------------------------------------------------------------
    def record(self, job_id: str) -> JobRecord:
        self._mark_lost()
        row = (
            self._connection()
            .execute(f"SELECT {_RECORD_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
            .fetchone()
        )
        if row is None:
            raise self._missing(job_id)
        return decode_record(row)

    def status(self, job_id: str) -> JobStatus:
        self._mark_lost()
        row = (
            self._connection().execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        )
        if row is None:
            raise self._missing(job_id)
        return JobStatus(row[0])

    def wait(self, job_id: str, timeout: float | None) -> bool:
        """Poll the job's status until it has ended (True) or ``timeout`` passed (False)
        (SQLite cannot wake a reader): every ``WAIT_FIRST_PAUSE`` s for the first
        ``WAIT_CLOSELY`` s (a short job's result then comes a fraction of a millisecond
        after it ends; a look costs ~20 µs), then backing off to 50 ms."""
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        pause = WAIT_FIRST_PAUSE
        while not self.status(job_id).is_done:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return False
            time.sleep(pause)
            if now - start >= WAIT_CLOSELY:
                pause = min(pause * 1.5, 0.05)
        return True

    def records(
        self,
        status: JobStatus | None = None,
        limit: int | None = None,
        offset: int = 0,
        since: float | None = None,
    ) -> list[JobRecord]:
        """Newest first (in the order the queue received them): a page reads ``offset +
        limit`` rows from the end of the table, or of a status's index, not the history.
        With ``since``, newest submitted first along the index of submit times, from its
        end down to ``since`` at most (a status is filtered on the way)."""
        self._mark_lost()
        where, args = ("WHERE status = ?", [status.value]) if status else ("", [])
        order = "ORDER BY rowid DESC"
        if since is not None:
            where = f"INDEXED BY jobs_submitted {where} {'AND' if status else 'WHERE'} "
            where += "submitted >= ?"
            args.append(since)
            order = "ORDER BY submitted DESC, rowid DESC"
        rows = (
            self._connection()
            .execute(
                f"SELECT {_RECORD_COLUMNS} FROM jobs {where} {order} LIMIT ? OFFSET ?",
                (*args, -1 if limit is None else limit, offset),
            )
            .fetchall()
        )
        return [decode_record(row) for row in rows]

    def records_of(self, job_ids: list[str]) -> dict[str, JobRecord]:
        """One query."""
        self._mark_lost()
        marks = ",".join("?" * len(job_ids))
        rows = (
            self._connection()
            .execute(f"SELECT {_RECORD_COLUMNS} FROM jobs WHERE id IN ({marks})", job_ids)
            .fetchall()
        )
        return {row[0]: decode_record(row) for row in rows}

    def counts(self) -> dict[JobStatus, int]:
        self._mark_lost()
        found = dict.fromkeys(JobStatus, 0)
        for status, n in self._connection().execute("SELECT status, n FROM counts"):
            found[JobStatus(status)] = n
        return found

    def queued_ids(self) -> list[str]:
        rows = self._connection().execute(
            "SELECT id FROM jobs WHERE status = 'queued' AND retry_at IS NULL ORDER BY rowid"
        )
        return [job_id for (job_id,) in rows]

    def logs(self, job_id: str) -> str:
        db = self._connection()
        with db:
            db.execute("BEGIN")  # the counters and the pieces of one moment
            return KeptLog(db, self.path.parent, job_id).text()

    def log_tail(self, job_id: str, lines: int) -> str:
        """The newest rows of the tail (a chunk holds many lines), read until enough."""
        db = self._connection()
        with db:
            db.execute("BEGIN")
            return tail_of(KeptLog(db, self.path.parent, job_id).pieces_from_end(), lines)

    def log_dropped(self, job_id: str) -> int:
        return KeptLog(self._connection(), self.path.parent, job_id).dropped

    def outcome(self, job_id: str) -> memoryview | None:
        """Read in pieces into one buffer (sqlite_blobs.py)."""
        return self._blob("outcome", job_id)

    def payload(self, job_id: str) -> memoryview | None:
        return self._blob("payload", job_id)

    def _blob(self, kind: str, job_id: str) -> memoryview | None:
        """The verified payload or outcome (``kind``) of a job, None if it has none yet."""
        db = self._connection()
        with db:
            db.execute("BEGIN")  # the row and its blob of one moment
            row = db.execute(
                f"SELECT {kind}_signature FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None:
                raise self._missing(job_id)
            blob, hashed = read_blob(db, kind, job_id, self.path.parent)
        return None if blob is None else self._checked(kind, job_id, row[0], blob, hashed)

    def _checked(
        self, kind: str, job_id: str, signature: bytes | None, blob, hashed=None
    ) -> memoryview:
        """``blob`` verified against its signature in the jobs row (``hashed``: its
        chunks' hashes, started as it was read); a row from the first signing jobnb has
        none, its signature being inside the blob."""
        if signature is None:
            return self._verified(kind, job_id, blob)
        return self._verified_apart(kind, job_id, signature, blob, hashed)

    def _mark_lost(self) -> None:
        """Whoever reads finds the jobs whose worker stopped beating, and says so; and
        forgets the ended jobs past their result_ttl. Both are chores of a read: when the
        file cannot be written (full, read-only, locked), the read goes on without them,
        and the next look tries again."""
        if not self._lost_look.due():
            return
        db = self._connection()
        try:
            args = lost_args(self._lost_look.silence)
            retry_lost(db, self.path.parent, self.log_bytes_kept, args["error"], args)
            self._released(find_lost(db, self._lost_look.silence, lambda ids: release(db, ids)))
            self._forget_whole_logs(forget_expired(db, self.path.parent))
        except sqlite3.OperationalError:
            pass
