"""The live widget shown under every submitted job, and the plain HTML that stands in
for it where no kernel is (a saved notebook on GitHub or nbviewer, a reopened one).

``JobWidget.show(snapshot)`` sets everything from one snapshot of the job, so its
state can be checked without a kernel; the monitor (monitor.py) feeds it, as one of
its views, while the job is active. Every part is made once, in ``__init__``: a refresh
only sets values and picks which parts show, since a widget made per refresh is never
freed, and one made on the monitor's thread breaks the answer ipywidgets gives a
reloading page (see monitor.py). Every text that comes from a job is HTML-escaped
before it is shown.
"""

from __future__ import annotations

import dataclasses
import html
import reprlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as w

from .. import notify
from ..exceptions import SignatureMismatch
from ..job import Job
from ..model import JobRecord, JobStatus
from ..payload import last_line
from .attempts import attempt_html, earlier_attempts_html
from .monitor import LOG_LINES, monitor  # (the tail of the log shown under the progress bar)
from .style import BAR_STYLES, badge, hint, pre, progress_bar

_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80


@dataclass
class Snapshot:
    """What a widget shows of a job at one moment (read by the monitor in one go)."""

    record: JobRecord
    logs: str  # the end of the log: its last LOG_LINES lines (Job.log_tail)
    ending: str = ""  # once ended: the outputs, the result's repr, or nothing
    #: once ended, for a job that asked to be notified: why no notification was shown
    notify_note: str = ""


def take_snapshot(job: Job, record: JobRecord | None = None, logs: str | None = None) -> Snapshot:
    record = record or job.record()
    logs = job.log_tail(LOG_LINES) if logs is None else logs
    if not record.status.is_done:
        return Snapshot(record, logs)
    try:
        ending = ending_of(job, record)
    except SignatureMismatch as exc:
        # what the store holds is not what the job's worker wrote (never unpickled):
        # the job shows failed, saying why, whatever its record claims
        error = f"SignatureMismatch: {exc}\n"
        failed = dataclasses.replace(record, status=JobStatus.FAILED, error=error)
        return Snapshot(failed, logs, notify_note=_notify_note(job))
    return Snapshot(record, logs, ending, _notify_note(job))


def _notify_note(job: Job) -> str:
    """Why an ended job that asked for a desktop notification got none, if it did not."""
    if not notify.wished(job):
        return ""
    from .notifier import end_note, permission_seen  # lazy: anywidget, for --notify jobs

    return end_note(permission_seen())


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


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _clock(timestamp: float) -> str:
    """The local time of ``timestamp``; with its date when that is not today (a saved
    notebook is read later)."""
    moment = time.localtime(timestamp)
    same_day = time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d")
    return time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M", moment)


def _elapsed(record: JobRecord, now: float | None = None) -> str:
    """What goes beside the status badge: how long, never the status again."""
    status = record.status
    if status is JobStatus.CANCELLED:
        # when, whether it had started, and who asked (stores older than that know not)
        when = f"at {_clock(record.finished)}, " if record.finished else ""
        who = f", by {html.escape(record.cancelled_by)}" if record.cancelled_by else ""
        if record.started is None:
            return f"{when}before it started{who}{_dependency_reason(record)}"
        return f"{when}while running (after {_seconds(record.duration or 0.0)}){who}"
    if record.started is None:
        if status.is_done:  # ended without starting (its payload was refused)
            return f"at {_clock(record.finished)}" if record.finished else ""
        waited = f"{(now or time.time()) - record.submitted:.0f}s"
        if status is JobStatus.WAITING:  # (what for: the ids of its dependencies)
            shown = ", ".join(record.after[:3])
            more = f" and {len(record.after) - 3} more" if len(record.after) > 3 else ""
            return f"for {html.escape(shown)}{more} ({waited})"
        return f"waiting {waited}"
    seconds = _seconds(record.duration or 0.0)
    if status is JobStatus.RUNNING:
        return f"for {seconds}"
    return f"took {seconds}" if status is JobStatus.FINISHED else f"after {seconds}"


def _dependency_reason(record: JobRecord) -> str:
    """Why a waiting job was cancelled by a store, when a job it waited for did not
    finish (``: job 0a1b (train) it waits for failed``); "" otherwise."""
    line = (record.error or "").strip().splitlines()[-1:] or [""]
    reason = line[0].removeprefix("JobCancelled: cancelled: ")
    return f": {html.escape(reason)}" if record.after and reason != line[0] else ""


def _header(record: JobRecord) -> str:
    return (
        f"<b>{html.escape(record.name)}</b> <code>{html.escape(record.id)}</code> "
        f"on {html.escape(record.backend)} {badge(record.status)} {_elapsed(record)}"
        + (f" &middot; {attempt_html(record)}" if record.attempt_text else "")
    )


def _notebook_line(record: JobRecord) -> str:
    source = record.description.removeprefix("notebook ")
    return (
        f"notebook <code>{html.escape(source)}</code> &rarr; output "
        f"<code>{html.escape(record.output or '')}</code>"
    )


def _shows_traceback(record: JobRecord) -> bool:
    """A cancelled job's error is only "JobCancelled": its status already says it."""
    return bool(record.error) and record.status is not JobStatus.CANCELLED


def bring_back(record: JobRecord) -> str:
    """How to get a live view of the job in a running kernel (HTML)."""
    job_id = html.escape(record.id)
    return f"<code>jobnb.get(&quot;{job_id}&quot;)</code> or <code>%job {job_id}</code>"


def saved_view(snapshot: Snapshot, now: float | None = None) -> str:
    """The job as self-contained HTML (inline styles, no script): what a saved notebook
    shows where the widget cannot live. Its last known state, and how to get a live one."""
    rec = snapshot.record
    parts = [f"<div>{_header(rec)}</div>"]
    if rec.output is not None:
        parts.append(f"<div>{_notebook_line(rec)}</div>")
    fraction = rec.progress.fraction
    if rec.progress.total or rec.progress.message:
        bar = progress_bar(fraction, rec.status) if fraction is not None else ""
        parts.append(f"<div>{bar} {html.escape(rec.progress.message or '')}</div>")
    if rec.attempts:
        parts.append(earlier_attempts_html(rec))
    tail = snapshot.logs.splitlines()[-LOG_LINES:]
    if tail:
        parts.append(pre("\n".join(tail), "16em"))
    if snapshot.ending:
        parts.append(f"<div>{html.escape(snapshot.ending)}</div>")
    if snapshot.notify_note:
        parts.append(_note(snapshot.notify_note))
    if _shows_traceback(rec):
        parts.append(
            f"<details><summary>traceback: {html.escape(last_line(rec.error))}</summary>"
            f"{pre(rec.error or '', '20em')}</details>"
        )
    if rec.status.is_done:
        said = f"its final state; {bring_back(rec)} gets the job"
    else:
        taken = _clock(now or time.time())
        said = (
            f"saved view, its state at {taken}, not live: "
            f"in a kernel, {bring_back(rec)} shows it live"
        )
    parts.append(f"<div>{hint(said)}</div>")
    return (
        '<div class="jobnb-job-saved" style="font-family:sans-serif;font-size:13px;'
        'border:1px solid #dee2e6;border-radius:6px;padding:6px 10px;max-width:60em">'
        + "".join(parts)
        + "</div>"
    )


def _note(text: str) -> str:
    """A note that stands out (``text`` is escaped): why no notification came."""
    return (
        '<div class="jobnb-notify-note" style="background:#fff3cd;color:#664d03;'
        f'padding:2px 6px;border-radius:4px;font-size:85%">{html.escape(text)}</div>'
    )


def saved_bundle(job: Job, snapshot: Snapshot) -> dict[str, str]:
    """What an ended job is displayed as: its final state as plain HTML, no widget. Nothing
    in it will change, and a widget would outlive its kernel: a notebook reopened (or a
    kernel restarted) would show "model not found" where the job was."""
    return {"text/html": saved_view(snapshot), "text/plain": repr(job)}


class JobWidget(w.VBox):
    """Name, backend, status badge, elapsed time, (a notebook job's input and output
    notebook,) progress, log tail, a small Cancel; at the end the duration and the
    outputs, records or result, or the traceback (collapsed). Its mime bundle carries
    ``saved_view`` as text/html beside the widget."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.header = w.HTML()
        self.bar = w.FloatProgress(min=0.0, max=1.0, value=0.0, layout=w.Layout(width="40%"))
        self.message = w.HTML()
        self.progress_row = w.HBox([self.bar, self.message])
        self.notebook_view = w.HTML()  # notebook jobs: where the executed notebook goes
        self.attempts_view = w.HTML()  # a job with retries: its earlier attempts
        self.log_view = w.HTML()
        self.ending_view = w.HTML()
        self.traceback_view = w.HTML()
        self.error_view = w.Accordion(children=[self.traceback_view], selected_index=None)
        self.error_view.set_title(0, "traceback")
        self.cancel_button = w.Button(
            description="Cancel",
            icon="stop",
            tooltip="stop this job (a queued one never runs)",
            layout=w.Layout(width="auto"),
        )
        self.cancel_button.on_click(self._cancel)
        # a widget saved in a page outlives its kernel: say how to get a live one back
        self.restart_hint = w.HTML()
        self.controls = w.HBox(
            [self.cancel_button, self.restart_hint], layout=w.Layout(align_items="center")
        )
        # a job that asked to be notified: the kernel's notifier, shown as the line that
        # asks the browser's permission or says none will come (never closed with this
        # widget: it outlives every job's)
        self.notify_line: w.Widget | None = None
        if notify.wished(job):
            from .notifier import notifier  # lazy: anywidget, for --notify jobs only

            self.notify_line = notifier()
        self.notify_view = w.HTML()  # once ended: why no notification came, if none did
        self.status: JobStatus | None = None
        self.snapshot: Snapshot | None = None
        self._showing = threading.RLock()  # the monitor's thread and a Cancel click
        self._at_end: list[Callable[[], None]] = []
        super().__init__()
        self.add_class("jobnb-job")

    def show(self, snapshot: Snapshot) -> None:
        """Set every part from ``snapshot``."""
        with self._showing:
            just_ended = self._show(snapshot)
        for callback in just_ended:
            callback()

    def _show(self, snapshot: Snapshot) -> list[Callable[[], None]]:
        rec = snapshot.record
        self.snapshot = snapshot
        self.status = rec.status
        self.header.value = _header(rec)
        fraction = rec.progress.fraction
        self.bar.value = fraction if fraction is not None else 0.0
        self.bar.bar_style = BAR_STYLES.get(rec.status, "")
        self.message.value = html.escape(rec.progress.message or "")
        tail = snapshot.logs.splitlines()[-LOG_LINES:]
        self.log_view.value = pre("\n".join(tail), "16em") if tail else ""
        self.ending_view.value = html.escape(snapshot.ending)
        self.traceback_view.value = pre(rec.error) if _shows_traceback(rec) else ""
        children: list[w.Widget] = [self.header]
        if rec.output is not None:
            self.notebook_view.value = _notebook_line(rec)
            children.append(self.notebook_view)
        if rec.attempts:
            self.attempts_view.value = earlier_attempts_html(rec)
            children.append(self.attempts_view)
        if rec.progress.total or rec.progress.message:
            children.append(self.progress_row)
        if tail:
            children.append(self.log_view)
        if not rec.status.is_done:
            self.restart_hint.value = hint(
                f"live while this kernel runs; after a restart, {bring_back(rec)} shows it again"
            )
            children.append(self.controls)
            if self.notify_line is not None:
                children.append(self.notify_line)
        if snapshot.ending:
            children.append(self.ending_view)
        if snapshot.notify_note:
            self.notify_view.value = _note(snapshot.notify_note)
            children.append(self.notify_view)
        if _shows_traceback(rec):
            title = f"traceback: {last_line(rec.error)}"
            if self.error_view.get_title(0) != title:
                self.error_view.set_title(0, title)
            children.append(self.error_view)
        if tuple(children) != self.children:
            self.children = children
        if not rec.status.is_done:
            return []
        just_ended, self._at_end = self._at_end, []
        return just_ended

    def at_end(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once, when the job is first shown ended (now, if it is)."""
        with self._showing:
            if not self.ended:
                self._at_end.append(callback)
                return
        callback()

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        """The widget, with its last state as plain HTML for where it cannot live."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if self.snapshot is not None:
            bundle["text/html"] = saved_view(self.snapshot)
            bundle["text/plain"] = repr(self.job)
        return bundle

    def close_all(self) -> None:
        """Close this widget and every part of it (their layouts and styles too), in the
        kernel and in the page: once its display shows the ended job as plain HTML, none
        of them is shown anywhere."""
        parts = [
            self.header,
            self.bar,
            self.message,
            self.progress_row,
            self.notebook_view,
            self.attempts_view,
            self.log_view,
            self.ending_view,
            self.traceback_view,
            self.error_view,
            self.cancel_button,
            self.restart_hint,
            self.controls,
            self.notify_view,
            self,
        ]
        for part in parts:
            for extra in (getattr(part, "layout", None), getattr(part, "style", None)):
                if isinstance(extra, w.Widget):
                    extra.close()
            part.close()

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
        self.job.cancel(via="the job widget")
        self.show(take_snapshot(self.job))


def job_widget(job: Job, snapshot: Snapshot | None = None) -> JobWidget:
    """A live widget for ``job``: filled now (from ``snapshot`` if given), then kept
    current by the monitor."""
    widget = JobWidget(job)
    widget.show(snapshot or take_snapshot(job))
    if not widget.ended:
        monitor().watch(widget)
    return widget
