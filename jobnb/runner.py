"""Executes a payload in any worker: the one function every backend runs.

``run(payload, reporter)`` sends what the job prints and its ``jobnb.progress`` calls to
``reporter`` as they happen, and returns an Outcome. It never raises for the job's own
errors: they come back as a failed Outcome carrying the traceback text.
"""

from __future__ import annotations

import contextvars
import linecache
import sys
import traceback
from typing import Any, Protocol

from .exceptions import NotebookError
from .model import JobStatus
from .payload import Outcome, Payload, loads


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


class Interrupted(BaseException):
    """Raised inside a job to stop it. A BaseException, so ``except Exception`` in the
    job's code does not swallow it."""


class CancelInterrupt(Interrupted):
    pass


class TimeoutInterrupt(Interrupted):
    pass


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


class _StreamRouter:
    """Stands in for sys.stdout / sys.stderr: a write made by a job goes to that job's
    log, any other write goes where it went before (the cell's output)."""

    def __init__(self, stream: str, fallback: Any) -> None:
        self._stream = stream
        self._fallback = fallback

    def write(self, text: str) -> int:
        reporter = _current.get() or _process_reporter
        if reporter is None:
            return self._fallback.write(text)
        reporter.log(self._stream, text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if (_current.get() or _process_reporter) is None and self._fallback is not None:
            self._fallback.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fallback, name)


def _install_routers() -> None:
    # Checked on every run: IPython or the user may have replaced sys.stdout since.
    if not isinstance(sys.stdout, _StreamRouter):
        sys.stdout = _StreamRouter("stdout", sys.stdout)
    if not isinstance(sys.stderr, _StreamRouter):
        sys.stderr = _StreamRouter("stderr", sys.stderr)


def own_process(reporter: Reporter | None) -> None:
    """Make ``reporter`` receive every print of this process (worker processes)."""
    global _process_reporter
    _process_reporter = reporter
    _install_routers()


def run(payload: Payload | bytes, reporter: Reporter, job_id: str = "job") -> Outcome:
    """Execute ``payload`` (a Payload or its serialized bytes) and return its Outcome."""
    _install_routers()
    token = _current.set(reporter)
    try:
        if isinstance(payload, bytes):
            payload = loads(payload)
        value = _execute(payload, job_id, reporter)
        # a dict of names (a cell's outputs, a notebook's records): one that cannot
        # travel back is dropped alone
        named = payload.kind in ("cell", "notebook")
        return Outcome(JobStatus.FINISHED, value, named_outputs=named)
    except Interrupted as exc:
        return interrupted_outcome(exc)
    except NotebookError as exc:  # the notebook's traceback, not jobnb's frames
        error = exc.traceback or f"{type(exc).__name__}: {exc}\n"
        return Outcome(JobStatus.FAILED, exception=exc, error=error)
    except BaseException as exc:  # the job's own error, SystemExit included: keep it
        return Outcome(JobStatus.FAILED, exception=exc, error=_format(exc))
    finally:
        _current.reset(token)


def interrupted_outcome(exc: Interrupted) -> Outcome:
    """The Outcome of a job stopped by a CancelInterrupt or TimeoutInterrupt."""
    if isinstance(exc, CancelInterrupt):
        return Outcome.cancelled("while running")
    return Outcome.timed_out(None, _format(exc))


def _execute(payload: Payload, job_id: str, reporter: Reporter) -> Any:
    if payload.kind == "call":
        return payload.fn(*payload.args, **payload.kwargs)
    if payload.kind == "cell":
        return _execute_cell(payload, job_id)
    if payload.kind == "notebook":
        from . import notebook_runner  # nbclient: imported by notebook jobs only

        return notebook_runner.execute(payload, reporter)
    raise ValueError(f"unknown payload kind {payload.kind!r}")


def _execute_cell(payload: Payload, job_id: str) -> dict[str, Any]:
    filename = f"<jobnb cell {job_id}>"
    source = payload.source or ""
    # so that the traceback shows the cell's lines, as IPython does
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    namespace.update(payload.inputs)
    exec(compile(source, filename, "exec"), namespace)
    return {name: namespace[name] for name in payload.outputs if name in namespace}


def _format(exc: BaseException) -> str:
    """The traceback text without jobnb's own frames at its top."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__") == __name__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))
