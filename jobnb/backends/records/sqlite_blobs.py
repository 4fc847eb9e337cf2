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
"""

from __future__ import annotations

import sqlite3

from ...payload.framing import Framed, allocate, buffers_of, size_of
from ...payload.signing import HashedAsRead

#: a blob at most this big is bound and selected whole (one statement): the blob I/O's
#: few calls more are worth it only past this
WHOLE_MOST = 2**20
#: bytes read from a blob per call: the extra memory of a read, beside its buffer
READ_CHUNK = 4 * 2**20
#: the most bytes of a blob one row holds (SQLite's own limit is 1e9 bytes a value)
PART_MOST = 2**28
#: the tables of the blobs, by kind (their parts past the first: ``blob_parts``)
TABLES = {"payload": "payloads", "outcome": "outcomes"}


def write_blob(db: sqlite3.Connection, kind: str, job_id: str, blob) -> None:
    """Insert ``blob`` (a Framed value or a buffer) as the ``kind`` of ``job_id``, in
    the caller's transaction."""
    table = TABLES[kind]
    size = size_of(blob)
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


def read_blob(db: sqlite3.Connection, kind: str, job_id: str):
    """(the ``kind`` of ``job_id``: a buffer, None if it has none; its chunks' hashes,
    started as they were read, or None), read in the caller's transaction."""
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
