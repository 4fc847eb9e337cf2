"""Schedules in Redis, under the prefix of the records beside them (``jobnb:huey:<queue>:``
or ``jobnb:rq:``)::

    sched:<name>   hash: definition (signed: records/schedules.py), paused, last_due,
                   next_due (absent while paused), last_job, created
    sched:due      sorted set: the names of the schedules not paused, scored by their
                   next due time (a worker's scheduler reads its first entry each tick)
    sched:all      set: every schedule's name

Adding, pausing, resuming and removing are one Lua script each (the hash and the sets
change together). A worker claims a due time with WATCH on the schedule's hash and one
MULTI holding the claim and the runs' jobs (backends/schedule_firing.py): the contract
is records/schedules.py.
"""

from __future__ import annotations

import redis

from ...schedule_record import ScheduleRecord
from ..redis_connection import unreachable
from .errors import said_clearly
from .redis import RedisRecords
from .schedules import Schedules

_ADD = """
local key = ARGV[1] .. 'sched:' .. ARGV[2]
if ARGV[7] ~= '1' and redis.call('EXISTS', key) == 1 then return 0 end
redis.call('DEL', key)
redis.call('HSET', key, 'definition', ARGV[3], 'paused', 0, 'last_due', ARGV[4],
           'next_due', ARGV[5], 'created', ARGV[6])
redis.call('ZADD', ARGV[1] .. 'sched:due', ARGV[5], ARGV[2])
redis.call('SADD', ARGV[1] .. 'sched:all', ARGV[2])
return 1
"""
_PAUSE = """
local key = ARGV[1] .. 'sched:' .. ARGV[2]
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key, 'paused', 1)
redis.call('HDEL', key, 'next_due')
redis.call('ZREM', ARGV[1] .. 'sched:due', ARGV[2])
return 1
"""
_RESUME = """
local key = ARGV[1] .. 'sched:' .. ARGV[2]
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key, 'paused', 0, 'last_due', ARGV[3], 'next_due', ARGV[4])
redis.call('ZADD', ARGV[1] .. 'sched:due', ARGV[4], ARGV[2])
return 1
"""
_REMOVE = """
redis.call('ZREM', ARGV[1] .. 'sched:due', ARGV[2])
redis.call('SREM', ARGV[1] .. 'sched:all', ARGV[2])
return redis.call('DEL', ARGV[1] .. 'sched:' .. ARGV[2])
"""
_STATE = ("definition", "paused", "last_due", "next_due", "last_job")


def _number(value: bytes | None) -> float | None:
    return None if value is None else float(value)


def _unreachable(store: RedisSchedules, exc: BaseException) -> BaseException:
    return unreachable(store.records.url, exc)


@said_clearly((redis.ConnectionError, redis.TimeoutError), _unreachable)
class RedisSchedules(Schedules):
    """The schedules beside ``records``, in its Redis server and under its prefix."""

    def __init__(self, records: RedisRecords) -> None:
        self.records = records
        self.redis = records.redis
        self.prefix = records.prefix
        self.signer = records.signer
        self.place = f"Redis under {self.prefix}sched:"
        self._due_key = f"{self.prefix}sched:due"

    def key(self, name: str) -> str:
        return f"{self.prefix}sched:{name}"

    def _schedule(self, name: str, values) -> ScheduleRecord:
        blob, paused, last_due, next_due, last_job = values
        return self._decoded(
            name, blob, paused=paused == b"1", last_due=_number(last_due),
            next_due=_number(next_due), last_job=None if last_job is None else last_job.decode(),
        )  # fmt: skip

    def add(self, schedule: ScheduleRecord, payload: bytes | None, replace: bool = False) -> None:
        blob = self._sealed(schedule, payload)
        args = [self.prefix, schedule.name, blob, repr(schedule.last_due)]
        args += [repr(schedule.next_due), repr(schedule.created), "1" if replace else "0"]
        if not self.redis.eval(_ADD, 0, *args):
            raise self._exists(schedule.name)
        if schedule.paused:
            self.pause(schedule.name)

    def _values(self, name: str, client=None):
        values = (client or self.redis).hmget(self.key(name), _STATE)
        if values[0] is None:
            raise self._missing(name)
        return values

    def get(self, name: str) -> ScheduleRecord:
        return self._schedule(name, self._values(name))

    def watched(self, pipe, name: str) -> tuple[ScheduleRecord, bytes | None] | None:
        """WATCH the schedule's hash on ``pipe`` and read it (None: removed meanwhile):
        the MULTI that follows on ``pipe`` is refused if anyone changes it."""
        pipe.watch(self.key(name))
        values = pipe.hmget(self.key(name), _STATE)
        if values[0] is None:
            return None
        _, payload = self._opened(name, values[0])
        return self._schedule(name, values), payload

    def claim_on(
        self,
        pipe,
        schedule: ScheduleRecord,
        last_due: float,
        next_due: float,
        last_job: str | None,
    ) -> None:
        """In the MULTI of ``pipe`` (after ``watched``): advance the schedule."""
        fields = {"last_due": repr(last_due), "next_due": repr(next_due)}
        if last_job is not None:
            fields["last_job"] = last_job
        pipe.hset(self.key(schedule.name), mapping=fields)
        pipe.zadd(self._due_key, {schedule.name: next_due})

    def payload(self, name: str) -> tuple[ScheduleRecord, bytes | None]:
        values = self._values(name)
        _, payload = self._opened(name, values[0])
        return self._schedule(name, values), payload

    def all(self) -> list[ScheduleRecord]:
        names = sorted(n.decode() for n in self.redis.smembers(f"{self.prefix}sched:all"))
        with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hmget(self.key(name), _STATE)
            rows = pipe.execute()
        return [
            self._schedule(name, values)
            for name, values in zip(names, rows, strict=True)
            if values[0] is not None
        ]

    def pause(self, name: str) -> ScheduleRecord:
        if not self.redis.eval(_PAUSE, 0, self.prefix, name):
            raise self._missing(name)
        return self.get(name)

    def resume(self, name: str, now: float) -> ScheduleRecord:
        upcoming = self.get(name).timing.next_after(now)
        if not self.redis.eval(_RESUME, 0, self.prefix, name, repr(now), repr(upcoming)):
            raise self._missing(name)
        return self.get(name)

    def remove(self, name: str) -> None:
        if not self.redis.eval(_REMOVE, 0, self.prefix, name):
            raise self._missing(name)

    def next_due(self) -> float | None:
        first = self.redis.zrange(self._due_key, 0, 0, withscores=True)
        return first[0][1] if first else None

    def due(self, now: float) -> list[str]:
        return [n.decode() for n in self.redis.zrangebyscore(self._due_key, "-inf", now)]

    def active(self) -> int:
        return self.redis.zcard(self._due_key)
