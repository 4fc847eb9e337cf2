"""A big value in pieces: how a payload or an outcome travels without being copied into
one giant bytes object and back.

Pickle protocol 5 hands a NumPy array's or a pandas block's memory to the pickler as an
out-of-band buffer (``PickleBuffer``): the pickle itself stays small, and the buffers
are views into the value's own memory. A :class:`Framed` value is those pieces, never
joined in the process that pickled them: a pipe, a SQLite blob or a Redis list takes
them one after the other. Written out, they are one blob::

    MAGIC  count (4 bytes)  length of each piece (8 bytes each)  piece 0  piece 1 ...

each piece starting at a multiple of ``ALIGN`` bytes from the start (zeros between),
which whoever reads reads into ONE buffer it allocated (``allocate``: page-aligned, so
that the arrays loaded from it are aligned as NumPy's own, and writable), and
:func:`unframe` cuts into memoryviews that ``pickle.loads(..., buffers=...)`` aliases:
no copy after the read.

``MAGIC`` cannot start a pickle (protocol 2 and later start with ``b"\\x80"``): a blob
written before framing (one plain pickle) reads as before.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator, Sequence

#: the first bytes of a framed blob: "jobnb framed, version 1"
MAGIC = b"JNF1"
_COUNT = struct.Struct(">I")
_LENGTH = struct.Struct(">Q")
#: where each piece starts: a multiple of this from the blob's start (a cache line, and
#: any SIMD width: an array loaded there is as aligned as one NumPy allocates)
ALIGN = 64
_ZEROS = bytes(ALIGN)
#: a buffer at least this big is an anonymous mapping (page-aligned, its pages given
#: back when the last view on it goes), a smaller one a bytearray
MAPPED_LEAST = 2**20


def _padding(at: int) -> int:
    """Zeros after ``at`` bytes, up to the next multiple of ``ALIGN``."""
    return -at % ALIGN


def allocate(size: int):
    """A writable buffer of ``size`` zero bytes to read a blob into."""
    if size >= MAPPED_LEAST:
        return mmap.mmap(-1, size)
    return bytearray(size)


class Framed:
    """A serialized value as the pieces it was made of (``pieces``: memoryviews, the
    first ones small pickles, then the out-of-band buffers), with the head that lists
    their lengths. ``nbytes`` is the length of the blob they make, head included."""

    __slots__ = ("head", "pieces", "nbytes")

    def __init__(self, pieces: Sequence) -> None:
        self.pieces = [memoryview(piece).cast("B") for piece in pieces]
        lengths = [piece.nbytes for piece in self.pieces]
        self.head = MAGIC + struct.pack(f">I{len(lengths)}Q", len(lengths), *lengths)
        at = len(self.head)
        for length in lengths:
            at += _padding(at) + length
        self.nbytes = at

    def buffers(self) -> list[memoryview]:
        """What to write, in order: the head, then every piece, each after the zeros
        that align it."""
        written = [memoryview(self.head)]
        at = len(self.head)
        for piece in self.pieces:
            if _padding(at):
                written.append(memoryview(_ZEROS)[: _padding(at)])
            written.append(piece)
            at += _padding(at) + piece.nbytes
        return written

    def joined(self) -> bytes:
        """The blob as one bytes object: only for small values (it copies)."""
        return b"".join(self.buffers())


def buffers_of(blob) -> list[memoryview]:
    """What to write for ``blob``: a Framed value's buffers, or a blob already whole (a
    plain pickle, a blob read back from a store) as one buffer."""
    if isinstance(blob, Framed):
        return blob.buffers()
    return [memoryview(blob).cast("B")]


def size_of(blob) -> int:
    """Bytes of ``blob`` once written (``buffers_of``'s total)."""
    return blob.nbytes if isinstance(blob, Framed) else memoryview(blob).nbytes


def spans(pieces: list[memoryview], size: int) -> Iterator[list[memoryview]]:
    """The blob the ``pieces`` make, end to end, cut every ``size`` bytes: each cut the
    slices of the pieces it spans (no copy). Signing hashes these (a blob written in
    pieces signs as the same blob read whole), Redis stores them as its chunks."""
    span: list[memoryview] = []
    room = size
    for piece in pieces:
        at = 0
        while at < piece.nbytes:
            part = piece[at : at + room]
            span.append(part)
            at += part.nbytes
            room -= part.nbytes
            if room == 0:
                yield span
                span, room = [], size
    if span:
        yield span


def chunks_of(blob, size: int) -> Iterator[memoryview | bytes]:
    """``blob`` (a Framed value or a buffer) cut every ``size`` bytes, each cut one
    buffer: a view where it lies in one piece, else its slices joined (at most ``size``
    bytes copied at a time); an empty blob is one empty chunk."""
    empty = True
    for span in spans(buffers_of(blob), size):
        empty = False
        yield span[0] if len(span) == 1 else b"".join(span)
    if empty:
        yield b""


def is_framed(data) -> bool:
    return bytes(memoryview(data)[: len(MAGIC)]) == MAGIC


def unframe(data) -> list[memoryview]:
    """The pieces of a framed blob (memoryviews on ``data``: no copy). ValueError when
    ``data`` is not framed, or is shorter or longer than its head says (a blob cut short
    on its way: never loaded)."""
    view = memoryview(data).cast("B")
    if not is_framed(view):
        raise ValueError("not a framed blob")
    at = len(MAGIC)
    try:
        (count,) = _COUNT.unpack_from(view, at)
        at += _COUNT.size
        lengths = struct.unpack_from(f">{count}Q", view, at)
    except struct.error:
        raise ValueError(f"a framed blob cut short in its head ({view.nbytes} bytes)") from None
    at += _LENGTH.size * count
    starts = []
    for length in lengths:
        at += _padding(at)
        starts.append(at)
        at += length
    if at != view.nbytes:
        raise ValueError(f"a framed blob of {view.nbytes} bytes where its head says {at}")
    return [view[start : start + length] for start, length in zip(starts, lengths, strict=True)]
