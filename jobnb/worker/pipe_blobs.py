"""A big blob down a pipe between a process and the child it started, piece by piece
and into one buffer: what carries a payload to a job's process and its outcome back.

``multiprocessing.connection.Connection.recv_bytes`` reads a message into a buffer of
its own, then copies it out (``recv_bytes_into`` too), and its sender needs the blob
in one object. Here the sender announces the blob's length in one message, then writes
the pieces of a Framed value (payload/framing.py: views of the job's own arrays) one
after the other, and the receiver reads them straight into ONE bytearray of that
length (``os.readv``), whose views the value is then loaded on: no copy on either side
beyond the pipe's own.

A message that goes with the blob (a job's token before its payload, an outcome's
before the outcome) goes in the same write as the length, and a small blob's pieces
too: each write to a pipe wakes the process waiting on it, which on a busy machine
costs more than the write itself, so a job or an outcome wakes its reader once.
"""

from __future__ import annotations

import os
import struct
from multiprocessing.connection import Connection

from ..payload.framing import allocate, buffers_of, size_of

_LENGTH = struct.Struct(">Q")
#: how ``Connection.send_bytes`` frames a message (a length, then the bytes), so that
#: ``recv_bytes`` reads what is written here as it reads its own
_FRAME = struct.Struct("!i")
#: a blob up to this size goes in the one write with its messages (a pipe takes 64 KiB)
ONE_WRITE_MOST = 60_000
#: bytes asked of the pipe per read (it holds at most 1 MiB: child._widen_pipe)
_READ_MOST = 4 * 2**20


def send_blob(conn: Connection, blob, first: bytes | None = None) -> None:
    """Send the message ``first`` (if any: read with ``recv_bytes``), then ``blob`` (a
    Framed value or a buffer) without joining its pieces. Raises OSError when the pipe
    is closed."""
    length = _LENGTH.pack(size_of(blob))
    parts = [] if first is None else [_FRAME.pack(len(first)), first]
    parts += [_FRAME.pack(len(length)), length]
    pieces = [memoryview(piece).cast("B") for piece in buffers_of(blob)]
    if sum(piece.nbytes for piece in pieces) <= ONE_WRITE_MOST:
        _write_all(conn.fileno(), parts + pieces)
        return
    _write_all(conn.fileno(), parts)
    for piece in pieces:  # (one by one: a write of many MiB is the pipe's pace anyway)
        _write_all(conn.fileno(), [piece])


def _write_all(fd: int, parts: list) -> None:
    """Write ``parts`` in order, in as few writes as the pipe takes."""
    views = [memoryview(part).cast("B") for part in parts]
    while views:
        written = os.writev(fd, views[:64])  # (IOV_MAX is 1024; a few parts are usual)
        while written and views:
            if written >= views[0].nbytes:
                written -= views[0].nbytes
                views.pop(0)
            else:
                views[0] = views[0][written:]
                written = 0
        while views and not views[0].nbytes:
            views.pop(0)


def receive_blob(conn: Connection):
    """The next blob ``send_blob`` sent, read into one buffer. Raises EOFError when the
    pipe closed before its end (the sender died)."""
    (size,) = _LENGTH.unpack(conn.recv_bytes())
    blob = allocate(size)  # (zeroed by the kernel as pages are touched: no pass of ours)
    view = memoryview(blob)
    fd = conn.fileno()
    at = 0
    while at < size:
        got = os.readv(fd, [view[at : at + _READ_MOST]])
        if got == 0:
            raise EOFError(f"the pipe closed {size - at} bytes before the end of a blob")
        at += got
    return blob
