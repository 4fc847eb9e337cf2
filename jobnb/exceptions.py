"""Every error jobnb raises, under one root.

::

    JobnbError
    ├── ConfigError              a setting is wrong (unknown backend, bad value)
    │   └── MissingSecretKey     no secret key to sign the jobs of a Redis server with
    ├── PayloadError             something cannot travel to a worker (names it)
    │   └── NotCallable          what was submitted is not a function (also a TypeError)
    ├── BackendUnavailable       the queue backend cannot be reached
    │   └── StoreUnavailable     a file of a jobnb home cannot be used (full, read-only, ...)
    ├── UnsafeHome               a jobnb home, or a file in it, is not its user's alone
    ├── JobNotFound              no job with that id or name
    │   └── DependencyNotFound   a job to wait for is not on the submitting backend
    ├── JobFailed                the job raised and its exception cannot be rebuilt here
    │   ├── JobCancelled         the job was cancelled
    │   ├── JobTimeout           the job ran past its timeout
    │   └── JobLost              the worker died while running the job
    ├── NotebookError            a notebook job cannot run its notebook (no such kernel, ...)
    │   └── NotebookCellError    a cell of a notebook job raised (names the cell)
    ├── SignatureMismatch        stored bytes fail their signature: never unpickled
    │   └── IncompleteInStore    a stored payload or result is not all there: never unpickled
    └── ResultTimeout            ``job.result(timeout=...)`` ran out of time (also a TimeoutError)
"""

from __future__ import annotations


class JobnbError(Exception):
    """Root of every error jobnb raises."""


class ConfigError(JobnbError, ValueError):
    """A setting is wrong: unknown backend name, bad option value."""


class PayloadError(JobnbError):
    """A value cannot be serialized to travel to a worker; the message names it."""


class NotCallable(PayloadError, TypeError):
    """``jobnb.submit(x)`` or ``jobnb.map(x, ...)`` where ``x`` is not callable."""


class BackendUnavailable(JobnbError):
    """The queue backend (a Redis server, a SQLite file) cannot be reached."""


class StoreUnavailable(BackendUnavailable):
    """A file of a jobnb home (its records) cannot be read or written: its file system is
    full or read-only, another process holds its lock, it cannot be created. The message
    names the file and what to do; the next call tries again, so the home works again
    by itself once the cause is gone."""


class UnsafeHome(JobnbError):
    """A jobnb home, or a file jobnb uses in it, is owned by another user, writable by
    its group or others, or a symbolic link: whoever can write there could run code as
    this user (the home holds pickles), so jobnb refuses it, as ssh refuses such a
    ``~/.ssh``. The message names the path, its owner and mode, and the fix; ``path``
    holds the path."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path

    def __reduce__(self):  # (crossing a process, as every jobnb error can)
        return (type(self), (self.args[0], self.path))


class JobNotFound(JobnbError, LookupError):
    """No job has that id or name."""


class ScheduleNotFound(JobnbError, LookupError):
    """No schedule of that name in the store (``jobnb.schedules()`` lists them)."""


class ScheduleExists(JobnbError):
    """A schedule of that name is in the store already, and replacing it was not asked."""


class SchedulesNeedAQueue(ConfigError):
    """Schedules fire from queue workers: the thread and subprocess backends have none."""


class DependencyNotFound(JobNotFound):
    """A job to wait for (``jobnb.options(after=...)``, a Job passed as an argument,
    ``%%submit --after``) is not on the backend the new job is submitted to."""


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


class NotebookError(JobnbError):
    """A notebook job could not run its notebook: it cannot be read, a parameter cannot
    be written into it, its kernel does not exist, its kernel died.

    ``traceback`` holds the text shown as the job's error (None: the usual traceback).
    """

    def __init__(self, message: str, traceback: str | None = None) -> None:
        super().__init__(message)
        self.traceback = traceback

    def __reduce__(self):  # keep the traceback when crossing a process
        return (type(self), (self.args[0], self.traceback))


class NotebookCellError(NotebookError):
    """A cell of a notebook job raised. The executed notebook was written to ``output``
    all the same; ``cell_index`` counts the input notebook's cells from 0 (its
    ``notebook.cells[cell_index]``), ``recorded`` holds what ``jobnb.record`` got before."""

    def __init__(
        self,
        message: str,
        traceback: str | None = None,
        *,
        cell_index: int | None = None,
        source: str = "",
        ename: str = "",
        evalue: str = "",
        output: str | None = None,
        recorded: dict | None = None,
    ) -> None:
        super().__init__(message, traceback)
        self.cell_index = cell_index
        self.source = source
        self.ename = ename
        self.evalue = evalue
        self.output = output
        self.recorded = recorded if recorded is not None else {}

    def __reduce__(self):
        return (_rebuild_cell_error, (self.args[0], self.traceback, self._fields()))

    def _fields(self) -> dict:
        return {
            "cell_index": self.cell_index,
            "source": self.source,
            "ename": self.ename,
            "evalue": self.evalue,
            "output": self.output,
            "recorded": self.recorded,
        }


def _rebuild_cell_error(message: str, traceback: str | None, fields: dict) -> NotebookCellError:
    return NotebookCellError(message, traceback, **fields)


class ResultTimeout(JobnbError, TimeoutError):
    """``wait``/``result`` gave up before the job ended; the job goes on."""


class JobnbWarning(UserWarning):
    """Something was left out but the rest went on: e.g. a cell output that could not
    come back from the worker."""


class SignatureMismatch(JobnbError):
    """Bytes jobnb stored or sent (a payload, an outcome, a queue message) do not carry a
    valid signature under this process's secret key: they were written with another key
    or by someone else, and are never unpickled. The message names what they are."""


class IncompleteInStore(SignatureMismatch):
    """A payload or result kept in pieces (Redis chunks) is not all in its store (a chunk
    deleted, evicted or cut short): like bytes that fail their signature, never
    unpickled, and a job whose payload it is ends failed. The message names the job and
    what was found."""


class MissingSecretKey(ConfigError):
    """No secret key to sign and verify the jobs of a Redis server with (or a key that
    cannot be used): the message names the server and says how to set one."""
