"""The ``thread`` backend: jobs run in a thread pool inside the kernel.

Jobs share the kernel's objects (nothing is pickled), so anything can be an argument.
A running job cannot be killed: cancel and timeout raise an exception inside its thread
(``PyThreadState_SetAsyncExc``), which Python delivers between two bytecodes. A job
blocked in one long C call (``time.sleep(60)``, a socket read, a big numpy operation)
stops only when that call returns.
"""

from __future__ import annotations

import ctypes
import threading
from concurrent.futures import ThreadPoolExecutor

from ..payload import Payload
from ..payload.futures import value_of
from ..worker import runner
from .base import JobOptions
from .memory import Entry, MemoryBackend
from .options import ThreadOptions


def _raise_in_thread(ident: int, exc_type: type[BaseException]) -> None:
    """Schedule ``exc_type`` to be raised in thread ``ident`` at its next bytecode check.

    Never called with NULL to clear a pending exception: on CPython 3.11 that leaves the
    interpreter's eval breaker signalled for good, which slows every later bytecode of
    the kernel (and hangs cProfile). A late interrupt is absorbed instead.
    """
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exc_type))


def _absorb_late_interrupt() -> None:
    """Let an interrupt sent as the job ended be delivered here, where it harms nothing.

    A pending asynchronous exception is raised at the next eval-breaker check, which
    every backward jump of this loop makes.
    """
    try:
        for _ in range(1000):
            pass
    except runner.Interrupted:
        pass


class ThreadBackend(MemoryBackend):
    """Runs jobs on ``workers`` threads of this process."""

    name = "thread"

    def __init__(self, options: ThreadOptions = ThreadOptions()) -> None:  # noqa: B008 - frozen
        super().__init__(options.workers, options.log_bytes_kept)
        self.options = options
        self._pool = ThreadPoolExecutor(options.workers, thread_name_prefix="jobnb-thread")
        self._running: dict[str, int] = {}  # job id -> thread ident, under store.lock
        self._interrupted: set[str] = set()  # jobs sent an interrupt, under store.lock

    def submit(self, payload: Payload, options: JobOptions) -> str:
        entry = self.store.add(payload, options)
        self._enqueue_when_ready(entry)
        return entry.record.id

    def _enqueue(self, entry: Entry) -> None:
        self._pool.submit(self._run, entry)

    def _run(self, entry: Entry) -> None:
        job_id = entry.record.id
        if not self.store.start(entry, threading.current_thread().name):
            return  # cancelled while queued
        ident = threading.get_ident()
        timer = None
        try:
            with self.store.lock:
                self._running[job_id] = ident
            if entry.record.timeout:
                timer = threading.Timer(
                    entry.record.timeout, self._interrupt, (job_id, runner.TimeoutInterrupt)
                )
                timer.daemon = True
                timer.start()
            outcome = runner.run(entry.payload, entry, job_id, results=self._result_of)
        except runner.Interrupted as late:  # delivered just outside runner.run
            outcome = runner.interrupted_outcome(late)
        finally:
            while True:  # again if an interrupt lands mid-cleanup: none can after the pop
                try:
                    if timer is not None:
                        timer.cancel()
                    with self.store.lock:
                        self._running.pop(job_id, None)  # from here on no interrupt is sent
                        interrupted = job_id in self._interrupted
                        self._interrupted.discard(job_id)
                    if interrupted:
                        _absorb_late_interrupt()  # nothing may reach the pool's own code
                    break
                except runner.Interrupted:
                    continue
        self._end(entry, outcome)

    def _result_of(self, job_id: str) -> object:
        """The value of job ``job_id``, an argument of a job of this backend."""
        return value_of(job_id, self.store.outcome(job_id))

    def _interrupt(self, job_id: str, exc_type: type[runner.Interrupted]) -> bool:
        with self.store.lock:
            ident = self._running.get(job_id)
            if ident is None:
                return False
            _raise_in_thread(ident, exc_type)
            self._interrupted.add(job_id)
            return True

    def cancel(self, job_id: str, by: str) -> bool:
        entry = self.store.get(job_id)
        if self.store.cancel_queued(entry, by):
            return True
        return self._interrupt(job_id, runner.CancelInterrupt)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)
