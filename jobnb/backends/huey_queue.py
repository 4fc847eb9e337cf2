"""The ``huey`` backend: a SQLite queue (Huey) and job records in one file under
``JOBNB_HOME`` (default ``./.jobnb/jobs.db``), so jobs outlive the kernel that submitted
them, and a job's record and its queue message are written in one transaction.

The queue carries only job ids: the serialized payload is written once, into the
records, and the one registered Huey task (``jobnb.run``) reads it there, so
notebook-defined functions and ``%%submit`` cells run (Huey alone drops tasks it
does not find in its registry). Each worker thread runs its jobs in a clean child
process (worker/child.py) that it can kill: cancel and timeout work on both worker
kinds, and the worker beats a heartbeat into the records while the child runs.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import redis

from ..exceptions import JobnbWarning
from ..model import JobRecord, JobStatus
from .huey_home import make_huey, open_records
from .huey_messages import insert_messages, messages, queue_messages
from .huey_presence import WORKER_SILENT_FOR, live_workers
from .huey_wakeup import wake_worker
from .huey_worker import ensure_worker, worker_pid
from .options import HueyOptions, huey_home
from .records_backend import RecordsBackend
from .redis_connection import redacted, unreachable, worker_command

WAIT_SLICE = 2.0  # seconds a waiting kernel waits between two looks for a worker


class HueyBackend(RecordsBackend):
    """Jobs queued in SQLite under ``home`` (or in Redis, when ``home`` is a URL), run by
    ``jobnb worker`` processes. On SQLite the first submit starts a local worker if
    none is alive; on Redis, workers are started by hand, on any machine."""

    name = "huey"

    def __init__(self, options: HueyOptions = HueyOptions()) -> None:  # noqa: B008 - frozen
        self.options = options
        self.home, self.redis_url = huey_home(options.home)
        self.workers = options.workers
        key_file = options.secret_key_file
        self.huey = make_huey(self.home, self.redis_url, key_file)
        self.records_store = open_records(
            self.home, self.redis_url, options.result_ttl, key_file, options.log_bytes_kept
        )
        # the waiting jobs this kernel's actions release (a submit whose dependencies
        # had ended, a cancel) are queued here
        self.records_store.on_release = lambda ids: queue_messages(self.huey, ids)

    def store_and_queue(self, records: list[JobRecord], blobs: list[bytes]) -> None:
        """Records, payloads and queue messages in one transaction (SQLite) or one MULTI
        (Redis): a submitter killed halfway leaves no job queued that nothing will run."""
        # (a waiting job gets its message when what it waits for has finished: the
        # store hands its id to ``on_release``, set below)
        ready = [rec.id for rec in records if rec.status is JobStatus.QUEUED]
        data = messages(self.huey, ready)  # before: the lock is short
        where = {"cwd": os.getcwd(), "sys_path": sys.path}
        if self.redis_url:
            self._store_and_push(records, blobs, data, where)
            return
        self.records_store.add(
            records, blobs, **where, within=lambda db: insert_messages(db, self.huey, data)
        )
        wake_worker(self.home)  # (committed: the worker sees them)
        self.ensure_worker()

    def _store_and_push(self, records, blobs, data: list[bytes], where: dict) -> None:
        try:
            with self.records_store.redis.pipeline(transaction=True) as pipe:
                added = self.records_store.add(records, blobs, **where, pipeline=pipe)
                # LPUSH a b: a is popped first (huey's workers pop from the right)
                if data:
                    pipe.lpush(self.huey.storage.queue_key, *data)
                added(pipe.execute())
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise unreachable(self.redis_url, exc) from None

    def ensure_worker(self) -> None:
        """The embedded default (SQLite) starts its own worker when none is alive."""
        if not self.redis_url:
            ensure_worker(self.home, self.workers)

    def wait(self, job_id: str, timeout: float | None) -> bool:
        """Wait in slices; between two, while the job is not done, look for a worker: on
        SQLite start one if the last one died (a kernel that only waits would otherwise
        wait for ever), on Redis warn once if none has been heard from."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = WAIT_SLICE if deadline is None else max(0.0, deadline - time.monotonic())
            if self.records_store.wait(job_id, min(WAIT_SLICE, left)):
                return True
            # looked for before giving up, too: a kernel that waits in short timeouts
            # (a loop of `wait(1)`) must also bring a dead worker back
            if not self.redis_url:
                self.ensure_worker()
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if (
                self.redis_url
                and not self._warned_unserved
                and not live_workers(self.records_store)
            ):
                self._warned_unserved = True
                url = redacted(self.redis_url)
                command = worker_command(self.redis_url, "huey")
                warnings.warn(
                    f"job {job_id} waits, but no jobnb worker has been heard from at {url} "
                    f"for {WORKER_SILENT_FOR:g} s: start one with {command} (on this "
                    "machine or any other that reaches the server)",
                    JobnbWarning,
                    stacklevel=4,  # at the user's wait() or result() call
                )

    _warned_unserved = False

    def unserved(self, records: list[JobRecord]) -> str | None:
        if not self.redis_url or live_workers(self.records_store):
            return None
        url = redacted(self.redis_url)
        command = worker_command(self.redis_url, "huey")
        return (
            f"no jobnb worker serves the Redis queue at {url} yet: the job waits until one "
            f"does. Start one with {command} (on this machine or any other that reaches "
            "the server)."
        )

    def stats(self) -> dict[str, object]:
        counts = self.counts()
        if self.redis_url:
            seen = live_workers(self.records_store)
            workers = {"workers": f"{len(seen)} ({', '.join(seen)})" if seen else "none seen"}
        else:
            workers = {"worker pid": worker_pid(self.home) or "none"}
        return {
            **workers,
            "queued": counts[JobStatus.QUEUED],
            "running": counts[JobStatus.RUNNING],
        }

    def describe(self) -> dict[str, object]:
        if self.redis_url:
            return {"backend": self.name, "redis": redacted(self.redis_url)}
        return {"backend": self.name, "home": str(self.home), "workers": self.workers}
