"""The shortcuts that make a queue job's round trip short never make a wait wrong: a
Redis wait reads on from where the stream stood at the submit (records/redis_done.py),
and a SQLite home's worker is woken by a datagram (backends/huey_wakeup.py)."""

from __future__ import annotations

import os
import stat
import threading
import time

import pytest
import redis

from jobnb.backends.huey_wakeup import LOOK_EVERY, WakeUps, wake_path, wake_worker
from jobnb.backends.memory import new_job_id
from jobnb.backends.records.redis import RedisRecords
from jobnb.model import JobRecord, JobStatus


def queued(name: str = "job") -> JobRecord:
    return JobRecord(
        id=new_job_id(), name=name, backend="huey", description=f"{name}()", submitted=time.time()
    )


def xreads(url: str) -> int:
    stats = redis.Redis.from_url(url).info("commandstats")
    return stats.get("cmdstat_xread", {}).get("calls", 0)


def test_a_wait_finds_a_job_ended_whose_entry_was_trimmed_from_the_stream(redis_url):
    store = RedisRecords(url=redis_url)
    rec = queued()
    store.add([rec], [b"p"])
    store.start(rec.id, "w")
    store.finish(rec.id, JobStatus.FINISHED, None, b"o")
    store.redis.xtrim(f"{store.prefix}done", maxlen=0)  # (10,000 later ends would)
    began = time.monotonic()
    assert store.wait(rec.id, 5) is True
    assert time.monotonic() - began < 0.5  # found by its status, not after a timeout


def test_a_wait_is_woken_by_an_end_after_it_began(redis_url):
    store = RedisRecords(url=redis_url)
    rec = queued()
    store.add([rec], [b"p"])
    store.start(rec.id, "w")
    ender = threading.Timer(0.3, store.finish, (rec.id, JobStatus.FAILED, "boom\n", b"o"))
    ender.start()
    began = time.monotonic()
    assert store.wait(rec.id, 10) is True
    assert time.monotonic() - began < 1.0  # woken by the end, not by the second's look
    ender.join()
    assert store.status(rec.id) is JobStatus.FAILED


def test_waiting_for_each_of_many_ended_jobs_reads_the_stream_about_once(redis_url):
    store = RedisRecords(url=redis_url)
    recs = [queued(f"j{i}") for i in range(200)]
    store.add(recs, [b"p"] * len(recs))
    for rec in recs:
        store.start(rec.id, "w")
        store.finish(rec.id, JobStatus.FINISHED, None, b"o")
    before = xreads(redis_url)
    assert all(store.wait(rec.id, 5) for rec in recs)
    assert xreads(redis_url) - before <= 2  # one read of the stream served every wait


def test_another_kernel_waits_for_a_job_it_did_not_submit(redis_url):
    submitter, waiter = RedisRecords(url=redis_url), RedisRecords(url=redis_url)
    rec = queued()
    submitter.add([rec], [b"p"])
    assert waiter.wait(rec.id, 0.2) is False  # queued: the time is up
    submitter.start(rec.id, "w")
    threading.Timer(0.2, submitter.finish, (rec.id, JobStatus.FINISHED, None, b"o")).start()
    assert waiter.wait(rec.id, 10) is True
    assert waiter.outcome(rec.id) is not None


def test_a_wait_that_timed_out_can_wait_again(redis_url):
    store = RedisRecords(url=redis_url)
    rec = queued()
    store.add([rec], [b"p"])
    store.start(rec.id, "w")
    assert store.wait(rec.id, 0.1) is False
    store.finish(rec.id, JobStatus.FINISHED, None, b"o")
    assert store.wait(rec.id, 5) is True


def test_the_wake_up_socket_is_its_owners_alone_and_wakes_a_waiting_thread(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    ups = WakeUps(home)
    try:
        assert stat.S_IMODE(os.lstat(wake_path(home)).st_mode) == 0o600
        woken = threading.Event()

        def waiter() -> None:
            ups.wait()
            woken.set()

        thread = threading.Thread(target=waiter)
        began = time.monotonic()
        thread.start()
        wake_worker(home)
        assert woken.wait(5)
        assert time.monotonic() - began < LOOK_EVERY + 0.5
        thread.join()
    finally:
        ups.close()
    assert not wake_path(home).exists()  # (gone with its worker)
    wake_worker(home)  # no worker: nothing happens, nothing is raised


def test_a_home_whose_path_is_too_long_for_a_socket_polls_instead(tmp_path):
    home = tmp_path / ("h" * 120)
    home.mkdir(mode=0o700)
    ups = WakeUps(home)
    assert ups.socket is None
    began = time.monotonic()
    ups.wait()  # a look at the pace of LOOK_EVERY
    assert LOOK_EVERY * 0.5 <= time.monotonic() - began < 1.0
    wake_worker(home)  # nothing to wake: nothing raised
    ups.close()


@pytest.mark.parametrize("jobs", [1, 30])
def test_a_sqlite_homes_jobs_run_at_once_after_the_worker_idled(tmp_path, jobs):
    import jobnb
    from jobnb.backends.huey_worker import stop_worker

    def add_one(x):
        return x + 1

    home = tmp_path / ".jobnb"
    jobnb.configure("huey", home=str(home), workers=2)
    try:
        assert jobnb.submit(add_one, 0).result(timeout=60) == 1  # the worker is up
        assert wake_path(home).exists()
        time.sleep(0.5)  # idle: its threads wait for a wake-up
        assert [j.result(timeout=30) for j in jobnb.map(add_one, range(jobs))] == [
            x + 1 for x in range(jobs)
        ]
    finally:
        jobnb.api.get_backend().shutdown()
        stop_worker(home)


def test_a_wake_up_path_that_cannot_be_a_socket_leaves_the_worker_polling(tmp_path, capsys):
    home = tmp_path / "home"
    (home / "worker.wake").mkdir(parents=True)
    ups = WakeUps(home)
    assert ups.socket is None
    assert f"cannot make {home / 'worker.wake'}" in capsys.readouterr().err
    began = time.monotonic()
    ups.wait()
    assert time.monotonic() - began < 1.0
