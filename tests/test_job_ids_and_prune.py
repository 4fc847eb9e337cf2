"""Job ids made in order (backends/base.py) and what they are for: a prune that deletes
side by side. Checked as a user sees it: two kernels submitting at once never share an
id; a home or server written by an older jobnb (random ids, ended jobs that kept their
heartbeat) opens, its ended jobs' results load, and they prune beside new ones; a job
running on a real worker goes on, untouched, while thousands of ended jobs are pruned.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import eventually
from jobs_for_tests import add, wait_for

import jobnb
from jobnb import JobStatus
from jobnb.api import _used_backends
from jobnb.backends import base
from jobnb.backends.base import new_job_id
from jobnb.model import JobRecord

SUBMITTER = """
import sys, time
from pathlib import Path
import jobnb
jobnb.configure("huey", home=sys.argv[1])
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
jobs = jobnb.map(abs, range(int(sys.argv[3])))
print(" ".join(job.id for job in jobs))
"""


def test_two_kernels_submitting_at_once_never_share_an_id(tmp_path):
    """Two processes submit 2,000 jobs each into one home in the same moment (no worker:
    they stay queued): every job is there, under an id of its own, and each process's
    ids sort in the order it made them."""
    home, go = tmp_path / "home", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(jobnb.__file__).parents[1])])}
    submitters = [
        subprocess.Popen(
            [sys.executable, "-c", SUBMITTER, str(home), str(go), "2000"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    time.sleep(1.5)  # both imported jobnb and wait for the word
    go.touch()
    made = []
    for submitter in submitters:
        out, _ = submitter.communicate(timeout=120)
        assert submitter.returncode == 0
        ids = out.split()
        assert len(ids) == 2000 and ids == sorted(ids)  # in the order they were made
        assert all(len(job_id) == 12 and int(job_id, 16) >= 0 for job_id in ids)
        made += ids
    assert len(set(made)) == 4000
    jobnb.configure("huey", home=str(home))
    assert {job.id for job in jobnb.jobs()} == set(made)


def test_a_forked_child_makes_ids_of_its_own():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its ids, then out at once
        os.write(write, " ".join(new_job_id() for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    theirs = set(os.read(read, 1 << 16).decode().split())
    os.close(read)
    ours = {new_job_id() for _ in range(100)}
    assert len(theirs) == 100 and not ours & theirs


def random_id() -> str:
    """An id as jobnb made them before they came in order: 12 random hex digits."""
    return f"{random.getrandbits(48):012x}"


def as_an_older_jobnb_left_them() -> None:
    """The ended jobs of the configured backend's store as an older jobnb left them: with
    their heartbeat (its boot and monotonic time too, in a SQLite file)."""
    store = _used_backends()[0].records_store
    if hasattr(store, "redis"):
        for rec in store.records():
            if rec.status.is_done:
                store.redis.hset(store._job(rec.id), "heartbeat", time.time())
        return
    with store.connection() as db:
        db.execute(
            "UPDATE jobs SET heartbeat = finished, beat_monotonic = 1.0, boot_id = 'a boot' "
            "WHERE status = 'finished'"
        )


@pytest.mark.parametrize("backend", ["huey", "huey-redis"], indirect=True)
def test_jobs_of_an_older_jobnb_load_and_prune_beside_new_ones(backend, monkeypatch, tmp_path):
    with monkeypatch.context() as older:
        older.setattr(base, "new_job_id", random_id)
        old = jobnb.map(add, range(1000, 1020))
        assert [job.result(timeout=60) for job in old] == list(range(1000, 1020))
    as_an_older_jobnb_left_them()
    time.sleep(0.05)
    cut = dt.datetime.now()
    time.sleep(0.05)
    new = jobnb.map(add, range(2000, 2005))
    release = tmp_path / "release"
    running = jobnb.submit(wait_for, str(release))
    eventually(lambda: running.status is JobStatus.RUNNING, timeout=30)
    assert [job.id for job in new] == sorted(job.id for job in new)

    # the older jobs' results load, from their ids, as they did
    again = [jobnb.get(job.id) for job in old]
    assert [job.result(timeout=5) for job in again] == list(range(1000, 1020))
    assert [job.result(timeout=60) for job in new] == list(range(2000, 2005))
    assert jobnb.prune(before=cut) == 20
    store = _used_backends()[0].records_store
    if hasattr(store, "redis"):  # not a key of theirs left: hashes, logs, blobs' chunks
        left = [key for key in store.redis.scan_iter(f"{store.prefix}*") if b":" in key]
        assert not [key for key in left if any(job.id.encode() in key for job in old)]
    with pytest.raises(jobnb.JobNotFound):
        jobnb.get(old[0].id).status  # noqa: B018 - reading it is the test
    assert {job.id for job in jobnb.jobs()} == {running.id, *(job.id for job in new)}
    assert [job.result(timeout=5) for job in new] == list(range(2000, 2005))
    release.touch()
    assert running.result(timeout=60) is True


def fill_ended(store, n: int, start: float) -> None:
    """``n`` ended jobs through the store's API, a thousand at a time."""
    for first in range(0, n, 1000):
        recs = [
            JobRecord(
                id=new_job_id(),
                name="noop",
                backend="huey",
                description="noop()",
                submitted=start + (first + i) / 1000,
            )
            for i in range(min(1000, n - first))
        ]
        store.add(recs, [b"payload"] * len(recs))
        for rec in recs:
            store.start(rec.id, "w")
            store.finish(rec.id, JobStatus.FINISHED, None, b"outcome")


def heartbeat_of(store, job_id: str) -> float | None:
    """The running job's last heartbeat (the store's own field: what a reader judges)."""
    if hasattr(store, "redis"):
        return store.redis.zscore(f"{store.prefix}beats", job_id)
    row = store.connection().execute("SELECT heartbeat FROM jobs WHERE id = ?", (job_id,))
    return row.fetchone()[0]


@pytest.mark.parametrize("backend", ["huey", "huey-redis"], indirect=True)
def test_a_job_running_on_a_worker_goes_on_while_thousands_are_pruned(backend, tmp_path):
    """Its worker beats every 0.2 s all through the prune: never a second without a
    heartbeat (a reader finds a job lost after 30 s of them)."""
    warm = jobnb.submit(add, 1, 2)
    assert warm.result(timeout=60) == 3
    store = _used_backends()[0].records_store
    fill_ended(store, 6000, time.time() - 3600)
    release = tmp_path / "release"
    running = jobnb.submit(wait_for, str(release), 120)
    eventually(lambda: running.status is JobStatus.RUNNING, timeout=30)
    beats: set[float] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            beats.add(heartbeat_of(store, running.id))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        time.sleep(0.5)
        assert jobnb.prune(older_than=0) == 6001
        time.sleep(0.5)
    finally:
        stop.set()
        watcher.join()
    beats = sorted(beats)
    assert len(beats) >= 5
    assert max(b - a for a, b in itertools.pairwise(beats)) < 1.0
    assert running.status is JobStatus.RUNNING
    assert [job.id for job in jobnb.jobs()] == [running.id]
    release.touch()
    assert running.result(timeout=60) is True


def test_a_records_file_of_the_first_jobnb_prunes(tmp_path):
    """A file as jobnb 0.1.0 wrote it (test_records.OLD_FILE: random ids, no log
    counters, no boot ids) opens, and a prune deletes its ended job, not its running one."""
    from test_records import OLD_FILE

    from jobnb.backends.records.sqlite import SqliteRecords

    path = tmp_path / "jobs.db"
    with sqlite3.connect(path) as old:
        old.executescript(OLD_FILE.replace(":now", repr(time.time())))
    old.close()
    store = SqliteRecords(path)
    batches = list(store.ended_before(time.time()))
    assert batches == [["0ld0ld0ld0ld"]]
    assert store.forget_many(batches[0]) == {"0ld0ld0ld0ld": JobStatus.FINISHED}
    store.shrink()
    assert [rec.id for rec in store.records()] == ["5ti11running"]
    assert path.stat().st_size < 1_000_000  # the 20 MB outcome's pages given back
