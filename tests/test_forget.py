"""Forgetting ended jobs (issue 12): ``job.forget()`` and ``jobnb.forget(...)`` on every
backend, a home that gives the space back, and ``result_ttl`` on the SQLite home too."""

from __future__ import annotations

import time

import pytest
import redis
from conftest import eventually, start_redis_worker, stop_process
from jobs_for_tests import add, fail, wait_for
from rq import Worker
from rq.job import Job as RqJob

import jobnb
from jobnb import JobStatus


def test_an_ended_job_is_forgotten_and_only_it(backend, request):
    kept = jobnb.submit(add, 1, 1)
    gone = jobnb.submit(fail, "forget me")
    kept.wait(30)
    gone.wait(30)
    assert gone.status is JobStatus.FAILED and "about to fail" in gone.logs()
    gone.forget()
    for look in (lambda: gone.status, gone.result, lambda: jobnb.get(gone.id)):
        with pytest.raises(jobnb.JobNotFound):
            look()
    assert [job.id for job in jobnb.jobs()] == [kept.id]
    counts = jobnb.api.counts()
    assert (counts[JobStatus.FAILED], counts[JobStatus.FINISHED]) == (0, 1)
    assert kept.result() == 2
    if backend == "rq":  # RQ's own copy of the job is gone too
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        assert RqJob.exists(kept.id, connection=client)
        assert not RqJob.exists(gone.id, connection=client)


def test_rq_forgets_its_own_copy_for_good(redis_url, tmp_path):
    """jobnb's record of an rq job ends inside RQ's job target, and RQ files the job a
    moment later: a job forgotten at once must not come back when RQ does."""
    client = redis.Redis.from_url(redis_url)
    jobnb.configure("rq", redis_url=redis_url)
    worker = start_redis_worker(redis_url, tmp_path, "-w", "1", backend="rq")
    try:
        for _ in range(5):
            job = jobnb.submit(fail, "forget me at once")
            job.wait(30)
            job.forget()
            eventually(lambda: Worker.all(connection=client)[0].get_state() == "idle")
            assert not RqJob.exists(job.id, connection=client)
            assert client.zcard("rq:failed:default") == 0
    finally:
        stop_process(worker)


def test_a_queued_or_running_job_is_not_forgotten(backend, tmp_path):
    release = tmp_path / "release"
    running = [jobnb.submit(wait_for, str(release)) for _ in range(2)]  # both workers
    queued = jobnb.submit(add, 3)
    eventually(lambda: all(job.status is JobStatus.RUNNING for job in running), timeout=30)
    for job, status in ((running[0], "running"), (queued, "queued")):
        assert job.status.value == status
        with pytest.raises(jobnb.JobnbError) as error:
            job.forget()
        assert str(error.value) == (
            f"job {job.id} is {status}: only an ended job can be forgotten. Cancel it "
            "first (job.cancel(), then job.wait()), or wait for it to end (job.wait())."
        )
    release.touch()
    assert [job.result(timeout=30) for job in running] == [True, True]
    assert queued.result(timeout=30) == 3  # refused, and untouched
    jobnb.forget(queued, *running)
    assert jobnb.jobs() == []


def test_forget_takes_jobs_ids_and_names_and_deletes_nothing_on_a_refusal(tmp_path):
    jobnb.configure("huey")
    older, newer = (jobnb.options(name="nightly").submit(add, n) for n in (1, 2))
    by_id, by_job = jobnb.submit(add, 3), jobnb.submit(add, 4)
    for job in (older, newer, by_id, by_job):
        job.wait(30)
    with pytest.raises(jobnb.JobNotFound):
        jobnb.forget("nightly", "no-such-job")
    release = tmp_path / "release"
    running = jobnb.submit(wait_for, str(release))
    eventually(lambda: running.status is JobStatus.RUNNING, timeout=30)
    with pytest.raises(jobnb.JobnbError, match=f"job {running.id} is running"):
        jobnb.forget(by_job, running)
    assert len(jobnb.jobs()) == 5  # nothing was deleted
    release.touch()
    running.wait(30)
    # a name is the newest job of that name, as jobnb.get says
    assert jobnb.forget("nightly", by_id.id, by_job) == [newer.id, by_id.id, by_job.id]
    assert {job.id for job in jobnb.jobs()} == {older.id, running.id}
    assert jobnb.get("nightly").id == older.id


def big_result(megabytes: int) -> bytes:
    return b"x" * (megabytes * 2**20)


def test_forgetting_a_large_result_gives_the_space_back(tmp_path):
    jobnb.configure("huey")
    assert jobnb.submit(add, 1).result(timeout=30) == 1
    files = tmp_path / ".jobnb"

    def home_size() -> int:  # the records file, its write-ahead log, big blobs' files
        found = [*files.glob("jobs.db*"), *files.glob("blobs/*")]
        return sum(path.stat().st_size for path in found)

    before = home_size()
    job = jobnb.submit(big_result, 50)
    assert len(job.result(timeout=60)) == 50 * 2**20
    grown = home_size()
    assert grown > before + 50 * 2**20
    job.forget()
    assert jobnb.submit(add, 2).result(timeout=30) == 2  # the next write trims the log
    after = home_size()
    print(f"records file and log: {before:,} B, {grown:,} B with the result, {after:,} B after")
    assert after < before + 5 * 2**20


def test_a_result_ttl_forgets_ended_jobs_on_the_sqlite_home():
    jobnb.configure("huey")
    kept = jobnb.submit(add, 1).wait(30)  # added without a ttl: kept until forgotten
    jobnb.api.shutdown()  # this process then uses one backend only: the home's jobs once
    jobnb.configure("huey", result_ttl=1)
    short = jobnb.submit(print, "short-lived")
    short.wait(30)
    assert short.logs() == "short-lived\n" and jobnb.api.counts()[JobStatus.FINISHED] == 2
    time.sleep(2.2)  # past the ttl, and past the once-a-second sweep
    assert [job.id for job in jobnb.jobs()] == [kept.id]
    assert jobnb.api.counts()[JobStatus.FINISHED] == 1
    with pytest.raises(jobnb.JobNotFound):
        jobnb.get(short.id)
