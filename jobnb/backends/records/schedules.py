"""The contract of a schedules store, beside a records store: a SQLite home's
``schedules`` table (sqlite_schedules.py) or a Redis hash per schedule and a sorted set
of next due times (redis_schedules.py). Kernels, ``jobnb schedule`` and the dashboard
add, list, pause, resume and remove schedules; the queue workers fire them
(backends/schedule_firing.py), so schedules outlive kernels and workers.

What a schedule runs (its definition, and a call's pickled payload) is signed as one
blob, ``signed(len(definition) + definition + payload)`` for ``schedule:<name>``, and
verified before it is read: whoever can write the store but has not the key cannot
make a worker queue (and sign as a job's payload) bytes of their own, nor point a
schedule at another notebook or folder.

A due time is claimed once, with the jobs of its runs: a worker reads a due schedule,
plans its runs (schedule_times.plan), then in ONE write (a SQLite transaction; a Redis
MULTI watched on the schedule's hash) advances the schedule's ``last_due`` from the
value it read and adds the runs' jobs and queue messages. Two workers racing: the
first write wins, the other writes nothing (its UPDATE finds ``last_due`` changed and
rolls back; its EXEC is refused). A worker that dies mid-way leaves neither the claim
nor the jobs: the due time is still due, and the next look fires it.
"""

from __future__ import annotations

import struct

from ...exceptions import ScheduleExists, ScheduleNotFound
from ...payload.signing import Signer
from ...schedule_record import ScheduleRecord

_LENGTH = struct.Struct(">Q")


class Schedules:
    """A store of schedules. Methods raise ScheduleNotFound for a name it does not
    hold, and the records store's clear errors for a fault of the store."""

    signer: Signer
    place: str = "a schedules store"

    # --- the signed definition ---------------------------------------------------------
    def _sealed(self, schedule: ScheduleRecord, payload: bytes | None) -> bytes:
        definition = schedule.definition_json().encode()
        data = b"".join((_LENGTH.pack(len(definition)), definition, payload or b""))
        return self.signer.sign(data, f"schedule:{schedule.name}")

    def _opened(self, name: str, blob: bytes) -> tuple[bytes, bytes | None]:
        """(definition, payload or None) of a sealed blob; SignatureMismatch if it was not
        sealed with this key for this name."""
        data = self.signer.verify(blob, f"schedule:{name}", f"the schedule {name!r}")
        (length,) = _LENGTH.unpack(data[: _LENGTH.size])
        end = _LENGTH.size + length
        payload = bytes(data[end:])
        return bytes(data[_LENGTH.size : end]), payload or None

    def _decoded(self, name: str, blob: bytes, **state) -> ScheduleRecord:
        definition, _ = self._opened(name, blob)
        return ScheduleRecord.from_definition(definition, **state)

    def _missing(self, name: str) -> ScheduleNotFound:
        return ScheduleNotFound(
            f"no schedule {name!r} in {self.place}: jobnb.schedules() (or `jobnb schedule "
            "ls`) lists them"
        )

    def _exists(self, name: str) -> ScheduleExists:
        return ScheduleExists(
            f"a schedule {name!r} is in {self.place} already: give replace=True (or "
            "`jobnb schedule add --replace`) to replace it, or remove it first"
        )

    # --- the contract ------------------------------------------------------------------
    def add(self, schedule: ScheduleRecord, payload: bytes | None, replace: bool = False) -> None:
        """Store ``schedule`` (its definition and state as given: ``last_due`` and
        ``next_due`` set) with its pickled ``payload`` (a call's; None for a notebook).
        A schedule of that name is replaced if ``replace`` (its state starts again),
        else ScheduleExists."""
        raise NotImplementedError

    def get(self, name: str) -> ScheduleRecord:
        raise NotImplementedError

    def payload(self, name: str) -> tuple[ScheduleRecord, bytes | None]:
        """The schedule and its verified payload (what each run queues)."""
        raise NotImplementedError

    def all(self) -> list[ScheduleRecord]:
        """Every schedule, by name."""
        raise NotImplementedError

    def pause(self, name: str) -> ScheduleRecord:
        """Stop firing it (``next_due`` None) until resumed."""
        raise NotImplementedError

    def resume(self, name: str, now: float) -> ScheduleRecord:
        """Fire it again from its next due time after ``now``: what was due while it was
        paused is not run (``last_due`` becomes ``now``)."""
        raise NotImplementedError

    def remove(self, name: str) -> None:
        """Delete it (its runs' jobs stay, with its name in their records)."""
        raise NotImplementedError

    def next_due(self) -> float | None:
        """The earliest next due time of the schedules not paused (None: none): what a
        worker's scheduler reads each tick, one indexed read."""
        raise NotImplementedError

    def due(self, now: float) -> list[str]:
        """The names of the schedules not paused whose next due time is at or before
        ``now``."""
        raise NotImplementedError

    def active(self) -> int:
        """How many schedules are not paused (a SQLite home's worker stays up for them)."""
        raise NotImplementedError
