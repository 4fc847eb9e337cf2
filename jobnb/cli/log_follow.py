"""Following a job's log as it grows (``jobnb logs -f``): each part printed once, in
order, even when its store drops the log's middle meanwhile.

A store keeps a log's head and tail and puts, where the middle was dropped, one marker
line ``[jobnb: N bytes of log dropped here; ...]`` (``records/log_bounds.py``). Each
round reads the log once (one ``logs()`` text: its head, marker and tail agree) and
places it in the whole log's bytes: the head is its first bytes, the tail starts N
bytes after the head ends. The follower counts the bytes of the whole log it has
printed, prints what lies past them, and says so when bytes it had not printed yet
were dropped before it could (a follower slower than a chatty job). It never reprints:
the count only grows.

The marker starts on a line of its own: when the head does not end a line, the reader
puts a line break before it, which is not in the log. Which it was cannot be told from
the text alone (``"abc" + "\\n[jobnb...]"`` reads as ``"abc\\n" + "[jobnb...]"``), so
the follower keeps what it printed until it first sees a marker and asks it; a
follower that comes after the head was cut counts the break in the head, the same way
every round, which places the tail consistently.
"""

from __future__ import annotations

import re

#: the marker line a reader puts where a log's middle was dropped (log_bounds.dropped_marker)
MARKER = re.compile(r"^\[jobnb: ([\d,]+) bytes of log dropped here; [^\n]*\]\n", re.MULTILINE)


def skipped_note(count: int) -> str:
    """The line the follower prints where it could not print ``count`` bytes."""
    return (
        f"[jobnb logs: {count:,} bytes of log were dropped by its store before they "
        "could be printed]\n"
    )


class LogFollower:
    """Feed it each round's ``logs()`` text; it returns what to print now."""

    def __init__(self) -> None:
        #: bytes of the whole log printed so far (or skipped, and said)
        self.printed = 0
        #: what was printed while no marker had shown (the head's end is asked of it)
        self._seen: bytearray | None = bytearray()
        #: the head's length in the whole log, once a marker has shown
        self._head: int | None = None
        #: whether the text printed so far ends a line (a note goes on a line of its own)
        self._at_line_start = True

    def next(self, text: str) -> str:
        """What of ``text`` (the log as read now) was not printed yet, with a note where
        bytes went unprinted."""
        data = text.encode("utf-8", "surrogateescape")
        marker = MARKER.search(text)
        if marker is None:
            return self._emit(data[self.printed :])
        head_text = data[: len(text[: marker.start()].encode("utf-8", "surrogateescape"))]
        tail = data[len(text[: marker.end()].encode("utf-8", "surrogateescape")) :]
        dropped = int(marker.group(1).replace(",", ""))
        if self._head is None:
            self._head = self._head_length(head_text, dropped, tail)
        head = head_text[: self._head]
        tail_start = len(head) + dropped
        out = self._emit(head[self.printed :]) if self.printed < len(head) else ""
        if self.printed < tail_start:
            out += self._note(tail_start - self.printed)
            self.printed = tail_start
        return out + self._emit(tail[self.printed - tail_start :])

    def _head_length(self, head_text: bytes, dropped: int, tail: bytes) -> int:
        """The head's bytes in the whole log: ``head_text``, or ``head_text`` less the
        line break the reader put before the marker, whichever agrees with what was
        printed before the first marker (its bytes where the head ends, and where the
        tail starts when the tail holds some of them)."""
        seen, self._seen = self._seen, None
        whole = len(head_text)
        # a break is put only after a head that has bytes and does not end a line
        if seen is None or not head_text.endswith(b"\n") or head_text[-2:-1] in (b"", b"\n"):
            return whole

        def agrees(head: int) -> bool:
            if seen[: min(head, len(seen))] != head_text[: min(head, len(seen))]:
                return False
            start = head + dropped
            overlap = min(len(seen), start + len(tail)) - start
            return overlap <= 0 or seen[start : start + overlap] == tail[:overlap]

        agreeing = [head for head in (whole, whole - 1) if agrees(head)]
        # neither or both (nothing printed tells them apart): the break counts in the
        # head; the tail is then placed a byte late, and a note's count is one too many
        return agreeing[0] if len(agreeing) == 1 else whole

    def _emit(self, data: bytes) -> str:
        if not data:
            return ""
        self.printed += len(data)
        if self._seen is not None:
            self._seen += data
        text = data.decode("utf-8", "replace")
        self._at_line_start = text.endswith("\n")
        return text

    def _note(self, count: int) -> str:
        start = "" if self._at_line_start else "\n"
        self._at_line_start = True
        return start + skipped_note(count)
