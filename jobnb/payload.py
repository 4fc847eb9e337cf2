"""What travels to a worker (a Payload) and back (an Outcome), and their serialization.

A payload is cloudpickled once, in the kernel; an outcome once, in the worker. Nothing
is compressed and nothing is pickled twice on the success path: only when pickling
fails do we pickle the parts one by one, to name the one that cannot travel.
"""

from __future__ import annotations

import pickle
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import cloudpickle

from .exceptions import JobFailed, JobLost, JobTimeout, NotCallable, PayloadError
from .model import JobStatus

_short = reprlib.Repr()
_short.maxstring = 40
_short.maxother = 40

#: between the input and the output in a notebook job's description
NOTEBOOK_ARROW = " -> "


@dataclass
class Payload:
    """One unit of work: a function call, a notebook cell with its input values, or a
    whole notebook.

    kind "call": ``fn(*args, **kwargs)``; the outcome's value is the return value.
    kind "cell": ``source`` executed in a namespace made of ``inputs``; the outcome's
    value is a dict of the names in ``outputs`` that the cell bound.
    kind "notebook": ``notebook`` (read and parameterized at submit, see notebooks.py)
    executed with nbclient in a new ``kernel_name`` kernel started in ``cwd``, written
    to ``output``; the outcome's value is a dict of what it ``jobnb.record``-ed.
    """

    kind: str = "call"
    fn: Callable[..., Any] | None = None
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    #: the id the job will have, when the payload needs it before it is submitted
    #: (a notebook's default output name); None: the backend chooses one
    job_id: str | None = None
    # --- kind "notebook": absolute paths, resolved in the kernel at submit time
    notebook: dict[str, Any] | None = None  # nbformat v4, parameters already injected
    path: str | None = None  # the input notebook
    output: str | None = None  # where the executed notebook is written
    kernel_name: str | None = None
    cwd: str | None = None  # the kernel's working directory: the input's folder
    parameters: dict[str, Any] = field(default_factory=dict)  # as given, for describe()
    #: index of the cell jobnb inserted for the parameters (None: none inserted), so
    #: that an error can count the cells of the input notebook
    injected_at: int | None = None

    @classmethod
    def call(cls, fn: Callable[..., Any], args: tuple = (), kwargs: dict | None = None) -> Payload:
        if not callable(fn):
            raise NotCallable(
                f"{_short.repr(fn)} is not callable: jobnb needs a callable (a function) and "
                "its arguments apart, as in jobnb.submit(f, x), not the result of calling it, "
                "as in jobnb.submit(f(x))."
            )
        return cls(kind="call", fn=fn, args=tuple(args), kwargs=dict(kwargs or {}))

    @classmethod
    def cell(cls, source: str, inputs: dict[str, Any], outputs: tuple[str, ...]) -> Payload:
        return cls(kind="cell", source=source, inputs=dict(inputs), outputs=tuple(outputs))

    def default_name(self) -> str:
        if self.kind == "call":
            return getattr(self.fn, "__name__", None) or type(self.fn).__name__
        if self.kind == "notebook":
            return PurePath(self.path or "notebook").stem
        return "cell"

    def describe(self) -> str:
        """A short human text: ``train(0.1, epochs=3)``, the cell's source, or
        ``notebook /in.ipynb (lr=0.1) -> /out.ipynb``."""
        if self.kind == "cell":
            return self.source or ""
        if self.kind == "notebook":
            given = ", ".join(f"{k}={_short.repr(v)}" for k, v in self.parameters.items())
            given = f" ({given})" if given else ""
            return f"notebook {self.path}{given}{NOTEBOOK_ARROW}{self.output}"
        parts = [_short.repr(a) for a in self.args]
        parts += [f"{k}={_short.repr(v)}" for k, v in self.kwargs.items()]
        return f"{self.default_name()}({', '.join(parts)})"

    def parts(self) -> list[tuple[str, Any]]:
        """Every value that travels, labelled for an error message."""
        if self.kind == "cell":
            return [(f"variable `{k}`", v) for k, v in self.inputs.items()]
        if self.kind == "notebook":
            return [("the notebook", self.notebook)] + [
                (f"parameter `{k}`", v) for k, v in self.parameters.items()
            ]
        labelled = [("the function", self.fn)]
        labelled += [(f"argument {i} (positional)", a) for i, a in enumerate(self.args)]
        labelled += [(f"keyword argument `{k}`", v) for k, v in self.kwargs.items()]
        return labelled


def dumps(obj: Any) -> bytes:
    """Serialize with cloudpickle (functions and classes of ``__main__`` go by value)."""
    return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    return pickle.loads(data)


def dumps_payload(payload: Payload) -> bytes:
    """Serialize a payload once; on failure raise PayloadError naming what cannot travel."""
    try:
        return dumps(payload)
    except Exception as exc:
        raise PayloadError(
            _explain_unpicklable(payload.parts(), exc, "be sent to a worker")
        ) from exc


def dumps_payloads(payloads: list[Payload]) -> list[bytes]:
    """Serialize the payloads of a ``map``; an error names the item that cannot travel."""
    if len(payloads) == 1:
        return [dumps_payload(payloads[0])]
    blobs = []
    for index, payload in enumerate(payloads):
        try:
            blobs.append(dumps_payload(payload))
        except PayloadError as exc:
            raise PayloadError(f"item {index} of {len(payloads)}: {exc}") from exc.__cause__
    return blobs


def _explain_unpicklable(parts: list[tuple[str, Any]], exc: Exception, verb: str) -> str:
    for label, value in parts:
        try:
            dumps(value)
        except Exception as part_exc:
            return (
                f"{label} ({type(value).__module__}.{type(value).__qualname__}: "
                f"{_short.repr(value)}) cannot {verb}: {part_exc}. "
                "Pass something picklable, create it inside the job, or use backend 'thread', "
                "which shares the kernel's objects."
            )
    return f"the job cannot {verb}: {type(exc).__name__}: {exc}"


@dataclass
class Outcome:
    """How a job ended: its value, or its exception and traceback text."""

    status: JobStatus
    value: Any = None
    exception: BaseException | None = None
    error: str | None = None  # traceback text
    #: the value is a cell's dict of outputs: one that cannot travel is dropped alone
    named_outputs: bool = False
    #: what was dropped on the way back, and why
    warnings: tuple[str, ...] = ()

    @classmethod
    def cancelled(cls, when: str) -> Outcome:
        return cls(JobStatus.CANCELLED, error=f"JobCancelled: the job was cancelled {when}\n")

    @classmethod
    def timed_out(cls, timeout: float | None, traceback_text: str = "") -> Outcome:
        limit = f" of {timeout:g} s" if timeout else ""
        text = f"{traceback_text}JobTimeout: the job ran past its timeout{limit} and was stopped\n"
        return cls(JobStatus.FAILED, exception=JobTimeout(text.strip(), text), error=text)

    @classmethod
    def lost(cls, reason: str) -> Outcome:
        text = f"JobLost: {reason}\n"
        return cls(JobStatus.LOST, exception=JobLost(reason, text), error=text)

    def summary(self) -> str:
        """The last line of the traceback: ``ValueError: bad input``."""
        return last_line(self.error, self.status.value)


def dumps_outcome(outcome: Outcome) -> bytes:
    """Serialize an outcome in the worker. A value or exception that cannot be pickled
    becomes a failure that says so, so the traceback text always comes back; a cell
    output that cannot be pickled is dropped alone, with a warning naming it."""
    try:
        exc_bytes = dumps(outcome.exception) if outcome.exception is not None else None
    except Exception:
        exc_bytes = None  # the traceback text still travels; result() raises JobFailed
    try:
        # the value is pickled in-band, once; the exception separately, so that an
        # exception class missing in the kernel cannot hide the value or the traceback
        return dumps(
            (outcome.status.value, outcome.value, exc_bytes, outcome.error, outcome.warnings)
        )
    except Exception as exc:
        if outcome.named_outputs and isinstance(outcome.value, dict):
            return dumps_outcome(_without_unpicklable_outputs(outcome))
        message = _explain_unpicklable(
            [("the return value", outcome.value)], exc, "come back from the worker"
        )
        failure = Outcome(JobStatus.FAILED, exception=PayloadError(message), error=message)
        return dumps_outcome(failure)


def _without_unpicklable_outputs(outcome: Outcome) -> Outcome:
    kept, warnings = {}, list(outcome.warnings)
    for name, value in outcome.value.items():
        try:
            dumps(value)  # only on this slow path: the fast one pickles everything once
            kept[name] = value
        except Exception as exc:
            warnings.append(
                _explain_unpicklable(
                    [(f"output `{name}`", value)], exc, "come back from the worker"
                )
            )
    return Outcome(outcome.status, kept, outcome.exception, outcome.error, warnings=tuple(warnings))


def loads_outcome(data: bytes) -> Outcome:
    status, value, exc_bytes, error, warnings = pickle.loads(data)
    exception = None
    if exc_bytes is not None:
        try:
            exception = loads(exc_bytes)
        except Exception:  # its class does not exist here: result() raises JobFailed instead
            exception = None
    status = JobStatus(status)
    if status is JobStatus.FAILED and exception is None:
        exception = JobFailed(f"the job failed: {last_line(error, 'no traceback')}", error)
    return Outcome(status, value, exception, error, warnings=tuple(warnings))


def notebook_output(kind: str, description: str) -> str | None:
    """The output notebook's path, from a notebook job's record (its description)."""
    if kind != "notebook" or NOTEBOOK_ARROW not in description:
        return None
    return description.rpartition(NOTEBOOK_ARROW)[2]


def last_line(text: str | None, default: str = "") -> str:
    """The last non-blank line of a traceback: ``ValueError: bad input``."""
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1] if lines else default
