"""A job's payload or outcome in Redis, as a list of chunks written straight from the
value's own memory.

redis-py copies every argument of a command into one packed bytes object (hiredis
packs whole commands; a pipeline packs all of its commands before sending), so a 500
MB outcome written through it costs 500 MB more in the process that writes it. Here
the commands are packed by hand (RESP) and sent as a list of buffers: each command's
small header, then the chunk itself, a view of a Framed value's piece
(payload/framing.py). The replies are read once everything is sent (one round trip).

The key gets its time to live right after its first chunk, before the others: a
writer that dies midway leaves chunks that expire, never a key for ever.

Read back, a big blob's chunks go from the socket straight into the one buffer the
reader allocated (``read_chunks_into``): through redis-py, each chunk would be copied
into hiredis's buffer, then into a bytes object, then into that buffer.
"""

from __future__ import annotations

from collections.abc import Callable

import redis

from ...payload.framing import chunks_of

#: bytes of a chunk: one list element, one argument of RPUSH
CHUNK = 4 * 2**20


def _command(*words: bytes) -> bytes:
    packed = [b"*%d\r\n" % len(words)]
    for word in words:
        packed.append(b"$%d\r\n%s\r\n" % (len(word), word))
    return b"".join(packed)


def write_chunks(client, key: str, blob, ttl: int) -> None:
    """Write ``blob`` (a Framed value or a buffer) as the list ``key``, replacing it, in
    chunks of ``CHUNK`` that expire in ``ttl`` seconds unless made a job's."""
    name = key.encode()
    sent = [_command(b"DEL", name)]
    for index, chunk in enumerate(chunks_of(blob, CHUNK)):
        chunk = memoryview(chunk).cast("B")
        sent += [b"*3\r\n$5\r\nRPUSH\r\n$%d\r\n%s\r\n$%d\r\n" % (len(name), name, chunk.nbytes)]
        sent += [chunk, b"\r\n"]
        if index == 0:
            sent.append(_command(b"EXPIRE", name, b"%d" % ttl))
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command(sent)
        replies = len([part for part in sent if part[:1] == b"*"])
        errors = [connection.read_response() for _ in range(replies)]
    except BaseException:
        connection.disconnect()  # a reply left unread must not answer the next command
        raise
    finally:
        pool.release(connection)
    for error in errors:
        if isinstance(error, Exception):
            raise error


class _RawReply:
    """A reply of the server read off the socket: its headers (``*3``, ``$4194304``)
    through a small buffer, its bulk strings straight into the memory they go to."""

    def __init__(self, sock) -> None:
        self.sock = sock
        self.pending = bytearray()

    def _line(self) -> bytes:
        while (end := self.pending.find(b"\r\n")) < 0:
            self._more()
        line = bytes(self.pending[:end])
        del self.pending[: end + 2]
        return line

    def _more(self) -> None:
        got = self.sock.recv(65536)
        if not got:
            raise redis.ConnectionError("the server closed the connection in a reply")
        self.pending += got

    def header(self, kind: bytes) -> int:
        line = self._line()
        if line[:1] == b"-":
            raise redis.ResponseError(line[1:].decode(errors="replace"))
        if line[:1] != kind:
            raise redis.ConnectionError(f"a reply the reader did not expect: {line[:40]!r}")
        return int(line[1:])

    def into(self, view: memoryview) -> None:
        """The next ``view.nbytes`` bytes of the reply, then its CRLF."""
        kept = min(len(self.pending), view.nbytes)
        view[:kept] = self.pending[:kept]
        del self.pending[:kept]
        while kept < view.nbytes:
            got = self.sock.recv_into(view[kept:])
            if not got:
                raise redis.ConnectionError("the server closed the connection in a reply")
            kept += got
        while len(self.pending) < 2:
            self._more()
        del self.pending[:2]


def read_chunks_into(
    client, key: str, first: int, view: memoryview, at: int, filled: Callable[[int], None]
) -> int:
    """The chunks of the list ``key`` from index ``first`` on, read into ``view`` from
    ``at`` on (one LRANGE, one round trip), ``filled(end)`` called after each; the end
    of what was read. ValueError if they hold more than ``view`` has room for."""
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command([_command(b"LRANGE", key.encode(), b"%d" % first, b"-1")])
        reply = _RawReply(connection._get_socket())
        for _ in range(reply.header(b"*")):
            length = reply.header(b"$")
            if at + length > view.nbytes:
                raise ValueError(f"more than its {view.nbytes} bytes")
            reply.into(view[at : at + length])
            at += length
            filled(at)
        if reply.pending:  # (nothing was asked after it)
            raise redis.ConnectionError("more than one reply to one command")
    except BaseException:
        connection.disconnect()  # what is left of the reply must not answer the next command
        raise
    finally:
        pool.release(connection)
    return at
