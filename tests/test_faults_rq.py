"""The Redis queues under faults (issue 12): rq ``map`` batches are shared by every
worker, those that join late and those that replace crashed ones, and a worker rides
out a Redis restart (rq and huey on Redis alike), whatever ``-w``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import eventually, start_redis_server, start_redis_worker, stop_process
from jobs_for_tests import add, spin

import jobnb
from jobnb import JobStatus


def nap(x, seconds: float = 0.3):
    time.sleep(seconds)
    return x


@pytest.fixture
def rq_workers(redis_url, tmp_path):
    """Start ``jobnb worker --backend rq -w 1`` processes, each from a folder of its own."""
    started = []

    def start() -> subprocess.Popen:
        folder = tmp_path / f"worker-{len(started)}"
        folder.mkdir()
        started.append(start_redis_worker(redis_url, folder, "-w", "1", backend="rq"))
        return started[-1]

    yield start
    for proc in started:
        stop_process(proc)


def settled(timeout: float) -> dict:
    """The counts once no job is queued or running (found lost takes up to 30 s)."""

    def check():
        counts = jobnb.api.counts()
        return not counts[JobStatus.QUEUED] and not counts[JobStatus.RUNNING] and counts

    return eventually(check, timeout=timeout, interval=0.5)


def test_a_map_outlives_workers_killed_while_fresh_ones_start(rq_workers, redis_url):
    workers = [rq_workers(), rq_workers()]
    jobnb.configure("rq", redis_url=redis_url)
    jobs = jobnb.map(nap, range(100))
    for _ in range(4):  # the oldest worker dies mid-job; a fresh one starts
        time.sleep(1.5)
        os.kill(workers.pop(0).pid, signal.SIGKILL)
        workers.append(rq_workers())
    counts = settled(timeout=90)
    assert counts[JobStatus.FINISHED] + counts[JobStatus.LOST] == 100, counts
    assert counts[JobStatus.LOST] <= 4  # only the jobs the killed workers were running
    for x, job in enumerate(jobs):
        if job.status is JobStatus.FINISHED:
            assert job.result() == x


def test_a_map_submitted_before_any_worker_runs_on_all_that_join(rq_workers, redis_url):
    jobnb.configure("rq", redis_url=redis_url)
    with pytest.warns(jobnb.JobnbWarning, match="no RQ worker serves the queue"):
        jobs = jobnb.map(nap, range(40), [0.5] * 40)
    for _ in range(3):
        rq_workers()
    assert [job.result(timeout=60) for job in jobs] == list(range(40))
    records = [job.record() for job in jobs]
    assert len({rec.worker for rec in records}) == 3  # each worker ran some
    # ... at the same time: 20 s of naps took well under 20 s
    assert max(r.finished for r in records) - min(r.started for r in records) < 14


def test_a_worker_mends_batches_and_jobs_that_nothing_would_run(rq_workers, redis_url):
    import redis

    jobnb.configure("rq", redis_url=redis_url)
    with pytest.warns(jobnb.JobnbWarning, match="no RQ worker serves the queue"):
        batch = jobnb.map(add, range(5), [1] * 5)
    single = jobnb.submit(add, 10, 1)
    # as if workers had taken every RQ job and died before their first step
    redis.Redis.from_url(redis_url).delete("rq:queue:default")
    rq_workers()  # its sweep finds the batch without a runner, the single job unheld
    assert [job.result(timeout=45) for job in batch] == [1, 2, 3, 4, 5]
    assert single.result(timeout=45) == 11


def start_worker(backend: str, url: str, folder) -> tuple[subprocess.Popen, object]:
    """``jobnb worker -w 1`` (rq or huey on Redis), its output in a file; and the file."""
    log = folder / f"{backend}-worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "jobnb.cli", "worker", "--backend", backend, "--url", url]
        + ["-w", "1"],
        cwd=folder,
        stdout=open(log, "wb"),  # noqa: SIM115 - the worker's, till it ends
        stderr=subprocess.STDOUT,
    )
    eventually(lambda: "serving" in log.read_text(), timeout=20)
    return worker, log


def serving(backend: str, url: str, folder) -> str:
    """What ``jobnb worker --status`` says of the workers serving ``url``."""
    status = subprocess.run(
        [sys.executable, "-m", "jobnb.cli", "worker", "--backend", backend, "--url", url]
        + ["--status"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return status.stdout


def restart(server, tmp_path, options, port):
    """SIGKILL the redis-server, and start it again on the same port a moment later."""
    server.kill()
    server.wait()
    time.sleep(2)
    return start_redis_server(tmp_path, *options, port=port)[0]


@pytest.mark.parametrize("backend", ["rq", "huey"])
@pytest.mark.parametrize("appendonly", ["yes", "no"])
def test_a_single_worker_rides_out_a_redis_restart(tmp_path, backend, appendonly):
    options = ("--requirepass", "s3cret", "--appendonly", appendonly, "--appendfsync", "always")
    server, url = start_redis_server(tmp_path, *options)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    url = url.replace("redis://", "redis://:s3cret@")
    worker, log = start_worker(backend, url, tmp_path)
    try:
        jobnb.configure(backend, **{"home" if backend == "huey" else "redis_url": url})
        job = jobnb.submit(spin, 4)
        eventually(lambda: job.status is JobStatus.RUNNING, timeout=30)
        server = restart(server, tmp_path, options, port)  # mid-job
        if appendonly == "yes":  # the job ends as itself: its records waited for the server
            assert job.result(timeout=40) == "spun"
        else:  # the server came back empty: the job's record is gone with the rest
            with pytest.raises(jobnb.JobNotFound):
                job.status  # noqa: B018
        assert jobnb.submit(add, 2, 3).result(timeout=60) == 5  # the same worker serves

        server = restart(server, tmp_path, options, port)  # while the worker waits for jobs
        assert jobnb.submit(add, 3, 4).result(timeout=60) == 7
        assert worker.poll() is None
        # ... and is known to be there, also by a server that came back empty
        eventually(lambda: str(worker.pid) in serving(backend, url, tmp_path), timeout=10)
        said = log.read_text()
        assert f"lost Redis at host 127.0.0.1 port {port} (db 0), retrying in" in said
        assert f"reconnected to Redis at host 127.0.0.1 port {port} (db 0)" in said
        assert "s3cret" not in said
    finally:
        stop_process(worker)
        server.kill()
        server.wait()
