"""A worker process started clean (``python -m jobnb.worker.subprocess_worker``) that
runs one job at a time and can be killed, its whole process tree with it.

The ``subprocess`` backend keeps one per pool slot; a ``huey`` or ``rq`` worker keeps
one per worker thread, so a job can be cancelled or timed out on every worker kind
without forking a process that has threads.

A job's outcome is only ever its own: each job sent carries a token that the child
echoes with the outcome, and a child left by an error in the middle of a job is
killed, never handed the next job.

The outcome comes back as the child serialized it (a SealedOutcome: its header read,
its value untouched), to be stored or handed on as is and opened in the kernel only.
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

from ..model import JobStatus
from ..payload import Outcome, SealedOutcome
from .pipe_blobs import receive_blob, send_blob
from .process_tree import kill_tree
from .reporting import Reporter


class ChildProcess:
    """One clean worker process and the pipes to it."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.inbox: Connection | None = None  # parent -> child
        self.outbox: Connection | None = None  # child -> parent
        self.doomed = False  # killed: replace it before the next job, even if not yet reaped
        self._context: tuple | None = None
        self._sent = 0  # jobs sent to it: the token of the next job is the next number
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
                "jobnb.worker.subprocess_worker",
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
        """Stop the process and every process it started, also those that left its
        process group (process_tree.py; on Linux)."""
        if self.proc is None:
            return
        self.doomed = True
        if self.proc.returncode is None:  # (else reaped: its pid may be another's now)
            kill_tree(self.proc.pid, (self.proc.pid, *self.adopted))
        else:
            for pgid in self.adopted:
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
        blob,
        reporter: Reporter,
        timeout: float | None = None,
        was_cancelled: Callable[[], bool] = lambda: False,
        check_cancel: Callable[[], bool] | None = None,
        tick: float = 0.2,
        context: tuple[str | None, list[str]] | None = None,
        results: Callable[[str], object] | None = None,
    ) -> SealedOutcome:
        """Run the serialized payload ``blob`` (a Framed value or a buffer); stream its
        output and progress to ``reporter``. ``check_cancel`` is called every ``tick``
        seconds, however much the job prints (a True kills the job); ``was_cancelled``
        tells, when the process dies, whether someone killed it to cancel. ``context`` is
        the (cwd, sys_path) to run in. ``results(id)`` gives the serialized outcome of a
        job whose result the job takes as an argument (None: it has none), which the
        child asks for (payload/futures.py).

        Whatever this raises (an error of the reporter or of ``check_cancel``, an
        interrupt), the process is killed first: it never keeps a job it was given
        past this call, so the next job can never read this one's outcome."""
        self._sent += 1
        token = str(self._sent).encode()
        deadline = time.monotonic() + timeout if timeout else None
        try:
            self._results = results
            return self._run(blob, token, reporter, deadline, timeout, check_cancel, tick, context)
        except _ChildGone:
            for pgid in self.adopted:  # the worker died: what its job started goes too
                _kill_group(pgid)
            self.adopted.clear()
            if was_cancelled():
                return SealedOutcome.seal(Outcome.cancelled("while running"))
            return SealedOutcome.seal(Outcome.lost(self._death_reason()))
        except BaseException:
            self.kill()
            raise

    def _run(
        self,
        blob,
        token: bytes,
        reporter: Reporter,
        deadline: float | None,
        timeout: float | None,
        check_cancel: Callable[[], bool] | None,
        tick: float,
        context: tuple[str | None, list[str]] | None,
    ) -> SealedOutcome:
        if context is not None and context != self._context:
            self._send(b"C" + pickle.dumps(context))
            self._context = context
        self._send_job(token, blob)
        ours = False  # what comes before the child says it started this job is not its own
        # by the clock, not when the child falls silent: a job printing all along still
        # beats its heartbeat and sees its cancel
        next_tick = time.monotonic() + tick if check_cancel is not None else None
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self.kill()
                return SealedOutcome.seal(Outcome.timed_out(timeout))
            if next_tick is not None and now >= next_tick:
                if check_cancel():
                    self.kill()
                    return SealedOutcome.seal(Outcome.cancelled("while running"))
                next_tick = time.monotonic() + tick  # after it: a slow store adds no ticks
            message = self._receive(_earliest(next_tick, deadline))
            if message is None:
                continue
            tag, rest = message[:1], message[1:]
            if tag == b"K":  # whichever job started it: it dies with the worker
                self.adopted.add(int(rest))
            elif tag == b"S":
                ours = rest == token
            elif tag == b"Q":  # the job asks for a dependency's result
                self._answer(rest.decode())
            elif tag == b"R":
                result = self._receive_blob()
                if rest == token:
                    self.adopted.clear()
                    return _read(result)
                # an older job's outcome (never this job's): dropped
            elif not ours:
                continue
            elif tag == b"P":
                reporter.progress(*pickle.loads(rest))
            else:
                reporter.log("stdout" if tag == b"O" else "stderr", rest.decode())

    def _send(self, data: bytes) -> None:
        try:
            self.inbox.send_bytes(data)
        except OSError:
            raise _ChildGone from None

    _results: Callable[[str], object] | None = None

    def _answer(self, job_id: str) -> None:
        """Send the child the outcome of job ``job_id`` (b"D", then its blob), or why
        there is none (b"N" + the reason, raised in the job)."""
        try:
            blob = self._results(job_id) if self._results is not None else None
            why = None if blob is not None else f"job {job_id} has no result to read"
        except Exception as exc:  # (the store's fault, a job forgotten: said in the job)
            blob, why = None, f"the result of job {job_id} cannot be read: {exc}"
        try:
            if why is not None:
                self.inbox.send_bytes(b"N" + why.encode())
            else:
                send_blob(self.inbox, blob, first=b"D")
        except OSError:
            raise _ChildGone from None

    def _send_job(self, token: bytes, blob) -> None:
        """The job's token and its payload, woken once (pipe_blobs.py)."""
        try:
            send_blob(self.inbox, blob, first=b"J" + token)
        except OSError:
            raise _ChildGone from None

    def _receive_blob(self):
        try:
            return receive_blob(self.outbox)
        except (EOFError, OSError):
            raise _ChildGone from None

    def _receive(self, until: float | None) -> bytes | None:
        """The child's next message; None if there is none by the monotonic time
        ``until`` (None: wait as long as it takes)."""
        try:
            if until is not None and not self.outbox.poll(max(0.0, until - time.monotonic())):
                return None
            return self.outbox.recv_bytes()
        except (EOFError, OSError):
            raise _ChildGone from None

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


class _ChildGone(Exception):
    """A pipe to the child process broke: the process died, or was killed."""


def _earliest(*times: float | None) -> float | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _widen_pipe(fd: int) -> None:
    """Grow the pipe's buffer from 64 KiB to 1 MiB where allowed: a large argument or
    result then crosses in far fewer wake-ups of the two processes."""
    try:
        import fcntl  # POSIX only: elsewhere the ImportError below

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or capped lower by /proc/sys/fs/pipe-max-size: 64 KiB works too


def _read(blob) -> SealedOutcome:
    """The outcome the child sent, its header read (plain values: never its value)."""
    try:
        return SealedOutcome.read(blob)
    except Exception as exc:  # not an outcome: the child broke (it never sends that)
        text = f"the worker sent no readable outcome: {type(exc).__name__}: {exc}\n"
        return SealedOutcome.seal(Outcome(JobStatus.FAILED, error=text))
