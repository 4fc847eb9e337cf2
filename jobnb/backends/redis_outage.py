"""Riding out a Redis server that went away (restarted, its machine rebooting): a worker
waits for it with back-off and says so in its log, then goes on serving.

The log names the server by host and port, never by URL: the URL may hold a password.
"""

from __future__ import annotations

import sys
import threading
import time

import redis

from ..exceptions import BackendUnavailable
from .redis_connection import where

FIRST_PAUSE = 0.5  # seconds before the first retry; doubled each time, up to LONGEST_PAUSE
LONGEST_PAUSE = 10.0
#: what "the server cannot be reached" looks like: redis-py's errors, and the records'
#: BackendUnavailable that says the same in jobnb's words
CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError, BackendUnavailable)

_one_waiter = threading.Lock()  # one thread of a worker says it and pings; the others wait


def say(text: str) -> None:
    print(f"jobnb worker: {text}", file=sys.stderr, flush=True)


def answers(client) -> bool:
    try:
        client.ping()
    except CONNECTION_ERRORS:
        return False
    return True


def wait_for_server(client, url: str, lost: bool = False) -> None:
    """Block until the server at ``url`` answers ``client`` again, with back-off, saying
    in the log "lost Redis at host H port P (db N), retrying in S s" and then
    "reconnected to Redis at ...". Returns at once if it answers now, unless ``lost``
    (the caller knows it went away: it says so, and waits once)."""
    with _one_waiter:
        if not lost and answers(client):
            return
        pause = FIRST_PAUSE
        while True:
            say(f"lost Redis at {where(url)}, retrying in {pause:g} s")
            time.sleep(pause)
            if answers(client):
                break
            pause = min(pause * 2, LONGEST_PAUSE)
        say(f"reconnected to Redis at {where(url)}")
