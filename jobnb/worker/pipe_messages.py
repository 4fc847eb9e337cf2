"""Two messages down a pipe in one write, as ``Connection.send_bytes`` frames them (a
4-byte length, then the bytes), so the reader reads them with two ``recv_bytes`` as
before: a job sent to a child process (its token, then its payload) and an outcome sent
back (its token, then the outcome) each wake the reader once, not twice (a write to a
pipe wakes the process waiting on it, which costs more than the write itself on a busy
machine). A big second message still goes by ``send_bytes``, without being copied."""

from __future__ import annotations

import os
import struct
from multiprocessing.connection import Connection

#: a second message up to this size goes in the one write (a pipe takes 64 KiB at once)
ONE_WRITE_MOST = 60_000


def send_both(conn: Connection, first: bytes, second) -> None:
    """``conn.send_bytes(first)`` then ``conn.send_bytes(second)``, in one write when
    ``second`` is small."""
    second = memoryview(second).cast("B")
    if len(second) > ONE_WRITE_MOST:
        conn.send_bytes(first)
        conn.send_bytes(second)
        return
    parts = [struct.pack("!i", len(first)), first, struct.pack("!i", len(second)), second]
    total = sum(len(part) for part in parts)
    fd = conn.fileno()
    written = os.writev(fd, parts)
    if written < total:  # (a pipe's blocking write takes it all; a signal may cut it)
        rest = b"".join(bytes(part) for part in parts)[written:]
        while rest:
            rest = rest[os.write(fd, rest) :]
