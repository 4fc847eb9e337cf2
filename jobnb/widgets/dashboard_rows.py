"""The dashboard's table: its header and its rows, one job a row.

A row is made once and shows whichever job a refresh gives it (the dashboard keeps a
pool of them), so a refresh sets values and never makes a widget. Its text cells are
one HTML grid (dashboard_style.COLUMNS), its actions three buttons of fixed width; the
header has the same two parts with the same layouts, so its columns are the rows'.
Every text that comes from a job is escaped here.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import ipywidgets as w
from ipywidgets.widgets.widget_string import HTMLStyle  # (not exported at the top)

from ..model import JobRecord, JobStatus
from .dashboard_style import (
    ACTION_BUTTON_WIDTH,
    ACTIONS,
    ACTIONS_HEAD,
    ACTIONS_WIDTH,
    BAR,
    CELLS,
    COLUMNS,
    HEADER,
    ROW,
    ROW_CELLS,
    ROW_SELECTED,
)
from .style import STATUS_COLOURS, badge

#: what a row's buttons ask of the dashboard: (action, the record the row showed)
Act = Callable[[str, JobRecord], None]


@dataclass
class RowLayouts:
    """The layouts and styles every row of one dashboard shares: one model each, not one
    per row (a row is then 6 widget models). The text cells take what the fixed-width
    actions leave. No margins: the header's parts are HTML widgets where a row's
    actions are a box, and their default margins differ."""

    row: w.Layout = field(default_factory=lambda: w.Layout(width="100%", align_items="center"))
    cells: w.Layout = field(
        default_factory=lambda: w.Layout(flex="1 1 0%", min_width="0", width="auto", margin="0")
    )
    actions: w.Layout = field(
        default_factory=lambda: w.Layout(
            flex="0 0 auto", width=ACTIONS_WIDTH, justify_content="flex-end", margin="0"
        )
    )
    cells_style: HTMLStyle = field(default_factory=HTMLStyle)
    button_style: w.ButtonStyle = field(default_factory=w.ButtonStyle)
    button: w.Layout = field(
        default_factory=lambda: w.Layout(
            flex="0 0 auto", width=ACTION_BUTTON_WIDTH, min_width=ACTION_BUTTON_WIDTH
        )
    )


def clock(timestamp: float | None, now: float | None = None) -> str:
    """``14:03:27`` for a time today, ``Mar 02`` for an earlier day."""
    if not timestamp:
        return ""
    today, then = time.localtime(now), time.localtime(timestamp)
    same_day = (then.tm_yday, then.tm_year) == (today.tm_yday, today.tm_year)
    return time.strftime("%H:%M:%S" if same_day else "%b %d", then)


def span(seconds: float | None) -> str:
    """``4.2s``, ``3.5 min``, ``2.1 h``; empty when it has not started."""
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds:.1f}s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def progress_bar(record: JobRecord) -> str:
    """A bar in the status colour: the reported fraction; full once finished; striped
    while it runs without reporting one."""
    fraction = record.progress.fraction
    colour = STATUS_COLOURS[record.status]
    text = "" if fraction is None else f"{fraction:.0%}"
    fill = f"background:{colour}"
    if fraction is None:
        running = record.status is JobStatus.RUNNING
        fraction = 1.0 if record.status is JobStatus.FINISHED or running else 0.0
        if running:  # under way, how far unknown
            stripes = f"{colour}55 0 6px,{colour}22 6px 12px"
            fill = f"background:repeating-linear-gradient(45deg,{stripes})"
    title = record.progress.message or text or record.status.value
    return (
        f'<span class="{BAR}" title="{html.escape(title)}">'
        f'<span style="width:{fraction:.0%};{fill}"></span></span>'
        f'<span class="jobnb-bar-text">{text}</span>'
    )


def _cell(column: str, content: str, title: str | None = None) -> str:
    """One cell; ``title`` (the full text, shown on hover) is escaped here."""
    hover = f' title="{html.escape(title)}"' if title else ""
    return f'<span class="jobnb-c-{column}"{hover}>{content}</span>'


def cells(record: JobRecord) -> str:
    """The text cells of ``record``'s row, in the order of COLUMNS."""
    output = record.output
    name = f"<b>{html.escape(record.name)}</b>" + (
        f" &rarr; <code>{html.escape(output)}</code>" if output is not None else ""
    )
    where = f"backend {record.backend}" + (f", worker {record.worker}" if record.worker else "")
    values = {
        "name": _cell("name", name, record.name + (f" -> {output}" if output else "")),
        "id": _cell("id", f"<code>{html.escape(record.id)}</code>"),
        "status": _cell(
            "status",
            badge(record.status) + _attempt_mark(record),
            record.attempt_text or None,
        ),
        "progress": _cell("progress", progress_bar(record)),
        "submitted": _cell(
            "submitted",
            clock(record.submitted),
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.submitted)),
        ),
        "duration": _cell("duration", span(record.duration)),
        "worker": _cell("worker", html.escape(record.worker or "") or "&ndash;", where),
    }
    return f'<div class="{CELLS}">' + "".join(values[column] for column, _, _ in COLUMNS) + "</div>"


def _attempt_mark(record: JobRecord) -> str:
    """`` 2/4`` beside the badge of a job with retries (its attempt, of the most)."""
    if not record.attempt_text:
        return ""
    most = max(record.retries + 1, record.attempt)
    return f' <small class="jobnb-attempt">{record.attempt}/{most}</small>'


def header_cells() -> str:
    """The header's cells: the column names, in the rows' grid."""
    heads = "".join(_cell(column, text) for column, text, _ in COLUMNS)
    return f'<div class="{CELLS}">{heads}</div>'


class Header(w.HBox):
    """The column names above the rows, laid out as a row is."""

    def __init__(self, layouts: RowLayouts) -> None:
        self.cells = w.HTML(header_cells(), layout=layouts.cells)
        self.actions = w.HTML(
            f'<div class="{CELLS}" style="grid-template-columns:1fr">'
            '<span style="text-align:center">actions</span></div>',
            layout=layouts.actions,
        )
        self.cells.add_class(ROW_CELLS)
        self.actions.add_class(ACTIONS_HEAD)
        super().__init__([self.cells, self.actions], layout=layouts.row)
        self.add_class(HEADER)


class JobRow(w.HBox):
    """One row of the table: a job's cells and its actions (cancel while it is active,
    resubmit once it ended, details: open or close them under this row)."""

    def __init__(self, act: Act, layouts: RowLayouts) -> None:
        self.record: JobRecord | None = None
        self.summary = w.HTML(layout=layouts.cells, style=layouts.cells_style)
        self.summary.add_class(ROW_CELLS)
        self.cancel_button = self._button("cancel", "times", "cancel: stop the job", act, layouts)
        self.resubmit_button = self._button(
            "resubmit", "repeat", "resubmit: run it again as a new job", act, layouts
        )
        self.logs_button = self._button(
            "details", "chevron-down", "details: log, error, outputs", act, layouts
        )
        actions = w.HBox(
            [self.cancel_button, self.resubmit_button, self.logs_button], layout=layouts.actions
        )
        actions.add_class(ACTIONS)
        super().__init__([self.summary, actions], layout=layouts.row)
        self.add_class(ROW)

    def _button(
        self, action: str, icon: str, tooltip: str, act: Act, layouts: RowLayouts
    ) -> w.Button:
        button = w.Button(
            description=action,
            icon=icon,
            tooltip=tooltip,
            layout=layouts.button,
            style=layouts.button_style,
        )
        # (the record read at the click: the monitor may have given the row another job)
        button.on_click(lambda _: self.record is not None and act(action, self.record))
        return button

    def show(self, record: JobRecord, selected: bool) -> None:
        """Show ``record``; ``selected``: its details are open under this row."""
        self.record = record
        self.summary.value = cells(record)
        ended = record.status.is_done
        # an action that does not apply is disabled and drops its colour, so it looks it
        self.cancel_button.disabled = ended
        self.cancel_button.button_style = "" if ended else "warning"
        self.resubmit_button.disabled = not ended
        self.logs_button.description = "close" if selected else "details"
        self.logs_button.icon = "chevron-up" if selected else "chevron-down"
        self.logs_button.button_style = "info" if selected else ""
        if selected:
            self.add_class(ROW_SELECTED)
        else:
            self.remove_class(ROW_SELECTED)
