"""The huey backend on a Redis queue (RedisHuey), beyond the contract suite (which runs
on it as "huey-redis"): jobs outlive their submitter, a killed worker's job is lost,
workers are seen from the kernel, and an unreachable server is a clear error."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from conftest import (
    eventually,
    free_port,
    kill_and_see_lost,
    start_redis_server,
    start_redis_worker,
    stop_process,
)
from test_huey_backend import submit_in_a_process

import jobnb
from jobnb import JobStatus


@pytest.fixture
def worker(redis_url, tmp_path, monkeypatch):
    """A worker on the session's Redis; the environment points jobnb (and the processes
    a test starts) at it."""
    monkeypatch.setenv("JOBNB_HOME", redis_url)
    proc = start_redis_worker(redis_url, tmp_path)
    yield proc
    stop_process(proc)


def test_jobs_outlive_the_process_that_submitted_them(worker, tmp_path):
    proc = submit_in_a_process(tmp_path, "gone", 100)
    assert proc.wait(timeout=60) == 0
    jobnb.configure("huey")  # JOBNB_HOME: the same queue, from another process
    jobs = jobnb.jobs()
    assert len(jobs) == 100
    results = sorted(job.result(timeout=60) for job in jobs)
    assert results == sorted(x * x for x in range(100))
    assert {job.logs() for job in jobs} == {f"squaring {x}\n" for x in range(100)}
    assert jobnb.api.counts()[JobStatus.FINISHED] == 100


def test_a_job_whose_worker_is_killed_is_lost_within_30_s(worker):
    jobnb.configure("huey")
    job = jobnb.submit(time.sleep, 120)
    eventually(lambda: job.status is JobStatus.RUNNING, timeout=30)
    assert (
        f"1 ({os.uname().nodename} pid {worker.pid})"
        == jobnb.job_history().stats()["huey"]["workers"]
    )
    kill_and_see_lost(job, worker.pid)


def test_without_a_worker_the_submit_says_how_to_start_one(redis_url):
    jobnb.configure("huey", home=redis_url)
    with pytest.warns(jobnb.JobnbWarning, match="no jobnb worker serves the Redis queue"):
        job = jobnb.submit(sum, [1, 2])
    assert job.status is JobStatus.QUEUED
    status = subprocess.run(
        ["jobnb", "worker", "--url", redis_url, "--status"], capture_output=True, text=True
    )
    assert status.returncode == 1 and "0 worker(s) serve" in status.stdout


def test_worker_status_lists_the_workers_of_the_queue(worker, redis_url):
    status = subprocess.run(
        ["jobnb", "worker", "--url", redis_url, "--status"], capture_output=True, text=True
    )
    assert status.returncode == 0
    assert "1 worker(s) serve" in status.stdout and f"pid {worker.pid}" in status.stdout


def test_an_unreachable_server_says_where_and_how_to_start_one():
    port = free_port()  # nothing listens there
    jobnb.configure("huey", home=f"redis://:s3cret@127.0.0.1:{port}/2")
    with pytest.raises(jobnb.BackendUnavailable) as error:
        jobnb.submit(sum, [1, 2])
    message = str(error.value)
    assert f"cannot reach Redis at host 127.0.0.1 port {port} (db 2)" in message
    assert f"redis-server --port {port}" in message
    assert "s3cret" not in message and ":***@" in message


def test_a_password_is_used_and_never_shown(tmp_path):
    server, url = start_redis_server(tmp_path, "--requirepass", "s3cret")
    try:
        good = url.replace("redis://", "redis://:s3cret@")
        jobnb.configure("huey", home=good)
        with pytest.warns(jobnb.JobnbWarning) as warned:  # no worker yet
            job = jobnb.submit(sum, [1, 2])
        assert job.status is JobStatus.QUEUED
        assert "s3cret" not in str(warned[0].message) + repr(job) + str(jobnb.jobs_df())
        assert "s3cret" not in str(jobnb.api.get_backend().describe())
        assert "s3cret" not in repr(jobnb.settings()) and ":***@" in repr(jobnb.settings())
        for wrong in (url.replace("redis://", "redis://:wrong@"), url):  # bad, and none
            jobnb.configure(home=wrong)
            with pytest.raises(jobnb.BackendUnavailable) as error:
                jobnb.submit(sum, [1, 2])
            assert "127.0.0.1" in str(error.value) and "wrong" not in str(error.value)
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize("setting", [{"home": "http://localhost:6379"}, {"redis_url": "localhost"}])
def test_a_url_that_is_not_redis_is_refused(setting):
    jobnb.configure("huey" if "home" in setting else "rq", **setting)
    with pytest.raises(jobnb.ConfigError, match="is not a Redis URL"):
        jobnb.submit(sum, [1, 2])


def test_the_dashboard_says_when_the_server_went_away(tmp_path):
    from jobnb.widgets.dashboard import Dashboard

    server, url = start_redis_server(tmp_path)
    jobnb.configure("huey", home=url)
    with pytest.warns(jobnb.JobnbWarning):  # no worker: it stays queued
        jobnb.submit(sum, [1, 2])
    board = Dashboard()
    board.refresh()
    assert board.banner.layout.display == "none" and "queued" in board.rows[0].summary.value
    server.terminate()
    server.wait(timeout=10)
    board.refresh()
    assert board.banner.layout.display is None
    port = url.rsplit(":", 1)[1].split("/")[0]
    assert f"cannot reach Redis at host 127.0.0.1 port {port} (db 0)" in board.banner.value
    assert "redis-server --port" in board.banner.value
