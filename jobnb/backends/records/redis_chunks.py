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
"""

from __future__ import annotations

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
