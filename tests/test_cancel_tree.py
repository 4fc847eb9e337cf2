"""Cancel stops everything a job started, also what it started in a session of its own
(``start_new_session=True``, ``setsid``, a double-forked daemon): those escape a kill
of the worker's process group, and must not escape the cancel."""

from __future__ import annotations

import os
import signal
import time

from conftest import eventually
from jobs_for_faults import start_sessions_and_sleep, times_ten

import jobnb
from jobnb import JobStatus


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped has ended: it is not alive)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_cancel_kills_what_the_job_started_in_new_sessions(process_backend, tmp_path):
    pid_file = tmp_path / "pids"
    job = jobnb.submit(start_sessions_and_sleep, str(pid_file))
    eventually(pid_file.exists, timeout=60)
    pids = [int(pid) for pid in pid_file.read_text().split()]
    try:
        assert len(pids) == 3 and all(_alive(pid) for pid in pids)
        assert job.status is JobStatus.RUNNING
        started = time.monotonic()
        assert job.cancel()
        job.wait(timeout=10)
        assert job.status is JobStatus.CANCELLED
        eventually(lambda: not any(_alive(pid) for pid in pids), timeout=5)
        assert time.monotonic() - started < 5
        # the worker that ran it serves the next job, with that job's own result
        assert [jobnb.submit(times_ten, k).result(timeout=60) for k in range(3)] == [0, 10, 20]
    finally:
        for pid in pids:  # a failed test leaves no sleeps behind
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
