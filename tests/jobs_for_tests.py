"""Functions the tests run as jobs. They live in an importable module so that every
backend can run them by reference; tests of ``__main__`` functions live elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import jobnb


def add(a, b=0):
    return a + b


def echo_kwargs(**kwargs):
    return kwargs


def wait_for(path: str, timeout: float = 30.0) -> bool:
    """Sleep in small steps (so a thread job can be interrupted) until ``path`` exists."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def print_then_wait(release: str, text: str = "started") -> str:
    print(text, flush=True)
    print("to stderr", file=sys.stderr, flush=True)
    wait_for(release)
    print("released")
    return "done"


def progress_then_wait(release: str) -> int:
    jobnb.progress(3, 10, "three of ten")
    wait_for(release)
    return 10


def mark_and_return(marker: str, value=None):
    Path(marker).write_text("ran")
    return value


def spin(seconds: float = 60.0) -> str:
    """Runs Python bytecode all along (interruptible on every backend)."""
    wait_for("/nonexistent/never", seconds)
    return "spun"


def spawn_child_and_sleep(pid_file: str) -> None:
    """Starts a grandchild process (a shell sleep) and sleeps: a whole tree to stop."""
    child = subprocess.Popen(["sleep", "60"])
    Path(pid_file).write_text(str(child.pid))
    time.sleep(60)


def fail(message: str = "bad input") -> None:
    print("about to fail")
    raise ValueError(message)


class NeedsTwoArgs(Exception):
    """Cannot be rebuilt from its args: unpickling calls NeedsTwoArgs(message)."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


def fail_unrebuildable() -> None:
    raise NeedsTwoArgs("cannot be rebuilt", 7)


def exit_hard(code: int = 3) -> None:
    os._exit(code)


def segfault() -> None:
    import ctypes

    ctypes.string_at(0)


def return_lock():
    import threading

    return threading.Lock()


# --- what a result costs on its way back (test_outcome_travel.py) -----------------------
def _note(log: str, what: str) -> None:
    with open(log, "a") as handle:
        handle.write(f"{what} {os.getpid()}\n")


def _unpickled(log: str) -> Counted:
    _note(log, "unpickle")
    return Counted(log)


class Counted:
    """A value that writes a line to the file ``log`` each time it is pickled or
    unpickled, with the pid of the process that did it."""

    def __init__(self, log: str) -> None:
        self.log = log

    def __reduce__(self):
        _note(self.log, "pickle")
        return (_unpickled, (self.log,))


def make_counted(log: str) -> Counted:
    return Counted(log)


def import_from(folder: str, module: str, number: int):
    """``module.Value(number)``, its module imported from ``folder``, which only the job's
    process adds to its sys.path."""
    import importlib

    sys.path.insert(0, folder)
    return importlib.import_module(module).Value(number)


class KeptReport:
    """A reporter (worker/reporting.Reporter) that keeps what a job printed: for tests
    that call the runner directly."""

    def __init__(self) -> None:
        self.output: list[str] = []

    def log(self, stream: str, text: str) -> None:
        self.output.append(text)

    def progress(self, done, total, message) -> None:
        pass
