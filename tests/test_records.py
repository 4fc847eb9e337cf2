"""The records stores (records/base.py: the contract; SQLite and Redis) against one suite:
``TestEveryStore`` runs each method of the contract on every store, with real files and
a real redis-server; the tests of one store's own ways follow it."""

from __future__ import annotations

import inspect
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from jobnb.backends.memory import new_job_id
from jobnb.backends.records.base import (
    CANCELLED_ERROR,
    SILENT_WORKER,
    Records,
    lost_error,
    requeue_note,
)
from jobnb.backends.records.redis import RedisRecords
from jobnb.backends.records.sqlite import SqliteRecords
from jobnb.exceptions import JobnbError, JobNotFound
from jobnb.model import JobRecord, JobStatus, Progress

#: every store, by the name the fixtures know it by
STORES = {"sqlite": SqliteRecords, "redis": RedisRecords}


def queued(name: str = "job", submitted: float | None = None) -> JobRecord:
    return JobRecord(
        id=new_job_id(),
        name=name,
        backend="huey",
        description=f"{name}()",
        submitted=submitted or time.time(),
    )


def notebook_job(output: str) -> JobRecord:
    """A notebook job's record, as ``jobnb.submit_notebook`` makes it: every field set."""
    return JobRecord(
        id=new_job_id(),
        name="report.ipynb",
        backend="huey",
        kind="notebook",
        description="report.ipynb (alpha=0.5)",
        queue="reports",
        timeout=90.0,
        submitted=time.time(),
        output=output,
    )


@pytest.fixture(params=sorted(STORES))
def make_store(request, tmp_path):
    """Opens the records (as many times as asked: think of several processes)."""
    if request.param == "sqlite":
        return lambda **kw: SqliteRecords(tmp_path / "home" / "jobs.db", **kw)
    url = request.getfixturevalue("redis_url")
    return lambda **kw: RedisRecords(url, **kw)


@pytest.fixture
def store(make_store):
    return make_store()


def public_methods(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if name[0] != "_"}


#: what a store offers beyond the contract, for its own queue alone
OWN_METHODS = {
    SqliteRecords: {"connection"},  # huey's SQLite queue keeps its messages in the file
    RedisRecords: set(),
}
#: what the contract says only some stores do (their workers know they are alone)
OPTIONAL = {"lose_running"}


@pytest.mark.parametrize("name", sorted(STORES))
def test_a_store_offers_the_contract_and_no_more(name):
    """A method a backend calls on one store and not on the others would drift: every
    public method of a store is declared, with its contract, on the base."""
    cls = STORES[name]
    assert public_methods(cls) - public_methods(Records) == OWN_METHODS[cls]
    missing = {m for m in public_methods(Records) if getattr(cls, m) is getattr(Records, m)}
    assert missing <= OPTIONAL


class TestEveryStore:
    """The contract of ``Records``, method by method, on every store."""

    def test_a_job_from_queued_to_finished(self, store):
        rec = queued("train")
        store.add([rec], [b"payload"], cwd="/work", sys_path=["/work/lib"])
        assert store.record(rec.id) == rec
        assert store.start(rec.id, "worker-1 pid 7") == (b"payload", None, "/work", ["/work/lib"])
        assert store.start(rec.id, "worker-2") is None  # taken once only
        started = store.record(rec.id).started
        # asked again by its worker (the first answer lost with the connection): the
        # same answer, and the job keeps the time it started
        assert store.start(rec.id, "worker-1 pid 7") == (b"payload", None, "/work", ["/work/lib"])
        assert store.record(rec.id).started == started
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

    def test_pages_newest_first_and_counts(self, store):
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
        assert set(store.records_of([recs[3].id, recs[5].id, "missing"])) == {
            recs[3].id,
            recs[5].id,
        }

    def test_cancel_queued_and_running(self, store):
        waiting, running = queued(), queued()
        store.add([waiting, running], [b"", b""])
        store.start(running.id, "w")
        assert store.request_cancel(waiting.id, "ann@box") is JobStatus.QUEUED
        cancelled = store.record(waiting.id)
        assert cancelled.status is JobStatus.CANCELLED and cancelled.error == CANCELLED_ERROR
        assert cancelled.cancelled_by == "ann@box"
        assert store.start(waiting.id, "w") is None  # a cancelled job never runs
        assert store.heartbeat(running.id) is False
        assert store.request_cancel(running.id, "bob@box via the dashboard") is JobStatus.RUNNING
        assert store.heartbeat(running.id) is True  # its worker learns it at the next beat
        assert store.record(running.id).cancelled_by == "bob@box via the dashboard"

    def test_a_running_job_without_heartbeats_is_lost(self, make_store):
        store = make_store(lost_after=0.3)
        rec = queued()
        store.add([rec], [b""])
        store.start(rec.id, "w")
        assert store.record(rec.id).status is JobStatus.RUNNING
        time.sleep(0.5)
        lost = store.record(rec.id)
        assert lost.status is JobStatus.LOST
        assert lost.error == lost_error(SILENT_WORKER)  # "... stopped sending heartbeats ..."
        assert not store.finish(rec.id, JobStatus.FINISHED, None, b"")  # stays lost

    def test_an_ended_job_is_forgotten_with_every_trace(self, store):
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

    def test_many_jobs_are_forgotten_at_once_the_ended_ones_only(self, store):
        done, broke, waiting, running = (queued(n) for n in ("done", "broke", "waiting", "run"))
        store.add([done, broke, waiting, running], [b"payload"] * 4)
        for rec, status in ((done, JobStatus.FINISHED), (broke, JobStatus.FAILED)):
            store.start(rec.id, "w")
            store.log(rec.id, "a line\n")
            store.finish(rec.id, status, None, b"outcome")
        store.start(running.id, "w")
        ids = [done.id, broke.id, waiting.id, running.id, "missing"]
        assert store.forget_many(ids) == {done.id: JobStatus.FINISHED, broke.id: JobStatus.FAILED}
        for gone in (done, broke):
            with pytest.raises(JobNotFound):
                store.record(gone.id)
            with pytest.raises(JobNotFound):
                store.outcome(gone.id)
            assert store.logs(gone.id) == ""
        assert [r.name for r in store.records()] == ["run", "waiting"]
        assert store.records(JobStatus.FINISHED) == [] and store.records(JobStatus.FAILED) == []
        counts = store.counts()
        assert (counts[JobStatus.QUEUED], counts[JobStatus.RUNNING]) == (1, 1)
        assert sum(counts.values()) == 2
        assert store.forget_many([]) == {} and store.forget_many([done.id]) == {}
        store.shrink()  # the space given back: what is left is as it was
        assert [r.name for r in store.records()] == ["run", "waiting"]
        assert store.payload(waiting.id) == b"payload"
        assert store.finish(running.id, JobStatus.FINISHED, None, b"late")  # still its own

    def test_the_jobs_ended_before_a_time_come_in_batches(self, store):
        recs = [queued(f"j{i}") for i in range(9)]
        store.add(recs, [b""] * 9)
        for rec in recs[:5]:
            store.start(rec.id, "w")
            store.finish(
                rec.id, JobStatus.FAILED if rec.name == "j1" else JobStatus.FINISHED, "", b""
            )
        time.sleep(0.02)
        cut = time.time()
        time.sleep(0.02)
        for rec in recs[5:7]:
            store.start(rec.id, "w")
            store.finish(rec.id, JobStatus.FINISHED, None, b"")
        store.start(recs[7].id, "w")  # running; recs[8] queued
        batches = list(store.ended_before(cut, batch=2))
        assert all(1 <= len(batch) <= 2 for batch in batches)
        names = {store.record(i).name for batch in batches for i in batch}
        assert names == {"j0", "j1", "j2", "j3", "j4"}
        assert sum(len(batch) for batch in batches) == 5
        assert [
            store.record(i).name for b in store.ended_before(cut, JobStatus.FAILED) for i in b
        ] == ["j1"]
        assert list(store.ended_before(cut, JobStatus.LOST)) == []
        assert list(store.ended_before(0.0)) == []
        walk = store.ended_before(time.time(), batch=3)
        deleted = sum(len(store.forget_many(batch)) for batch in walk)  # deleting as it goes
        assert deleted == 7
        assert [r.name for r in store.records()] == ["j8", "j7"]

    def test_a_page_of_the_jobs_submitted_since_a_time(self, store):
        now = time.time()
        recs = [queued(f"n{i}", now - 100 + i) for i in range(40)]
        store.add(recs, [b""] * 40)
        store.start(recs[30].id, "w")
        since = now - 100 + 25
        assert [r.name for r in store.records(since=since)] == [f"n{i}" for i in range(39, 24, -1)]
        assert [r.name for r in store.records(limit=3, since=since)] == ["n39", "n38", "n37"]
        assert [r.name for r in store.records(limit=2, offset=13, since=since)] == ["n26", "n25"]
        assert [r.name for r in store.records(JobStatus.RUNNING, since=since)] == ["n30"]
        assert store.records(JobStatus.RUNNING, since=now - 100 + 31) == []
        assert store.records(since=now + 1) == []
        assert len(store.records(since=0.0)) == 40

    def test_ended_jobs_are_forgotten_after_their_result_ttl(self, make_store):
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

    def test_a_notebook_record_comes_back_unchanged(self, store, tmp_path):
        rec = notebook_job(str(tmp_path / "runs -> 2024" / "report -> out.ipynb"))
        store.add([rec], [b"payload"])
        assert store.record(rec.id) == rec
        assert store.records() == [rec]
        assert store.records_of([rec.id]) == {rec.id: rec}
        store.start(rec.id, "w")
        store.finish(rec.id, JobStatus.FINISHED, None, b"outcome")
        assert store.record(rec.id).output == rec.output

    def test_a_resubmitted_job_keeps_its_output(self, store, tmp_path):
        first = notebook_job(str(tmp_path / "a -> b.ipynb"))
        store.add([first], [b"payload"])
        store.request_cancel(first.id, "ann@box")
        again = store.record(first.id).again(new_job_id())  # what resubmit() queues
        store.add([again], [store.payload(first.id)])
        assert store.record(again.id) == again
        assert store.record(again.id).output == first.output
        assert store.start(again.id, "w")[0] == b"payload"

    def test_a_job_the_store_does_not_hold_is_named_with_the_store(self, store):
        store.add([queued()], [b""])
        for read in (
            store.record,
            store.status,
            store.outcome,
            store.payload,
            store.forget,
            lambda job_id: store.request_cancel(job_id, "ann@box"),
            lambda job_id: store.wait(job_id, 0.1),
        ):
            with pytest.raises(JobNotFound, match=f"no job 'nosuchjob' in {store.place}"):
                read("nosuchjob")
        assert store.records_of(["nosuchjob"]) == {}
        assert store.logs("nosuchjob") == ""
        assert store.start("nosuchjob", "w") is None
        assert store.heartbeat("nosuchjob") is False

    def test_statuses_queued_ids_and_payloads(self, store):
        first, second, third = queued("first"), queued("second"), queued("third")
        store.add([first, second], [b"one", b"two"])
        store.add([third], [b"three"])
        assert store.queued_ids() == [first.id, second.id, third.id]  # oldest first
        store.start(second.id, "w")
        assert store.status(second.id) is JobStatus.RUNNING
        assert store.queued_ids() == [first.id, third.id]
        assert [store.payload(r.id) for r in (first, second, third)] == [b"one", b"two", b"three"]
        assert store.outcome(second.id) is None  # not ended yet
        store.finish(second.id, JobStatus.FAILED, "ValueError: no\n", b"failure")
        assert store.status(second.id) is JobStatus.FAILED
        assert store.record(second.id).error == "ValueError: no\n"
        assert store.outcome(second.id) == b"failure"

    def test_a_running_job_put_back_in_the_queue(self, store):
        rec = queued()
        store.add([rec], [b"payload"])
        assert not store.requeue(rec.id, "not running")  # queued: nothing to put back
        store.start(rec.id, "worker-1")
        store.log(rec.id, "half done\n")
        assert store.requeue(rec.id, "worker-1 was stopped while running it")
        back = store.record(rec.id)
        assert (back.status, back.started, back.worker) == (JobStatus.QUEUED, None, None)
        assert store.logs(rec.id) == "half done\n" + requeue_note(
            "worker-1 was stopped while running it"
        )
        assert store.queued_ids() == [rec.id]
        assert store.start(rec.id, "worker-2")[0] == b"payload"  # and it runs again

    def test_wait_returns_when_the_job_ends_or_the_time_is_up(self, store):
        rec = queued()
        store.add([rec], [b""])
        store.start(rec.id, "w")
        began = time.monotonic()
        assert store.wait(rec.id, 0.3) is False
        assert 0.25 < time.monotonic() - began < 2.0
        ender = threading.Timer(0.3, store.finish, (rec.id, JobStatus.FINISHED, None, b""))
        ender.start()
        began = time.monotonic()
        assert store.wait(rec.id, None) is True
        assert time.monotonic() - began < 2.0  # woken by the end, not by a long poll
        ender.join()
        assert store.wait(rec.id, 0) is True  # ended: at once


WRITER = """
import sys, time
from jobnb.backends.memory import new_job_id
from jobnb.exceptions import JobnbError, JobNotFound
from jobnb.backends.records.redis import RedisRecords
from jobnb.backends.records.sqlite import SqliteRecords
from jobnb.model import JobRecord
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


# --- SQLite's own ---------------------------------------------------------------------------
def test_a_worker_taking_over_a_home_loses_what_ran_there(tmp_path):
    store = SqliteRecords(tmp_path / "jobs.db")
    ran, waits, ended = queued("ran"), queued("waits"), queued("ended")
    store.add([ran, waits, ended], [b""] * 3)
    store.start(ran.id, "old worker")
    store.start(ended.id, "old worker")
    store.finish(ended.id, JobStatus.FINISHED, None, b"")
    assert store.lose_running("its worker (pid 7) ended while running it") == [ran.id]
    lost = store.record(ran.id)
    assert lost.status is JobStatus.LOST
    assert lost.error == lost_error("its worker (pid 7) ended while running it")
    assert [store.status(r.id) for r in (waits, ended)] == [JobStatus.QUEUED, JobStatus.FINISHED]


def test_the_files_are_for_their_owner_only(tmp_path):
    store = SqliteRecords(tmp_path / "home" / "jobs.db")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700


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


# A records file as jobnb 0.1.0 wrote it (schema of 23dd804): no auto_vacuum, no boot id,
# no result_ttl; a running job whose worker (an older jobnb) beats on the wall clock.
OLD_FILE = """
PRAGMA journal_mode=WAL;
CREATE TABLE jobs (id TEXT PRIMARY KEY, name TEXT NOT NULL, backend TEXT NOT NULL,
    status TEXT NOT NULL, kind TEXT NOT NULL, description TEXT NOT NULL, queue TEXT,
    timeout REAL, submitted REAL NOT NULL, started REAL, finished REAL,
    progress_done REAL NOT NULL DEFAULT 0, progress_total REAL, progress_message TEXT,
    worker TEXT, heartbeat REAL, error TEXT, cancel_requested INTEGER NOT NULL DEFAULT 0,
    cwd TEXT, sys_path TEXT);
CREATE TABLE payloads (id TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE outcomes (id TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE INDEX jobs_status ON jobs (status);
CREATE TABLE logs (seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX logs_job ON logs (job_id, seq);
CREATE TABLE counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TRIGGER count_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO counts VALUES (NEW.status, 1) ON CONFLICT(status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER count_update AFTER UPDATE OF status ON jobs WHEN OLD.status != NEW.status BEGIN
    UPDATE counts SET n = n - 1 WHERE status = OLD.status;
    INSERT INTO counts VALUES (NEW.status, 1) ON CONFLICT(status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER count_delete AFTER DELETE ON jobs BEGIN
    UPDATE counts SET n = n - 1 WHERE status = OLD.status;
END;
INSERT INTO jobs (id, name, backend, status, kind, description, submitted, finished)
    VALUES ('0ld0ld0ld0ld', 'big', 'huey', 'finished', 'call', 'big()', 1, 2);
INSERT INTO outcomes VALUES ('0ld0ld0ld0ld', zeroblob(20000000));
INSERT INTO jobs (id, name, backend, status, kind, description, submitted, started, heartbeat)
    VALUES ('5ti11running', 'long', 'huey', 'running', 'call', 'long()', 1, 1, :now);
"""


def test_a_records_file_from_before_keeps_working(tmp_path):
    path = tmp_path / "jobs.db"
    old = sqlite3.connect(path)
    old.executescript(OLD_FILE.replace(":now", repr(time.time())))
    old.close()
    store = SqliteRecords(path, lost_after=1.0)
    assert store.record("5ti11running").status is JobStatus.RUNNING  # beating when written
    assert store.counts()[JobStatus.FINISHED] == 1
    rec = notebook_job(str(tmp_path / "a -> b.ipynb"))  # new jobs go in beside the old ones
    store.add([rec], [b"payload"])
    assert store.record(rec.id) == rec  # with the fields added since (its output)
    store.start(rec.id, "w")
    assert store.record(rec.id).status is JobStatus.RUNNING
    size = path.stat().st_size
    assert size > 20_000_000
    store.forget("0ld0ld0ld0ld")  # the file was switched to give pages back
    assert path.stat().st_size < size - 19_000_000
    time.sleep(1.2)  # the old worker's last beat is now past lost_after, on the wall clock
    store.heartbeat(rec.id)
    assert store.record("5ti11running").status is JobStatus.LOST
    assert store.record(rec.id).status is JobStatus.RUNNING


def test_an_ended_job_keeps_a_packed_hash_in_redis(redis_url):
    """A long history's memory (issue 16): the submitter's cwd and sys.path, longer than
    Redis packs in a hash, are dropped when the job ends, and the hash that held them is
    packed again (a listpack, a third of a hashtable), its fields and expiry as they were."""
    import redis

    from jobnb.payload import dumps_outcome
    from jobnb.payload.outcome import Outcome

    store = RedisRecords(redis_url, result_ttl=3600)
    rec = queued("long-history")
    store.add([rec], [b"payload"], cwd="/a/long/working/directory" * 4, sys_path=["/lib"] * 40)
    server = redis.Redis.from_url(redis_url)
    key = store._job(rec.id)
    assert server.object("encoding", key) == b"hashtable"  # (what the test is about)
    store.start(rec.id, "worker-1 pid 7")
    assert store.finish(
        rec.id, JobStatus.FINISHED, None, dumps_outcome(Outcome(JobStatus.FINISHED))
    )
    assert server.object("encoding", key) == b"listpack"
    assert server.memory_usage(key, samples=0) < 700
    assert 3500 < server.ttl(key) <= 3601  # (EXPIREAT rounds up to a second)
    ended = store.record(rec.id)
    assert (ended.status, ended.name, ended.worker) == (
        JobStatus.FINISHED,
        rec.name,
        "worker-1 pid 7",
    )
    assert ended.started <= ended.finished
    assert store.outcome(rec.id) is not None  # its signature kept: it verifies


def test_jobs_from_one_place_share_one_origin_row_in_sqlite(tmp_path):
    """Where a submitter was (its cwd and sys.path: a few hundred bytes) is a row of its
    own, named by each job from there until it ends: a long history's rows stay short."""
    import sqlite3

    store = SqliteRecords(tmp_path / "home" / "jobs.db")
    recs = [queued(f"job{i}") for i in range(3)]
    for rec in recs:
        store.add([rec], [b"payload"], cwd="/work", sys_path=["/work/lib"] * 20)
    other = queued("elsewhere")
    store.add([other], [b"payload"], cwd="/else", sys_path=[])
    assert store.start(recs[0].id, "w") == (b"payload", None, "/work", ["/work/lib"] * 20)
    assert store.start(other.id, "w") == (b"payload", None, "/else", [])
    assert store.finish(recs[0].id, JobStatus.FINISHED, None, b"outcome")
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM origins").fetchone()[0] == 2
        rows = dict(db.execute("SELECT id, origin FROM jobs"))
    assert rows[recs[0].id] is None  # ended: it names none
    assert rows[recs[1].id] == rows[recs[2].id] != rows[other.id]
