"""How a job ended (an Outcome), and its one serialization from the worker to the kernel.

The worker that runs the job pickles its outcome once (``dumps_outcome``) into two
pickles back to back: a small header of plain values (status, traceback text,
warnings), then the body (the value, and the exception pickled apart). Whoever carries
the bytes on (a queue worker, the records store) reads the header only
(``SealedOutcome.read``), never the value: a value whose class only the job's process
can import passes through untouched. The kernel opens the body once
(``SealedOutcome.open``), and the Job handle keeps what it opened.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from typing import Any

from ..exceptions import JobFailed, JobLost, JobTimeout, PayloadError
from ..model import JobStatus
from .serialization import dumps, explain_unpicklable, loads

#: first in a header: the bytes are this serialization (a store written by jobnb before
#: it holds one pickle of (status, value, exception, error, warnings), read as such)
HEADER_TAG = "jobnb-outcome-2"


@dataclass
class Outcome:
    """How a job ended: its value, or its exception and traceback text."""

    status: JobStatus
    value: Any = None
    exception: BaseException | None = None
    error: str | None = None  # traceback text
    #: the value is a dict of names (a cell's outputs, a notebook's records): one that
    #: cannot travel is dropped alone
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
    """Serialize an outcome in the worker: the header, then the body. A value or
    exception that cannot be pickled becomes a failure that says so, so the traceback
    text always comes back; a named output that cannot be pickled is dropped alone,
    with a warning naming it."""
    try:
        exc_bytes = dumps(outcome.exception) if outcome.exception is not None else None
    except Exception:
        exc_bytes = None  # the traceback text still travels; result() raises JobFailed
    try:
        # the value is pickled in-band, once; the exception apart, so that an exception
        # class missing in the kernel cannot hide the value or the traceback
        body = dumps((outcome.value, exc_bytes))
    except Exception as exc:
        if outcome.named_outputs and isinstance(outcome.value, dict):
            return dumps_outcome(_without_unpicklable_outputs(outcome))
        message = explain_unpicklable(
            [("the return value", outcome.value)], exc, "come back from the worker"
        )
        failure = Outcome(JobStatus.FAILED, exception=PayloadError(message), error=message)
        return dumps_outcome(failure)
    return _join(outcome.status.value, outcome.error, outcome.warnings, body)


def _join(status: str, error: str | None, warnings: tuple[str, ...], body: bytes) -> bytes:
    header = (HEADER_TAG, status, error, tuple(warnings))
    return pickle.dumps(header, protocol=pickle.HIGHEST_PROTOCOL) + body


def _without_unpicklable_outputs(outcome: Outcome) -> Outcome:
    kept, warnings = {}, list(outcome.warnings)
    for name, value in outcome.value.items():
        try:
            dumps(value)  # only on this slow path: the fast one pickles everything once
            kept[name] = value
        except Exception as exc:
            warnings.append(
                explain_unpicklable([(f"output `{name}`", value)], exc, "come back from the worker")
            )
    return Outcome(outcome.status, kept, outcome.exception, outcome.error, warnings=tuple(warnings))


class _PlainUnpickler(pickle.Unpickler):
    """Reads plain values only (str, tuple, None, ...): a header never imports a class."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"an outcome's header holds no {module}.{name}")


@dataclass(frozen=True)
class SealedOutcome:
    """A serialized outcome with its header read: what a worker hands on and a store
    keeps. ``blob`` is the whole serialization, as the job's process wrote it."""

    status: JobStatus
    error: str | None
    warnings: tuple[str, ...]
    blob: bytes
    #: where the body starts in ``blob``
    body_at: int

    @classmethod
    def seal(cls, outcome: Outcome) -> SealedOutcome:
        """Serialize ``outcome`` here (an outcome made in the worker: timed out, lost)."""
        return cls.read(dumps_outcome(outcome))

    @classmethod
    def read(cls, blob: bytes) -> SealedOutcome:
        """The header of ``blob`` (a ``dumps_outcome``), read without touching the value."""
        stream = io.BytesIO(blob)
        try:
            header = _PlainUnpickler(stream).load()
        except pickle.UnpicklingError:
            header = None  # a class in the first pickle: written before headers
        if not (isinstance(header, tuple) and header[:1] == (HEADER_TAG,)):
            return cls._read_unheaded(blob)
        _, status, error, warnings = header
        return cls(JobStatus(status), error, tuple(warnings), blob, stream.tell())

    @classmethod
    def _read_unheaded(cls, blob: bytes) -> SealedOutcome:
        """An outcome stored by an earlier jobnb (one pickle, value included), sealed
        again: read in a kernel, which loads its value anyway."""
        status, value, exc_bytes, error, warnings = loads(blob)
        return cls.read(_join(status, error, warnings, dumps((value, exc_bytes))))

    def open(self) -> Outcome:
        """The outcome, value and exception loaded: in the kernel, once per job.

        Raises JobFailed when the value cannot be loaded in this process (its class
        cannot be imported here, say), naming why; the job itself ended as it did."""
        try:
            value, exc_bytes = loads(memoryview(self.blob)[self.body_at :])
        except Exception as exc:
            raise JobFailed(
                f"the job {self.status.value}, but its result cannot be loaded in this "
                f"process: {type(exc).__name__}: {exc}. Make the module of its class "
                "importable here (install it, or add its folder to sys.path), then ask again.",
                self.error,
            ) from exc
        exception = None
        if exc_bytes is not None:
            try:
                exception = loads(exc_bytes)
            except Exception:  # its class does not exist here: result() raises JobFailed
                exception = None
        if self.status is JobStatus.FAILED and exception is None:
            exception = JobFailed(
                f"the job failed: {last_line(self.error, 'no traceback')}", self.error
            )
        return Outcome(self.status, value, exception, self.error, warnings=self.warnings)


def loads_outcome(blob: bytes) -> Outcome:
    """The outcome serialized in ``blob``, value and all."""
    return SealedOutcome.read(blob).open()


def last_line(text: str | None, default: str = "") -> str:
    """The last non-blank line of a traceback: ``ValueError: bad input``."""
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1] if lines else default
