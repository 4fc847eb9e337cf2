"""What is particular to the thread backend: shared objects, and where prints go."""

from __future__ import annotations

import threading
import time

from conftest import eventually

import jobnb
from jobnb import JobStatus


def test_objects_are_shared_not_copied():
    jobnb.configure("thread")
    lock = threading.Lock()
    items = []
    job = jobnb.submit(lambda lk, out: out.append(lk.locked()) or lk, lock, items)
    assert job.result(timeout=30) is lock
    assert items == [False]


def test_a_jobs_prints_go_to_its_log_not_to_the_running_cell(capsys, tmp_path):
    jobnb.configure("thread")
    release = tmp_path / "release"

    def chatty():
        for i in range(50):
            print(f"job line {i}")
            time.sleep(0.001)
        while not release.exists():
            time.sleep(0.01)

    job = jobnb.submit(chatty)
    eventually(lambda: "job line 49" in job.logs())
    print("cell output while the job runs")  # the "cell" keeps its own output
    release.touch()
    job.wait(30)
    captured = capsys.readouterr()
    assert "job line" not in captured.out
    assert "cell output while the job runs" in captured.out
    assert "cell output" not in job.logs()
    assert job.logs().splitlines() == [f"job line {i}" for i in range(50)]


def test_a_job_in_one_long_c_call_stops_only_when_the_call_returns():
    """The limit the README states: the interrupt is delivered between bytecodes."""
    jobnb.configure("thread")
    job = jobnb.submit(time.sleep, 1.0)
    eventually(lambda: job.status is JobStatus.RUNNING)
    started = time.monotonic()
    assert job.cancel() is True
    job.wait(10)
    assert job.status is JobStatus.CANCELLED
    assert time.monotonic() - started > 0.5  # it waited for time.sleep to return


PROFILE_AFTER_JOBS = """
import cProfile, time, jobnb
jobnb.configure("thread")
jobnb.submit(sum, [1, 2]).result(timeout=30)

def spin():
    while True:
        time.sleep(0.001)

job = jobnb.submit(spin)
while job.status.value != "running":
    time.sleep(0.01)
job.cancel()
job.wait(10)
cProfile.run("jobnb.options(name='x')", "/dev/null")
print(job.status.value, "and the kernel is unharmed")
"""


def test_jobs_and_interrupts_leave_the_interpreter_unharmed(tmp_path):
    """Clearing a thread's pending async exception once left CPython 3.11 signalled
    for good: every later bytecode slowed down and cProfile hung."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", PROFILE_AFTER_JOBS],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.stdout.strip() == "cancelled and the kernel is unharmed", done.stderr
