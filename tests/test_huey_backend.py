"""What the huey backend promises beyond the contract: jobs outlive the process that
submitted them, many submitters at once lose nothing, a killed worker's job is lost
(never running forever), and the worker command."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from conftest import eventually, kill_and_see_lost

import jobnb
from jobnb import JobStatus
from jobnb.backends.huey_worker import worker_pid

SUBMIT_AND_EXIT = """
import sys, jobnb
jobnb.configure("huey")
def square(x):
    print("squaring", x)
    return x * x
jobs = jobnb.options(name=sys.argv[1]).map(square, range(int(sys.argv[2])))
print(len(jobs))
"""


def submit_in_a_process(tmp_path, name: str, count: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SUBMIT_AND_EXIT), name, str(count)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_jobs_outlive_the_process_that_submitted_them(tmp_path):
    proc = submit_in_a_process(tmp_path, "gone", 100)
    assert proc.wait(timeout=60) == 0
    jobnb.configure("huey")
    jobs = jobnb.jobs()
    assert len(jobs) == 100
    results = sorted(job.result(timeout=60) for job in jobs)
    assert results == sorted(x * x for x in range(100))
    assert {job.logs() for job in jobs} == {f"squaring {x}\n" for x in range(100)}


def test_four_submitters_at_once_lose_and_duplicate_nothing(tmp_path):
    procs = [submit_in_a_process(tmp_path, f"p{n}", 250) for n in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    jobnb.configure("huey")
    jobs = jobnb.jobs()
    assert len(jobs) == 1000 and len({j.id for j in jobs}) == 1000
    assert sorted(j.name for j in jobs) == sorted(f"p{n}" for n in range(4) for _ in range(250))
    for job in jobs:
        job.wait(120)
    assert jobnb.api.counts()[JobStatus.FINISHED] == 1000  # each ran once, none twice


def test_a_job_whose_worker_is_killed_is_lost_within_30_s(tmp_path):
    jobnb.configure("huey")
    job = jobnb.submit(time.sleep, 120)
    eventually(lambda: job.status is JobStatus.RUNNING, timeout=30)
    pid = worker_pid(tmp_path / ".jobnb")
    # (waiting starts a new worker, which finds the job lost at once)
    kill_and_see_lost(job, pid, reason=f"its worker (pid {pid}) ended while running it")


def test_the_worker_command_status_and_stop(tmp_path):
    home = tmp_path / ".jobnb"
    status = subprocess.run(
        ["jobnb", "worker", "--status"], cwd=tmp_path, capture_output=True, text=True
    )
    assert status.returncode == 1 and f"no worker serves {home}" in status.stdout
    worker = subprocess.Popen(
        ["jobnb", "worker", "-k", "process", "-w", "1"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert "serving" in worker.stdout.readline()
    status = subprocess.run(
        ["jobnb", "worker", "--status"], cwd=tmp_path, capture_output=True, text=True
    )
    assert status.returncode == 0 and f"(pid {worker.pid})" in status.stdout
    second = subprocess.run(
        ["jobnb", "worker"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 1 and "a worker already serves" in second.stderr

    jobnb.configure("huey")  # a process worker cancels and times out too
    job = jobnb.submit(time.sleep, 60)
    eventually(lambda: job.status is JobStatus.RUNNING, timeout=30)
    started = time.monotonic()
    job.cancel()
    job.wait(timeout=2)
    assert job.status is JobStatus.CANCELLED and time.monotonic() - started < 2
    assert jobnb.submit(sum, [1, 2]).result(timeout=30) == 3

    stop = subprocess.run(
        ["jobnb", "worker", "--stop"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert f"stopped the worker of {home} (pid {worker.pid})" in stop.stdout
    assert worker.wait(timeout=30) == 0


def test_an_idle_worker_exits_by_itself(tmp_path):
    worker = subprocess.run(
        ["jobnb", "worker", "--idle-exit", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 0
    assert "idle for 1 s, exiting" in worker.stdout


def test_resubmit_runs_the_same_job_again(tmp_path):
    jobnb.configure("huey")
    first = jobnb.options(name="again", timeout=30).submit(sum, [1, 2, 3])
    assert first.result(timeout=30) == 6
    second = jobnb.get(first._backend.resubmit(first.id))
    assert second.id != first.id
    assert (second.name, second.record().timeout) == ("again", 30)
    assert second.result(timeout=30) == 6
