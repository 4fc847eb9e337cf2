"""Long histories (issue 16): pages, ``jobs_df(limit=, since=)`` and ``jobnb.prune`` over
thousands of ended jobs, in a real SQLite home and a real redis-server. Sizes are modest
here (the figures for a million jobs are benchmarks/history.py's); what is checked is
what a user sees: the right jobs, newest first; exactly the jobs asked for deleted; a
running job untouched and its heartbeats answered while a prune runs.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time

import pytest
from conftest import eventually
from jobs_for_tests import add, fail, wait_for

import jobnb
from jobnb import JobnbError, JobStatus
from jobnb.backends.memory import new_job_id
from jobnb.backends.records.redis import RedisRecords
from jobnb.backends.records.sqlite import SqliteRecords
from jobnb.model import JobRecord

HISTORY = 5000


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return SqliteRecords(tmp_path / "home" / "jobs.db")
    return RedisRecords(request.getfixturevalue("redis_url"))


def fill(store, n: int, start: float, status: JobStatus = JobStatus.FINISHED) -> list[str]:
    """``n`` jobs through the store's API, submitted a millisecond apart from ``start``
    (added a thousand at a time), each started and ended with ``status``; their ids."""
    ids = []
    for first in range(0, n, 1000):
        recs = [
            JobRecord(
                id=new_job_id(),
                name=f"job {first + i}",
                backend="huey",
                description="noop()",
                submitted=start + (first + i) / 1000,
            )
            for i in range(min(1000, n - first))
        ]
        store.add(recs, [b"payload"] * len(recs))
        for rec in recs:
            store.start(rec.id, "w")
            store.log(rec.id, "a line\n")
            store.finish(rec.id, status, None, b"outcome")
        ids += [rec.id for rec in recs]
    return ids


def test_pages_and_since_read_exactly_the_right_jobs_newest_first(store):
    start = time.time() - 3600
    ids = fill(store, HISTORY, start)
    newest_first = ids[::-1]
    for offset in (0, 50, 2500, HISTORY - 30):
        page = store.records(limit=50, offset=offset)
        assert [r.id for r in page] == newest_first[offset : offset + 50]
    assert store.counts()[JobStatus.FINISHED] == HISTORY
    since = start + (HISTORY - 100) / 1000  # the last 100 jobs
    assert [r.id for r in store.records(since=since)] == newest_first[:100]
    assert [r.id for r in store.records(limit=7, since=since)] == newest_first[:7]
    assert [r.id for r in store.records(JobStatus.FINISHED, since=since)] == newest_first[:100]
    assert store.records(JobStatus.FAILED, since=since) == []


def test_prune_deletes_the_old_ended_jobs_only_while_a_running_job_beats(store):
    old = fill(store, HISTORY, time.time() - 3600)
    broke = fill(store, 200, time.time() - 3000, JobStatus.FAILED)
    cut = time.time()
    time.sleep(0.02)
    newer = fill(store, 50, time.time())
    waiting, running = (
        JobRecord(id=new_job_id(), name=n, backend="huey", description="x()")
        for n in ("waiting", "running")
    )
    store.add([waiting, running], [b"payload"] * 2)
    store.start(running.id, "w")

    beats: list[float] = []  # when each heartbeat was answered, while the prune runs
    pruning = threading.Event()
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            assert store.heartbeat(running.id) is False
            if pruning.is_set():
                beats.append(time.monotonic())
            time.sleep(0.002)

    beater = threading.Thread(target=beat)
    beater.start()
    try:
        pruning.set()
        began = time.monotonic()
        deleted = {
            job_id: status
            for batch in store.ended_before(cut, JobStatus.FAILED)
            for job_id, status in store.forget_many(batch).items()
        }
        assert deleted == dict.fromkeys(broke, JobStatus.FAILED)
        walk = store.ended_before(cut, batch=500)
        deleted = sum(len(store.forget_many(batch)) for batch in walk)
        store.shrink()
        took = time.monotonic() - began
    finally:
        stop.set()
        beater.join()
    assert deleted == HISTORY
    # the running job's heartbeats went on all through the prune, between its batches
    # (one transaction over every job would have held them back till its end)
    during = [began, *(t for t in beats if t < began + took), began + took]
    assert max(b - a for a, b in itertools.pairwise(during)) < took / 2
    assert store.finish(running.id, JobStatus.FINISHED, None, b"outcome")
    assert [r.id for r in store.records()] == [running.id, waiting.id, *newer[::-1]]
    assert store.record(waiting.id).status is JobStatus.QUEUED
    for job_id in (old[0], old[-1], broke[0]):
        assert store.logs(job_id) == ""
        with pytest.raises(jobnb.JobNotFound):
            store.outcome(job_id)
    counts = store.counts()
    assert counts[JobStatus.FINISHED] == 51 and counts[JobStatus.FAILED] == 0
    assert list(store.ended_before(cut)) == []  # a prune of nothing


def submit_batches(batches: int, size: int) -> list[list[jobnb.Job]]:
    """``batches`` maps of ``size`` jobs each, a little apart in time, all ended."""
    done = []
    for b in range(batches):
        jobs = jobnb.map(add, range(b * size, (b + 1) * size))
        for job in jobs:
            job.wait(60)
        done.append(jobs)
        time.sleep(0.05)
    return done


def test_jobs_df_limit_and_since_on_every_backend(backend):
    batches = submit_batches(3, 8)
    newest_first = [job.id for jobs in batches[::-1] for job in jobs[::-1]]
    assert list(jobnb.jobs_df()["id"]) == newest_first  # as before: every job
    assert list(jobnb.jobs_df(limit=5)["id"]) == newest_first[:5]
    assert jobnb.jobs_df(limit=0).empty
    last = batches[-1]
    since = min(job.record().submitted for job in last)
    df = jobnb.jobs_df(since=since)
    assert set(df["id"]) == {job.id for job in last}
    assert list(df["submitted"]) == sorted(df["submitted"], reverse=True)
    # naive: local time (a millisecond early: a datetime keeps microseconds only)
    as_datetime = dt.datetime.fromtimestamp(since - 0.001)
    assert set(jobnb.jobs_df(since=as_datetime)["id"]) == {job.id for job in last}
    assert len(jobnb.jobs_df("finished", limit=3, since=since)) == 3


def test_prune_on_every_backend_keeps_new_and_unended_jobs(backend, tmp_path):
    old = submit_batches(1, 6)[0]
    broken = jobnb.submit(fail, "old and broken")
    broken.wait(60)
    time.sleep(0.05)
    cut = dt.datetime.now()
    time.sleep(0.05)
    new = submit_batches(1, 4)[0]
    release = tmp_path / "release"
    running = jobnb.submit(wait_for, str(release))
    eventually(lambda: running.status is JobStatus.RUNNING, timeout=30)

    assert jobnb.prune(before=cut, status="failed") == 1
    assert jobnb.prune(before=cut) == len(old)
    assert jobnb.prune(before=cut) == 0  # nothing left to prune
    with pytest.raises(jobnb.JobNotFound):
        old[0].status  # noqa: B018 - reading it is the test
    left = [job.id for job in jobnb.jobs()]
    assert left == [running.id, *(job.id for job in new[::-1])]
    assert jobnb.prune(older_than=dt.timedelta(hours=1)) == 0  # all newer than that
    assert jobnb.prune(older_than=0) == len(new)  # every ended job, not the running one
    release.touch()
    assert running.result(timeout=60) is True


def test_forget_of_many_ids_at_once_on_the_home():
    jobnb.configure("huey")
    jobs = jobnb.map(add, range(300))
    for job in jobs:
        job.wait(60)
    kept = jobs[0]
    assert jobnb.forget(*(job.id for job in jobs[1:])) == [job.id for job in jobs[1:]]
    assert [job.id for job in jobnb.jobs()] == [kept.id]


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ({"older_than": -5}, "older_than=-5 is not an age: give a timedelta or a number"),
        ({"older_than": dt.timedelta(days=-1)}, "is not an age"),
        ({"older_than": "a week"}, "older_than='a week' is not an age"),
        ({}, "say which jobs to prune: older_than=.* not neither"),
        ({"older_than": 5, "before": dt.datetime.now()}, "not both"),
        ({"before": "yesterday"}, "before='yesterday' is not a time: give a datetime"),
        ({"older_than": 5, "status": "done"}, "unknown status 'done': prune takes one of"),
        ({"older_than": 5, "status": "running"}, "ended jobs only, not running ones"),
    ],
)
def test_a_prune_asked_wrongly_says_what_to_give(arguments, said):
    jobnb.configure("thread")
    job = jobnb.submit(add, 1)
    job.wait(30)
    with pytest.raises(JobnbError, match=said):
        jobnb.prune(**arguments)
    assert job.result() == 1  # nothing was deleted


def test_jobs_df_asked_wrongly_says_what_to_give():
    jobnb.configure("thread")
    with pytest.raises(JobnbError, match=r"limit=-1 is not a number of jobs: give a whole"):
        jobnb.jobs_df(limit=-1)
    with pytest.raises(JobnbError, match="since='today' is not a time: give a datetime"):
        jobnb.jobs_df(since="today")
