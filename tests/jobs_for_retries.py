"""Jobs for tests/test_retries.py: importable by the workers, which run them by name."""

from __future__ import annotations

import builtins
import os
import time
from pathlib import Path


def attempt_number(path: str) -> int:
    """Count this run in the file ``path``; return its number (1 for the first)."""
    file = Path(path)
    number = int(file.read_text()) + 1 if file.exists() else 1
    # written beside, then renamed: the test reading it meanwhile never finds it empty
    # (write_text truncates first: a read between found '' once, on a loaded machine)
    beside = file.with_name(f"{file.name}.{os.getpid()}.new")
    beside.write_text(str(number))
    os.replace(beside, file)
    return number


def fails_first(path: str, failures: int, error: str = "RuntimeError") -> int:
    """Raise ``error`` (a builtin exception's name) in the first ``failures`` runs; then
    return the run's number."""
    number = attempt_number(path)
    if number <= failures:
        raise getattr(builtins, error)(f"run {number} fails")
    return number


def slow_first(path: str, seconds: float) -> int:
    """The first run takes ``seconds`` (in short sleeps, so a thread can be stopped); the
    next ones return at once. Its number, and the pid of its process in ``path.pid``."""
    number = attempt_number(path)
    Path(f"{path}.pid").write_text(str(os.getpid()))
    if number == 1:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.05)
    return number


def sleepy(seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return "woke"
