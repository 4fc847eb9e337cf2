"""A job's log held in the kernel's memory (the ``thread`` and ``subprocess`` backends),
bounded as the records stores bound theirs (records/log_bounds.py): the head and the
tail within ``log_bytes_kept`` bytes, the middle dropped and said by one marker line.

Without the bound, a job printing 200 MB would grow the kernel by 200 MB (and more: a
``str`` per line). Nothing else holds these logs, so what is dropped is gone: the
marker says so, and ``Job.logs_dropped`` counts it.
"""

from __future__ import annotations

import threading
from collections import deque

from .records.log_bounds import LogBound, dropped_marker, split_append, tail_of


def kernel_kept_where(bound: LogBound) -> str:
    """What the marker says of where the dropped bytes are (nowhere)."""
    return (
        f"the kernel keeps the first {bound.head:,} and the last {bound.tail:,} bytes of "
        "a job's log (setting log_bytes_kept)"
    )


class KernelLog:
    """One job's log: appended to by the job's thread (or the thread reading its worker
    process), read by the kernel's views. Its own lock: appends cost what they append."""

    __slots__ = ("bound", "_lock", "_head", "_head_bytes", "_tail", "_tail_bytes", "_dropped")

    def __init__(self, kept: int) -> None:
        self.bound = LogBound(kept)
        self._lock = threading.Lock()
        #: pieces of at most a chunk each (a job printing a line at a time would
        #: otherwise hold a str object per line)
        self._head: list[tuple[str, int]] = []
        self._head_bytes = 0
        #: the tail's chunks, oldest first, dropped whole from the left as new ones come
        self._tail: deque[tuple[str, int]] = deque()
        self._tail_bytes = 0
        self._dropped = 0

    def append(self, text: str) -> None:
        data = text.encode(errors="replace")
        with self._lock:
            joins_head, chunks, skipped = split_append(
                self.bound, self._head_bytes, bool(self._tail or self._dropped), data
            )
            if joins_head:
                self._join(self._head, joins_head)
                self._head_bytes += len(joins_head)
            self._dropped += skipped
            for chunk in chunks:
                self._join(self._tail, chunk)
                self._tail_bytes += len(chunk)
            while self._tail_bytes > self.bound.tail:
                _, size = self._tail.popleft()
                self._tail_bytes -= size
                self._dropped += size

    def _join(self, pieces, data: bytes) -> None:
        """Add ``data`` to the last of ``pieces`` while that stays within a chunk."""
        if pieces and pieces[-1][1] + len(data) <= self.bound.chunk:
            text, size = pieces[-1]
            pieces[-1] = (text + data.decode(), size + len(data))
        else:
            pieces.append((data.decode(), len(data)))

    @property
    def dropped(self) -> int:
        """Bytes of the log dropped from its middle (0: the log is whole)."""
        return self._dropped

    def text(self) -> str:
        """The log kept: its head, the marker if bytes were dropped, its tail."""
        with self._lock:
            head = "".join(text for text, _ in self._head)
            tail = "".join(text for text, _ in self._tail)
            dropped = self._dropped
        if not dropped:
            return head + tail
        marker = dropped_marker(dropped, kernel_kept_where(self.bound), head.endswith("\n"))
        return head + marker + tail

    def tail(self, lines: int) -> str:
        """Its last ``lines`` lines, read from its end (the head only if the tail holds
        too few: the cost does not follow the log's length)."""
        with self._lock:  # held while read: the read stops once it has the lines
            return tail_of(self._pieces_from_end(), lines)

    def _pieces_from_end(self):
        for text, _ in reversed(self._tail):
            yield text
        if self._dropped:
            after_line_break = not self._head or self._head[-1][0].endswith("\n")
            yield dropped_marker(self._dropped, kernel_kept_where(self.bound), after_line_break)
        for text, _ in reversed(self._head):
            yield text
