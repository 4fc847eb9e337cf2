"""What a running job calls to report (``jobnb.progress``, ``jobnb.record``, and its
prints), and where that goes: the Reporter of the job running in this thread or process.

Importable without nbclient: ``jobnb.progress`` and ``jobnb.record`` are public.

``jobnb.record(name, value)`` runs in a notebook job's kernel, a process of its own: it
publishes a display output of type ``application/x.jobnb.record+json`` carrying the
value (cloudpickled, base64), which the worker takes out of the cell's outputs
(notebook_client.py). The output notebook keeps the record's name and a short repr,
never the pickle: the file stays small and safe to open.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import reprlib
import sys
from collections.abc import Iterator
from typing import Any, Protocol

from ..payload.serialization import dumps

RECORD_MIME = "application/x.jobnb.record+json"

_shown = reprlib.Repr()
_shown.maxstring = 60
_shown.maxother = 60


class Reporter(Protocol):
    """Where a running job's output and progress go (a backend provides one per job).

    A reporter may also have ``adopt(pid)``: the job started process ``pid`` in a
    session of its own (a notebook job's kernel), which must be killed with the job's
    process when the job is cancelled or timed out. Reporters of jobs that run in a
    process killed to stop them implement it (subprocess_worker.PipeReporter); the
    others need not: the job stops that process itself when it is interrupted.
    """

    def log(self, stream: str, text: str) -> None: ...

    def progress(self, done: float, total: float | None, message: str | None) -> None: ...


# The reporter of the job running in this thread (thread backend) ...
_current: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar(
    "jobnb_reporter", default=None
)
# ... or of the job owning this whole process (a worker process runs one job at a time,
# so prints from threads the job starts belong to it too).
_process_reporter: Reporter | None = None


def current_reporter() -> Reporter | None:
    return _current.get() or _process_reporter


def progress(done: float, total: float | None = None, message: str | None = None) -> None:
    """Report progress from inside a job: ``done`` of ``total`` units, with a message.

    Outside a job it does nothing, so the same function runs in and out of jobnb.
    """
    reporter = current_reporter()
    if reporter is not None:
        reporter.progress(done, total, None if message is None else str(message))


@contextlib.contextmanager
def reporting_to(reporter: Reporter) -> Iterator[None]:
    """Within: what this thread's job prints and reports goes to ``reporter``."""
    _install_routers()
    token = _current.set(reporter)
    try:
        yield
    finally:
        _current.reset(token)


def own_process(reporter: Reporter | None) -> None:
    """Make ``reporter`` receive every print of this process (worker processes)."""
    global _process_reporter
    _process_reporter = reporter
    _install_routers()


class _StreamRouter:
    """Stands in for sys.stdout / sys.stderr: a write made by a job goes to that job's
    log, any other write goes where it went before (the cell's output)."""

    def __init__(self, stream: str, fallback: Any) -> None:
        self._stream = stream
        self._fallback = fallback

    def write(self, text: str) -> int:
        reporter = current_reporter()
        if reporter is None:
            return self._fallback.write(text)
        reporter.log(self._stream, text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if current_reporter() is None and self._fallback is not None:
            self._fallback.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fallback, name)


def _install_routers() -> None:
    # Checked on every run: IPython or the user may have replaced sys.stdout since.
    if not isinstance(sys.stdout, _StreamRouter):
        sys.stdout = _StreamRouter("stdout", sys.stdout)
    if not isinstance(sys.stderr, _StreamRouter):
        sys.stderr = _StreamRouter("stderr", sys.stderr)


def record(name: str, value: Any) -> None:
    """Send ``value`` back from a notebook job under ``name``: ``job.result()`` is then
    a dict ``{name: value, ...}`` of every value recorded (the last one of each name).

    In a notebook kernel it shows one line, ``recorded name = <short repr>``, in the
    cell's output; the value travels pickled (cloudpickle) in that output, and the
    executed notebook keeps only the line. Outside a kernel (a script, a function job)
    it does nothing, so the same notebook code runs anywhere. A value that cannot be
    pickled is an error in the cell that records it.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"jobnb.record needs a name (a non-empty str), not {name!r}")
    if current_reporter() is not None:
        return  # inside a function or cell job: there is no notebook to record into
    shell = _jupyter_shell()
    if shell is None:
        return  # not a Jupyter kernel (a script, a terminal IPython)
    # IPython is heavy, and present whenever a Jupyter kernel runs: imported only here
    from IPython.display import publish_display_data

    try:
        blob = dumps(value)
    except Exception as exc:
        raise TypeError(
            f"jobnb.record({name!r}, ...): the value "
            f"({type(value).__module__}.{type(value).__qualname__}) cannot be pickled: {exc}"
        ) from None
    shown = _shown.repr(value)
    publish_display_data(
        {
            "text/plain": f"recorded {name} = {shown}",
            RECORD_MIME: {
                "name": name,
                "repr": shown,
                "pickle": base64.b64encode(blob).decode("ascii"),
            },
        }
    )


def _jupyter_shell() -> Any:
    """The IPython shell of the Jupyter kernel this runs in, else None."""
    try:
        from IPython import get_ipython  # heavy: only asked when a notebook records
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    return shell
