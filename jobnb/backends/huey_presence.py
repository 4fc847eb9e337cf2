"""Which huey workers serve a Redis queue: each says "still here" every ``WORKER_BEAT``
seconds, and a kernel that finds none heard from lately tells its user how to start one
(workers of a Redis queue are started by hand, on any machine). Judged on the Redis
server's clock, as the records' heartbeats are.

Key, beside the queue's records (prefix ``jobnb:huey:<queue name>:``)::

    workers           hash: worker name -> when it last said it is alive (server time)

(A SQLite home needs none of this: its one worker holds the home's lock.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import redis

from .records.redis import RedisRecords
from .records.redis_scripts import SERVER_NOW
from .redis_connection import unreachable

WORKER_BEAT = 5.0  # seconds between two "still here" of a worker
WORKER_SILENT_FOR = 3 * WORKER_BEAT  # no word from any worker for so long: none is alive

_WORKER_ALIVE = (
    SERVER_NOW
    + """
redis.call('HSET', KEYS[1], ARGV[1], server_now())
"""
)

# The workers heard from in the last ARGV[1] seconds, by the server's clock.
_LIVE_WORKERS = (
    SERVER_NOW
    + """
local since, alive = server_now() - tonumber(ARGV[1]), {}
local seen = redis.call('HGETALL', KEYS[1])
for i = 1, #seen, 2 do
    if tonumber(seen[i + 1]) >= since then table.insert(alive, seen[i]) end
end
return alive
"""
)

T = TypeVar("T")


def _said_clearly(records: RedisRecords, call: Callable[[], T]) -> T:
    """``call()``, a server gone away raising the same BackendUnavailable as the records
    do (which host and port, how to start one), not the client's bare ConnectionError."""
    try:
        return call()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise unreachable(records.url, exc) from None


# (EVAL, not a registered script: a worker says it every few seconds, a kernel asks now
# and then; the text is short)
def say_alive(records: RedisRecords, worker: str) -> None:
    """Say ``worker`` serves the queue of ``records`` (every WORKER_BEAT s while it runs)."""
    key = f"{records.prefix}workers"
    _said_clearly(records, lambda: records.redis.eval(_WORKER_ALIVE, 1, key, worker))


def say_gone(records: RedisRecords, worker: str) -> None:
    """Say ``worker`` stopped serving the queue of ``records``."""
    _said_clearly(records, lambda: records.redis.hdel(f"{records.prefix}workers", worker))


def live_workers(records: RedisRecords) -> list[str]:
    """The workers of the queue of ``records`` heard from lately, on any machine."""
    key = f"{records.prefix}workers"
    alive = _said_clearly(
        records, lambda: records.redis.eval(_LIVE_WORKERS, 1, key, WORKER_SILENT_FOR)
    )
    return sorted(name.decode() for name in alive)
