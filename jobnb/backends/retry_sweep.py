"""The queue workers' sweep of due retries: every ``RETRY_LOOK`` s each worker asks its
records store for the jobs whose next attempt has come (``Records.take_due_retries``,
which gives each out once, and looks for lost jobs first) and queues them on its queue
(huey: a message; rq: an RQ job). The store, not the queue, holds a job between two
attempts: so a retry needs no kernel (a reader that finds a job lost needs no queue of
its own), no scheduler (huey's ``eta``, rq's ``enqueue_in``), and survives the worker
that failed it. A sweep that dies between taking a job and queueing it leaves it
queued with no message: the queues' repair sweeps queue it again (huey_messages,
rq_batches).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

#: seconds between two looks for due retries: how late past its ``retry_delay`` an
#: attempt may start (a look is one indexed read, or one short script)
RETRY_LOOK = 0.5


def queue_due_retries(records, queue: Callable[[list[str]], None]) -> list[str]:
    """Queue (``queue(ids)``) the jobs whose next attempt is due; their ids."""
    job_ids = records.take_due_retries()
    if job_ids:
        queue(job_ids)
    return job_ids


def sweep_retries_forever(records, queue: Callable[[list[str]], None]) -> threading.Thread:
    """Start a daemon thread that queues the due retries every ``RETRY_LOOK`` s; a store
    that fails is said once in the worker's log, and tried again."""

    def sweep() -> None:
        failing = False
        while True:
            time.sleep(RETRY_LOOK)
            try:
                for job_id in queue_due_retries(records, queue):
                    print(f"jobnb worker: job {job_id} queued for its next attempt", flush=True)
                failing = False
            except Exception as exc:  # the store away for a moment: the next look tries
                if not failing:
                    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
                    print(f"jobnb worker: cannot look for due retries: {text}", file=sys.stderr)
                failing = True

    thread = threading.Thread(target=sweep, name="jobnb-retries", daemon=True)
    thread.start()
    return thread
