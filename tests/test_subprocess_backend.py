"""What only a pool of worker processes can do: kill a job's whole process tree,
survive a job that kills its worker, and run what the notebook defined in __main__."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from conftest import eventually
from jobs_for_tests import add, exit_hard, return_lock, segfault, spawn_child_and_sleep

import jobnb
from jobnb import JobStatus


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a killed child of ours lingers as a zombie until reaped: that is not alive
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_cancel_stops_a_job_blocked_in_sleep_and_its_child_processes(process_backend, tmp_path):
    pid_file = tmp_path / "child.pid"
    job = jobnb.submit(spawn_child_and_sleep, str(pid_file))
    child_pid = int(eventually(lambda: pid_file.exists() and pid_file.read_text()))
    assert _pid_alive(child_pid)
    started = time.monotonic()
    assert job.cancel()
    job.wait(timeout=2)
    assert job.status is JobStatus.CANCELLED
    eventually(lambda: not _pid_alive(child_pid), timeout=2 - (time.monotonic() - started))
    assert jobnb.submit(add, 2, 3).result(timeout=30) == 5


def test_timeout_stops_a_job_blocked_in_sleep(process_backend, tmp_path):
    pid_file = tmp_path / "child.pid"
    # 3 s: time for a loaded machine to start the grandchild before the timeout
    job = jobnb.options(timeout=3).submit(spawn_child_and_sleep, str(pid_file))
    child_pid = int(eventually(lambda: pid_file.exists() and pid_file.read_text()))
    job.wait(timeout=10)
    assert job.status is JobStatus.FAILED
    assert "JobTimeout: the job ran past its timeout of 3 s" in job.error
    eventually(lambda: not _pid_alive(child_pid), timeout=2)


@pytest.mark.parametrize(
    "kill, how", [(exit_hard, "exited with code 3"), (segfault, "was killed by SIGSEGV")]
)
def test_a_job_that_kills_its_worker_is_lost_and_the_next_job_runs(process_backend, kill, how):
    job = jobnb.submit(kill)
    job.wait(timeout=10)
    assert job.status is JobStatus.LOST
    assert how in job.error
    with pytest.raises(jobnb.JobLost, match=how):
        job.result()
    assert [j.result(timeout=30) for j in jobnb.map(add, range(4))] == [0, 1, 2, 3]


def test_an_unpicklable_argument_is_named_at_submit_and_nothing_is_queued(process_backend):
    lock = threading.Lock()
    with pytest.raises(jobnb.PayloadError) as info:
        jobnb.submit(add, 1, b=lock)
    message = str(info.value)
    assert "keyword argument `b` (_thread.lock" in message
    assert "use backend 'thread'" in message
    assert isinstance(info.value, jobnb.JobnbError)
    with pytest.raises(jobnb.PayloadError, match=r"argument 1 \(positional\) \(_thread.lock"):
        jobnb.submit(add, 1, lock)
    with pytest.raises(jobnb.PayloadError, match=r"item 2 of 3: argument 1 \(positional\)"):
        jobnb.map(add, [1, 2, 3], [1, 2, lock])
    assert jobnb.jobs() == []


def test_an_unpicklable_return_value_fails_the_job_with_its_name(process_backend):
    job = jobnb.submit(return_lock)
    job.wait(30)
    assert job.status is JobStatus.FAILED
    assert "the return value (_thread.lock" in job.error
    with pytest.raises(jobnb.PayloadError, match="cannot come back from the worker"):
        job.result()


def test_an_unpicklable_cell_output_is_named_and_the_others_arrive(process_backend):
    namespace = {}
    job = jobnb.options().submit_cell(
        "import threading\nlock = threading.Lock()\nn = 1",
        {},
        ("threading", "lock", "n"),
        namespace=namespace,
    )
    assert set(job.result(timeout=30)) == {"threading", "n"}
    assert job.status is JobStatus.FINISHED
    with pytest.warns(jobnb.JobnbWarning, match=r"output `lock` \(_thread.lock"):
        assert job.pull() == ["threading", "n"]
    assert namespace["n"] == 1


MAIN_SCRIPT = """
import jobnb

jobnb.configure("{backend}")
offset = 10

def add_offset(x):          # a function of __main__ that reads a global
    return x + offset

def make_adder(n):          # a closure
    return lambda x: x + n

class Point:                # a class defined in __main__
    def __init__(self, x, y):
        self.x, self.y = x, y
    def norm2(self):
        return self.x ** 2 + self.y ** 2

results = [
    jobnb.submit(add_offset, 1).result(timeout=30),
    jobnb.submit(lambda x: x * 3, 5).result(timeout=30),
    jobnb.submit(make_adder(100), 1).result(timeout=30),
    jobnb.submit(Point(3, 4).norm2).result(timeout=30),
    type(jobnb.submit(Point, 1, 2).result(timeout=30)).__name__,
]
print(results)
"""


def test_functions_lambdas_closures_and_classes_of_main_run(process_backend, tmp_path):
    script = tmp_path / "notebook_like.py"
    script.write_text(textwrap.dedent(MAIN_SCRIPT.format(backend=process_backend)))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[11, 15, 101, 25, 'Point']"
