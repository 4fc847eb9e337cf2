"""Schedules in a SQLite home: the ``schedules`` table of its records file
(sqlite_schema.py), beside the jobs their runs become. A paused schedule has no
``next_due``; the workers' scheduler reads ``MIN(next_due)`` off the partial index
``schedules_next`` each tick. The contract is records/schedules.py.
"""

from __future__ import annotations

import sqlite3

from ...schedule_record import ScheduleRecord
from .errors import SQLITE_FAULTS, said_clearly
from .schedules import Schedules
from .sqlite import SqliteRecords, _failed

_STATE = "definition, paused, last_due, next_due, last_job"


def _store_failed(store: SqliteSchedules, exc: BaseException) -> BaseException:
    return _failed(store.records, exc)


class LostTheClaim(Exception):
    """Another worker claimed the due time first (or the schedule was paused or removed
    meanwhile): the transaction that would have fired it rolls back."""


@said_clearly(SQLITE_FAULTS, _store_failed)
class SqliteSchedules(Schedules):
    """The schedules of the home whose records are ``records``."""

    def __init__(self, records: SqliteRecords) -> None:
        self.records = records
        self.signer = records.signer
        self.place = str(records.path)

    def _db(self) -> sqlite3.Connection:
        return self.records.connection()

    def _schedule(self, name: str, row) -> ScheduleRecord:
        blob, paused, last_due, next_due, last_job = row
        return self._decoded(
            name, blob, paused=bool(paused), last_due=last_due, next_due=next_due,
            last_job=last_job,
        )  # fmt: skip

    def add(self, schedule: ScheduleRecord, payload: bytes | None, replace: bool = False) -> None:
        blob = self._sealed(schedule, payload)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        db = self._db()
        try:
            with db:
                db.execute(
                    f"{verb} INTO schedules (name, definition, paused, last_due, next_due, "
                    "last_job, created) VALUES (?, ?, ?, ?, ?, NULL, ?)",
                    (
                        schedule.name,
                        blob,
                        int(schedule.paused),
                        schedule.last_due,
                        None if schedule.paused else schedule.next_due,
                        schedule.created,
                    ),
                )
        except sqlite3.IntegrityError:
            raise self._exists(schedule.name) from None

    def _row(self, name: str):
        row = (
            self._db().execute(f"SELECT {_STATE} FROM schedules WHERE name = ?", (name,)).fetchone()
        )
        if row is None:
            raise self._missing(name)
        return row

    def get(self, name: str) -> ScheduleRecord:
        return self._schedule(name, self._row(name))

    def payload(self, name: str) -> tuple[ScheduleRecord, bytes | None]:
        row = self._row(name)
        _, payload = self._opened(name, row[0])
        return self._schedule(name, row), payload

    def all(self) -> list[ScheduleRecord]:
        rows = self._db().execute(f"SELECT name, {_STATE} FROM schedules ORDER BY name")
        return [self._schedule(row[0], row[1:]) for row in rows.fetchall()]

    def pause(self, name: str) -> ScheduleRecord:
        with self._db() as db:
            done = db.execute(
                "UPDATE schedules SET paused = 1, next_due = NULL WHERE name = ?", (name,)
            ).rowcount
        if not done:
            raise self._missing(name)
        return self.get(name)

    def resume(self, name: str, now: float) -> ScheduleRecord:
        schedule = self.get(name)
        with self._db() as db:
            done = db.execute(
                "UPDATE schedules SET paused = 0, last_due = ?, next_due = ? WHERE name = ?",
                (now, schedule.timing.next_after(now), name),
            ).rowcount
        if not done:
            raise self._missing(name)
        return self.get(name)

    def remove(self, name: str) -> None:
        with self._db() as db:
            if not db.execute("DELETE FROM schedules WHERE name = ?", (name,)).rowcount:
                raise self._missing(name)

    def next_due(self) -> float | None:
        return self._db().execute("SELECT MIN(next_due) FROM schedules").fetchone()[0]

    def due(self, now: float) -> list[str]:
        rows = self._db().execute(
            "SELECT name FROM schedules WHERE next_due <= ? ORDER BY next_due", (now,)
        )
        return [name for (name,) in rows.fetchall()]

    def active(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM schedules WHERE paused = 0").fetchone()[0]

    def claim_in(
        self,
        db: sqlite3.Connection,
        schedule: ScheduleRecord,
        last_due: float,
        next_due: float,
        last_job: str | None,
    ) -> None:
        """Inside the caller's transaction (the one that adds the runs' jobs): advance
        ``schedule`` from the ``last_due`` it was read with; LostTheClaim (the caller's
        transaction then rolls back) if it is no longer so."""
        done = db.execute(
            "UPDATE schedules SET last_due = ?, next_due = ?, "
            "last_job = COALESCE(?, last_job) "
            "WHERE name = ? AND paused = 0 AND last_due IS ?",
            (last_due, next_due, last_job, schedule.name, schedule.last_due),
        ).rowcount
        if not done:
            raise LostTheClaim(schedule.name)
