"""One monitor per kernel feeds every live view: job widgets and dashboards.

A daemon thread wakes every ``interval`` seconds, reads the record and the log's tail
(``LOG_LINES`` lines, read from the log's end: a 200 MB log costs what a short one
does) of every job its views watch in one request per backend (``jobnb.job.poll``),
and hands each view what was read. It never runs on the kernel's main thread, so
views move while a cell is busy; it ends when no view has anything left to show, and
starts again with the next.

The monitor knows views only by the small ``View`` interface below, so the widgets
import the monitor and never the other way round.

A view makes its widgets when it is made, on the kernel's thread, and only sets their
values here. When a page reloads, ipywidgets answers its request for every widget's
state by walking its registry of widgets on the kernel's thread: a widget made on this
thread meanwhile breaks that walk ("dictionary changed size during iteration"), the
answer never comes, and the page stays on "Loading widget..." ("widget model not
found") while it asks model by model. A widget made per round is also never freed.
"""

from __future__ import annotations

import threading
from typing import Protocol

from ..job import Job, poll
from ..model import JobRecord

DEFAULT_INTERVAL = 0.5
LOG_LINES = 12  # the tail of a job's log a round reads: what the job widget shows


class View(Protocol):
    """What the monitor asks of a live view (called on the monitor's thread)."""

    @property
    def ended(self) -> bool:
        """True once the view wants no more rounds (its job ended, it was closed)."""

    def watched(self) -> list[Job]:
        """The jobs whose record and logs the view wants this round (maybe none)."""

    def update(self, polled: dict[Job, tuple[JobRecord, str]]) -> None:
        """Show what was read this round: ``(record, log tail)`` by job, for the watched
        jobs that could be read, by setting values of widgets it already has (never
        making one: see above). Must not raise: a view shows its own failures."""


class Monitor:
    def __init__(self, interval: float = DEFAULT_INTERVAL) -> None:
        self.interval = interval
        self._views: list[View] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self.ticks = 0  # for tests and benchmarks: how many rounds it made

    def watch(self, view: View) -> None:
        """Update ``view`` every round until it has ended."""
        with self._lock:
            self._views.append(view)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="jobnb-monitor", daemon=True)
                self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._lock:
                self._views = [view for view in self._views if not view.ended]
                if not self._views:
                    self._thread = None
                    return
                views = list(self._views)
            self.tick(views)
            self._wake.wait(self.interval)

    def tick(self, views: list[View]) -> None:
        """One round: one read per backend for the jobs of every view, then each view
        updates from it."""
        jobs = list(dict.fromkeys(job for view in views for job in view.watched()))
        polled = poll(jobs, LOG_LINES) if jobs else {}
        for view in views:
            view.update(polled)
        self.ticks += 1


_monitor: Monitor | None = None
_monitor_lock = threading.Lock()


def monitor() -> Monitor:
    """The kernel's one monitor."""
    global _monitor
    with _monitor_lock:
        if _monitor is None:
            _monitor = Monitor()
        return _monitor
