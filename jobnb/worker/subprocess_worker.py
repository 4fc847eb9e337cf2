"""The worker process of the ``subprocess`` backend (``python -m`` this module).

It reads jobs from one pipe, runs them with ``runner.run`` one at a time, and writes
back through another pipe. A job comes as b"J" + token, then the serialized payload
(pipe_blobs.py: its length, then its bytes, read into one buffer); a message b"C" +
pickle carries the working directory and sys.path of the jobs that follow. What it writes back are
length-prefixed messages whose first byte says what they are:

    b"S" + token    the job with this token started: what follows is its own (sent
                    before its first output, progress or pid only: a job that sends
                    none costs the parent one wake-up, its outcome)
    b"O" + text     the job wrote to stdout      b"E" + text   ... to stderr
    b"P" + pickle   progress (done, total, message)
    b"K" + pid      the job started process ``pid`` in a session of its own (a notebook's
                    kernel): kill its process group too when killing this worker
    b"R" + token, then the serialized Outcome of the job with this token (pipe_blobs.py:
                    its pieces written one by one, a large result is never copied)
    b"Q" + job id   the running job takes that job's result as an argument: the parent
                    answers b"D" then that job's serialized Outcome, or b"N" + why not
                    (payload/futures.py)

The token (a sequence number the parent chose) comes back with the outcome, so that
the parent never takes one job's outcome for another's.

The process is a child subreaper (process_tree.py): what its jobs start stays among
its descendants, so that killing it kills them all, also those in sessions of their
own; it reaps the ones that end, while no job runs.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time
from multiprocessing.connection import Connection

from ..exceptions import JobnbError
from ..payload import dumps_outcome, loads_outcome
from ..payload.futures import value_of
from . import runner
from .pipe_blobs import receive_blob, send_blob
from .process_tree import become_subreaper, kill_tree, reap_zombies

_FLUSH_BYTES = 65536  # output is sent at once past this much ...
_FLUSH_SECONDS = 0.05  # ... and at the latest this long after it was printed
_BURST = 16  # lines sent at once within _FLUSH_SECONDS; more wait for the next send


class PipeReporter:
    """reporting.Reporter that streams a job's output and progress to the kernel.

    Lines are sent at once, up to a burst of 16 every 0.05 s; past that (a job printing
    without pause), its output is gathered and sent every 0.05 s (or 64 KiB), so a
    200 MB log is a few thousand messages, not one per line. A partial line is sent
    within 0.05 s too (by a thread of its own), and the two streams keep their order.
    """

    def __init__(self, outbox: Connection) -> None:
        self.outbox = outbox
        self.lock = threading.Condition()  # the job's own threads may print too
        self._pending: list[tuple[bytes, str]] = []  # (b"O" or b"E", text), in order
        self._size = 0
        self._pending_since = 0.0
        self._window_start = -float("inf")  # a burst of lines sent at once began then
        self._sent_at_once = 0
        self._unsaid: bytes | None = None  # the running job's token, until S is sent
        threading.Thread(target=self._send_late, name="jobnb-output", daemon=True).start()

    def log(self, stream: str, text: str) -> None:
        with self.lock:
            self._pending.append((b"O" if stream == "stdout" else b"E", text))
            self._size += len(text)
            now = time.monotonic()
            if "\n" in text and now - self._window_start >= _FLUSH_SECONDS:
                self._window_start, self._sent_at_once = now, 0
            if self._size >= _FLUSH_BYTES or ("\n" in text and self._sent_at_once < _BURST):
                self._sent_at_once += 1
                self._flush_locked()
            elif len(self._pending) == 1:
                self._pending_since = now
                self.lock.notify()  # _send_late sends it within _FLUSH_SECONDS

    def _send_late(self) -> None:
        with self.lock:
            while True:
                if not self._pending:
                    self.lock.wait()
                    continue
                left = self._pending_since + _FLUSH_SECONDS - time.monotonic()
                if left > 0:
                    self.lock.wait(left)
                    continue
                self._flush_locked()

    def progress(self, done: float, total: float | None, message: str | None) -> None:
        data = pickle.dumps((done, total, message))
        with self.lock:
            self._flush_locked()
            self._say_started()
            self.outbox.send_bytes(b"P" + data)

    def adopt(self, pid: int) -> None:
        """The job started ``pid`` in a session of its own: it dies with this worker."""
        adopted.add(pid)
        with self.lock:
            self._say_started()
            self.outbox.send_bytes(b"K" + str(pid).encode())

    def flush(self) -> None:
        with self.lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        # consecutive writes to one stream go as one message
        if self._pending:
            self._say_started()
        tag, texts = None, []
        for chunk_tag, text in self._pending:
            if chunk_tag != tag and texts:
                self.outbox.send_bytes(tag + "".join(texts).encode("utf-8", "replace"))
                texts = []
            tag = chunk_tag
            texts.append(text)
        if texts:
            self.outbox.send_bytes(tag + "".join(texts).encode("utf-8", "replace"))
        self._pending.clear()
        self._size = 0

    def start(self, token: bytes) -> None:
        with self.lock:
            self._unsaid = token  # said before the job's first message, if it sends one

    def _say_started(self) -> None:
        if self._unsaid is not None:
            self.outbox.send_bytes(b"S" + self._unsaid)
            self._unsaid = None

    def ask(self, message: bytes) -> None:
        """Send a question to the parent (the job's own output first)."""
        with self.lock:
            self._flush_locked()
            self._say_started()
            self.outbox.send_bytes(message)

    def send_outcome(self, token: bytes, blob) -> None:
        with self.lock:
            self._flush_locked()
            self._unsaid = None  # (the outcome carries the token)
            send_blob(self.outbox, blob, first=b"R" + token)


#: process groups of their own that the running job started (a notebook's kernel)
adopted: set[int] = set()


class _Between:
    """Whether a job runs; zombies are reaped only between jobs (see reap_zombies)."""

    lock = threading.Lock()
    running = False


def _reap_while_idle() -> None:
    """Reap, once a second, the processes that ended while no job runs (daemons a job
    left, adopted as orphans): the main thread then waits for the next job."""
    while True:
        time.sleep(1.0)
        with _Between.lock:
            if not _Between.running:
                reap_zombies()


def _exit_with_parent(parent_pid: int) -> None:
    """End this worker, and whatever its job started, when the kernel is gone."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            kill_tree(os.getpid(), [*adopted, os.getpgid(0)])


def _enter(cwd: str | None, sys_path: list[str]) -> None:
    """Run the next jobs where their notebook was, with its modules importable."""
    if cwd and os.path.isdir(cwd):
        os.chdir(cwd)
    sys.path[:0] = [p for p in sys_path if p not in sys.path]


def _results_from(inbox: Connection, reporter: PipeReporter):
    """What gives the running job the value of a job whose result is its argument:
    asked of the parent, which reads it where its backend keeps outcomes."""

    def result_of(job_id: str):
        reporter.ask(b"Q" + job_id.encode())
        reply = inbox.recv_bytes()
        if reply[:1] != b"D":
            raise JobnbError(reply[1:].decode(errors="replace"))
        return value_of(job_id, loads_outcome(receive_blob(inbox)))

    return result_of


def main(argv: list[str]) -> None:
    inbox = Connection(int(argv[1]), writable=False)
    outbox = Connection(int(argv[2]), readable=False)
    init = pickle.loads(inbox.recv_bytes())
    sys.path[:] = init["sys_path"]  # so modules the notebook imports by reference resolve
    become_subreaper()
    threading.Thread(target=_exit_with_parent, args=(init["parent"],), daemon=True).start()
    threading.Thread(target=_reap_while_idle, daemon=True).start()
    reporter = PipeReporter(outbox)
    runner.own_process(reporter)
    while True:
        try:
            data = inbox.recv_bytes()
            if data[:1] == b"C":  # the (cwd, sys_path) of the jobs that follow (huey workers)
                _enter(*pickle.loads(data[1:]))
                continue
            token, payload = data[1:], receive_blob(inbox)  # b"J" + token, then the payload
        except EOFError:  # the kernel closed the pool
            return
        with _Between.lock:
            _Between.running = True
        reporter.start(token)
        outcome = runner.run(payload, reporter, results=_results_from(inbox, reporter))
        with _Between.lock:
            _Between.running = False
            reap_zombies()
        adopted.clear()  # the job ended: what it started has ended with it
        reporter.send_outcome(token, dumps_outcome(outcome))


if __name__ == "__main__":
    main(sys.argv)
