"""``jobnb.dashboard()``: a live table of every job, read through ``jobnb.job_history()``.

One refresh reads the counts per status and one page of records (``page_size`` of
them, not the history), then sets a fixed pool of row widgets (dashboard_rows.py): a
refresh makes no widget. The row actions go through the job's own Job handle; the
details of the chosen job open right under its row and move with it. The kernel's
monitor updates the dashboard as one of its views: it refreshes every ``interval``
seconds unless paused, until it is closed. When a backend cannot be read, a banner
says why, and the next refresh that works clears it.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets as w

from ..api import job_history
from ..exceptions import JobNotFound, SignatureMismatch
from ..history import JobHistory
from ..job import Job
from ..model import JobRecord, JobStatus
from .dashboard_details import details_html
from .dashboard_rows import Header, JobRow, RowLayouts, cells, header_cells
from .dashboard_schedules import SchedulesView
from .dashboard_style import (
    CONTROLS,
    DASHBOARD,
    DETAILS,
    DETAILS_LOG_LINES,
    ROW_CELLS,
    STYLE,
    TABLE,
)
from .job import ending_of
from .monitor import monitor
from .style import badge, banner

ALL = "all"
PAGE_SIZES = (10, 20, 50, 100)
#: a label sized to its text and a control that never shrinks: the controls row wraps
#: in a narrow window instead of cutting its last controls off
LABEL_FITS = {"description_width": "initial"}


def _unbroken(text: str) -> str:
    return f'<span style="white-space:nowrap">{text}</span>'


def _fixed(width: str) -> w.Layout:
    return w.Layout(width=width, flex="0 0 auto")


class Dashboard(w.VBox):
    """Counts per status, a status filter, a paginated newest-first table (name, id,
    status, progress, submitted, duration, worker, actions) with the chosen job's
    details under its row, workers and queue depth, refresh interval and pause."""

    def __init__(
        self, page_size: int = 20, interval: float = 1.0, history: JobHistory | None = None
    ) -> None:
        self.history = history or job_history()
        self.page = 0
        self._refresh_lock = threading.RLock()
        self.selected: Job | None = None  # its details are open
        self.last_refresh = 0.0
        self.refreshed_at = time.time()
        self.shown_page: list[JobRecord] = []  # the records the last refresh showed
        self.closed = False
        self.style_view = w.HTML(STYLE)  # the dashboard's one <style>
        self.banner = w.HTML(layout=w.Layout(display="none"))
        self.counts_view = w.HTML()
        self.stats_view = w.HTML()
        self.status_filter = w.Dropdown(
            options=[ALL, *(s.value for s in JobStatus)],
            value=ALL,
            description="status",
            style=LABEL_FITS,
            layout=_fixed("11em"),
        )
        self.page_size = w.Dropdown(
            options=sorted({*PAGE_SIZES, page_size}),
            value=page_size,
            description="rows",
            style=LABEL_FITS,
            layout=_fixed("8em"),
        )
        self.interval = w.BoundedFloatText(
            value=interval,
            min=0.2,
            max=3600,
            step=0.5,
            description="every (s)",
            style=LABEL_FITS,
            layout=_fixed("9.5em"),
        )
        self.pause = w.ToggleButton(description="pause", icon="pause", layout=_fixed("7em"))
        self.previous_button = w.Button(description="newer", layout=_fixed("6em"))
        self.next_button = w.Button(description="older", layout=_fixed("6em"))
        self.page_label = w.Label(layout=w.Layout(flex="0 0 auto", margin="0 8px"))
        self.pause.observe(self._paused, names="value")
        self.previous_button.on_click(lambda _: self._turn(-1))
        self.next_button.on_click(lambda _: self._turn(+1))
        # a bigger page gets its rows here, on the kernel's thread, before it is read
        self.page_size.observe(lambda change: self._grow_rows(change["new"]), names="value")
        for control in (self.status_filter, self.page_size):
            control.observe(lambda _: self._turn(-self.page), names="value")
        pager = w.HBox(
            [self.previous_button, self.page_label, self.next_button],
            layout=w.Layout(flex="0 0 auto", align_items="center"),
        )
        self.controls = w.HBox(
            [self.status_filter, self.page_size, self.interval, self.pause, pager],
            layout=w.Layout(flex_flow="row wrap", width="100%"),
        )
        self.controls.add_class(CONTROLS)
        self._layouts = RowLayouts()
        self.header = Header(self._layouts)
        self.rows: list[JobRow] = []
        self._grow_rows(page_size)
        self.details = w.HTML(layout=w.Layout(width="100%"))
        self.details.add_class(DETAILS)
        self.empty_note = w.HTML()
        self.table = w.VBox([self.header], layout=w.Layout(width="100%"))
        self.table.add_class(TABLE)
        self.schedules_view = SchedulesView(self.history.backends, self.show_banner)
        super().__init__(
            [
                self.style_view,
                self.banner,
                self.counts_view,
                self.stats_view,
                self.controls,
                self.table,
                self.schedules_view,
            ]
        )
        self.add_class(DASHBOARD)
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
        """Read counts, one page and the backends' stats (and the chosen job's record
        and logs); set every part."""
        with self._refresh_lock:  # the monitor thread and a button click may meet here
            self._refresh()

    def _refresh(self) -> None:
        self.last_refresh = time.monotonic()
        self.refreshed_at = time.time()
        status = None if self.status_filter.value == ALL else self.status_filter.value
        size = self.page_size.value
        try:
            counts = self.history.counts()
            page = self.history.page(status, self.page * size, size)
            stats = self.history.stats()
            details = self._details()
        except Exception as exc:  # noqa: BLE001 - the banner says what went wrong
            self.show_banner(f"cannot read the jobs: {exc}")
            return
        self.banner.layout.display = "none"
        # each count kept on one line with its status: a narrow window wrapped between
        # "total" and its number
        self.counts_view.value = (
            " ".join(_unbroken(f"{badge(s)} {counts[s]}") for s in JobStatus)
            + f" &nbsp; {_unbroken(f'total {sum(counts.values())}')}"
        )
        self.stats_view.value = " &nbsp; ".join(
            f"<b>{html.escape(name)}</b>: "
            + ", ".join(f"{html.escape(str(k))} {html.escape(str(v))}" for k, v in s.items())
            for name, s in stats.items()
        )
        total = counts[JobStatus(status)] if status else sum(counts.values())
        pages = max(1, -(-total // size))
        self.page_label.value = f"page {self.page + 1} of {pages}"
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = self.page + 1 >= pages
        self.details.value = details
        self.shown_page = page
        self._show_rows(page, status)
        try:
            self.schedules_view.refresh()
        except Exception as exc:  # noqa: BLE001 - the banner says what went wrong
            self.show_banner(f"cannot read the schedules: {exc}")

    def _show_rows(self, page: list[JobRecord], status: str | None) -> None:
        """Give the page's records to the pool's rows; open the details under the chosen
        job's row (under the header when that job is not on this page)."""
        if threading.current_thread() is threading.main_thread():
            self._grow_rows(len(page))
        # (else the monitor's thread: it never makes a widget, see monitor.py; a page
        # bigger than the pool, met only between a new page size and its observer, shows
        # its first rows until the next refresh)
        chosen = self.selected.id if self.selected is not None else None
        children: list[w.Widget] = [self.header]
        if chosen is not None and chosen not in {record.id for record in page}:
            children.append(self.details)
        for row, record in zip(self.rows, page, strict=False):
            row.show(record, selected=record.id == chosen)
            children.append(row)
            if record.id == chosen:
                children.append(self.details)
        if not page:
            self.empty_note.value = f"<i>no {status} jobs</i>" if status else "<i>no jobs yet</i>"
            children.append(self.empty_note)
        if tuple(children) != self.table.children:
            self.table.children = children

    def _grow_rows(self, size: int) -> None:
        """The pool of rows grows to the largest page asked for, once: rows are only made
        on the kernel's thread (at start, or when the page size changes)."""
        while len(self.rows) < size:
            self.rows.append(JobRow(self._act, self._layouts))

    def show_banner(self, text: str) -> None:
        self.banner.value = banner(text)
        self.banner.layout.display = None

    # --- actions, paging and the details -------------------------------------------------------
    def _act(self, action: str, record: JobRecord) -> None:
        """A row's button: cancel or resubmit its job, or open or close its details."""
        try:
            if action == "details":
                chosen = self.selected is not None and self.selected.id == record.id
                self.selected = None if chosen else self.history.job(record.id)
            else:
                job = self.history.job(record.id)
                if action == "cancel":
                    job.cancel(via="the dashboard")
                else:
                    self.selected = job.resubmit()  # its details show the new job
        except Exception as exc:  # noqa: BLE001 - shown, not raised into the frontend
            self.show_banner(f"{action} of job {record.id} failed: {exc}")
            return
        self.refresh()

    def _paused(self, change: dict) -> None:
        """The pause button says what pressing it does next."""
        self.pause.description, self.pause.icon = (
            ("resume", "play") if change["new"] else ("pause", "pause")
        )

    def _turn(self, step: int) -> None:
        self.page = max(0, self.page + step)
        self.refresh()

    def _details(self) -> str:
        if self.selected is None:
            return ""
        try:
            record = self.selected.record()
        except JobNotFound:  # forgotten since it was chosen: nothing left to show
            self.selected = None
            return ""
        try:
            ending = ending_of(self.selected, record)
        except SignatureMismatch as exc:  # never unpickled: said, as the job widget says it
            ending = f"result refused: SignatureMismatch: {exc}"
        # one line more than the panel shows: it then knows earlier lines are there
        return details_html(record, self.selected.log_tail(DETAILS_LOG_LINES + 1), ending)

    def saved_view(self) -> str:
        """The dashboard as plain HTML, as of its last refresh: its counts and its page
        (every text from a job escaped by ``cells``), for where the widget cannot live
        (a notebook saved and opened elsewhere, a viewer without the widgets)."""
        rows = "".join(f'<div class="{ROW_CELLS}">{cells(r)}</div>' for r in self.shown_page)
        return (
            f'<div class="{DASHBOARD}">{STYLE}<div>{self.counts_view.value}</div>'
            f'<div class="{ROW_CELLS}">{header_cells()}</div>{rows or self.empty_note.value}'
            f"<div><i>{html.escape(self.page_label.value)}, as of "
            f"{time.strftime('%H:%M:%S', time.localtime(self.refreshed_at))}</i></div></div>"
        )

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        """The widget, with its last state as plain HTML beside it."""
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/html"] = self.saved_view()
        return bundle

    def close(self) -> None:
        self.closed = True  # the monitor drops it on its next round
        super().close()


def dashboard(page_size: int = 20, interval: float = 1.0) -> Any:
    """A live dashboard of every job, refreshed by the kernel's monitor.

    ``page_size``: the rows a page shows (the dropdown offers 10, 20, 50, 100 and it);
    ``interval``: seconds between refreshes (changeable in the dashboard, which can
    also pause them).
    """
    board = Dashboard(page_size=page_size, interval=interval)
    monitor().watch(board)
    return board
