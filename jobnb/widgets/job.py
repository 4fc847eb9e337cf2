"""The live widget shown under every submitted job.

``JobWidget.show(snapshot)`` sets everything from one snapshot of the job, so its
state can be checked without a kernel; the monitor (monitor.py) feeds it, as one of
its views, while the job is active. Every text that comes from a job is HTML-escaped
before it is shown.
"""

from __future__ import annotations

import dataclasses
import html
import reprlib
import time
from dataclasses import dataclass

import ipywidgets as w

from ..exceptions import SignatureMismatch
from ..job import Job
from ..model import JobRecord, JobStatus
from ..payload import last_line
from .monitor import monitor
from .style import BAR_STYLES, badge, pre

LOG_LINES = 12  # the tail of the log shown under the progress bar

_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80


@dataclass
class Snapshot:
    """What a widget shows of a job at one moment (read by the monitor in one go)."""

    record: JobRecord
    logs: str
    ending: str = ""  # once ended: the outputs, the result's repr, or nothing


def take_snapshot(job: Job, record: JobRecord | None = None, logs: str | None = None) -> Snapshot:
    record = record or job.record()
    logs = job.logs() if logs is None else logs
    if not record.status.is_done:
        return Snapshot(record, logs)
    try:
        ending = ending_of(job, record)
    except SignatureMismatch as exc:
        # what the store holds is not what the job's worker wrote (never unpickled):
        # the job shows failed, saying why, whatever its record claims
        error = f"SignatureMismatch: {exc}\n"
        return Snapshot(dataclasses.replace(record, status=JobStatus.FAILED, error=error), logs)
    return Snapshot(record, logs, ending)


def ending_of(job: Job, record: JobRecord) -> str:
    """A one-line summary of a finished job's value: its outputs, or its result."""
    if record.status is not JobStatus.FINISHED:
        return ""
    try:
        value = job.result(timeout=0)
    except SignatureMismatch:
        raise  # the job is shown failed (take_snapshot)
    except Exception as exc:  # noqa: BLE001 - a summary must not break the widget
        return f"result not readable here: {type(exc).__name__}: {exc}"
    if record.kind == "cell" and isinstance(value, dict):
        names = ", ".join(value) or "nothing"
        return f"outputs: {names} (pulled into the notebook before the next cell runs)"
    if record.kind == "notebook" and isinstance(value, dict):
        names = ", ".join(value) or "nothing (jobnb.record(name, value) in the notebook)"
        return f"recorded: {names} (job.result())"
    return f"result: {_short.repr(value)}"


def _elapsed(record: JobRecord, now: float | None = None) -> str:
    if record.started is None:
        return f"queued {(now or time.time()) - record.submitted:.0f}s"
    seconds = record.duration or 0.0
    label = "took" if record.status.is_done else "running"
    return f"{label} {seconds:.1f}s" if seconds < 120 else f"{label} {seconds / 60:.1f} min"


class JobWidget(w.VBox):
    """Name, backend, status badge, elapsed time, (a notebook job's input and output
    notebook,) progress, log tail, cancel; at the end the duration and the outputs,
    records or result, or the traceback (collapsed)."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.header = w.HTML()
        self.bar = w.FloatProgress(min=0.0, max=1.0, value=0.0, layout=w.Layout(width="40%"))
        self.message = w.HTML()
        self.notebook_view = w.HTML()  # notebook jobs: where the executed notebook goes
        self.log_view = w.HTML()
        self.ending_view = w.HTML()
        self.traceback_view = w.HTML()
        self.error_view = w.Accordion(children=[self.traceback_view], selected_index=None)
        self.error_view.set_title(0, "traceback")
        self.cancel_button = w.Button(
            description="Cancel", button_style="warning", icon="stop", layout=w.Layout(width="auto")
        )
        self.cancel_button.on_click(self._cancel)
        self.status: JobStatus | None = None
        super().__init__()
        self.add_class("jobnb-job")

    def show(self, snapshot: Snapshot) -> None:
        """Set every part from ``snapshot``."""
        rec = snapshot.record
        self.status = rec.status
        self.header.value = (
            f"<b>{html.escape(rec.name)}</b> <code>{html.escape(rec.id)}</code> "
            f"on {html.escape(rec.backend)} {badge(rec.status)} {_elapsed(rec)}"
        )
        fraction = rec.progress.fraction
        self.bar.value = fraction if fraction is not None else 0.0
        self.bar.bar_style = BAR_STYLES.get(rec.status, "")
        self.message.value = html.escape(rec.progress.message or "")
        tail = snapshot.logs.splitlines()[-LOG_LINES:]
        self.log_view.value = pre("\n".join(tail), "16em") if tail else ""
        self.ending_view.value = html.escape(snapshot.ending)
        self.traceback_view.value = pre(rec.error) if rec.error else ""
        children: list[w.Widget] = [self.header]
        output = rec.output
        if output is not None:
            source = rec.description.removeprefix("notebook ")
            self.notebook_view.value = (
                f"notebook <code>{html.escape(source)}</code> &rarr; output "
                f"<code>{html.escape(output)}</code>"
            )
            children.append(self.notebook_view)
        if rec.progress.total or rec.progress.message:
            children.append(w.HBox([self.bar, self.message]))
        if tail:
            children.append(self.log_view)
        if not rec.status.is_done:
            children.append(self.cancel_button)
        if snapshot.ending:
            children.append(self.ending_view)
        if rec.error:
            self.error_view.set_title(0, f"traceback: {last_line(rec.error)}")
            children.append(self.error_view)
        if tuple(children) != self.children:
            self.children = children

    # --- what the monitor asks (monitor.View) --------------------------------------------
    @property
    def ended(self) -> bool:
        return self.status is not None and self.status.is_done

    def watched(self) -> list[Job]:
        return [] if self.ended else [self.job]

    def update(self, polled: dict[Job, tuple[JobRecord, str]]) -> None:
        if self.job in polled:
            record, logs = polled[self.job]
            self.show(take_snapshot(self.job, record, logs))

    def _cancel(self, _button: w.Button) -> None:
        self.cancel_button.disabled = True
        self.job.cancel()
        self.show(take_snapshot(self.job))


def job_widget(job: Job) -> JobWidget:
    """A live widget for ``job``: filled now, then kept current by the monitor."""
    widget = JobWidget(job)
    widget.show(take_snapshot(job))
    if not widget.ended:
        monitor().watch(widget)
    return widget
