"""The ``subprocess`` backend: a pool of worker processes, children of the kernel.

Each worker process has a feeder thread in the kernel that hands it one job at a
time over a pipe and reads back its output, progress and outcome. Workers run in a
session of their own, so cancelling or timing out a running job kills the worker's
whole process group (the job and anything it started) and a fresh worker takes its
place; a worker that dies on its own (``os._exit``, a segfault) marks its job ``lost``.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

from ..job import JobStatus
from ..payload import Outcome, Payload, dumps_payloads, loads_outcome
from .base import JobOptions
from .memory import Entry, MemoryBackend

_STOP = None  # queued to a feeder thread to end it


class _Worker:
    """One worker process and the kernel thread that feeds it."""

    def __init__(self, pool: SubprocessBackend, index: int) -> None:
        self.pool = pool
        self.index = index
        self.proc: subprocess.Popen | None = None
        self.inbox: Connection | None = None  # kernel -> worker
        self.outbox: Connection | None = None  # worker -> kernel
        self.entry: Entry | None = None  # the job it runs now, changed under ``lock``
        self.lock = threading.Lock()  # so a cancel never kills the worker's next job
        self.doomed = False  # killed: replace it before the next job, even if not yet reaped
        self.thread = threading.Thread(
            target=self._feed, name=f"jobnb-subprocess-{index}", daemon=True
        )

    def spawn(self) -> None:
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        for fd in (to_worker_w, from_worker_w):
            _widen_pipe(fd)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jobnb.backends.subprocess_worker",
                str(to_worker_r),
                str(from_worker_w),
            ],
            pass_fds=(to_worker_r, from_worker_w),
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: one killpg stops the tree
        )
        os.close(to_worker_r)
        os.close(from_worker_w)
        self.inbox = Connection(to_worker_w, readable=False)
        self.outbox = Connection(from_worker_r, writable=False)
        self.inbox.send_bytes(pickle.dumps({"sys_path": list(sys.path), "parent": os.getpid()}))
        self.doomed = False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Stop the worker and every process it started."""
        if self.proc is None:
            return
        self.doomed = True
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        for conn in (self.inbox, self.outbox):
            if conn is not None:
                conn.close()
        self.inbox = self.outbox = None
        if self.proc is not None:
            self.proc.wait()

    def _feed(self) -> None:
        while True:
            if self.doomed or not self.alive():
                self.close()
                self.spawn()  # at once, so the next job does not wait for a start-up
            entry = self.pool.queue.get()
            if entry is _STOP:
                break
            with self.lock:
                self.entry = entry  # first, so that a cancel from now on finds it here
            if not self.pool.store.start(
                entry, f"{self.pool.name}-{self.index} pid {self.proc.pid}"
            ):
                with self.lock:
                    self.entry = None
                continue  # cancelled while queued
            outcome = self._run(entry)
            with self.lock:
                self.entry = None
            self.pool.store.finish(entry, outcome)
        self.close()

    def _run(self, entry: Entry) -> Outcome:
        timeout = entry.record.timeout
        deadline = time.monotonic() + timeout if timeout else None
        try:
            self.inbox.send_bytes(entry.payload)
            while True:
                if deadline is not None and not self.outbox.poll(
                    max(0.0, deadline - time.monotonic())
                ):
                    self.kill()
                    return Outcome.timed_out(timeout)
                message = self.outbox.recv_bytes()
                tag = message[:1]
                if tag == b"R":
                    return _load(self.outbox.recv_bytes())
                if tag == b"P":
                    entry.progress(*pickle.loads(message[1:]))
                else:
                    entry.log("stdout" if tag == b"O" else "stderr", message[1:].decode())
        except (EOFError, OSError):
            if entry.cancel_requested:
                return Outcome.cancelled("while running")
            return Outcome.lost(self._death_reason())

    def _death_reason(self) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.wait()
        if code < 0:
            how = f"was killed by {signal.Signals(-code).name}"
        else:
            how = f"exited with code {code}"
        return f"the worker process (pid {self.proc.pid}) {how} while running the job"


def _widen_pipe(fd: int) -> None:
    """Grow the pipe's buffer from 64 KiB to 1 MiB where allowed: a large argument or
    result then crosses in far fewer wake-ups of the two processes."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or capped lower by /proc/sys/fs/pipe-max-size: 64 KiB works too


def _load(blob: bytes) -> Outcome:
    try:
        return loads_outcome(blob)
    except Exception as exc:  # e.g. the result's class cannot be imported in the kernel
        text = f"the job's result cannot be loaded in the kernel: {type(exc).__name__}: {exc}\n"
        return Outcome(JobStatus.FAILED, exception=exc, error=text)


class SubprocessBackend(MemoryBackend):
    """Runs jobs in ``workers`` processes, children of this one."""

    name = "subprocess"

    def __init__(self, workers: int = 2, **_: object) -> None:
        super().__init__(workers)
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
        self._ensure_started()
        ids = []
        for payload, blob in zip(payloads, blobs, strict=True):
            entry = self.store.add(payload, options)
            entry.payload = blob
            self._enqueue(entry)
            ids.append(entry.record.id)
        return ids

    def _enqueue(self, entry: Entry) -> None:
        self._ensure_started()
        self.queue.put(entry)

    def cancel(self, job_id: str) -> bool:
        entry = self.store.get(job_id)
        if self.store.cancel_queued(entry):
            return True
        if entry.done.is_set():
            return False
        for worker in self._pool:
            with worker.lock:
                if worker.entry is entry:
                    worker.kill()  # its feeder sees the pipe close and records the cancel
                    return True
        return False

    def shutdown(self, wait: bool = True) -> None:
        for _ in self._pool:
            self.queue.put(_STOP)
        for worker in self._pool:
            if worker.entry is not None:
                worker.kill()
        if wait:
            for worker in self._pool:
                worker.thread.join(timeout=5)
        self._pool = []
