"""What the dashboard's details panel says of the chosen job: where and when it ran,
what it runs, its outputs or result, the tail of its log, and its error.

Plain HTML from what was read (every text from the job escaped); the dashboard puts it
right under the chosen row.
"""

from __future__ import annotations

import html

from ..model import JobRecord, JobStatus
from .attempts import attempt_html, earlier_attempts_html
from .dashboard_rows import clock, span
from .dashboard_style import DETAILS_LOG_LINES
from .style import badge, block


def log_tail(logs: str, lines: int = DETAILS_LOG_LINES) -> str:
    """The last ``lines`` lines of ``logs`` (the end of a log, read from its end: one
    line more than shown says earlier lines are there), saying when some came before."""
    every = logs.splitlines()
    if len(every) <= lines:
        return logs.rstrip("\n")
    return "... (earlier lines: job.logs() has them)\n" + "\n".join(every[-lines:])


def details_html(record: JobRecord, logs: str, ending: str = "") -> str:
    """The panel's HTML: ``logs`` is the end of the job's log (``Job.log_tail``, one line
    more than ``DETAILS_LOG_LINES``), ``ending`` the one-line summary of a finished
    job's value."""
    where = f"on {html.escape(record.backend)}" + (
        f", worker {html.escape(record.worker)}" if record.worker else ""
    )
    times = [f"submitted {clock(record.submitted)}"]
    if record.started:
        times.append(f"started {clock(record.started)}")
    if record.finished:
        times.append(f"ended {clock(record.finished)}")
    if record.duration is not None:
        times.append(("took " if record.status.is_done else "running ") + span(record.duration))
    parts = [
        f"<div><b>{html.escape(record.name)}</b> <code>{html.escape(record.id)}</code> "
        f"{badge(record.status)} {where} &middot; {', '.join(times)}</div>"
    ]
    if record.status is JobStatus.CANCELLED and record.cancelled_by:
        parts.append(f"<div>cancelled by {html.escape(record.cancelled_by)}</div>")
    if record.attempt_text:
        parts.append(f"<div>{attempt_html(record)}</div>{earlier_attempts_html(record)}")
    if record.progress.message:
        parts.append(f"<div>progress: {html.escape(record.progress.message)}</div>")
    if record.output is not None:
        parts.append(f"<div>output notebook <code>{html.escape(record.output)}</code></div>")
    if ending:
        parts.append(f"<div>{html.escape(ending)}</div>")
    parts.append(block("runs", record.description))
    tail = log_tail(logs)
    if tail or not record.status.is_done:
        parts.append(block("log", tail or "(nothing yet)"))
    if record.error:
        title = "traceback" if record.status is JobStatus.FAILED else "how it ended"
        parts.append(block(title, record.error))
    return "".join(parts)
