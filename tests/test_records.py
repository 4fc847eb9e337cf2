"""Job records of the huey backend, in SQLite and in Redis (the same methods, the same
behaviour): real files, a real redis-server, real processes."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from jobnb.backends.memory import new_job_id
from jobnb.backends.redis_records import RedisRecords
from jobnb.backends.sqlite_records import SqliteRecords
from jobnb.exceptions import JobnbError, JobNotFound
from jobnb.job import JobRecord, JobStatus, Progress


def queued(name: str = "job", submitted: float | None = None) -> JobRecord:
    return JobRecord(
        id=new_job_id(),
        name=name,
        backend="huey",
        description=f"{name}()",
        submitted=submitted or time.time(),
    )


@pytest.fixture(params=["sqlite", "redis"])
def make_store(request, tmp_path):
    """Opens the records (as many times as asked: think of several processes)."""
    if request.param == "sqlite":
        return lambda **kw: SqliteRecords(tmp_path / "home" / "jobs.db", **kw)
    url = request.getfixturevalue("redis_url")
    return lambda **kw: RedisRecords(url, **kw)


@pytest.fixture
def store(make_store):
    return make_store()


def test_a_job_from_queued_to_finished(store):
    rec = queued("train")
    store.add([rec], [b"payload"], cwd="/work", sys_path=["/work/lib"])
    assert store.record(rec.id) == rec
    assert store.start(rec.id, "worker-1 pid 7") == (b"payload", None, "/work", ["/work/lib"])
    assert store.start(rec.id, "worker-2") is None  # taken once only
    store.log(rec.id, "epoch 1\n")
    store.progress(rec.id, 1, 4, "epoch 1")
    store.log(rec.id, "epoch 2\n")
    running = store.record(rec.id)
    assert running.status is JobStatus.RUNNING and running.worker == "worker-1 pid 7"
    assert running.progress == Progress(1, 4, "epoch 1")
    assert store.logs(rec.id) == "epoch 1\nepoch 2\n"
    assert store.finish(rec.id, JobStatus.FINISHED, None, b"outcome")
    done = store.record(rec.id)
    assert done.status is JobStatus.FINISHED and done.progress.done == 4
    assert done.started <= done.finished
    assert store.outcome(rec.id) == b"outcome"
    assert not store.finish(rec.id, JobStatus.FAILED, "late", b"x")  # the first end stands


def test_pages_newest_first_and_counts(store):
    now = time.time()
    recs = [queued(f"n{i}", now + i) for i in range(30)]
    store.add(recs, [b""] * 30)
    store.start(recs[0].id, "w")
    store.finish(recs[0].id, JobStatus.FAILED, "ValueError\n", b"")
    page = store.records(limit=10, offset=10)
    assert [r.name for r in page] == [f"n{i}" for i in range(19, 9, -1)]
    assert [r.name for r in store.records(JobStatus.FAILED)] == ["n0"]
    counts = store.counts()
    assert counts[JobStatus.QUEUED] == 29 and counts[JobStatus.FAILED] == 1
    assert set(store.records_of([recs[3].id, recs[5].id, "missing"])) == {recs[3].id, recs[5].id}


def test_cancel_queued_and_running(store):
    waiting, running = queued(), queued()
    store.add([waiting, running], [b"", b""])
    store.start(running.id, "w")
    assert store.request_cancel(waiting.id) is JobStatus.QUEUED
    assert store.record(waiting.id).status is JobStatus.CANCELLED
    assert store.start(waiting.id, "w") is None  # a cancelled job never runs
    assert store.heartbeat(running.id) is False
    assert store.request_cancel(running.id) is JobStatus.RUNNING
    assert store.heartbeat(running.id) is True  # its worker learns it at the next beat


def test_a_running_job_without_heartbeats_is_lost(make_store):
    store = make_store(lost_after=0.3)
    rec = queued()
    store.add([rec], [b""])
    store.start(rec.id, "w")
    assert store.record(rec.id).status is JobStatus.RUNNING
    time.sleep(0.5)
    lost = store.record(rec.id)
    assert lost.status is JobStatus.LOST
    assert "stopped sending heartbeats" in lost.error
    assert not store.finish(rec.id, JobStatus.FINISHED, None, b"")  # stays lost


def test_the_files_are_for_their_owner_only(tmp_path):
    store = SqliteRecords(tmp_path / "home" / "jobs.db")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700


WRITER = """
import sys, time
from jobnb.backends.memory import new_job_id
from jobnb.exceptions import JobnbError, JobNotFound
from jobnb.backends.redis_records import RedisRecords
from jobnb.backends.sqlite_records import SqliteRecords
from jobnb.job import JobRecord
kind, where, name = sys.argv[1:]
store = SqliteRecords(where) if kind == "sqlite" else RedisRecords(where)
for i in range(250):
    rec = JobRecord(id=new_job_id(), name=f"{name}-{i}", backend="huey")
    store.add([rec], [b"p"])
"""


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_four_processes_adding_250_each_lose_and_duplicate_nothing(kind, tmp_path, request):
    if kind == "sqlite":
        where = str(tmp_path / "jobs.db")
        SqliteRecords(where)
        open_store = lambda: SqliteRecords(where)  # noqa: E731
    else:
        where = request.getfixturevalue("redis_url")
        open_store = lambda: RedisRecords(where)  # noqa: E731
    writers = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), kind, where, f"w{n}"])
        for n in range(4)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    names = [r.name for r in open_store().records()]
    assert len(names) == 1000
    assert set(names) == {f"w{n}-{i}" for n in range(4) for i in range(250)}
    assert open_store().counts()[JobStatus.QUEUED] == 1000  # the counts kept up


def test_an_ended_job_is_forgotten_with_every_trace(store):
    ended, other, waiting = queued("ended"), queued("other"), queued("waiting")
    store.add([ended, other, waiting], [b"payload"] * 3)
    for rec in (ended, other):
        store.start(rec.id, "w")
        store.log(rec.id, "a line\n")
        store.finish(rec.id, JobStatus.FINISHED, None, b"outcome")
    store.forget(ended.id)
    with pytest.raises(JobNotFound):
        store.record(ended.id)
    with pytest.raises(JobNotFound):
        store.outcome(ended.id)
    assert store.logs(ended.id) == ""
    assert [r.name for r in store.records()] == ["waiting", "other"]
    assert store.records(JobStatus.FINISHED, limit=5) == [store.record(other.id)]
    counts = store.counts()
    assert (counts[JobStatus.FINISHED], counts[JobStatus.QUEUED]) == (1, 1)
    assert store.logs(other.id) == "a line\n" and store.outcome(other.id) == b"outcome"
    with pytest.raises(JobnbError, match=f"job {waiting.id} is queued: only an ended job"):
        store.forget(waiting.id)
    assert store.record(waiting.id).status is JobStatus.QUEUED
    with pytest.raises(JobNotFound):
        store.forget(ended.id)


def test_ended_jobs_are_forgotten_after_their_result_ttl(make_store):
    short, kept = make_store(result_ttl=0.5), make_store()
    brief, lasting = queued("brief"), queued("lasting")
    short.add([brief], [b""])
    kept.add([lasting], [b""])
    for rec in (brief, lasting):
        kept.start(rec.id, "w")  # whoever ends it: the ttl goes with the job
        kept.finish(rec.id, JobStatus.FINISHED, None, b"")
    time.sleep(1.6)  # past the ttl, and a look (at most once a second)
    assert [r.name for r in kept.records()] == ["lasting"]
    assert kept.counts()[JobStatus.FINISHED] == 1


def test_a_heartbeat_from_another_boot_means_lost(tmp_path):
    store = SqliteRecords(tmp_path / "jobs.db")
    rec = queued()
    store.add([rec], [b""])
    store.start(rec.id, "w")
    store.heartbeat(rec.id)
    assert store.record(rec.id).status is JobStatus.RUNNING
    with sqlite3.connect(store.path) as db:  # as if the machine had restarted since
        db.execute("UPDATE jobs SET boot_id = 'a boot before this one'")
    time.sleep(1.1)  # the next look
    assert store.record(rec.id).status is JobStatus.LOST
