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

A small value (its pieces ``PACK_MOST`` bytes at most: pickles, no big buffer) is
written packed instead: the same head under ``MAGIC_PACKED``, then its pieces with no
zeros between (nothing in it is worth aligning), and, from ``SQUEEZE_LEAST`` bytes on,
squeezed with zlib (``MAGIC_SQUEEZED``) when that makes it smaller: a no-op job defined
in a notebook pickles to ~550 bytes, ~350 squeezed, and a long history keeps one such
payload and one outcome per job (issue 16: a store's bytes per ended job).

No magic can start a pickle (protocol 2 and later start with ``b"\\x80"``): a blob
written before framing (one plain pickle) reads as before.
"""

from __future__ import annotations

import mmap
import struct
import zlib
from collections.abc import Iterator, Sequence

#: the first bytes of a framed blob: "jobnb framed, version 1"
MAGIC = b"JNF1"
#: ... of a small value's blob, its pieces packed end to end
MAGIC_PACKED = b"JNP1"
#: ... of a small value's blob whose packed pieces are squeezed (zlib)
MAGIC_SQUEEZED = b"JNZ1"
_MAGICS = (MAGIC, MAGIC_PACKED, MAGIC_SQUEEZED)
#: a value whose pieces hold this many bytes at most is packed (never a big buffer: an
#: out-of-band one is 64 KiB or more)
PACK_MOST = 16 * 2**10
#: a packed value of this many bytes or more is squeezed (zlib's fastest level: ~10 us
#: for a no-op's payload) if that makes it smaller
SQUEEZE_LEAST = 256
_COUNT = struct.Struct(">I")
_LENGTH = struct.Struct(">Q")
#: where each piece starts: a multiple of this from the blob's start (a cache line, and
#: any SIMD width: an array loaded there is as aligned as one NumPy allocates)
ALIGN = 64
_ZEROS = bytes(ALIGN)
#: a buffer at least this big is an anonymous mapping (page-aligned, its pages given
#: back when the last view on it goes), a smaller one a bytearray
MAPPED_LEAST = 2**20


def _padding(at: int, align: int = ALIGN) -> int:
    """Zeros after ``at`` bytes, up to the next multiple of ``align``."""
    return -at % align


def allocate(size: int):
    """A writable buffer of ``size`` zero bytes to read a blob into."""
    if size >= MAPPED_LEAST:
        return mmap.mmap(-1, size)
    return bytearray(size)


class Framed:
    """A serialized value as the pieces it was made of (``pieces``: memoryviews, the
    first ones small pickles, then the out-of-band buffers), with the head that lists
    their lengths. ``nbytes`` is the length of the blob they make, head included."""

    __slots__ = ("head", "pieces", "nbytes", "_packed")

    def __init__(self, pieces: Sequence) -> None:
        self.pieces = [memoryview(piece).cast("B") for piece in pieces]
        lengths = [piece.nbytes for piece in self.pieces]
        counted = struct.pack(f">I{len(lengths)}Q", len(lengths), *lengths)
        self._packed: bytes | None = None
        if sum(lengths) <= PACK_MOST:  # small: written as one packed buffer
            body = b"".join(self.pieces)
            squeezed = zlib.compress(body, 1) if len(body) >= SQUEEZE_LEAST else body
            if len(squeezed) < len(body):
                self._packed = MAGIC_SQUEEZED + counted + squeezed
            else:
                self._packed = MAGIC_PACKED + counted + body
            self.head = self._packed
            self.nbytes = len(self._packed)
            return
        self.head = MAGIC + counted
        at = len(self.head)
        for length in lengths:
            at += _padding(at) + length
        self.nbytes = at

    def buffers(self) -> list[memoryview]:
        """What to write, in order: the head, then every piece, each after the zeros
        that align it (a small value: its one packed buffer)."""
        if self._packed is not None:
            return [memoryview(self._packed)]
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
    return bytes(memoryview(data)[: len(MAGIC)]) in _MAGICS


def unframe(data) -> list[memoryview]:
    """The pieces of a framed blob (memoryviews on ``data``: no copy; a squeezed one's
    on the small buffer it unsqueezes to). ValueError when ``data`` is not framed, or is
    shorter or longer than its head says (a blob cut short on its way: never loaded)."""
    view = memoryview(data).cast("B")
    if not is_framed(view):
        raise ValueError("not a framed blob")
    magic = bytes(view[: len(MAGIC)])
    at = len(MAGIC)
    try:
        (count,) = _COUNT.unpack_from(view, at)
        at += _COUNT.size
        lengths = struct.unpack_from(f">{count}Q", view, at)
    except struct.error:
        raise ValueError(f"a framed blob cut short in its head ({view.nbytes} bytes)") from None
    at += _LENGTH.size * count
    align = ALIGN
    if magic != MAGIC:  # packed: no zeros between the pieces
        align = 1
        if magic == MAGIC_SQUEEZED:
            try:
                body = zlib.decompress(view[at:])
            except zlib.error:
                raise ValueError(f"a squeezed blob of {view.nbytes} bytes is damaged") from None
            view, at = memoryview(body), 0
    starts = []
    for length in lengths:
        at += _padding(at, align)
        starts.append(at)
        at += length
    if at != view.nbytes:
        raise ValueError(f"a framed blob of {view.nbytes} bytes where its head says {at}")
    return [view[start : start + length] for start, length in zip(starts, lengths, strict=True)]
