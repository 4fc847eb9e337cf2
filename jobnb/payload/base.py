"""What every kind of payload is: a unit of work that names, describes and runs itself,
and its one serialization in the kernel (``dumps_payload``).

A payload is cloudpickled once, in the kernel, and run by a worker (worker/runner.py),
which hands it a ``Worker``: where it reports, and what only a worker can do.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Protocol

from ..exceptions import PayloadError
from .framing import Framed
from .serialization import dumps_framed, explain_unpicklable


class Worker(Protocol):
    """What a payload runs with (given by worker/runner.py): the job's id, the reporter
    its output and progress go to, and a notebook's execution (nbclient, which only
    workers import)."""

    job_id: str
    reporter: Any

    def run_notebook(self, payload: Any) -> dict[str, Any]: ...

    def result_of(self, job_id: str) -> Any:
        """The value of job ``job_id``, a dependency of this one (futures.py)."""
        ...


class Payload:
    """One unit of work. A subclass per kind: CallPayload, CellPayload, NotebookPayload.

    ``kind`` is what a job's record stores ("call", "cell" or "notebook").
    """

    kind: ClassVar[str]
    #: the value is a dict of names (a cell's outputs, a notebook's records): one that
    #: cannot travel back is dropped alone
    named_outputs: ClassVar[bool] = False
    #: the id the job will have, when the payload needs it before it is submitted (a
    #: notebook's default output name); None: the backend chooses one
    job_id: str | None = None
    #: where a notebook job writes the executed notebook; None for other kinds
    output: str | None = None
    #: the class of each kind, for payloads stored by an earlier jobnb (``__setstate__``)
    _kinds: ClassVar[dict[str, type[Payload]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Payload._kinds[cls.kind] = cls

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickled. A payload stored by an earlier jobnb (one class for every kind, the
        kind a field: a job queued or kept in a home before an upgrade) becomes the
        class of its kind, so that it still runs and resubmits."""
        if type(self) is Payload:
            kind_class = Payload._kinds[state["kind"]]
            fields = {field.name for field in dataclasses.fields(kind_class)}
            self.__class__ = kind_class
            state = {name: value for name, value in state.items() if name in fields}
        self.__dict__.update(state)

    def default_name(self) -> str:
        """The job's name when none is given."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short human text of what runs: the record's description."""
        raise NotImplementedError

    def parts(self) -> list[tuple[str, Any]]:
        """Every value that travels, labelled for an error message."""
        raise NotImplementedError

    def execute(self, worker: Worker) -> Any:
        """Run in a worker; return the job's value. Raises what the job raised."""
        raise NotImplementedError


def dumps_payload(payload: Payload) -> Framed:
    """Serialize a payload once, its big buffers (arrays) out of band and not copied
    (framing.py); on failure raise PayloadError naming what cannot travel."""
    try:
        return dumps_framed(payload)
    except Exception as exc:
        raise PayloadError(
            explain_unpicklable(payload.parts(), exc, "be sent to a worker")
        ) from exc


def dumps_payloads(payloads: list[Payload]) -> list[Framed]:
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
