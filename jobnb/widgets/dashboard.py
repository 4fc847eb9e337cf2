"""``jobnb.dashboard()``: a live table of every job, read from the backends.

One refresh reads the counts per status and one page of records (``page_size`` of
them, not the history), then sets a fixed pool of row widgets. The kernel's monitor
calls ``refresh`` every ``interval`` seconds unless the dashboard is paused. When a
backend cannot be read, a banner says why, and the next refresh that works clears it.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets as w

from .. import api
from ..backends.base import Backend
from ..model import JobRecord, JobStatus
from .job import _badge

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
        self.backend: Backend | None = None
        self.record: JobRecord | None = None
        self.summary = w.HTML(layout=w.Layout(width="70%"))
        small = w.Layout(width="auto")
        self.cancel_button = w.Button(description="cancel", layout=small, button_style="warning")
        self.resubmit_button = w.Button(description="resubmit", layout=small)
        self.logs_button = w.Button(description="details", layout=small)
        self.cancel_button.on_click(lambda _: self._act("cancel"))
        self.resubmit_button.on_click(lambda _: self._act("resubmit"))
        self.logs_button.on_click(lambda _: dashboard.select(self.backend, self.record.id))
        super().__init__([self.summary, self.cancel_button, self.resubmit_button, self.logs_button])

    def set(self, backend: Backend, record: JobRecord) -> None:
        self.backend, self.record = backend, record
        progress = record.progress.fraction
        output = record.output
        self.summary.value = (
            f"<code>{html.escape(record.id)}</code> <b>{html.escape(record.name)}</b> "
            f"{_badge(record.status)} {html.escape(record.backend)} "
            f"submitted {_when(record.submitted)} {_duration(record)}"
            + (f" {progress:.0%}" if progress is not None and not record.status.is_done else "")
            + (f" &rarr; <code>{html.escape(output)}</code>" if output else "")
        )
        self.cancel_button.disabled = record.status.is_done

    def _act(self, action: str) -> None:
        try:
            if action == "cancel":
                self.backend.cancel(self.record.id)
            else:
                new_id = self.backend.resubmit(self.record.id)
                self.dashboard.select(self.backend, new_id)
        except Exception as exc:  # noqa: BLE001 - shown, not raised into the frontend
            self.dashboard.show_banner(f"{action} of job {self.record.id} failed: {exc}")
            return
        self.dashboard.refresh()


class Dashboard(w.VBox):
    """Counts per status, a status filter, a paginated newest-first table with
    per-row actions, a detail panel, workers and queue depth, refresh and pause."""

    def __init__(self, page_size: int = 20, interval: float = 1.0) -> None:
        self.page = 0
        self._refresh_lock = threading.RLock()
        self.selected: tuple[Backend, str] | None = None
        self.last_refresh = 0.0
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

    # --- what the monitor calls ------------------------------------------------------------
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
            counts = api.counts()
            page = api.records_page(status, self.page * size, size)
            stats = api.backend_stats()
            detail = self._detail()
        except Exception as exc:  # noqa: BLE001 - the banner says what went wrong
            self.show_banner(f"cannot read the jobs: {exc}")
            return
        self.banner.layout.display = "none"
        self.counts_view.value = (
            " ".join(f"{_badge(s)} {counts[s]}" for s in JobStatus)
            + f" &nbsp; total {sum(counts.values())}"
        )
        self.stats_view.value = " &nbsp; ".join(
            f"<b>{html.escape(name)}</b>: "
            + ", ".join(f"{html.escape(str(k))} {html.escape(str(v))}" for k, v in s.items())
            for name, s in stats.items()
        )
        while len(self.rows) < len(page):
            self.rows.append(JobRow(self))
        for row, (backend, record) in zip(self.rows, page, strict=False):
            row.set(backend, record)
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
        self.banner.value = (
            f'<div style="background:#f8d7da;color:#842029;padding:4px 8px;'
            f'border-radius:4px">{html.escape(text)}</div>'
        )
        self.banner.layout.display = None

    # --- selection and paging ------------------------------------------------------------
    def select(self, backend: Backend, job_id: str) -> None:
        self.selected = (backend, job_id)
        self.refresh()

    def _turn(self, step: int) -> None:
        self.page = max(0, self.page + step)
        self.refresh()

    def _detail(self) -> str:
        if self.selected is None:
            return ""
        backend, job_id = self.selected
        record = backend.record(job_id)
        parts = [
            f"<b>{html.escape(record.name)}</b> <code>{html.escape(record.id)}</code> "
            f"{_badge(record.status)} on {html.escape(record.backend)}"
            + (f", worker {html.escape(record.worker)}" if record.worker else ""),
            _block("runs", record.description),
            _block("log", backend.logs(job_id) or "(nothing yet)"),
        ]
        if record.error:
            parts.append(_block("traceback", record.error))
        return "".join(parts)

    def close(self) -> None:
        from .monitor import monitor

        monitor().forget_dashboard(self)
        super().close()


def _block(title: str, text: str) -> str:
    return (
        f"<div><i>{title}</i><pre style='margin:0;max-height:20em;overflow:auto'>"
        f"{html.escape(text)}</pre></div>"
    )


def dashboard(page_size: int = 20, interval: float = 1.0) -> Any:
    """A live dashboard of every job, refreshed by the kernel's monitor."""
    from .monitor import monitor

    board = Dashboard(page_size=page_size, interval=interval)
    monitor().watch_dashboard(board)
    return board
