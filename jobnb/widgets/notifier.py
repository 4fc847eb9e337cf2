"""Desktop notifications of ended jobs, through the browser's Notifications API.

One ``Notifier`` per kernel: a small anywidget whose front-end module
(``notifier.js``) lives as long as the kernel's page does. It is made on the kernel's
thread when the first job that asked to be notified is submitted (``notify.py`` hands
the job here), and never closed, so it outlives every job widget: a job's widget is
replaced by plain HTML when the job ends (``display.py``), and the notification does
not go through it.

- The end is found by ``Job.add_done_callback`` (the kernel's own watch of the
  records, the same on every backend), whose thread sends the page one message
  (``"job ended"``: title, body, tag); the page's module shows it as a notification
  (clicking it focuses the page) when the browser allows them.
- The page tells the kernel what the browser allows (``permission``: ``default``,
  ``granted``, ``denied``, ``unsupported``; ``unknown`` until a page says), and each
  view of the notifier (a line in a ``--notify`` job's widget) shows the button that
  asks for it (a browser asks only on a click), or a note saying that none will come.
- Where none could be shown, the ended job's saved view says so (``end_note``): the
  note stays in the notebook after the widget is gone.
"""

from __future__ import annotations

import threading
from pathlib import Path

import anywidget
import traitlets

from ..job import Job
from ..model import JobRecord, JobStatus
from ..payload import last_line

#: what an ended job's saved view says when no notification could be shown, by what
#: the page's browser allows (nothing when a notification was shown, or no page said)
END_NOTES = {
    "default": "Not notified: desktop notifications were never allowed in this browser "
    "(the button under a --notify job's widget asks).",
    "denied": "Not notified: this browser blocks desktop notifications for this page "
    "(allow them in its settings for this site).",
    "unsupported": "Not notified: this browser cannot show desktop notifications for "
    "this page (they need https or localhost).",
}


class Notifier(anywidget.AnyWidget):
    """Shows a desktop notification in the notebook's page when a watched job ends."""

    _esm = Path(__file__).with_name("notifier.js")
    #: what the page's browser allows; set by the page (``unknown`` until it says)
    permission = traitlets.Unicode("unknown").tag(sync=True)

    def watch(self, job: Job) -> None:
        """Notify the page when ``job`` ends (at once if it has)."""
        job.add_done_callback(self.tell)

    def tell(self, job: Job) -> None:
        """Send the page the notification of ``job``'s end (on the callbacks' thread)."""
        title, body = notification_of(job.record())
        self.send({"kind": "job ended", "title": title, "body": body, "tag": f"jobnb-{job.id}"})


def notification_of(record: JobRecord) -> tuple[str, str]:
    """The title and body of a desktop notification of the end of ``record``'s job:
    ``("train finished", "in 3m 12s (job 0a1b2c3d4e5f)")``."""
    status = record.status
    title = f"{record.name} {status.value}"
    if record.started is None:
        when = "before it started"
    else:
        took = duration_text(record.duration or 0.0)
        when = f"in {took}" if status is JobStatus.FINISHED else f"after {took}"
    why = f": {last_line(record.error)}" if record.error and status is JobStatus.FAILED else ""
    return title, f"{when}{why} (job {record.id})"


def duration_text(seconds: float) -> str:
    """``seconds`` as a person says it: 0.4s, 42s, 3m 12s, 2h 05m."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def end_note(permission: str) -> str:
    """What an ended job's saved view says of its notification (plain text; empty when
    one was shown, or when no page ever said what its browser allows)."""
    return END_NOTES.get(permission, "")


_notifier: Notifier | None = None
_notifier_lock = threading.Lock()


def notifier() -> Notifier:
    """The kernel's one notifier (made on the first call: call it on the kernel's
    thread, as every widget is made; see monitor.py)."""
    global _notifier
    with _notifier_lock:
        if _notifier is None:
            _notifier = Notifier()
        return _notifier


def permission_seen() -> str:
    """What the page's browser allows, as the page last said (``unknown`` before the
    notifier was made, or before a page said). Never makes the notifier: the monitor's
    thread asks this."""
    shown = _notifier
    return "unknown" if shown is None else shown.permission


def notify_in_page(job: Job) -> None:
    """``notify.py``'s teller in a kernel with a page: the notifier watches ``job``."""
    notifier().watch(job)
