"""jobnb: a job manager for Jupyter notebooks.

``%load_ext jobnb`` and ``%%submit`` on a long cell, or ``jobnb.submit(fn, ...)``::

    import jobnb
    job = jobnb.submit(train, lr=0.1)
    job.status, job.progress, job.logs()
    job.result()
    job.forget()  # or jobnb.forget(job, "a job id", "a job name"): gone, with its result
    jobnb.prune(older_than=datetime.timedelta(days=30))  # every job ended before then

    job = jobnb.submit_notebook("analysis.ipynb", parameters={"lr": 0.1})
"""

from __future__ import annotations

import sys

from .api import (
    configure,
    forget,
    get,
    job_history,
    jobs,
    jobs_df,
    map,
    options,
    prune,
    settings,
    submit,
    submit_notebook,
)
from .exceptions import (
    BackendUnavailable,
    ConfigError,
    JobCancelled,
    JobFailed,
    JobLost,
    JobnbError,
    JobnbWarning,
    JobNotFound,
    JobTimeout,
    NotCallable,
    NotebookCellError,
    NotebookError,
    PayloadError,
    ResultTimeout,
    StoreUnavailable,
    UnsafeHome,
)
from .job import Job
from .model import JobStatus, Progress
from .widgets.display import register_display
from .worker.reporting import progress, record

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailable",
    "ConfigError",
    "Job",
    "JobCancelled",
    "JobFailed",
    "JobLost",
    "JobNotFound",
    "JobStatus",
    "JobTimeout",
    "JobnbError",
    "JobnbWarning",
    "NotCallable",
    "NotebookCellError",
    "NotebookError",
    "PayloadError",
    "Progress",
    "ResultTimeout",
    "Schedule",
    "StoreUnavailable",
    "UnsafeHome",
    "configure",
    "dashboard",
    "forget",
    "get",
    "job_history",
    "jobs",
    "jobs_df",
    "map",
    "options",
    "progress",
    "prune",
    "record",
    "schedule",
    "schedules",
    "schedules_df",
    "settings",
    "submit",
    "submit_notebook",
]


def dashboard(page_size: int = 20, interval: float = 1.0):
    """A live ipywidgets table of every job: counts, filter, pages, actions, details."""
    from .widgets.dashboard import dashboard as make  # (ipywidgets: loaded when first shown)

    return make(page_size=page_size, interval=interval)


#: what jobnb.scheduling gives, imported when first asked for: its stores' modules load
#: redis and huey, which ``import jobnb`` leaves alone
_SCHEDULING = ("Schedule", "schedule", "schedules", "schedules_df")


def __getattr__(name: str):
    if name in _SCHEDULING:
        from . import scheduling  # (the schedule stores: loaded when first used)

        return getattr(scheduling, name)
    raise AttributeError(f"module 'jobnb' has no attribute {name!r}")


def load_ipython_extension(shell):  # noqa: ANN001 - IPython's hook
    """``%load_ext jobnb``: register the magics (imported only now: IPython is heavy)."""
    from .magics import load_ipython_extension as load  # (IPython's magics: on %load_ext)

    load(shell)


def unload_ipython_extension(shell):  # noqa: ANN001
    from .magics import unload_ipython_extension as unload  # (as load_ipython_extension)

    unload(shell)


def _show_jobs_as_widgets() -> None:
    """In a running kernel, Jobs display as live widgets even without %load_ext (the
    registration lives with the widgets, so the magics stay unimported until then)."""
    if "IPython" not in sys.modules:  # never import IPython just to find out
        return
    shell = sys.modules["IPython"].get_ipython()
    if shell is not None:
        register_display(shell)


_show_jobs_as_widgets()
