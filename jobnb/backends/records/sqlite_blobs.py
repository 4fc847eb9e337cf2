"""A job's payload or outcome in a SQLite file, written and read in pieces.

A big blob is written with SQLite's incremental blob I/O: its row is inserted holding
``zeroblob(n)`` (room, no bytes from Python), then each piece of the value (a Framed
value's pickle and out-of-band buffers: payload/framing.py) is written into it where
it goes, so the kernel never joins them into one bytes object, nor does sqlite3 copy
one to bind it. It is read back the same way, a ``READ_CHUNK`` at a time, into ONE
buffer allocated for it (framing.allocate), on which the value is then loaded. Both
run inside their caller's transaction: a job is never visible without its payload,
nor an outcome without its status.

SQLite holds less than 1e9 bytes in one value (SQLITE_MAX_LENGTH), so a blob is kept in
parts of at most ``PART_MOST``: its first in the ``payloads`` or ``outcomes`` row, the
others in rows of ``blob_parts`` (numbered from 1), written and read the same way. A
1 GB DataFrame then goes to a worker on the embedded default as on Redis.

A blob of ``FILE_LEAST`` bytes or more is not put in the SQLite file at all: it is a
file of the home's ``blobs`` folder (0600, as every file of a home), written piece by
piece from the value's memory, and its row holds ``IN_FILE``. SQLite writes a big value
three times (a page cache of ``zeroblob`` pages that spills into the WAL, the value
over them, then the WAL into the file at the next checkpoint, on the writer's commit):
a 50 MB argument cost the kernel ~4x its pickle before the job could start. A file is
written once, and read back mapped (``mmap``: the page cache's own pages, no copy).
The file is written in the row's transaction; if that transaction fails, the caller
removes it (``remove_files``); a process killed between the two leaves a file no row
names, which ``sweep_orphans`` removes once it is old.
"""

from __future__ import annotations

import mmap
import os
import re
import sqlite3
import time
from pathlib import Path

from ...exceptions import IncompleteInStore
from ...payload.framing import Framed, allocate, buffers_of, size_of
from ...payload.signing import HashedAsRead
from ..private_home import open_private, private_home

#: a blob at most this big is bound and selected whole (one statement): the blob I/O's
#: few calls more are worth it only past this
WHOLE_MOST = 2**20
#: bytes read from a blob per call: the extra memory of a read, beside its buffer
READ_CHUNK = 4 * 2**20
#: the most bytes of a blob one row holds (SQLite's own limit is 1e9 bytes a value)
PART_MOST = 2**28
#: the tables of the blobs, by kind (their parts past the first: ``blob_parts``)
TABLES = {"payload": "payloads", "outcome": "outcomes"}
#: a blob at least this big is a file of the home's ``blobs`` folder, not SQLite's
FILE_LEAST = 8 * 2**20
#: what the row of a blob kept in a file holds (no blob starts so: a pickle starts
#: with b"\x80", a framed value with b"JNF1", b"JNP1" or b"JNZ1")
IN_FILE = b"JNB1 in a file"
#: a file of the blobs folder that no row names is removed once it is this old
#: (seconds; younger, it may be a blob whose transaction is still going on)
ORPHAN_AFTER = 3600.0
#: a job id that can name a file (jobnb makes hex ids; any other stays in SQLite)
_FILE_NAMEABLE = re.compile(r"[A-Za-z0-9_]+")


def blob_path(home: Path, kind: str, job_id: str) -> Path:
    """The file that keeps the ``kind`` of ``job_id`` when it is big."""
    return home / "blobs" / f"{kind}-{job_id}"


def write_blob(
    db: sqlite3.Connection, kind: str, job_id: str, blob, home: Path | None = None
) -> Path | None:
    """Insert ``blob`` (a Framed value or a buffer) as the ``kind`` of ``job_id``, in
    the caller's transaction; a big one into a file of ``home``'s blobs folder, whose
    path is returned (the caller removes it if its transaction fails)."""
    table = TABLES[kind]
    size = size_of(blob)
    if home is not None and size >= FILE_LEAST and _FILE_NAMEABLE.fullmatch(job_id):
        # the row first: a job id already there fails here, its file untouched
        db.execute(f"INSERT INTO {table} (id, data) VALUES (?, ?)", (job_id, IN_FILE))
        path = blob_path(home, kind, job_id)
        _write_file(path, blob)
        return path
    if size <= WHOLE_MOST:
        data = blob.joined() if isinstance(blob, Framed) else blob
        db.execute(f"INSERT INTO {table} (id, data) VALUES (?, ?)", (job_id, data))
        return
    rows = [  # (the table, the row) of each part, in order
        (
            table,
            db.execute(
                f"INSERT INTO {table} (id, data) VALUES (?, zeroblob(?))",
                (job_id, min(size, PART_MOST)),
            ).lastrowid,
        )
    ]
    for part, at in enumerate(range(PART_MOST, size, PART_MOST), start=1):
        cursor = db.execute(
            "INSERT INTO blob_parts (kind, id, part, data) VALUES (?, ?, ?, zeroblob(?))",
            (kind, job_id, part, min(size - at, PART_MOST)),
        )
        rows.append(("blob_parts", cursor.lastrowid))
    _write_pieces(db, rows, buffers_of(blob))
    return None


def _write_file(path: Path, blob) -> None:
    """``blob``'s pieces, one after the other, into the file at ``path`` (made 0600,
    never through a link; replaced if there: a write tried again)."""
    private_home(path.parent)
    try:
        with open_private(path, "wb", buffering=0) as file:
            for piece in buffers_of(blob):
                piece = memoryview(piece).cast("B")
                while piece.nbytes:  # (a raw write may write less than it was given)
                    piece = piece[file.write(piece) :]
    except BaseException:
        remove_files([path])
        raise


def remove_files(paths) -> None:
    """Remove blobs' files (None: a blob in SQLite); best effort: a file left is only
    space, which ``sweep_orphans`` gives back."""
    for path in paths:
        if path is not None:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass


def files_of(db: sqlite3.Connection, home: Path, job_ids_json: str) -> list[Path]:
    """The files of the blobs of these jobs (a JSON list of ids), read in the caller's
    transaction before it deletes their rows; removed once it is committed. (SQLite
    knows a blob's length without reading it: only a row of ``IN_FILE``'s length has
    its bytes compared.)"""
    found = []
    for kind, table in TABLES.items():
        rows = db.execute(
            f"SELECT id FROM {table} WHERE id IN (SELECT value FROM json_each(?)) "
            "AND length(data) = ? AND data = ?",
            (job_ids_json, len(IN_FILE), IN_FILE),
        )
        found += [blob_path(home, kind, job_id) for (job_id,) in rows]
    return found


def sweep_orphans(db: sqlite3.Connection, home: Path) -> None:
    """Remove the files of the blobs folder that no row names and that are older than
    ``ORPHAN_AFTER`` (a process killed between writing one and committing its row)."""
    try:
        entries = list(os.scandir(home / "blobs"))
    except OSError:
        return
    old = time.time() - ORPHAN_AFTER
    for entry in entries:
        kind, _, job_id = entry.name.partition("-")
        try:
            if kind not in TABLES or entry.stat(follow_symlinks=False).st_mtime > old:
                continue
            named = db.execute(f"SELECT 1 FROM {TABLES[kind]} WHERE id = ?", (job_id,)).fetchone()
            if named is None:
                os.unlink(entry.path)
        except (OSError, sqlite3.Error):
            pass


def _write_pieces(db: sqlite3.Connection, rows: list[tuple[str, int]], pieces) -> None:
    """Write ``pieces`` one after the other into the blobs of ``rows``, which hold
    exactly their bytes: a piece that spans two parts is split between them."""
    targets = iter(rows)
    stored = None
    try:
        for piece in pieces:
            piece = memoryview(piece).cast("B")
            while piece.nbytes:
                if stored is None or stored.tell() == len(stored):
                    if stored is not None:
                        stored.close()
                    table, rowid = next(targets)
                    stored = db.blobopen(table, "data", rowid)
                room = len(stored) - stored.tell()
                stored.write(piece[:room])
                piece = piece[room:]
    finally:
        if stored is not None:
            stored.close()


def read_blob(db: sqlite3.Connection, kind: str, job_id: str, home: Path | None = None):
    """(the ``kind`` of ``job_id``: a buffer, None if it has none; its chunks' hashes,
    started as they were read, or None), read in the caller's transaction; a blob kept
    in a file of ``home``'s blobs folder is mapped (private, writable: copied on write)."""
    table = TABLES[kind]
    row = db.execute(
        f"SELECT rowid, length(data), CASE WHEN length(data) <= ? THEN data END "
        f"FROM {table} WHERE id = ?",
        (WHOLE_MOST, job_id),
    ).fetchone()
    if row is None:
        return None, None
    rowid, first, whole = row
    parts = []
    if first == PART_MOST:  # (only a blob that fills its first part has others)
        parts = db.execute(
            "SELECT rowid, length(data) FROM blob_parts WHERE kind = ? AND id = ? ORDER BY part",
            (kind, job_id),
        ).fetchall()
    if whole == IN_FILE and home is not None:
        return _mapped(blob_path(home, kind, job_id), kind, job_id), None
    if whole is not None and not parts:
        return whole, None
    segments = [(table, rowid, first)] + [("blob_parts", r, n) for r, n in parts]
    size = sum(n for _, _, n in segments)
    buffer = allocate(size)
    view = memoryview(buffer)
    hashed = HashedAsRead(buffer)
    at = 0
    for segment_table, segment_row, length in segments:
        with db.blobopen(segment_table, "data", segment_row, readonly=True) as stored:
            for _ in range(0, length, READ_CHUNK):
                chunk = stored.read(READ_CHUNK)
                view[at : at + len(chunk)] = chunk
                at += len(chunk)
                hashed.filled(at)
    return buffer, hashed


def _mapped(path: Path, kind: str, job_id: str):
    """The file of a big blob, mapped; IncompleteInStore if it is gone (never loaded)."""
    try:
        with open_private(path, "rb") as file:
            if os.fstat(file.fileno()).st_size == 0:
                return b""
            return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_COPY)
    except FileNotFoundError:
        what = "result" if kind == "outcome" else kind
        raise IncompleteInStore(
            f"the {what} of job {job_id} is missing: its file {path} was deleted; it is "
            "never loaded. Submit the job again."
        ) from None
