"""What a process has read of a Redis store's ``done`` stream (the ids of jobs as they
end), so that its waits cost as few round trips as they can (redis.py's ``wait``).

- A submit notes where the stream stood when its jobs were added (read in the submit's
  own MULTI): a wait for one of them reads on from there, with no round trip of its own
  to find the stream's end first.
- The ids read from the stream are kept (the newest ``SEEN_MOST``): an entry there
  means the job ended, and an ended job's status never changes, so a wait for a job
  already seen ended needs no round trip at all (``jobnb.map``: waiting for each job in
  turn reads the stream once, not once per job).
- The span read without a gap (``covered``): a wait for a job added inside it reads on
  from its end, not from the job's own older position again.

Nothing here is trusted alone: a wait always reads the job's status in the round trip
of its first read (a job whose entry was trimmed from the stream long ago is still
found ended). The stream's ids are compared as (milliseconds, sequence) pairs.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

#: ids of ended jobs kept (an ordered set): far more than a kernel waits for at once
SEEN_MOST = 20_000
#: submitted jobs whose position is kept until their wait (a kernel that never waits for
#: its jobs forgets the oldest: their waits take one round trip more)
POSITIONS_MOST = 20_000
START = b"0-0"  # before any entry: the position of an empty stream


def stream_id(raw: bytes) -> tuple[int, int]:
    ms, _, seq = raw.partition(b"-")
    return int(ms), int(seq or 0)


class DoneWatch:
    """Positions, ids seen ended, and the span read without a gap; safe from threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._positions: OrderedDict[str, bytes] = OrderedDict()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._covered: tuple[bytes, bytes] | None = None  # (from, to): read without a gap

    def submitted(self, job_ids: list[str], newest: list) -> None:
        """``newest``: XREVRANGE COUNT 1 of the stream, read in the MULTI that added them."""
        position = newest[0][0] if newest else START
        with self._lock:
            for job_id in job_ids:
                self._positions[job_id] = position
            while len(self._positions) > POSITIONS_MOST:
                self._positions.popitem(last=False)

    def seen_ended(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._seen

    def read_from(self, job_id: str) -> bytes | None:
        """Where a wait for ``job_id`` reads the stream from (every end of the job comes
        after it), or None if unknown (the wait finds the stream's end first)."""
        with self._lock:
            position = self._positions.pop(job_id, None)
            if position is None:
                return None
            covered = self._covered
            if covered and stream_id(covered[0]) <= stream_id(position) <= stream_id(covered[1]):
                return covered[1]  # read up to there already: its end was not in it
            self._covered = (position, position)
            return position

    def started_at(self, position: bytes) -> None:
        """A wait reads on from ``position`` (the stream's end, just read)."""
        with self._lock:
            covered = self._covered
            if covered is None or covered[1] != position:
                self._covered = (position, position)

    def read(self, after: bytes, entries: list) -> None:
        """XREAD from ``after`` brought ``entries``: their ids ended; the span grows if it
        read on from the span's end."""
        with self._lock:
            for _, fields in entries:
                job = fields.get(b"job")
                if job is not None:
                    self._seen[job.decode()] = None
            while len(self._seen) > SEEN_MOST:
                self._seen.popitem(last=False)
            covered = self._covered
            if entries and covered is not None and covered[1] == after:
                self._covered = (covered[0], entries[-1][0])
