"""How a Job shows itself in IPython: as its live widget in a kernel with a frontend,
as its one-line repr in a terminal.

Light on purpose: ``import jobnb`` registers the display through this module when it
runs in a kernel, without importing the magics or ipywidgets; the widget is built (and
ipywidgets imported) only when a Job is first displayed.
"""

from __future__ import annotations

from typing import Any

from ..job import Job


def has_frontend(shell: Any) -> bool:
    """A kernel, whose frontend can show widgets (not a terminal IPython)."""
    return getattr(shell, "kernel", None) is not None


def job_bundle(job: Job) -> dict[str, Any]:
    """A Job displays as its live widget, with its one-line repr as the plain text."""
    from .job import job_widget  # lazy: ipywidgets is heavy, and only a display needs it

    bundle = job_widget(job)._repr_mimebundle_()
    bundle["text/plain"] = repr(job)
    return bundle


def register_display(shell: Any) -> None:
    """Show Jobs as live widgets in this shell, when it is a kernel with a frontend
    (a terminal IPython keeps the one-line repr)."""
    if has_frontend(shell):
        shell.display_formatter.mimebundle_formatter.for_type(Job, job_bundle)
