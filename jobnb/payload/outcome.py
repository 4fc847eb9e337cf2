"""How a job ended (an Outcome), and its one serialization from the worker to the kernel.

The worker that runs the job pickles its outcome once (``dumps_outcome``) into the
pieces of a framed blob (framing.py): a small header of plain values (status,
traceback text, warnings), then the body (the value, and the exception pickled apart),
then the body's out-of-band buffers (a NumPy result's memory, never copied into a
pickle). An outcome stored by an earlier jobnb (the header and the body back to back,
or one pickle) still reads. Whoever carries
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
from ..model import JobStatus, class_names
from .framing import Framed, is_framed, unframe
from .serialization import dumps, dumps_framed, explain_unpicklable, loads, loads_pieces

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

    @property
    def exception_classes(self) -> tuple[str, ...]:
        """The qualified names of its exception's class and bases (none if it has none):
        what ``retry_on`` is matched with."""
        return () if self.exception is None else class_names(type(self.exception))

    def summary(self) -> str:
        """The last line of the traceback: ``ValueError: bad input``."""
        return last_line(self.error, self.status.value)


def dumps_outcome(outcome: Outcome) -> Framed:
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
        body = dumps_framed((outcome.value, exc_bytes))
    except Exception as exc:
        if outcome.named_outputs and isinstance(outcome.value, dict):
            return dumps_outcome(_without_unpicklable_outputs(outcome))
        message = explain_unpicklable(
            [("the return value", outcome.value)], exc, "come back from the worker"
        )
        failure = Outcome(JobStatus.FAILED, exception=PayloadError(message), error=message)
        return dumps_outcome(failure)
    classes = outcome.exception_classes
    return _framed(outcome.status.value, outcome.error, outcome.warnings, body, classes)


def _framed(
    status: str,
    error: str | None,
    warnings: tuple[str, ...],
    body: Framed,
    classes: tuple[str, ...] = (),
) -> Framed:
    """The header, then the body's pieces (its pickle, then its buffers), not joined.
    The exception's class names (``classes``) close the header: a worker matches them
    against a job's ``retry_on`` without unpickling the exception."""
    header = (HEADER_TAG, status, error, tuple(warnings), tuple(classes))
    return Framed([pickle.dumps(header, protocol=pickle.HIGHEST_PROTOCOL), *body.pieces])


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
    keeps. ``blob`` is the whole serialization, as the job's process wrote it: its
    pieces (a Framed: sealed here) or one buffer (read from a pipe or a store)."""

    status: JobStatus
    error: str | None
    warnings: tuple[str, ...]
    blob: Framed | bytes | bytearray | memoryview
    #: the body: its pieces (its pickle, then its buffers), or, in an outcome of the
    #: jobnb before framing, the body's one pickle
    body: list[memoryview] | memoryview
    #: the qualified names of its exception's class and bases (read from the header)
    exception_classes: tuple[str, ...] = ()

    @classmethod
    def seal(cls, outcome: Outcome) -> SealedOutcome:
        """Serialize ``outcome`` here (an outcome made in the worker: timed out, lost)."""
        framed = dumps_outcome(outcome)
        return cls._from_pieces(framed, framed.pieces)

    @classmethod
    def read(cls, blob) -> SealedOutcome:
        """The header of ``blob`` (a ``dumps_outcome`` written out in one buffer), read
        without touching the value."""
        if is_framed(blob):
            return cls._from_pieces(blob, unframe(blob))
        stream = io.BytesIO(blob)
        try:
            header = _PlainUnpickler(stream).load()
        except pickle.UnpicklingError:
            header = None  # a class in the first pickle: written before headers
        if not (isinstance(header, tuple) and header[:1] == (HEADER_TAG,)):
            return cls._read_unheaded(blob)
        status, error, warnings, classes = _header_fields(header)
        body = memoryview(blob)[stream.tell() :]
        return cls(JobStatus(status), error, warnings, blob, body, classes)

    @classmethod
    def _from_pieces(cls, blob, pieces: list[memoryview]) -> SealedOutcome:
        header = _PlainUnpickler(io.BytesIO(pieces[0])).load()
        if not (isinstance(header, tuple) and header[:1] == (HEADER_TAG,)):
            raise pickle.UnpicklingError("a framed blob that is not an outcome")
        status, error, warnings, classes = _header_fields(header)
        return cls(JobStatus(status), error, warnings, blob, pieces[1:], classes)

    @classmethod
    def _read_unheaded(cls, blob) -> SealedOutcome:
        """An outcome stored by an earlier jobnb (one pickle, value included), sealed
        again: read in a kernel, which loads its value anyway."""
        status, value, exc_bytes, error, warnings = loads(blob)
        framed = _framed(status, error, warnings, dumps_framed((value, exc_bytes)))
        return cls._from_pieces(framed, framed.pieces)

    def open(self) -> Outcome:
        """The outcome, value and exception loaded: in the kernel, once per job.

        Raises JobFailed when the value cannot be loaded in this process (its class
        cannot be imported here, say), naming why; the job itself ended as it did."""
        try:
            if isinstance(self.body, list):  # its arrays alias the buffer read
                value, exc_bytes = loads_pieces(self.body)
            else:
                value, exc_bytes = loads(self.body)
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


def _header_fields(header: tuple) -> tuple[str, str | None, tuple[str, ...], tuple[str, ...]]:
    """(status, error, warnings, exception classes) of a header; a header written before
    the classes were in it has none."""
    status, error, warnings = header[1:4]
    classes = header[4] if len(header) > 4 else ()
    return status, error, tuple(warnings), tuple(classes)


def loads_outcome(blob) -> Outcome:
    """The outcome serialized in ``blob``, value and all."""
    return SealedOutcome.read(blob).open()


def last_line(text: str | None, default: str = "") -> str:
    """The last non-blank line of a traceback: ``ValueError: bad input``."""
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1] if lines else default
