"""The worker process of the ``subprocess`` backend (``python -m`` this module).

It reads serialized payloads from one pipe, runs them with ``runner.run`` one at a
time, and writes back through another pipe, as length-prefixed messages whose first
byte says what they are:

    b"O" + text     the job wrote to stdout      b"E" + text   ... to stderr
    b"P" + pickle   progress (done, total, message)
    b"K" + pid      the job started process ``pid`` in a session of its own (a notebook's
                    kernel): kill its process group too when killing this worker
    b"R", then the serialized Outcome (two messages, so a large result is not copied)

and a message to it that starts with b"C" (a pickle, never: those start with 0x80)
carries the working directory and sys.path of the jobs that follow.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time
from multiprocessing.connection import Connection

from .. import runner
from ..payload import dumps_outcome

_FLUSH_BYTES = 8192
_FLUSH_SECONDS = 0.1


class PipeReporter:
    """runner.Reporter that streams a job's output and progress to the kernel.

    Output is sent per line (or every 8 KiB, or 0.1 s), so ``job.logs()`` shows it
    while the job runs without one message per ``print`` fragment.
    """

    def __init__(self, outbox: Connection) -> None:
        self.outbox = outbox
        self.lock = threading.Lock()  # the job's own threads may print too
        self._pending: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._size = 0
        self._last_send = time.monotonic()

    def log(self, stream: str, text: str) -> None:
        with self.lock:
            self._pending[stream].append(text)
            self._size += len(text)
            if (
                "\n" in text
                or "\r" in text
                or self._size >= _FLUSH_BYTES
                or time.monotonic() - self._last_send > _FLUSH_SECONDS
            ):
                self._flush_locked()

    def progress(self, done: float, total: float | None, message: str | None) -> None:
        data = pickle.dumps((done, total, message))
        with self.lock:
            self._flush_locked()
            self.outbox.send_bytes(b"P" + data)

    def adopt(self, pid: int) -> None:
        """The job started ``pid`` in a session of its own: it dies with this worker."""
        adopted.add(pid)
        with self.lock:
            self.outbox.send_bytes(b"K" + str(pid).encode())

    def flush(self) -> None:
        with self.lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        for stream, tag in (("stdout", b"O"), ("stderr", b"E")):
            chunks = self._pending[stream]
            if chunks:
                self.outbox.send_bytes(tag + "".join(chunks).encode("utf-8", "replace"))
                chunks.clear()
        self._size = 0
        self._last_send = time.monotonic()

    def send_outcome(self, blob: bytes) -> None:
        with self.lock:
            self._flush_locked()
            self.outbox.send_bytes(b"R")
            self.outbox.send_bytes(blob)


#: process groups of their own that the running job started (a notebook's kernel)
adopted: set[int] = set()


def _exit_with_parent(parent_pid: int) -> None:
    """End this worker, and whatever its job started, when the kernel is gone."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            for pid in list(adopted):
                try:
                    os.killpg(pid, 9)
                except OSError:
                    pass
            os.killpg(0, 9)


def _enter(cwd: str | None, sys_path: list[str]) -> None:
    """Run the next jobs where their notebook was, with its modules importable."""
    if cwd and os.path.isdir(cwd):
        os.chdir(cwd)
    sys.path[:0] = [p for p in sys_path if p not in sys.path]


def main(argv: list[str]) -> None:
    inbox = Connection(int(argv[1]), writable=False)
    outbox = Connection(int(argv[2]), readable=False)
    init = pickle.loads(inbox.recv_bytes())
    sys.path[:] = init["sys_path"]  # so modules the notebook imports by reference resolve
    threading.Thread(target=_exit_with_parent, args=(init["parent"],), daemon=True).start()
    reporter = PipeReporter(outbox)
    runner.own_process(reporter)
    while True:
        try:
            data = inbox.recv_bytes()
        except EOFError:  # the kernel closed the pool
            return
        if data[:1] == b"C":  # the (cwd, sys_path) of the jobs that follow (huey workers)
            _enter(*pickle.loads(data[1:]))
            continue
        outcome = runner.run(data, reporter)
        adopted.clear()  # the job ended: what it started has ended with it
        reporter.send_outcome(dumps_outcome(outcome))


if __name__ == "__main__":
    main(sys.argv)
