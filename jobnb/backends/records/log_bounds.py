"""How much of a job's log a records store keeps, and how its end is read.

A store keeps at most ``log_bytes_kept`` bytes of each job's log (the setting, carried
by each job from the kernel that submitted it to the worker that appends): the first
quarter (the head: how the job began) and the last three quarters (the tail: where it
is now), the middle dropped. What was dropped is said, where it was, by one marker line
that readers make from the store's counters (never stored: a worker killed mid-write
cannot leave it wrong). The tail is kept in chunks of at most ``chunk`` bytes, dropped
whole from its old end as new ones come: an append costs what it appends, never a
rewrite of what is kept, and the tail stays within a chunk of its share.

A live view shows a dozen lines: ``tail_of`` reads them from the end of the log, piece
by piece, and stops as soon as it has them, so its cost does not follow the log's size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ...exceptions import ConfigError

#: the fewest bytes a store may keep of a job's log (a head and a tail of a few lines)
LOG_BYTES_KEPT_LEAST = 1024
#: the largest chunk of tail a store keeps as one piece (a row, a list element): a tail
#: read most often reads one, so it is small (what a dozen long lines take)
CHUNK_MOST = 8 * 1024
#: how far back a tail read looks at most: a line longer than this shows its end only
TAIL_READ_MOST = 2**20


def checked_log_bytes_kept(value: Any, name: str = "log_bytes_kept") -> int:
    """``value`` as a number of bytes to keep, else a ConfigError naming ``name`` and the
    value and saying what would do."""
    number = None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if number is None or number < LOG_BYTES_KEPT_LEAST:
        raise ConfigError(
            f"{name} must be a whole number of bytes, at least {LOG_BYTES_KEPT_LEAST} "
            f"(e.g. 4194304 for 4 MB), not {value!r}: it is how much of each job's log "
            "its store keeps"
        )
    return number


@dataclass(frozen=True)
class LogBound:
    """The shares of a job's log kept by a store keeping ``kept`` bytes of it."""

    kept: int
    #: the largest chunk the store keeps (SQLite's are larger: each row deleted costs)
    chunk_most: int = CHUNK_MOST

    @property
    def head(self) -> int:
        return self.kept // 4

    @property
    def tail(self) -> int:
        return self.kept - self.head

    @property
    def chunk(self) -> int:
        """Small against the tail (it stays within one chunk of its share), large
        enough that a chatty job writes few pieces."""
        return max(256, min(self.chunk_most, self.tail // 16))


def character_cut(data: bytes, at: int) -> int:
    """The largest cut ``<= at`` of UTF-8 ``data`` that falls between characters."""
    at = max(0, min(at, len(data)))
    while 0 < at < len(data) and data[at] & 0xC0 == 0x80:  # (a continuation byte)
        at -= 1
    return at


def split_append(bound: LogBound, head: int, tail_started: bool, data: bytes):
    """Where an append of ``data`` goes, in a log whose head holds ``head`` bytes (and
    whose tail has started, if ``tail_started``: the head is then closed): ``(what
    joins the head, the chunks that join the tail, bytes skipped)``. Skipped bytes are
    those the tail would drop at once: they are counted, never stored."""
    joins_head = b""
    if not tail_started and head < bound.head:
        joins_head = data[: character_cut(data, bound.head - head)]
        data = data[len(joins_head) :]
    skipped = 0
    if len(data) > bound.tail:  # only its end can stay in the tail
        start = len(data) - bound.tail
        while start < len(data) and data[start] & 0xC0 == 0x80:
            start += 1
        skipped, data = start, data[start:]
    chunks = []
    while data:
        cut = character_cut(data, bound.chunk) or len(data[: bound.chunk])
        chunks.append(data[:cut])
        data = data[cut:]
    return joins_head, chunks, skipped


def dropped_marker(dropped: int, where: str, after_line_break: bool) -> str:
    """The line standing for ``dropped`` bytes of log, saying ``where`` the whole log is
    (or why it is nowhere); it starts on a line of its own."""
    start = "" if after_line_break else "\n"
    return f"{start}[jobnb: {dropped:,} bytes of log dropped here; {where}]\n"


def kept_where(bound: LogBound) -> str:
    """What a marker says on a store that keeps no whole log (Redis)."""
    return (
        f"the store keeps the first {bound.head:,} and the last {bound.tail:,} bytes of a "
        "job's log (setting log_bytes_kept)"
    )


def tail_of(pieces_from_end: Iterable[str], lines: int) -> str:
    """The end of a log holding its last ``lines`` lines, from its pieces read from the
    end backwards (lazily: reading stops once enough are read, or ``TAIL_READ_MOST``
    characters): ``tail_of(...).splitlines() == log.splitlines()[-lines:]``."""
    if lines <= 0:
        return ""
    taken: list[str] = []
    line_breaks = size = 0
    for piece in pieces_from_end:
        piece = piece[-(TAIL_READ_MOST - size) :]
        # only the end of the piece that holds the line breaks still needed
        need, end = lines + 1 - line_breaks, len(piece)
        found = 0
        while found < need:
            end = piece.rfind("\n", 0, end)
            if end < 0:
                break
            found += 1
        if found == need:
            piece = piece[end:]
        taken.append(piece)
        line_breaks += found
        size += len(piece)
        # one line break more than the lines: the first of them is whole
        if line_breaks > lines or size >= TAIL_READ_MOST:
            break
    text = "".join(reversed(taken))
    return "".join(text.splitlines(keepends=True)[-lines:])
