"""What a job waits for on a backend whose records live in the kernel (``thread``,
``subprocess``): the waiting entries filed under the jobs they wait for, settled when
one of those ends (``MemoryStore.finish``) or at once, when they are added, against
those that ended already. The kernel's backend releases them, since it runs them: a
job whose every dependency finished is queued (``MemoryStore.on_release``); one with a
dependency that failed, was cancelled or lost (or is not held) is cancelled, saying
which, and its own dependents are settled in turn, down a chain.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ..model import JobStatus
from ..payload import Outcome
from .records.base import MISSING_DEPENDENCY, dependency_error

if TYPE_CHECKING:
    from .memory import Entry, MemoryStore

_BROKEN = (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.LOST)


class Waits:
    """The waiting entries of one MemoryStore, by the id of each job they wait for."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._dependents: dict[str, list[Entry]] = {}
        #: ended entries whose dependents are settled by an ``ended`` call further up
        #: this thread's stack (a chain is settled in a loop, not a recursion)
        self._local = threading.local()

    def file(self, entry: Entry) -> None:
        """A waiting entry just added: filed under what it waits for that has not ended,
        then settled against what has."""
        with self.store.lock:
            for needed in entry.record.after:
                found = self.store._entries.get(needed)
                if found is not None and not found.record.status.is_done:
                    self._dependents.setdefault(needed, []).append(entry)
        self._settle(entry)

    def ended(self, entry: Entry) -> None:
        """``entry`` has just ended: settle its waiting dependents, and theirs."""
        pending = getattr(self._local, "pending", None)
        if pending is not None:  # (settling already, further up: added to its loop)
            pending.append(entry)
            return
        self._local.pending = pending = [entry]
        try:
            while pending:
                ended = pending.pop()
                with self.store.lock:
                    waiting = self._dependents.pop(ended.record.id, [])
                for dependent in waiting:
                    self._settle(dependent)
        finally:
            self._local.pending = None

    def _settle(self, entry: Entry) -> None:
        """Queue or cancel a waiting entry if what it waits for says so."""
        broken = None
        with self.store.lock:
            if entry.record.status is not JobStatus.WAITING:
                return
            pending = False
            for needed in entry.record.after:
                found = self.store._entries.get(needed)
                status = found.record.status if found is not None else None
                if status is None or status in _BROKEN:
                    name = found.record.name if found is not None else "?"
                    how = MISSING_DEPENDENCY if status is None else status.value
                    broken = dependency_error(needed, name, how)
                    break
                if status is not JobStatus.FINISHED:
                    pending = True
            if broken is None:
                if pending:
                    return
                self.store._set_status(entry.record, JobStatus.QUEUED)
        if broken is not None:  # an end: its own dependents are settled next
            self.store.finish(entry, Outcome(JobStatus.CANCELLED, error=broken))
        elif self.store.on_release is not None:
            self.store.on_release(entry)
