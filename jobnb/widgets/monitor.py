"""One monitor per kernel feeds every live job widget.

A daemon thread wakes every ``interval`` seconds, asks each backend once for the
records and logs of all the jobs still active on it (``Backend.poll``), and updates
their widgets. It never runs on the kernel's main thread, so widgets move while a
cell is busy; it ends when no widget has anything left to show, and starts again
with the next one. Dashboards are refreshed by the same thread, each at its own
interval, until they are closed.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .dashboard import Dashboard
    from .job import JobWidget

DEFAULT_INTERVAL = 0.5


class Monitor:
    def __init__(self, interval: float = DEFAULT_INTERVAL) -> None:
        self.interval = interval
        self._widgets: list[JobWidget] = []
        self._dashboards: list[Dashboard] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self.ticks = 0  # for tests and benchmarks: how many rounds it made

    def watch(self, widget: JobWidget) -> None:
        with self._lock:
            self._widgets.append(widget)
            self._start()

    def watch_dashboard(self, board: Dashboard) -> None:
        """Refresh ``board`` when it is due, until it is closed."""
        with self._lock:
            self._dashboards.append(board)
            self._start()

    def forget_dashboard(self, board: Dashboard) -> None:
        with self._lock:
            if board in self._dashboards:
                self._dashboards.remove(board)

    def _start(self) -> None:
        # under self._lock
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="jobnb-monitor", daemon=True)
            self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._lock:
                self._widgets = [w for w in self._widgets if not w.ended]
                if not self._widgets and not self._dashboards:
                    self._thread = None
                    return
                widgets = list(self._widgets)
                boards = [b for b in self._dashboards if b.due]
            self.tick(widgets)
            for board in boards:
                board.refresh()  # never raises: a failure shows as its banner
            self._wake.wait(self.interval)

    def tick(self, widgets: list[JobWidget]) -> None:
        """One round: one ``poll`` per backend for all its active jobs."""
        from .job import take_snapshot

        by_backend: dict[object, list[JobWidget]] = defaultdict(list)
        for widget in widgets:
            by_backend[widget.job._backend].append(widget)
        for backend, group in by_backend.items():
            try:
                found = backend.poll([widget.job.id for widget in group])
            except Exception:  # noqa: BLE001 - an unreachable backend: try next tick
                continue
            for widget in group:
                if widget.job.id in found:
                    record, logs = found[widget.job.id]
                    widget.show(take_snapshot(widget.job, record, logs))
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
