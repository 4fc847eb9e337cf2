"""What the rq backend promises beyond the contract suite (which runs on it): workers on
several machines (here: processes started from different folders) share the jobs,
queues route them, a killed worker's job is lost within 30 s, notebook-friendly
defaults, the worker command, and clear errors for a server that is not there."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import redis
from conftest import (
    eventually,
    free_port,
    kill_and_see_lost,
    start_redis_server,
    start_redis_worker,
    stop_process,
)
from rq.job import Job as RqJob

import jobnb
from jobnb import JobStatus


def parent_pid(seconds: float = 0.0) -> int:
    """The pid of the worker running the job (its child process's parent)."""
    time.sleep(seconds)
    return os.getppid()


@pytest.fixture
def workers(redis_url, tmp_path):
    """Start ``jobnb worker --backend rq`` processes, each from a folder of its own."""
    started = []

    def start(name: str, *extra: str) -> subprocess.Popen:
        folder = tmp_path / name
        folder.mkdir()
        started.append(start_redis_worker(redis_url, folder, *extra, backend="rq"))
        return started[-1]

    yield start
    for proc in started:
        stop_process(proc)


def test_two_workers_from_different_folders_share_the_jobs(workers, redis_url, tmp_path):
    first = workers("machine-a", "-w", "1")
    second = workers("machine-b", "-w", "1")
    jobnb.configure("rq", redis_url=redis_url)
    jobs = jobnb.map(parent_pid, [0.05] * 20)  # notebook-defined function, run by both
    ran_on = [job.result(timeout=60) for job in jobs]
    assert set(ran_on) == {first.pid, second.pid}
    assert {job.record().worker.split(" pid ")[0] for job in jobs} == {os.uname().nodename}


def test_queues_route_jobs_to_the_workers_that_serve_them(workers, redis_url):
    default = workers("cpu", "-w", "1")
    gpu = workers("gpu", "-w", "1", "-q", "gpu")
    jobnb.configure("rq", redis_url=redis_url)
    assert jobnb.options(queue="gpu").submit(parent_pid).result(timeout=30) == gpu.pid
    assert jobnb.submit(parent_pid).result(timeout=30) == default.pid
    assert jobnb.options(queue="gpu").map(parent_pid, [0, 0, 0])[2].result(30) == gpu.pid


def test_a_job_whose_worker_is_killed_is_lost_within_30_s(workers, redis_url):
    worker = workers("doomed", "-w", "1")
    jobnb.configure("rq", redis_url=redis_url)
    job = jobnb.submit(time.sleep, 120)
    eventually(lambda: job.status is JobStatus.RUNNING, timeout=30)
    kill_and_see_lost(job, worker.pid)


def test_defaults_suit_notebook_jobs(workers, redis_url):
    workers("w", "-w", "1")
    jobnb.configure("rq", redis_url=redis_url)
    job = jobnb.submit(sum, [1, 2])
    assert job.result(timeout=30) == 3
    client = redis.Redis.from_url(redis_url)
    rq_job = RqJob.fetch(job.id, connection=client)
    assert rq_job.timeout == -1  # no 180 s limit of RQ's
    # (RQ files its job a moment after the job's target has recorded jobnb's outcome)
    eventually(lambda: rq_job.get_status(refresh=True) == "finished", timeout=5)
    assert client.ttl(rq_job.key) == -1  # kept, where RQ keeps a finished job 500 s
    assert client.ttl(f"jobnb:rq:job:{job.id}") == -1
    assert b"zlib" not in client.lindex(f"jobnb:rq:payload:{job.id}", 0)[:2]  # as is


def test_a_result_ttl_forgets_ended_jobs_then(workers, redis_url):
    workers("w", "-w", "1")
    jobnb.configure("rq", redis_url=redis_url, result_ttl=1)
    job = jobnb.submit(print, "short-lived")
    job.wait(30)
    assert job.logs() == "short-lived\n" and jobnb.api.counts()[JobStatus.FINISHED] == 1
    client = redis.Redis.from_url(redis_url)
    # RQ's copy too, once RQ's worker has done its own bookkeeping (jobnb's record of
    # the end, which the wait reads, comes first): it expires, or is gone already
    rq_key = RqJob.key_for(job.id)
    eventually(lambda: client.ttl(rq_key) != -1, timeout=5)
    ttl = client.ttl(rq_key)
    assert ttl == -2 or 0 < ttl <= 1
    time.sleep(2.2)  # past the ttl, and past the once-a-second sweep
    assert not client.exists(rq_key)
    assert jobnb.jobs() == [] and jobnb.api.counts()[JobStatus.FINISHED] == 0
    with pytest.raises(jobnb.JobNotFound):
        jobnb.get(job.id)
    assert not client.exists(
        *(f"jobnb:rq:{kind}:{job.id}" for kind in ("job", "log", "payload", "outcome"))
    )


def test_a_page_and_the_counts_cost_the_same_whatever_the_history(redis_url):
    jobnb.configure("rq", redis_url=redis_url)
    backend = jobnb.api.get_backend()
    client = redis.Redis.from_url(redis_url)

    def commands_for_a_page_and_counts() -> int:
        time.sleep(1.1)  # so that both look for lost jobs (at most once a second)
        before = client.info("stats")["total_commands_processed"]
        assert len(backend.records(limit=20)) == 20
        backend.counts()
        return client.info("stats")["total_commands_processed"] - before - 1

    with pytest.warns(jobnb.JobnbWarning):  # no worker: everything stays queued
        jobnb.map(abs, range(30))
    small = commands_for_a_page_and_counts()
    jobnb.map(abs, range(3000))
    assert commands_for_a_page_and_counts() == small


def test_the_worker_command_status_and_stop(workers, redis_url, tmp_path):
    status = subprocess.run(
        ["jobnb", "worker", "--backend", "rq", "--url", redis_url, "--status"],
        capture_output=True,
        text=True,
    )
    assert status.returncode == 1 and "0 RQ worker(s)" in status.stdout
    worker = workers("w", "-w", "2")
    status = subprocess.run(
        ["jobnb", "worker", "--backend", "redis", "--url", redis_url, "--status"],
        capture_output=True,
        text=True,
    )
    assert status.returncode == 0 and "2 RQ worker(s)" in status.stdout
    stop = subprocess.run(
        ["jobnb", "worker", "--backend", "rq", "--url", redis_url, "--stop"],
        capture_output=True,
        text=True,
    )
    assert "asked 2 RQ worker(s)" in stop.stdout
    eventually(
        lambda: (
            "0 RQ worker(s)"
            in subprocess.run(
                ["jobnb", "worker", "--backend", "rq", "--url", redis_url, "--status"],
                capture_output=True,
                text=True,
            ).stdout
        ),
        timeout=30,
    )
    stop_process(worker)


def test_the_seed_config_file_selects_rq(workers, redis_url, tmp_path):
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    (tmp_path / "jobnb.toml").write_text(
        f'[worker]\ntype = "redis"\nredis_ip = "127.0.0.1"\nredis_port = {port}\nredis_db = 0\n'
    )
    workers("w", "-w", "1")
    assert jobnb.settings().backend == "rq"
    assert jobnb.submit(pow, 2, 10).result(timeout=30) == 1024


def test_an_unreachable_server_says_where_and_how_to_start_one():
    port = free_port()
    jobnb.configure("redis", redis_url=f"redis://:s3cret@127.0.0.1:{port}/0")
    with pytest.raises(jobnb.BackendUnavailable) as error:
        jobnb.submit(sum, [1])
    message = str(error.value)
    assert f"cannot reach Redis at host 127.0.0.1 port {port} (db 0)" in message
    assert f"redis-server --port {port}" in message and "s3cret" not in message
    worker = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobnb.cli",
            "worker",
            "--backend",
            "rq",
            "--url",
            f"redis://:s3cret@127.0.0.1:{port}/0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 1 and "cannot reach Redis" in worker.stderr
    assert "s3cret" not in worker.stderr + worker.stdout


def test_the_dashboard_says_when_the_server_went_away(tmp_path):
    from jobnb.widgets.dashboard import Dashboard

    server, url = start_redis_server(tmp_path, "--requirepass", "s3cret")
    url = url.replace("redis://", "redis://:s3cret@")
    jobnb.configure("rq", redis_url=url)
    with pytest.warns(jobnb.JobnbWarning, match="no RQ worker serves the queue"):
        jobnb.submit(sum, [1, 2])
    board = Dashboard()
    board.refresh()
    assert board.banner.layout.display == "none"
    assert "rq" in board.stats_view.value and "s3cret" not in board.stats_view.value
    server.terminate()
    server.wait(timeout=10)
    board.refresh()
    assert board.banner.layout.display is None
    assert "cannot reach Redis at host 127.0.0.1" in board.banner.value
    assert "s3cret" not in board.banner.value
