"""A job's log in a SQLite records file: its head and its tail within the job's
``log_bytes_kept`` (log_bounds.py), and the whole log in a file of the home,
``HOME/logs/<job id>.log`` (0600, like every file there), so that nothing is lost.

Rows of the ``logs`` table hold the pieces: the head's (``in_tail = 0``), never
deleted, then the tail's chunks (``in_tail = 1``), the oldest deleted as new ones come.
The job's row counts what was written, what the head and the tail hold, and how much
of the whole log's file is written: an append reads these counters, not the log.

The whole log's file is written before the rows, in the same transaction: an append
whose transaction failed (a full disk, a locked file) is written again by the worker's
next try, so its file is first cut back to the length the rows say it has. When the
file cannot be written (a full disk) it is given up, deleted (its space given back to
the store that still needs it), and the marker says why the whole log is nowhere.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ..private_home import open_private, private_home
from .log_bounds import LogBound, dropped_marker, split_append

#: the largest chunk of a tail kept as one row: deleting rows is most of what an append
#: of a long log costs (fewer, larger rows: half of it), and a tail read reads only the
#: end of the newest row (``substr``), not all of it
CHUNK_MOST = 32 * 1024
#: bytes of the newest row a tail read reads first (a dozen long lines)
END_FIRST = 2048

#: a job id that can name a file (ids are made by jobnb: hex digits)
_FILE_NAMEABLE = re.compile(r"[A-Za-z0-9_-]+")
_STATE = "log_kept, log_written, log_head, log_tail, log_file_bytes, log_file_error"


def whole_log_path(home: Path, job_id: str) -> Path | None:
    """Where the SQLite home ``home`` keeps the whole log of ``job_id``."""
    return home / "logs" / f"{job_id}.log" if _FILE_NAMEABLE.fullmatch(job_id) else None


def _write_whole(path: Path | None, data: bytes, written: int, error: str | None):
    """Append ``data`` to the whole log's file, which holds ``written`` bytes as far as
    the store knows; ``(bytes it holds now, why it was given up or None)``."""
    if error is not None:
        return written, error
    if path is None:
        return written, "its job id cannot name a file"
    try:
        private_home(path.parent)
        with open_private(path, "ab", buffering=0) as file:
            found = os.fstat(file.fileno()).st_size
            if found < written:
                return written, f"{path} was cut short or deleted while the job ran"
            if found > written:  # an append whose record failed: written again now
                os.ftruncate(file.fileno(), written)
            view = memoryview(data)
            while view:
                view = view[file.write(view) :]
        return written + len(data), None
    except OSError as exc:
        try:
            path.unlink(missing_ok=True)  # a prefix is not the whole log; its space is needed
        except OSError:
            pass
        return written, f"writing {path} failed ({exc.strerror or exc})"


def append_log(
    db: sqlite3.Connection, home: Path, job_id: str, text: str, default_kept: int
) -> None:
    """Append ``text`` to the job's log, in the caller's write transaction. A job the
    store does not hold (forgotten while its worker ran) has no log to add to."""
    row = db.execute(f"SELECT {_STATE} FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        return
    kept, written, head, tail, file_bytes, file_error = row
    bound = LogBound(kept or default_kept, CHUNK_MOST)
    head, tail = head or 0, tail or 0
    data = text.encode(errors="replace")
    file_bytes, file_error = _write_whole(
        whole_log_path(home, job_id), data, file_bytes or 0, file_error
    )
    joins_head, chunks, _skipped = split_append(bound, head, tail > 0, data)
    if joins_head:
        db.execute(
            "INSERT INTO logs (job_id, text, size, in_tail) VALUES (?, ?, ?, 0)",
            (job_id, joins_head.decode(), len(joins_head)),
        )
        head += len(joins_head)
    if chunks:
        db.executemany(
            "INSERT INTO logs (job_id, text, size, in_tail) VALUES (?, ?, ?, 1)",
            [(job_id, chunk.decode(), len(chunk)) for chunk in chunks],
        )
        tail += sum(len(chunk) for chunk in chunks)
        tail = _trim_tail(db, job_id, tail, bound.tail)
    db.execute(
        "UPDATE jobs SET log_kept = ?, log_written = COALESCE(log_written, 0) + ?, "
        "log_head = ?, log_tail = ?, log_file_bytes = ?, log_file_error = ? WHERE id = ?",
        (bound.kept, len(data), head, tail, file_bytes, file_error, job_id),
    )


def _trim_tail(db: sqlite3.Connection, job_id: str, tail: int, most: int) -> int:
    """Delete the oldest chunks of the tail while it holds more than ``most`` bytes;
    what it holds then."""
    if tail <= most:
        return tail
    doomed = []
    rows = db.execute(
        "SELECT seq, size FROM logs WHERE job_id = ? AND in_tail = 1 ORDER BY seq", (job_id,)
    )
    for seq, size in rows:
        if tail <= most:
            break
        doomed.append((seq,))
        tail -= size
    rows.close()
    db.executemany("DELETE FROM logs WHERE seq = ?", doomed)
    return tail


class KeptLog:
    """What the store holds of one job's log, read in one read transaction."""

    def __init__(self, db: sqlite3.Connection, home: Path, job_id: str) -> None:
        self.db, self.job_id = db, job_id
        row = db.execute(
            "SELECT log_written, log_head, log_tail, log_file_error FROM jobs WHERE id = ?",
            (job_id,),
        ).fetchone()
        written, head, tail, error = row or (None, 0, 0, None)
        #: bytes dropped (a log written by an older jobnb counted nothing: whole)
        self.dropped = 0 if written is None else max(0, written - (head or 0) - (tail or 0))
        if error is None:
            self.where = f"the whole log is in {whole_log_path(home, job_id)}"
        else:
            self.where = f"the whole log could not be kept: {error}"

    def text(self) -> str:
        head = "".join(text for text, _ in self._rows("in_tail IS NOT 1", "ASC"))
        tail = "".join(text for text, _ in self._rows("in_tail = 1", "ASC"))
        if not self.dropped:
            return head + tail
        return head + self._marker(head) + tail

    def pieces_from_end(self) -> Iterator[str]:
        """The log's pieces from its end backwards: the end of the newest row of the
        tail first, then the rest of it, then a few rows at a time."""
        # its last bytes, as a blob: SQLite would count a text's characters from its start
        newest = self.db.execute(
            "SELECT substr(CAST(text AS BLOB), -?), seq FROM logs "
            "WHERE job_id = ? AND in_tail = 1 ORDER BY seq DESC LIMIT 1",
            (END_FIRST, self.job_id),
        ).fetchone()
        if newest is not None:
            end_bytes, seq = newest
            end = end_bytes.decode(errors="ignore")  # (a character cut at its start: out)
            yield end
            # read only when its end was not enough
            (whole,) = self.db.execute("SELECT text FROM logs WHERE seq = ?", (seq,)).fetchone()
            yield whole[: len(whole) - len(end)]
            yield from self._batches("in_tail = 1", seq)
        head = self._batches("in_tail IS NOT 1")
        last = next(head, "")
        if self.dropped:
            yield self._marker(last)
        yield last
        yield from head

    def _marker(self, head: str) -> str:
        return dropped_marker(self.dropped, self.where, not head or head.endswith("\n"))

    def _rows(self, which: str, order: str, before: int | None = None, limit: int = -1):
        below = "" if before is None else f"AND seq < {int(before)}"
        return self.db.execute(
            f"SELECT text, seq FROM logs WHERE job_id = ? AND {which} {below} "
            f"ORDER BY seq {order} LIMIT ?",
            (self.job_id, limit),
        ).fetchall()

    def _batches(self, which: str, before: int | None = None) -> Iterator[str]:
        """Rows newest first (before row ``before``, if given), in batches growing
        fourfold (a tail read most often needs one row: a chunk holds many lines)."""
        size = 1
        while True:
            rows = self._rows(which, "DESC", before, size)
            for text, seq in rows:
                before = seq
                yield text
            if len(rows) < size:
                return
            size *= 4
