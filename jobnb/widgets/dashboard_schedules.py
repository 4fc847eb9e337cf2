"""The dashboard's schedules: a small table under the jobs (name, when, next run, last
run and its status, paused or not) and a chooser with pause and resume buttons, read
from the stores of the dashboard's queue backends at each refresh.

The table is one HTML block, and the chooser's names are set as options: a refresh
(on the monitor's thread) changes values and makes no widget. Hidden while there is
no schedule.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Sequence

import ipywidgets as w

from ..backends.base import Backend
from ..backends.records_backend import RecordsBackend
from ..model import JobStatus
from ..scheduling import Schedule, schedule_row, store_of
from .style import badge


def _time(moment: dt.datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def _status(text: str | None) -> str:
    if text is None:
        return ""
    try:
        return badge(JobStatus(text))
    except ValueError:  # "forgotten"
        return html.escape(text)


class SchedulesView(w.VBox):
    """The schedules of ``backends()`` (those with a store: huey, rq)."""

    def __init__(self, backends: Callable[[], Sequence[Backend]], say: Callable[[str], None]):
        self._backends = backends
        self._say = say  # the dashboard's banner
        self._by_name: dict[str, Backend] = {}
        self.table = w.HTML()
        self.chooser = w.Dropdown(description="schedule", style={"description_width": "initial"})
        self.pause_button = w.Button(description="pause", icon="pause")
        self.resume_button = w.Button(description="resume", icon="play")
        self.pause_button.on_click(lambda _: self._act("pause"))
        self.resume_button.on_click(lambda _: self._act("resume"))
        controls = w.HBox([self.chooser, self.pause_button, self.resume_button])
        super().__init__([self.table, controls], layout=w.Layout(display="none"))
        self.add_class("jobnb-schedules")

    def refresh(self) -> None:
        """Read the schedules and show them (raises what the stores raise)."""
        rows, by_name = [], {}
        for backend in self._backends():
            if not isinstance(backend, RecordsBackend):
                continue
            for rec in store_of(backend).all():
                rows.append(schedule_row(backend, rec))
                by_name[rec.name] = backend
        self._by_name = by_name
        self.layout.display = None if rows else "none"
        self.table.value = self.html(rows)
        names = tuple(row["name"] for row in rows)
        if tuple(self.chooser.options) != names:
            chosen = self.chooser.value
            self.chooser.options = names
            # (a dropdown given options chooses none: the buttons would act on nothing)
            if chosen in names:
                self.chooser.value = chosen
            elif names:
                self.chooser.value = names[0]

    @staticmethod
    def html(rows: list[dict]) -> str:
        """The table, every text from a store escaped."""
        head = "".join(
            f"<th style='text-align:left;padding:0 8px'>{c}</th>"
            for c in ("schedule", "when", "next run", "last run", "last status", "runs")
        )
        body = "".join(
            "<tr>"
            + "".join(
                f"<td style='padding:0 8px'>{cell}</td>"
                for cell in (
                    html.escape(row["name"]),
                    html.escape(row["when"]),
                    "<i>paused</i>" if row["paused"] else _time(row["next_run"]),
                    _time(row["last_run"]),
                    _status(row["last_status"]),
                    html.escape(row["description"]),
                )
            )
            + "</tr>"
            for row in rows
        )
        return f"<b>schedules</b><table><tr>{head}</tr>{body}</table>"

    def _act(self, action: str) -> None:
        name = self.chooser.value
        backend = self._by_name.get(name)
        if backend is None:
            self._say(f"choose a schedule to {action} (it may have been removed meanwhile)")
            return
        try:
            handle = Schedule(backend, name)
            handle.pause() if action == "pause" else handle.resume()
            self.refresh()
        except Exception as exc:  # noqa: BLE001 - shown, not raised into the frontend
            self._say(f"{action} of schedule {name!r} failed: {exc}")
