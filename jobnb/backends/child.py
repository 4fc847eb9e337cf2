"""A worker process started clean (``python -m jobnb.backends.subprocess_worker``) that
runs one job at a time and can be killed, its whole process tree with it.

The ``subprocess`` backend keeps one per pool slot; a ``huey`` worker keeps one per
worker thread, so a job can be cancelled or timed out on both worker kinds without
forking a process that has threads.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

from ..job import JobStatus
from ..payload import Outcome, loads_outcome
from ..runner import Reporter


class ChildProcess:
    """One clean worker process and the pipes to it."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.inbox: Connection | None = None  # parent -> child
        self.outbox: Connection | None = None  # child -> parent
        self.doomed = False  # killed: replace it before the next job, even if not yet reaped
        self._context: tuple | None = None
        #: process groups the running job started apart (a notebook's kernel): killed
        #: with the worker, forgotten when the job ends
        self.adopted: set[int] = set()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def spawn(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        for fd in (to_child_w, from_child_w):
            _widen_pipe(fd)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jobnb.backends.subprocess_worker",
                str(to_child_r),
                str(from_child_w),
            ],
            pass_fds=(to_child_r, from_child_w),
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: one killpg stops the tree
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.inbox = Connection(to_child_w, readable=False)
        self.outbox = Connection(from_child_r, writable=False)
        self.inbox.send_bytes(pickle.dumps({"sys_path": list(sys.path), "parent": os.getpid()}))
        self.doomed = False
        self._context = None

    def ready(self) -> None:
        """Replace the process if it was killed or died; start it if there is none."""
        if self.proc is None or self.doomed or not self.alive():
            self.close()
            self.spawn()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Stop the process and every process it started."""
        if self.proc is None:
            return
        self.doomed = True
        for pgid in (self.proc.pid, *self.adopted):
            _kill_group(pgid)
        self.adopted.clear()

    def close(self) -> None:
        for conn in (self.inbox, self.outbox):
            if conn is not None:
                conn.close()
        self.inbox = self.outbox = None
        if self.proc is not None:
            self.proc.wait()

    def run(
        self,
        blob: bytes,
        reporter: Reporter,
        timeout: float | None = None,
        was_cancelled: Callable[[], bool] = lambda: False,
        check_cancel: Callable[[], bool] | None = None,
        tick: float = 0.2,
        context: tuple[str | None, list[str]] | None = None,
    ) -> Outcome:
        """Run the serialized payload ``blob``; stream its output and progress to
        ``reporter``. ``check_cancel`` is called every ``tick`` seconds (a True kills the
        job); ``was_cancelled`` tells, when the process dies, whether someone killed it
        to cancel. ``context`` is the (cwd, sys_path) to run in."""
        deadline = time.monotonic() + timeout if timeout else None
        try:
            if context is not None and context != self._context:
                self.inbox.send_bytes(b"C" + pickle.dumps(context))
                self._context = context
            self.inbox.send_bytes(blob)
            while True:
                wait = tick if check_cancel is not None else None
                if deadline is not None:
                    left = max(0.0, deadline - time.monotonic())
                    wait = left if wait is None else min(wait, left)
                if not self.outbox.poll(wait):
                    if deadline is not None and time.monotonic() >= deadline:
                        self.kill()
                        return Outcome.timed_out(timeout)
                    if check_cancel is not None and check_cancel():
                        self.kill()
                        return Outcome.cancelled("while running")
                    continue
                message = self.outbox.recv_bytes()
                tag = message[:1]
                if tag == b"R":
                    self.adopted.clear()
                    return _load(self.outbox.recv_bytes())
                if tag == b"P":
                    reporter.progress(*pickle.loads(message[1:]))
                elif tag == b"K":
                    self.adopted.add(int(message[1:]))
                else:
                    reporter.log("stdout" if tag == b"O" else "stderr", message[1:].decode())
        except (EOFError, OSError):
            for pgid in self.adopted:  # the worker died: what its job started goes too
                _kill_group(pgid)
            self.adopted.clear()
            if was_cancelled():
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


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


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
    except Exception as exc:  # e.g. the result's class cannot be imported here
        text = f"the job's result cannot be loaded here: {type(exc).__name__}: {exc}\n"
        return Outcome(JobStatus.FAILED, exception=exc, error=text)
