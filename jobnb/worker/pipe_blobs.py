"""A big blob down a pipe between a process and the child it started, piece by piece
and into one buffer: what carries a payload to a job's process and its outcome back.

``multiprocessing.connection.Connection.recv_bytes`` reads a message into a buffer of
its own, then copies it out (``recv_bytes_into`` too), and its sender needs the blob
in one object. Here the sender announces the blob's length in one message, then writes
the pieces of a Framed value (payload/framing.py: views of the job's own arrays) one
after the other, and the receiver reads them straight into ONE bytearray of that
length (``os.readv``), whose views the value is then loaded on: no copy on either side
beyond the pipe's own.
"""

from __future__ import annotations

import os
import struct
from multiprocessing.connection import Connection

from ..payload.framing import allocate, buffers_of, size_of

_LENGTH = struct.Struct(">Q")
#: bytes asked of the pipe per read (it holds at most 1 MiB: child._widen_pipe)
_READ_MOST = 4 * 2**20


def send_blob(conn: Connection, blob) -> None:
    """Send ``blob`` (a Framed value or a buffer) without joining its pieces. Raises
    OSError when the pipe is closed."""
    conn.send_bytes(_LENGTH.pack(size_of(blob)))
    fd = conn.fileno()
    for piece in buffers_of(blob):
        while piece.nbytes:
            piece = piece[os.write(fd, piece) :]


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
