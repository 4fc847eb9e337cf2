"""A job's payload or outcome in a SQLite file, written and read in pieces.

A big blob is written with SQLite's incremental blob I/O: its row is inserted holding
``zeroblob(n)`` (room, no bytes from Python), then each piece of the value (a Framed
value's pickle and out-of-band buffers: payload/framing.py) is written into it where
it goes, so the kernel never joins them into one bytes object, nor does sqlite3 copy
one to bind it. It is read back the same way, a ``READ_CHUNK`` at a time, into ONE
buffer allocated for it (framing.allocate), on which the value is then loaded. Both
run inside their caller's transaction: a job is never visible without its payload,
nor an outcome without its status.
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
#: the tables of the blobs, by kind
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
    rowid = db.execute(
        f"INSERT INTO {table} (id, data) VALUES (?, zeroblob(?))", (job_id, size)
    ).lastrowid
    with db.blobopen(table, "data", rowid) as stored:
        for piece in buffers_of(blob):
            stored.write(piece)


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
    rowid, size, whole = row
    if whole is not None:
        return whole, None
    buffer = allocate(size)
    view = memoryview(buffer)
    hashed = HashedAsRead(buffer)
    with db.blobopen(table, "data", rowid, readonly=True) as stored:
        for at in range(0, size, READ_CHUNK):
            view[at : at + READ_CHUNK] = stored.read(READ_CHUNK)
            hashed.filled(min(size, at + READ_CHUNK))
    return buffer, hashed
