"""The callbacks a process asked to run when its jobs end (``Job.add_done_callback``).

One daemon thread per process (``jobnb-done-callbacks``) watches the jobs that have
callbacks waiting: every ``WATCH_INTERVAL`` seconds it reads their records in one
request per backend (``Backend.poll``, as the widgets' monitor does; for thread and
subprocess jobs a read of the kernel's memory), and calls the callbacks of each job it
finds ended, once, in the order they were added. It runs in the kernel whatever the
backend, so a callback may touch the notebook (show a notification, ring a bell); it
ends when no callback is left, and starts again with the next.

It lives here, beside the handle, and not in the widgets' monitor: a job watched by no
widget (a script's, a job of ``jobnb.map``) still has its callbacks called, and the
handle must not import a front.

A callback that raises is logged (logger ``jobnb``, with the job's id and the
traceback), never raised into the thread, and the job's other callbacks still run.
A job forgotten (or expired) before its end was seen cannot be read any more: its
callbacks are dropped with a warning in the same log, never left waiting for ever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .backends.base import Backend  # for type hints only: the handle is above the backends
    from .job import Job

WATCH_INTERVAL = 0.25  # seconds between two reads of the watched jobs' records

log = logging.getLogger("jobnb")

#: a job's identity across handles: two Job objects of one job share its callbacks' turn
_Key = tuple[int, str]


class DoneCallbacks:
    """The callbacks waiting for jobs to end, and the thread that calls them."""

    def __init__(self, interval: float = WATCH_INTERVAL) -> None:
        self.interval = interval
        self._waiting: dict[_Key, list[tuple[Job, Callable[[Job], object]]]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, job: Job, fn: Callable[[Job], object]) -> None:
        """Call ``fn(job)`` once ``job`` has ended: at once if it already has."""
        if job.done():
            call(job, [fn])
            return
        with self._lock:
            self._waiting.setdefault(_key(job), []).append((job, fn))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="jobnb-done-callbacks", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._thread = None
                    return
                watched = {key: entries[0][0] for key, entries in self._waiting.items()}
            for key, job in self._ended(watched):
                with self._lock:
                    entries = self._waiting.pop(key, [])
                call(job, [fn for _, fn in entries])
            time.sleep(self.interval)

    def _ended(self, watched: dict[_Key, Job]) -> list[tuple[_Key, Job]]:
        """The watched jobs that have ended (or can no longer be read: forgotten)."""
        by_backend: dict[Backend, list[tuple[_Key, Job]]] = defaultdict(list)
        for key, job in watched.items():
            by_backend[job._backend].append((key, job))
        ended = []
        for backend, group in by_backend.items():
            try:
                read = backend.poll([job.id for _, job in group], 0)
            except Exception:  # noqa: BLE001 - unreachable now: the next round asks again
                continue
            for key, job in group:
                if job.id not in read:
                    self._drop_forgotten(key, job)
                elif read[job.id][0].status.is_done:
                    ended.append((key, job))
        return ended

    def _drop_forgotten(self, key: _Key, job: Job) -> None:
        with self._lock:
            entries = self._waiting.pop(key, [])
        if entries:
            log.warning(
                "job %s was forgotten (or expired) before jobnb saw it end: its %d done "
                "callback(s) were not called",
                job.id,
                len(entries),
            )


def call(job: Job, fns: list[Callable[[Job], object]]) -> None:
    """Call each of ``fns`` with ``job``; one that raises is logged, and the next runs."""
    for fn in fns:
        try:
            fn(job)
        except Exception:  # noqa: BLE001 - a callback's error must not stop the others
            log.exception("a done callback of job %s (%r) raised", job.id, fn)


def _key(job: Job) -> _Key:
    return (id(job._backend), job.id)


_callbacks: DoneCallbacks | None = None
_callbacks_lock = threading.Lock()


def done_callbacks() -> DoneCallbacks:
    """This process's one watcher of done callbacks."""
    global _callbacks
    with _callbacks_lock:
        if _callbacks is None:
            _callbacks = DoneCallbacks()
        return _callbacks
