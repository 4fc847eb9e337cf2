"""Functions the dependency tests run as jobs (importable by every backend's workers)."""

from __future__ import annotations

import os
import time

from jobs_for_tests import wait_for


def add_when(release: str, a, b=0):
    """``a + b``, once ``release`` exists: a dependency the test holds running."""
    wait_for(release, 60)
    return a + b


def total(*values):
    return sum(values)


def stamp(folder: str, name: str, value=None):
    """Note when this job ran (a file per job, its monotonic-free wall time)."""
    with open(os.path.join(folder, name), "w") as file:
        file.write(repr(time.time()))
    return value


def kill_my_worker_then_wait(pid_file: str) -> None:
    """Write the pid of the worker running this job (its parent), then wait: the test
    SIGKILLs that worker while this job runs."""
    with open(pid_file, "w") as file:
        file.write(str(os.getppid()))
    time.sleep(120)
