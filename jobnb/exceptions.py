"""Every error jobnb raises, under one root.

::

    JobnbError
    ├── ConfigError              a setting is wrong (unknown backend, bad value)
    ├── PayloadError             something cannot travel to a worker (names it)
    ├── BackendUnavailable       the queue backend cannot be reached
    ├── JobNotFound              no job with that id or name
    ├── JobFailed                the job raised and its exception cannot be rebuilt here
    ├── JobCancelled             the job was cancelled
    ├── JobTimeout               the job ran past its timeout
    ├── JobLost                  the worker died while running the job
    └── ResultTimeout            ``job.result(timeout=...)`` ran out of time (also a TimeoutError)
"""

from __future__ import annotations


class JobnbError(Exception):
    """Root of every error jobnb raises."""


class ConfigError(JobnbError, ValueError):
    """A setting is wrong: unknown backend name, bad option value."""


class PayloadError(JobnbError):
    """A value cannot be serialized to travel to a worker; the message names it."""


class BackendUnavailable(JobnbError):
    """The queue backend (a Redis server, a SQLite file) cannot be reached."""


class JobNotFound(JobnbError, LookupError):
    """No job has that id or name."""


class JobFailed(JobnbError):
    """The job raised an exception that cannot be rebuilt in this process.

    The remote traceback text is kept in ``traceback``.
    """

    def __init__(self, message: str, traceback: str | None = None) -> None:
        super().__init__(message)
        self.traceback = traceback

    def __reduce__(self):  # keep the traceback when crossing a process
        return (type(self), (self.args[0], self.traceback))


class JobCancelled(JobFailed):
    """The job was cancelled before it finished."""


class JobTimeout(JobFailed):
    """The job ran longer than its timeout and was stopped."""


class JobLost(JobFailed):
    """The worker running the job died (killed, crashed, out of memory)."""


class ResultTimeout(JobnbError, TimeoutError):
    """``wait``/``result`` gave up before the job ended; the job goes on."""


class JobnbWarning(UserWarning):
    """Something was left out but the rest went on: e.g. a cell output that could not
    come back from the worker."""
