"""How a Job shows itself in IPython: as its live widget in a kernel with a frontend,
as its one-line repr in a terminal.

In a kernel a Job is displayed (as a cell's value, by ``display(job)`` or ``%job``)
under a display id of its own, as a bundle of the live widget, its last state as plain
HTML (for a notebook read without a kernel: GitHub, nbviewer, a reopened notebook) and
its repr. When the job ends, that display is updated once to the final state, so a
saved notebook keeps how the job ended, not how it began: as plain HTML only, and the
widget is closed. Nothing changes any more, and a widget would outlive its kernel (a
restarted kernel, a reopened notebook show "model not found" for a widget whose model
is gone). A job that has ended already is displayed as that HTML at once.

In a kernel with a page, registering the display also makes the notebook's notifier
(notifier.py) the one that tells of the jobs that asked to be notified (notify.py):
its desktop notification does not go through the job's widget, so the widget's close
at the end loses nothing.

Light on purpose: ``import jobnb`` registers the display through this module when it
runs in a kernel, without importing the magics or ipywidgets; the widget is built (and
ipywidgets imported) only when a Job is first displayed.
"""

from __future__ import annotations

from typing import Any

from .. import notify
from ..job import Job


def has_frontend(shell: Any) -> bool:
    """A kernel, whose frontend can show widgets (not a terminal IPython)."""
    return getattr(shell, "kernel", None) is not None


def show_job(job: Job) -> None:
    """Display ``job`` as its live widget, and once it has ended as plain HTML (the
    widget then closed); a job ended already is shown as plain HTML at once."""
    from IPython import get_ipython  # lazy: only a display in a kernel needs IPython
    from IPython.display import display  # (lazy, as above)

    # lazy: ipywidgets is heavy, and only a display needs it
    from .job import job_widget, saved_bundle, take_snapshot

    snapshot = take_snapshot(job)
    if snapshot.record.status.is_done:
        display(saved_bundle(job, snapshot), raw=True)
        return
    widget = job_widget(job, snapshot)
    publisher = get_ipython().display_pub
    shown_by = dict(publisher.parent_header)  # the request of the cell that shows it
    handle = display(widget, display_id=True)
    if handle is not None:
        widget.at_end(lambda: _show_final(publisher, handle, widget, shown_by))


def _show_final(publisher: Any, handle: Any, widget: Any, shown_by: dict) -> None:
    """Replace the display's bundle with the ended job's plain HTML, and close the widget
    (on the monitor's thread, or on the kernel's when Cancel was clicked)."""
    from .job import saved_bundle  # (loaded already: the widget is made there)

    bundle = saved_bundle(widget.job, widget.snapshot)
    now = dict(publisher.parent_header)
    try:
        # JupyterLab and Notebook 7 hand an output message to the cell whose request it
        # answers: sent as an answer to the cell that showed the job, it reaches it
        # whatever cell runs now
        set_parent = getattr(publisher, "set_thread_parent", None)
        if shown_by and set_parent is not None:
            token = set_parent(shown_by)
            try:
                handle.update(bundle, raw=True)
            finally:
                publisher.reset_thread_parent(token)
        # nbclient (nbconvert --execute, papermill) only reads the answers to the cell it
        # runs now, and finds the display by its id in any cell
        if now.get("msg_id") != shown_by.get("msg_id") or set_parent is None:
            handle.update(bundle, raw=True)
    except Exception:  # noqa: BLE001 - the live widget already shows the end: keep it
        return
    widget.close_all()  # shown nowhere now: free it in the kernel and in the page


def register_display(shell: Any) -> None:
    """Show Jobs as live widgets in this shell, when it is a kernel with a frontend
    (a terminal IPython keeps the one-line repr)."""
    if has_frontend(shell):
        # the display formatter that shows an object itself (so under a display id) and
        # leaves the cell no execute_result: a cell's result cannot be updated later
        shell.display_formatter.ipython_display_formatter.for_type(Job, show_job)
        # a page can show desktop notifications: it tells of the jobs that ask for one
        notify.set_teller(_notify_in_page)


def _notify_in_page(job: Job) -> None:
    """Hand ``job`` to the page's notifier (anywidget: imported with the first job
    that asks for a notification)."""
    from .notifier import notify_in_page  # lazy: anywidget, only once a job asks

    notify_in_page(job)
