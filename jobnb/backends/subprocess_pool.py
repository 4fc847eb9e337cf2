"""The ``subprocess`` backend: a pool of worker processes, children of the kernel.

Each worker process has a feeder thread in the kernel that hands it one job at a
time over a pipe and reads back its output, progress and outcome. Workers run in a
session of their own, so cancelling or timing out a running job kills the worker's
whole process group (the job and anything it started) and a fresh worker takes its
place; a worker that dies on its own (``os._exit``, a segfault) marks its job ``lost``.
"""

from __future__ import annotations

import queue
import threading

from ..payload import Payload, SealedOutcome, dumps_outcome, dumps_payloads
from ..worker.child import ChildProcess
from .base import JobOptions
from .memory import Entry, MemoryBackend
from .options import SubprocessOptions

_STOP = None  # queued to a feeder thread to end it


class _Worker:
    """One clean worker process and the kernel thread that feeds it."""

    def __init__(self, pool: SubprocessBackend, index: int) -> None:
        self.pool = pool
        self.index = index
        self.child = ChildProcess()
        self.entry: Entry | None = None  # the job it runs now, changed under ``lock``
        self.lock = threading.Lock()  # so a cancel never kills the worker's next job
        self.thread = threading.Thread(
            target=self._feed, name=f"jobnb-subprocess-{index}", daemon=True
        )

    def _feed(self) -> None:
        while True:
            self.child.ready()  # at once, so the next job does not wait for a start-up
            entry = self.pool.queue.get()
            if entry is _STOP:
                break
            with self.lock:
                self.entry = entry  # first, so that a cancel from now on finds it here
            worker = f"{self.pool.name}-{self.index} pid {self.child.pid}"
            if not self.pool.store.start(entry, worker):
                with self.lock:
                    self.entry = None
                continue  # cancelled while queued
            outcome = self.child.run(
                entry.payload,
                entry,
                entry.record.timeout,
                was_cancelled=lambda e=entry: e.cancel_requested,
                results=self.pool.outcome_blob,  # a dependency's (payload/futures.py)
            )
            with self.lock:
                self.entry = None
            self.pool._end(entry, outcome)
        self.child.close()


class SubprocessBackend(MemoryBackend):
    """Runs jobs in ``workers`` processes, children of this one."""

    name = "subprocess"

    def __init__(self, options: SubprocessOptions = SubprocessOptions()) -> None:  # noqa: B008
        super().__init__(options.workers, options.log_bytes_kept)
        self.options = options
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pool: list[_Worker] = []
        self._start_lock = threading.Lock()

    def _ensure_started(self) -> None:
        if self._pool:
            return
        with self._start_lock:
            if not self._pool:
                pool = [_Worker(self, i) for i in range(self.workers)]
                for worker in pool:
                    worker.thread.start()
                self._pool = pool

    def submit(self, payload: Payload, options: JobOptions) -> str:
        return self.submit_many([payload], options)[0]

    def submit_many(self, payloads, options: JobOptions) -> list[str]:
        payloads = list(payloads)
        blobs = dumps_payloads(payloads)  # raises before anything is queued
        ids = []
        for payload, blob in zip(payloads, blobs, strict=True):
            entry = self.store.add(payload, options)
            # joined now, once: a job runs what its arguments were when it was submitted,
            # even if the kernel changes an array before a worker is free to take it
            # (the pieces are views of the kernel's arrays)
            entry.payload = blob.joined()
            self._enqueue_when_ready(entry)
            ids.append(entry.record.id)
        return ids

    def _enqueue(self, entry: Entry) -> None:
        self._ensure_started()
        self.queue.put(entry)

    def outcome_blob(self, job_id: str) -> object | None:
        """The serialized outcome of an ended job of this pool (None: not ended), for a
        job that takes its result as an argument."""
        outcome = self.store.get(job_id).outcome
        if isinstance(outcome, SealedOutcome):
            return outcome.blob
        return None if outcome is None else dumps_outcome(outcome)

    def cancel(self, job_id: str, by: str) -> bool:
        entry = self.store.get(job_id)
        if self.store.cancel_queued(entry, by):
            return True
        if entry.done.is_set():
            return False
        for worker in self._pool:
            with worker.lock:
                if worker.entry is entry:
                    worker.child.kill()  # its feeder sees the pipe close, records the cancel
                    return True
        return False

    def shutdown(self, wait: bool = True) -> None:
        for _ in self._pool:
            self.queue.put(_STOP)
        for worker in self._pool:
            if worker.entry is not None:
                worker.child.kill()
        if wait:
            for worker in self._pool:
                worker.thread.join(timeout=5)
        self._pool = []
