"""jobnb: a job manager for Jupyter notebooks.

``%load_ext jobnb`` and ``%%submit`` on a long cell, or ``jobnb.submit(fn, ...)``::

    import jobnb
    job = jobnb.submit(train, lr=0.1)
    job.status, job.progress, job.logs()
    job.result()
"""

from __future__ import annotations

from .api import configure, get, jobs, jobs_df, map, options, settings, submit
from .exceptions import (
    BackendUnavailable,
    ConfigError,
    JobCancelled,
    JobFailed,
    JobLost,
    JobnbError,
    JobNotFound,
    JobTimeout,
    PayloadError,
    ResultTimeout,
)
from .job import Job, JobStatus, Progress
from .runner import progress

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
    "PayloadError",
    "Progress",
    "ResultTimeout",
    "configure",
    "get",
    "jobs",
    "jobs_df",
    "map",
    "options",
    "progress",
    "settings",
    "submit",
]
