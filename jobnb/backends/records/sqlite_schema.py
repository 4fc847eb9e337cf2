"""The tables of a SQLite records file, and how a file from an older jobnb is brought up
to date when it is opened (its jobs kept: a column added since is added to it).
"""

from __future__ import annotations

import re
import sqlite3

from .sqlite_dependencies import TABLE as DEPENDENCIES

SCHEMA = """
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
    expires REAL,
    output TEXT,
    payload_signature BLOB,
    outcome_signature BLOB
);
-- Serialized payloads and outcomes live apart from the jobs: SQLite rewrites a whole
-- row on any UPDATE, and a job's row is updated at every heartbeat (a 50 MB argument
-- in it would be copied five times a second).
CREATE TABLE IF NOT EXISTS payloads (id TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS outcomes (id TEXT PRIMARY KEY, data BLOB NOT NULL);
-- A blob past PART_MOST bytes (sqlite_blobs.py: SQLite holds less than 1e9 bytes a value)
-- keeps its first part in the row above, the others here, numbered from 1.
CREATE TABLE IF NOT EXISTS blob_parts (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    part INTEGER NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (kind, id, part)
);
CREATE INDEX IF NOT EXISTS blob_parts_job ON blob_parts (id);
-- Where submitters were (their working directory and sys.path, which a worker takes on
-- to run their jobs), one row per place, named by the jobs that wait or run: in a job's
-- row, a long sys.path left a long history's pages that much emptier.
CREATE TABLE IF NOT EXISTS origins (key TEXT PRIMARY KEY, cwd TEXT, sys_path TEXT);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);  -- each status, in insertion order
-- jobs_df(since=...): the jobs submitted since a time, newest first, read off this index
CREATE INDEX IF NOT EXISTS jobs_submitted ON jobs (submitted);
-- A job's log, in pieces: its head's, then its tail's (in_tail = 1), whose oldest are
-- deleted as new ones come (sqlite_log.py); size: a piece's bytes.
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    text TEXT NOT NULL,
    size INTEGER,
    in_tail INTEGER
);
CREATE INDEX IF NOT EXISTS logs_job ON logs (job_id, seq);
-- Schedules (sqlite_schedules.py): what each runs, signed (records/schedules.py), and
-- where it stands; the workers' scheduler reads the earliest next_due of this index
CREATE TABLE IF NOT EXISTS schedules (
    name TEXT PRIMARY KEY,
    definition BLOB NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    last_due REAL,
    next_due REAL,
    last_job TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS schedules_next ON schedules (next_due) WHERE next_due IS NOT NULL;
"""
SCHEMA += DEPENDENCIES  # what each job waits for (sqlite_dependencies.py)

# Columns added since the first records files: added to an older file when it is opened.
ADDED_COLUMNS = {
    "beat_monotonic": "REAL",  # the last heartbeat on the machine's monotonic clock
    "boot_id": "TEXT",  # ... and the boot that clock counts from
    "result_ttl": "REAL",  # seconds the job is kept once ended (NULL: until forgotten)
    "expires": "REAL",  # when it is forgotten (wall clock), once ended
    "output": "TEXT",  # a notebook job's output notebook
    # the signatures of the payload and the outcome (payload/signing.py), kept apart from
    # them so that they are computed while the blobs are written; NULL in a file of the
    # first signing jobnb, whose blobs carry their signature in front
    "payload_signature": "BLOB",
    "outcome_signature": "BLOB",
    "cancelled_by": "TEXT",  # who asked for the cancel (user@host, and from where)
    # the job's log (sqlite_log.py): the bytes of it kept, written in all, held by its
    # head and its tail; the bytes of its whole log's file, or why that was given up
    "log_kept": "INTEGER",
    "log_written": "INTEGER",
    "log_head": "INTEGER",
    "log_tail": "INTEGER",
    "log_file_bytes": "INTEGER",
    "log_file_error": "TEXT",
    # where its submitter was (the key of a row of origins), until it ends
    "origin": "TEXT",
    # a job's retries (backends/retries.py): its options, its earlier runs (JSON), and
    # while it waits between two: when the next may start
    "retries": "INTEGER",
    "retry_delay": "REAL",
    "retry_on": "TEXT",
    "attempts": "TEXT",
    "retry_at": "REAL",
    # a schedule's run: the schedule's name and the due time it ran for
    "schedule": "TEXT",
    "due": "REAL",
    "after_ids": "TEXT",  # the ids of the jobs it waits for, joined by commas
}
# ... and to its logs: a log written by an older jobnb is a head without sizes
ADDED_LOG_COLUMNS = {"size": "INTEGER", "in_tail": "INTEGER"}
# made once those columns are there: the readers' sweep of ended jobs reads only these
_EXPIRES_INDEX = (
    "CREATE INDEX IF NOT EXISTS jobs_expires ON jobs (expires) WHERE expires IS NOT NULL"
)
# the jobs waiting between two attempts: what a worker's sweep of due retries reads
_RETRY_INDEX = (
    "CREATE INDEX IF NOT EXISTS jobs_retry_at ON jobs (retry_at) WHERE retry_at IS NOT NULL"
)
# a job's tail, oldest first: what an append trims and a tail read reads from its end
_TAIL_INDEX = "CREATE INDEX IF NOT EXISTS logs_tail ON logs (job_id, seq) WHERE in_tail = 1"

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
_SCHEMA_NAMES = set(
    re.findall(
        r"IF NOT EXISTS (\w+)", SCHEMA + _COUNTS + _EXPIRES_INDEX + _TAIL_INDEX + _RETRY_INDEX
    )
)


def _split(script: str) -> list[str]:
    """The statements of ``script`` (triggers keep their inner semicolons)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [statement for statement in statements if statement]


def _up_to_date(db: sqlite3.Connection) -> bool:
    names = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
    log_columns = {row[1] for row in db.execute("PRAGMA table_info(logs)")}
    incremental = db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    return (
        _SCHEMA_NAMES <= names
        and ADDED_COLUMNS.keys() <= columns
        and ADDED_LOG_COLUMNS.keys() <= log_columns
        and incremental
    )


def prepare(db: sqlite3.Connection) -> None:
    """Make the tables, or bring a file from an older jobnb up to date; only reads when
    all is in place (so that a read-only home can be read)."""
    if _up_to_date(db):
        return
    db.execute("BEGIN IMMEDIATE")  # one process creates the tables, the others wait
    try:
        has_counts = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'counts'").fetchone()
        for statement in _split(SCHEMA + ("" if has_counts else _COUNTS)):
            db.execute(statement)
        present = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
        for column, kind in ADDED_COLUMNS.items():
            if column not in present:
                db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
        present = {row[1] for row in db.execute("PRAGMA table_info(logs)")}
        for column, kind in ADDED_LOG_COLUMNS.items():
            if column not in present:
                db.execute(f"ALTER TABLE logs ADD COLUMN {column} {kind}")
        db.execute(_EXPIRES_INDEX)
        db.execute(_TAIL_INDEX)
        db.execute(_RETRY_INDEX)
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
