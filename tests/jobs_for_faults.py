"""Functions the fault tests (test_faults_worker.py, test_cancel_tree.py) run as jobs:
importable, so every backend runs them by reference."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import jobnb


def chatty_until(release: str, name: str, every: float = 0.05, limit: float = 120.0) -> str:
    """Prints a numbered line every ``every`` s (and reports progress) until ``release``
    exists; returns a value only this job can return."""
    deadline = time.monotonic() + limit
    n = 0
    while not os.path.exists(release) and time.monotonic() < deadline:
        print(f"{name} line {n}", flush=True)
        jobnb.progress(n, None, f"{name} at line {n}")
        n += 1
        time.sleep(every)
    print(f"{name} released after {n} lines", flush=True)
    return f"result of {name}"


def chatty_for(seconds: float, every: float = 0.1) -> int:
    """Prints a numbered line every ``every`` s for ``seconds`` s; returns how many."""
    n = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        print(f"line {n}", flush=True)
        n += 1
        time.sleep(every)
    return n


def flood(megabytes: float, line: int = 100) -> int:
    """Prints ``megabytes`` MB of log in lines of ``line`` bytes, as fast as it can."""
    text = "x" * (line - 1)
    count = int(megabytes * 1e6 / line)
    for _ in range(count):
        print(text)
    return count


def times_ten(k: int) -> int:
    return 10 * k


# Each of these ends in a session of its own, out of reach of a kill of the worker's
# process group: a direct child, a grandchild, and a double-forked daemon.
_GRANDCHILD = (
    "import subprocess, sys\n"
    "p = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
    "print(p.pid, flush=True)\n"
    "p.wait()\n"
)
_DAEMON = (
    "import os, sys, time\n"
    "if os.fork(): os._exit(0)\n"
    "os.setsid()\n"
    "if os.fork(): os._exit(0)\n"
    "open(sys.argv[1], 'w').write(str(os.getpid()))\n"
    "time.sleep(300)\n"
)


def start_sessions_and_sleep(pid_file: str) -> None:
    """Starts sleeps in new sessions (a direct child, a grandchild, a double-forked
    daemon), writes their pids to ``pid_file`` (one a line), then sleeps."""
    direct = subprocess.Popen(["sleep", "300"], start_new_session=True)
    middle = subprocess.Popen([sys.executable, "-c", _GRANDCHILD], stdout=subprocess.PIPE)
    grandchild = int(middle.stdout.readline())
    daemon_file = Path(pid_file + ".daemon")
    subprocess.run([sys.executable, "-c", _DAEMON, str(daemon_file)], check=True)
    deadline = time.monotonic() + 30
    while not (daemon_file.exists() and daemon_file.read_text()):
        if time.monotonic() > deadline:
            raise RuntimeError("the daemon did not start")
        time.sleep(0.01)
    daemon = int(daemon_file.read_text())
    Path(pid_file + ".tmp").write_text(f"{direct.pid}\n{grandchild}\n{daemon}\n")
    os.replace(pid_file + ".tmp", pid_file)  # whole, at once: the test reads it
    time.sleep(300)


_SHORT_DAEMON = (
    "import os, time\n"
    "if os.fork(): os._exit(0)\n"
    "os.setsid()\n"
    "if os.fork(): os._exit(0)\n"
    "time.sleep(0.2)\n"
)


def orphan_and_exit_status(code: int) -> tuple[int, int]:
    """Leaves an orphan that ends 0.2 s later (a double-forked daemon), and starts a
    child of its own that exits with ``code`` at once, asked for its status 1.5 s later
    only: returns the exit status it saw and the pid of the worker process that ran it."""
    subprocess.run([sys.executable, "-c", _SHORT_DAEMON], check=True)
    child = subprocess.Popen(["sh", "-c", f"exit {code}"])
    time.sleep(1.5)
    return child.wait(), os.getpid()
