"""The huey queue under faults (issue 12): a submitter killed mid-``map`` leaves no job
queued for ever, a waiting kernel replaces a dead worker, a stopped worker lets its jobs
finish within a grace period and requeues the rest, and a worker with no threads is
refused."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from conftest import eventually, start_redis_worker, stop_process
from jobs_for_tests import add, spin, wait_for

import jobnb
from jobnb import JobStatus
from jobnb.backends.huey_worker import worker_pid


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_a_worker_with_no_threads_is_refused(tmp_path, workers):
    worker = subprocess.run(
        [sys.executable, "-m", "jobnb.cli", "worker", "-w", workers],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 2
    assert f"-w/--workers: must be at least 1, not {workers}" in worker.stderr
    assert not (tmp_path / ".jobnb" / "worker.lock").exists()  # it took no home


def test_no_workers_is_a_config_error_naming_the_value(monkeypatch):
    with pytest.raises(jobnb.ConfigError, match="workers must be at least 1, not 0"):
        jobnb.configure(workers=0)
    monkeypatch.setenv("JOBNB_WORKERS", "0")
    with pytest.raises(jobnb.ConfigError, match="JOBNB_WORKERS must be at least 1, not 0"):
        jobnb.settings()


def result_within(job, seconds: float):
    """``job.result()`` with no timeout, as a kernel that only waits calls it; the test
    fails (rather than hangs) if it has not returned after ``seconds``."""
    found = []
    waiter = threading.Thread(target=lambda: found.append(job.result()), daemon=True)
    waiter.start()
    waiter.join(seconds)
    assert found, f"job {job.id} still {job.status.value} after {seconds} s of result()"
    return found[0]


def kill_the_worker_under_queued_jobs(tmp_path, count: int):
    """One worker thread busy with a job that never ends, ``count`` jobs queued behind
    it (job k returns 10 + k), then that worker SIGKILLed: (running, queued, dead pid)."""
    jobnb.configure("huey", workers=1)
    running = jobnb.submit(wait_for, str(tmp_path / "never"), 120)
    queued = jobnb.map(add, range(count), [10] * count)
    eventually(lambda: running.status is JobStatus.RUNNING, timeout=30)
    dead = worker_pid(tmp_path / ".jobnb")
    os.kill(dead, signal.SIGKILL)
    eventually(lambda: worker_pid(tmp_path / ".jobnb") is None, timeout=10)
    return running, queued, dead


def test_a_waiting_kernel_replaces_a_dead_worker(tmp_path):
    running, queued, dead = kill_the_worker_under_queued_jobs(tmp_path, 5)
    assert [result_within(job, 60) for job in queued] == [10, 11, 12, 13, 14]
    assert worker_pid(tmp_path / ".jobnb") not in (None, dead)
    # the new worker found the job the dead one ran lost, at once and saying why
    assert running.status is JobStatus.LOST
    assert f"its worker (pid {dead}) ended while running it" in running.error


def test_a_kernel_waiting_in_short_timeouts_replaces_a_dead_worker_too(tmp_path):
    """A loop of ``wait(1)`` (a progress loop, the soak) never waits a whole slice: it
    must bring a dead worker back all the same."""
    _, queued, dead = kill_the_worker_under_queued_jobs(tmp_path, 3)
    deadline = time.monotonic() + 60
    while not all(job.done() for job in queued) and time.monotonic() < deadline:
        with contextlib.suppress(jobnb.ResultTimeout):
            queued[-1].wait(timeout=1)
    assert [job.result(timeout=0) for job in queued] == [10, 11, 12]
    assert worker_pid(tmp_path / ".jobnb") not in (None, dead)


MAP_THEN_BE_KILLED = """
import sys, time, jobnb
from jobnb.backends import huey_worker
huey_worker.DEFAULT_IDLE_EXIT = 3  # the worker this process may start exits soon when idle
jobnb.configure("huey", home=sys.argv[1])
jobnb.api.get_backend()  # set up (tables, connections), as in a kernel that has submitted
def square(x):
    return x * x
print("mapping", flush=True)
started = time.perf_counter()
jobnb.map(square, range(1000))
print("mapped in", time.perf_counter() - started, flush=True)
"""


def map_and_kill(tmp_path, home: str, kills: int) -> int:
    """Start submitters of a ``map`` of 1,000 and SIGKILL each at a random moment of its
    map; returns how many were killed before it returned. How long a map takes (50 to
    150 ms, more on a loaded machine) is measured first, by one submitter left to end."""

    def submitter() -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(MAP_THEN_BE_KILLED), home],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline() == "mapping\n"
        return proc

    measured = submitter()
    took = float(measured.stdout.read().split()[-1])
    measured.wait()
    chance = random.Random(12)
    cut_short = 0
    for _ in range(kills):
        proc = submitter()
        time.sleep(chance.uniform(0.0, 1.2 * took))
        proc.send_signal(signal.SIGKILL)
        cut_short += "mapped" not in proc.stdout.read()
        proc.wait()
    return cut_short


def all_recorded_jobs_finish(timeout: float) -> int:
    """Every job recorded (by the killed submitters) reaches finished; returns how many."""

    def settled():
        counts = jobnb.api.counts()
        return not counts[JobStatus.QUEUED] and not counts[JobStatus.RUNNING] and counts

    counts = eventually(settled, timeout=timeout, interval=0.5)
    assert counts[JobStatus.FINISHED] == sum(counts.values()) > 0, counts
    assert {job.result(timeout=10) for job in jobnb.jobs()[:20]} <= {x * x for x in range(1000)}
    return counts[JobStatus.FINISHED]


def test_submitters_killed_mid_map_leave_no_job_queued_for_ever(tmp_path):
    home = tmp_path / ".jobnb"
    assert map_and_kill(tmp_path, str(home), kills=16) >= 4
    jobnb.configure("huey", home=str(home))  # (reading only: this starts no worker)
    all_recorded_jobs_finish(timeout=90)
    # the worker a submitter started exits once idle: no job keeps it waiting for ever
    eventually(lambda: worker_pid(home) is None, timeout=30)
    assert "idle for 3 s, exiting" in (home / "worker.log").read_text()


def test_submitters_killed_mid_map_leave_no_job_queued_for_ever_on_redis(
    tmp_path, redis_url, monkeypatch
):
    worker = start_redis_worker(redis_url, tmp_path)
    try:
        assert map_and_kill(tmp_path, redis_url, kills=16) >= 4
        jobnb.configure("huey", home=redis_url)
        all_recorded_jobs_finish(timeout=90)
    finally:
        stop_process(worker)


def records_without_messages(monkeypatch, backend) -> None:
    """Make ``backend`` record the jobs it is given and queue no message for them: what
    a worker killed between taking a message and starting its job leaves (or a
    submitter of before, killed between its two writes)."""

    def records_only(records, blobs):
        backend.records_store.add(records, blobs, cwd=os.getcwd(), sys_path=sys.path)

    monkeypatch.setattr(backend, "store_and_queue", records_only)


def start_worker(tmp_path, *extra: str) -> tuple[subprocess.Popen, str]:
    """A ``jobnb worker`` of the home in ``tmp_path``, once serving; and what it said
    before (what it found left by the worker before it)."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "jobnb.cli", "worker", "-w", "1", *extra],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    said = ""
    while "serving" not in (line := worker.stdout.readline()):
        assert line, f"the worker ended: {said}"
        said += line
    return worker, said


def test_a_running_worker_queues_again_a_job_with_no_message(tmp_path, monkeypatch):
    worker, _ = start_worker(tmp_path)
    try:
        jobnb.configure("huey")
        records_without_messages(monkeypatch, jobnb.api.get_backend())
        job = jobnb.submit(add, 2, 3)
        assert job.result(timeout=40) == 5  # found within two looks, 10 s apart
        assert f"queued again 1 job(s) recorded as queued that had no queue message ({job.id})" in (
            worker.stdout.readline()
        )
    finally:
        stop_process(worker)


def test_a_new_worker_queues_again_jobs_with_no_message_and_moves_an_old_queue(
    tmp_path, monkeypatch
):
    from huey import Huey
    from huey.storage import SqliteStorage

    from jobnb.backends.huey_messages import messages

    jobnb.configure("huey")
    backend = jobnb.api.get_backend()
    records_without_messages(monkeypatch, backend)
    orphan = jobnb.submit(add, 1, 1)
    old = jobnb.submit(add, 2, 2)
    # a home of before: its queue in queue.db, beside jobs.db
    old_queue = Huey(
        "jobnb", storage_class=SqliteStorage, filename=str(tmp_path / ".jobnb" / "queue.db")
    )
    old_queue.storage.enqueue(messages(backend.huey, [old.id])[0])
    worker, said = start_worker(tmp_path)
    try:
        assert (orphan.result(timeout=30), old.result(timeout=30)) == (2, 4)
        assert "moved 1 queued job(s) from" in said
        assert (
            f"queued again 1 job(s) recorded as queued that had no queue message ({orphan.id})"
            in said
        )
        assert not (tmp_path / ".jobnb" / "queue.db").exists()
    finally:
        stop_process(worker)


def test_a_stopped_worker_lets_jobs_finish_within_the_grace_period_and_requeues_the_rest(
    tmp_path,
):
    release = tmp_path / "release"
    first, _ = start_worker(tmp_path, "-w", "2")  # (the last -w wins)
    jobnb.configure("huey")
    short = jobnb.submit(spin, 3)
    long = jobnb.submit(wait_for, str(release), 60)
    eventually(lambda: short.status is long.status is JobStatus.RUNNING, timeout=30)
    started = time.monotonic()
    stop = subprocess.run(
        ["jobnb", "worker", "--stop", "--grace", "5"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 4.5 <= time.monotonic() - started <= 15  # the grace period, plus a margin
    assert f"stopped the worker of {tmp_path / '.jobnb'} (pid {first.pid})" in stop.stdout
    assert first.wait(timeout=10) == 0
    assert short.status is JobStatus.FINISHED and short.result() == "spun"
    reason = f"requeued: worker pid {first.pid} was stopped; it ran past the 5 s grace period"
    assert long.status is JobStatus.QUEUED and reason in long.logs()
    assert f"job {long.id} {reason}" in first.stdout.read()

    # SIGTERM (a service manager's stop) does the same, with the worker's own --grace
    second, _ = start_worker(tmp_path, "--grace", "1")
    eventually(lambda: long.status is JobStatus.RUNNING, timeout=30)
    second.terminate()
    assert second.wait(timeout=15) == 0
    reason = f"requeued: worker pid {second.pid} was stopped; it ran past the 1 s grace period"
    assert long.status is JobStatus.QUEUED and reason in long.logs()

    release.touch()
    third, _ = start_worker(tmp_path)
    try:
        assert long.result(timeout=30) is True and long.status is JobStatus.FINISHED
        assert long.logs().count("requeued: worker pid") == 2  # its log tells its story
    finally:
        stop_process(third)
