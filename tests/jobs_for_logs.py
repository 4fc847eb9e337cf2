"""Jobs that print long logs, for tests/test_log_bounds.py: importable, so that every
backend runs them by reference."""

from __future__ import annotations

import os
import time


def numbered_line(n: int, width: int = 60) -> str:
    """Line ``n`` of what ``print_lines`` prints (its newline included)."""
    return f"line {n:09d} " + "x" * width + "\n"


def print_lines(count: int, width: int = 60) -> int:
    """Print ``count`` numbered lines, fast (many per worker tick)."""
    for n in range(count):
        print(numbered_line(n, width), end="")
    return count


def print_lines_then_wait(count: int, release: str, width: int = 60) -> int:
    """Print ``count`` numbered lines, then wait (printing nothing more) until
    ``release`` exists: a job whose worker can be killed once its log is long."""
    print_lines(count, width)
    print("all printed", flush=True)
    while not os.path.exists(release):
        time.sleep(0.02)
    return count
