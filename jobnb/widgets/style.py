"""How the widgets look: the status colours, the badge, the banner and the text blocks.

Plain HTML strings and no ipywidgets, so the job widget and the dashboard share one
look without importing each other. Every text from a job is escaped here or by the
caller before it reaches the page.
"""

from __future__ import annotations

import html

from ..model import JobStatus

STATUS_COLOURS = {
    JobStatus.WAITING: "#adb5bd",  # (lighter than queued: not even in a queue yet)
    JobStatus.QUEUED: "#6c757d",
    JobStatus.RUNNING: "#0d6efd",
    JobStatus.FINISHED: "#198754",
    JobStatus.FAILED: "#dc3545",
    JobStatus.CANCELLED: "#fd7e14",
    JobStatus.LOST: "#6f42c1",
}

#: ipywidgets' own bar styles for a progress bar of an ended job (none while it runs)
BAR_STYLES = {
    JobStatus.FINISHED: "success",
    JobStatus.FAILED: "danger",
    JobStatus.LOST: "danger",
    JobStatus.CANCELLED: "warning",
}


def badge(status: JobStatus) -> str:
    """The status as a small coloured label; its text is ``>status<`` in the HTML."""
    return (
        f'<span style="background:{STATUS_COLOURS[status]};color:white;border-radius:4px;'
        f'padding:0 6px;font-size:90%">{status.value}</span>'
    )


def progress_bar(fraction: float, status: JobStatus) -> str:
    """A thin bar ``fraction`` full, in the status colour: for pages without widgets."""
    percent = f"{100 * max(0.0, min(1.0, fraction)):.0f}%"
    return (
        '<span style="display:inline-block;width:12em;height:0.7em;background:#e9ecef;'
        f'border-radius:3px;vertical-align:middle" title="{percent}">'
        f'<span style="display:block;width:{percent};height:100%;'
        f'background:{STATUS_COLOURS[status]};border-radius:3px"></span></span> {percent}'
    )


def hint(text: str) -> str:
    """A small grey line of help (``text`` is HTML: the caller escapes what it puts in)."""
    return f'<span style="color:#6c757d;font-size:85%">{text}</span>'


def banner(text: str) -> str:
    """An error line across the top of a view (``text`` is escaped)."""
    return (
        f'<div style="background:#f8d7da;color:#842029;padding:4px 8px;'
        f'border-radius:4px">{html.escape(text)}</div>'
    )


def pre(text: str, max_height: str | None = None) -> str:
    """``text`` escaped, as preformatted lines; scrolled beyond ``max_height``."""
    scroll = f";max-height:{max_height};overflow:auto" if max_height else ""
    return f"<pre style='margin:0{scroll}'>{html.escape(text)}</pre>"


def block(title: str, text: str) -> str:
    """A titled, scrolled block of ``text`` (escaped): a log, a traceback, a source."""
    return f"<div><i>{title}</i>{pre(text, '20em')}</div>"
