"""The values jobnb uses when nothing says otherwise, named once: settings, backends and
the command line all read them here."""

from __future__ import annotations

#: the backend when none is configured: huey on SQLite, whose jobs outlive the kernel
BACKEND = "huey"
#: threads or processes of a pool, and of a `jobnb worker`
WORKERS = 2
#: the folder of huey's queue and records (SQLite), relative to the working directory
HOME = ".jobnb"
#: read for settings, in the working directory
CONFIG_FILE = "jobnb.toml"
#: the Redis server of the Redis backends when none is configured
REDIS_URL = "redis://127.0.0.1:6379/0"
#: RQ's own name for the queue a job goes to when it names none
RQ_QUEUE = "default"
#: how a huey `jobnb worker` runs its jobs: on threads (or processes) of its own
WORKER_KIND = "thread"
#: seconds a stopped huey worker's running jobs get to finish before they are requeued
GRACE = 30.0
#: bytes of each job's log a records store keeps (its head and its tail; the middle is
#: dropped, and a SQLite home keeps the whole log in a file beside)
LOG_BYTES_KEPT = 4 * 2**20
#: seconds between a job's failed attempt and its second one (doubling after), when it
#: has ``retries`` and its options name no ``retry_delay``
RETRY_DELAY = 1.0
