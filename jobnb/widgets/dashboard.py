"""``jobnb.dashboard()``: a live table of every job, read through ``jobnb.job_history()``.

One refresh reads the counts per status and one page of records (``page_size`` of
them, not the history), then sets a fixed pool of row widgets; the row actions go
through the job's own Job handle. The kernel's monitor updates the dashboard as one of
its views: it refreshes every ``interval`` seconds unless paused, until it is closed.
When a backend cannot be read, a banner says why, and the next refresh that works
clears it.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets as w

from ..api import job_history
from ..history import JobHistory
from ..job import Job
from ..model import JobRecord, JobStatus
from .monitor import monitor
from .style import badge, banner, block

ALL = "all"
PAGE_SIZES = (10, 20, 50, 100)


def _when(timestamp: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(timestamp)) if timestamp else ""


def _duration(record: JobRecord) -> str:
    seconds = record.duration
    return "" if seconds is None else f"{seconds:.1f}s"


class JobRow(w.HBox):
    """One row of the table: the job and its actions (cancel, resubmit, logs)."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        self.record: JobRecord | None = None
        self.summary = w.HTML(layout=w.Layout(width="70%"))
        small = w.Layout(width="auto")
        self.cancel_button = w.Button(description="cancel", layout=small, button_style="warning")
        self.resubmit_button = w.Button(description="resubmit", layout=small)
        self.logs_button = w.Button(description="details", layout=small)
        self.cancel_button.on_click(lambda _: self._act("cancel"))
        self.resubmit_button.on_click(lambda _: self._act("resubmit"))
        self.logs_button.on_click(lambda _: self._act("details"))
        super().__init__([self.summary, self.cancel_button, self.resubmit_button, self.logs_button])

    def set(self, record: JobRecord) -> None:
        self.record = record
        progress = record.progress.fraction
        output = record.output
        self.summary.value = (
            f"<code>{html.escape(record.id)}</code> <b>{html.escape(record.name)}</b> "
            f"{badge(record.status)} {html.escape(record.backend)} "
            f"submitted {_when(record.submitted)} {_duration(record)}"
            + (f" {progress:.0%}" if progress is not None and not record.status.is_done else "")
            + (f" &rarr; <code>{html.escape(output)}</code>" if output else "")
        )
        self.cancel_button.disabled = record.status.is_done

    def _act(self, action: str) -> None:
        try:
            job = self.dashboard.history.job(self.record.id)
            if action == "cancel":
                job.cancel()
            elif action == "resubmit":
                self.dashboard.selected = job.resubmit()
            else:
                self.dashboard.selected = job
        except Exception as exc:  # noqa: BLE001 - shown, not raised into the frontend
            self.dashboard.show_banner(f"{action} of job {self.record.id} failed: {exc}")
            return
        self.dashboard.refresh()


class Dashboard(w.VBox):
    """Counts per status, a status filter, a paginated newest-first table with
    per-row actions, a detail panel, workers and queue depth, refresh and pause."""

    def __init__(
        self, page_size: int = 20, interval: float = 1.0, history: JobHistory | None = None
    ) -> None:
        self.history = history or job_history()
        self.page = 0
        self._refresh_lock = threading.RLock()
        self.selected: Job | None = None  # shown in the detail panel
        self.last_refresh = 0.0
        self.closed = False
        self.banner = w.HTML(layout=w.Layout(display="none"))
        self.counts_view = w.HTML()
        self.stats_view = w.HTML()
        self.status_filter = w.Dropdown(
            options=[ALL, *(s.value for s in JobStatus)],
            value=ALL,
            description="status",
            layout=w.Layout(width="12em"),
        )
        self.page_size = w.Dropdown(
            options=sorted({*PAGE_SIZES, page_size}),
            value=page_size,
            description="rows",
            layout=w.Layout(width="9em"),
        )
        self.interval = w.BoundedFloatText(
            value=interval,
            min=0.2,
            max=3600,
            step=0.5,
            description="every (s)",
            layout=w.Layout(width="11em"),
        )
        self.pause = w.ToggleButton(
            description="pause", icon="pause", layout=w.Layout(width="auto")
        )
        self.previous_button = w.Button(description="newer", layout=w.Layout(width="auto"))
        self.next_button = w.Button(description="older", layout=w.Layout(width="auto"))
        self.page_label = w.Label()
        self.rows_box = w.VBox()
        self.rows: list[JobRow] = []
        self.detail = w.HTML()
        self.previous_button.on_click(lambda _: self._turn(-1))
        self.next_button.on_click(lambda _: self._turn(+1))
        for control in (self.status_filter, self.page_size):
            control.observe(lambda _: self._turn(-self.page), names="value")
        controls = w.HBox(
            [
                self.status_filter,
                self.page_size,
                self.interval,
                self.pause,
                self.previous_button,
                self.page_label,
                self.next_button,
            ]
        )
        super().__init__(
            [self.banner, self.counts_view, self.stats_view, controls, self.rows_box, self.detail]
        )
        self.add_class("jobnb-dashboard")
        self.refresh()

    # --- what the monitor asks (monitor.View) ------------------------------------------------
    @property
    def ended(self) -> bool:
        return self.closed

    def watched(self) -> list[Job]:
        return []  # it reads a page of its own, not the jobs of the other views

    def update(self, polled: dict[Job, tuple[JobRecord, str]]) -> None:
        if self.due:
            self.refresh()  # never raises: a failure shows as its banner

    @property
    def due(self) -> bool:
        return not self.pause.value and time.monotonic() - self.last_refresh >= self.interval.value

    def refresh(self) -> None:
        """Read counts, one page and the backends' stats; set every part."""
        with self._refresh_lock:  # the monitor thread and a button click may meet here
            self._refresh()

    def _refresh(self) -> None:
        self.last_refresh = time.monotonic()
        status = None if self.status_filter.value == ALL else self.status_filter.value
        size = self.page_size.value
        try:
            counts = self.history.counts()
            page = self.history.page(status, self.page * size, size)
            stats = self.history.stats()
            detail = self._detail()
        except Exception as exc:  # noqa: BLE001 - the banner says what went wrong
            self.show_banner(f"cannot read the jobs: {exc}")
            return
        self.banner.layout.display = "none"
        self.counts_view.value = (
            " ".join(f"{badge(s)} {counts[s]}" for s in JobStatus)
            + f" &nbsp; total {sum(counts.values())}"
        )
        self.stats_view.value = " &nbsp; ".join(
            f"<b>{html.escape(name)}</b>: "
            + ", ".join(f"{html.escape(str(k))} {html.escape(str(v))}" for k, v in s.items())
            for name, s in stats.items()
        )
        while len(self.rows) < len(page):
            self.rows.append(JobRow(self))
        for row, record in zip(self.rows, page, strict=False):
            row.set(record)
        shown = tuple(self.rows[: len(page)])
        if self.rows_box.children != shown:
            self.rows_box.children = shown
        total = counts[JobStatus(status)] if status else sum(counts.values())
        pages = max(1, -(-total // size))
        self.page_label.value = f"page {self.page + 1} of {pages}"
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = self.page + 1 >= pages
        self.detail.value = detail

    def show_banner(self, text: str) -> None:
        self.banner.value = banner(text)
        self.banner.layout.display = None

    # --- paging and the detail panel ------------------------------------------------------------
    def _turn(self, step: int) -> None:
        self.page = max(0, self.page + step)
        self.refresh()

    def _detail(self) -> str:
        if self.selected is None:
            return ""
        record = self.selected.record()
        parts = [
            f"<b>{html.escape(record.name)}</b> <code>{html.escape(record.id)}</code> "
            f"{badge(record.status)} on {html.escape(record.backend)}"
            + (f", worker {html.escape(record.worker)}" if record.worker else ""),
            block("runs", record.description),
            block("log", self.selected.logs() or "(nothing yet)"),
        ]
        if record.error:
            parts.append(block("traceback", record.error))
        return "".join(parts)

    def close(self) -> None:
        self.closed = True  # the monitor drops it on its next round
        super().close()


def dashboard(page_size: int = 20, interval: float = 1.0) -> Any:
    """A live dashboard of every job, refreshed by the kernel's monitor."""
    board = Dashboard(page_size=page_size, interval=interval)
    monitor().watch(board)
    return board
