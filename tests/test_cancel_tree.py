"""Cancel stops everything a job started, also what it started in a session of its own
(``start_new_session=True``, ``setsid``, a double-forked daemon): those escape a kill
of the worker's process group, and must not escape the cancel. The worker process
adopts such orphans to that end, and reaps them when they end, without taking the exit
status of a job's own child processes."""

from __future__ import annotations

import os
import signal
import time

from conftest import eventually
from jobs_for_faults import orphan_and_exit_status, start_sessions_and_sleep, times_ten

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


def _zombies_of(pid: int) -> list[int]:
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[-1].split()
        except FileNotFoundError:
            continue
        if fields[0] == "Z" and int(fields[1]) == pid:
            found.append(int(name))
    return found


def test_orphans_a_job_leaves_are_reaped_and_its_own_exit_statuses_kept():
    jobnb.configure("subprocess", workers=1)
    status, worker = jobnb.submit(orphan_and_exit_status, 3).result(timeout=60)
    assert status == 3  # the job's own child: its status was not taken by the reaper
    eventually(lambda: not _zombies_of(worker), timeout=5)
    assert jobnb.submit(times_ten, 2).result(timeout=60) == 20
