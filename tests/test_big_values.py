"""Large values (issue 16): an argument or a result of tens of MB travels as the pieces
pickle protocol 5 makes of it (payload/framing.py), through pipes, SQLite blobs and
Redis chunk lists, and comes back exact; a piece lost or damaged on the way is a clear
error, never a wrong value; blobs written before framing still load."""

from __future__ import annotations

import os
import pickle
import time

import numpy as np
import pandas as pd
import pytest
import redis
from jobs_for_tests import Counted, make_counted
from test_faults_store import mounted

import jobnb
from jobnb import JobStatus
from jobnb.backends.base import new_job_id
from jobnb.backends.records.redis import RedisRecords
from jobnb.backends.records.sqlite import SqliteRecords
from jobnb.exceptions import IncompleteInStore, SignatureMismatch
from jobnb.model import JobRecord
from jobnb.payload import CallPayload, Outcome, dumps_outcome, dumps_payload, loads_outcome
from jobnb.payload.framing import Framed, size_of, unframe
from jobnb.payload.outcome import HEADER_TAG
from jobnb.payload.serialization import dumps, dumps_framed, loads

MB = 2**20


def echo(value):
    return value


def made_in_the_job(megabytes: int):
    """A result the job makes: it never existed in the kernel."""
    return np.arange(megabytes * MB // 8, dtype=np.float64)


def big_values() -> dict:
    rng = np.random.default_rng(16)
    return {
        "array": rng.random(3 * MB),  # 24 MB
        "frame": pd.DataFrame(
            {"x": rng.random(MB), "n": np.arange(MB), "s": ["a", "b"] * (MB // 2)}
        ),
        "bytes": os.urandom(20 * MB),
        "no buffers": [list(range(1000)), {"a": 1.5}, "text"],
    }


def same(got, expected) -> bool:
    if isinstance(expected, np.ndarray):
        return (
            isinstance(got, np.ndarray)
            and got.dtype == expected.dtype
            and np.array_equal(got, expected)
        )
    if isinstance(expected, pd.DataFrame):
        return isinstance(got, pd.DataFrame) and got.equals(expected)
    return got == expected


def test_big_values_go_and_come_back_exact(process_backend):
    values = big_values()
    jobs = {name: jobnb.submit(echo, value) for name, value in values.items()}
    for name, job in jobs.items():
        assert job.wait(120).status is JobStatus.FINISHED, (name, job.error)
        assert same(job.result(), values[name]), name
    back = jobs["array"].result()
    back[0] = -1.0  # a result is the user's own: writable, as an unpickled array always was
    assert back[0] == -1.0 and back.ctypes.data % 64 == 0  # aligned as numpy aligns


def test_a_big_result_made_in_the_job_comes_back(process_backend):
    job = jobnb.submit(made_in_the_job, 40)
    assert job.wait(120).status is JobStatus.FINISHED, job.error
    assert np.array_equal(job.result(), made_in_the_job(40))


def test_a_big_result_is_still_pickled_once_by_the_job_and_unpickled_once_in_the_kernel(
    process_backend, tmp_path
):
    log = tmp_path / "pickles.log"
    job = jobnb.submit(lambda path: (make_counted(path), made_in_the_job(30)), str(log))
    assert job.wait(120).status is JobStatus.FINISHED, job.error
    counted, array = job.result()
    assert isinstance(counted, Counted) and np.array_equal(array, made_in_the_job(30))
    job.result()
    seen = log.read_text().split("\n")[:-1]
    pickled = [int(line.split()[1]) for line in seen if line.startswith("pickle ")]
    unpickled = [int(line.split()[1]) for line in seen if line.startswith("unpickle ")]
    assert len(pickled) == 1 and pickled[0] != os.getpid()
    assert unpickled == [os.getpid()]


# --- the framed format ---------------------------------------------------------------------
def test_a_framed_value_keeps_its_arrays_out_of_the_pickle_and_loads_on_one_buffer():
    array = np.arange(MB, dtype=np.int64)
    framed = dumps_framed({"a": array, "small": np.arange(10)})
    pickled, *buffers = framed.pieces
    assert pickled.nbytes < 4096 and [b.nbytes for b in buffers] == [8 * MB]
    assert np.shares_memory(np.frombuffer(buffers[0], dtype=np.int64), array)  # not copied
    blob = bytearray(framed.joined())
    value = loads(blob)
    assert np.array_equal(value["a"], array)
    assert np.shares_memory(value["a"], np.frombuffer(blob, dtype=np.uint8))  # aliases it


def test_a_cut_framed_blob_is_refused_not_loaded():
    blob = dumps_framed(np.arange(MB)).joined()
    with pytest.raises(ValueError, match="where its head says"):
        unframe(blob[:-1])
    with pytest.raises(ValueError, match="cut short"):
        unframe(blob[:6])


def test_a_small_value_is_packed_and_squeezed_and_loads_the_same():
    """A long history keeps a payload and an outcome per job: a small one is written
    without the zeros that align big buffers, and squeezed when that makes it smaller."""
    text = "the same words again " * 40  # 840 bytes that squeeze well
    squeezed = dumps_framed({"text": text}).joined()
    assert squeezed[:4] == b"JNZ1" and len(squeezed) < 300
    assert loads(squeezed) == {"text": text}
    packed = dumps_framed(7).joined()  # too small to be worth squeezing
    assert packed[:4] == b"JNP1" and len(packed) < 40 and loads(packed) == 7
    outcome = dumps_outcome(Outcome(JobStatus.FINISHED)).joined()
    assert len(outcome) < 100 and loads_outcome(outcome).status is JobStatus.FINISHED
    damaged = squeezed[:-3] + bytes(3)
    with pytest.raises(ValueError, match="squeezed blob .* damaged|where its head says"):
        unframe(damaged)
    with pytest.raises(ValueError, match="where its head says"):
        unframe(packed[:-1])
    big = dumps_framed(np.arange(MB)).joined()  # a big buffer: aligned, as before
    assert big[:4] == b"JNF1"


def test_a_plain_pickle_and_an_outcome_of_the_jobnb_before_framing_still_load():
    assert not isinstance(pickle.dumps(1), Framed) and pickle.dumps(1)[:1] == b"\x80"
    assert loads(dumps([1, 2])) == [1, 2]
    array = np.arange(1000)
    old = pickle.dumps((HEADER_TAG, "finished", None, ())) + dumps((array, None))
    outcome = loads_outcome(old)
    assert outcome.status is JobStatus.FINISHED and np.array_equal(outcome.value, array)


# --- the stores -----------------------------------------------------------------------------
def queued() -> JobRecord:
    return JobRecord(id=new_job_id(), name="big", backend="huey", description="big()")


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return SqliteRecords(tmp_path / "home" / "jobs.db")
    return RedisRecords(request.getfixturevalue("redis_url"), name=new_job_id())


def test_a_big_payload_and_outcome_are_stored_in_pieces_and_read_back_whole(store):
    array = np.random.default_rng(1).random(3 * MB)
    payload = dumps_payload(CallPayload(echo, (array,)))
    rec = queued()
    store.add([rec], [payload])
    got, *_ = store.start(rec.id, "w")
    assert bytes(got) == payload.joined()
    assert np.array_equal(loads(got).args[0], array)
    outcome = dumps_outcome(Outcome(JobStatus.FINISHED, array * 2))
    assert store.finish(rec.id, JobStatus.FINISHED, None, outcome)
    value = loads_outcome(store.outcome(rec.id)).value
    assert np.array_equal(value, array * 2) and value.flags.writeable
    assert bytes(store.payload(rec.id)) == payload.joined()  # kept, for resubmit
    again = queued()
    store.add([again], [store.payload(rec.id)])  # a resubmit writes what it read
    assert bytes(store.start(again.id, "w")[0]) == payload.joined()


def test_an_outcome_for_a_job_that_already_ended_is_not_stored(store):
    rec = queued()
    store.add([rec], [b"payload"])
    store.start(rec.id, "w")
    assert store.finish(rec.id, JobStatus.FAILED, "lost meanwhile", b"small")
    big = dumps_outcome(Outcome(JobStatus.FINISHED, np.ones(2 * MB)))
    assert not store.finish(rec.id, JobStatus.FINISHED, None, big)  # the first end stands
    assert store.outcome(rec.id) == b"small"
    if isinstance(store, RedisRecords):  # and its chunks are not left behind
        assert store.redis.keys(f"{store.prefix}outcome:{rec.id}:*") == []


def finished_on_redis(redis_url) -> tuple[RedisRecords, JobRecord, np.ndarray]:
    store = RedisRecords(redis_url, name=new_job_id())
    rec = queued()
    store.add([rec], [b"payload"])
    store.start(rec.id, "w")
    array = np.random.default_rng(2).random(2 * MB)  # 16 MB: four chunks
    store.finish(
        rec.id, JobStatus.FINISHED, None, dumps_outcome(Outcome(JobStatus.FINISHED, array))
    )
    assert store.redis.llen(f"{store.prefix}outcome:{rec.id}") == 5
    return store, rec, array


def test_a_missing_or_cut_chunk_is_a_clear_error_never_a_wrong_value(redis_url):
    store, rec, array = finished_on_redis(redis_url)
    key = f"{store.prefix}outcome:{rec.id}"
    second = store.redis.lindex(key, 1)
    store.redis.lset(key, 1, second[:-10])  # cut short
    with pytest.raises(IncompleteInStore) as error:
        store.outcome(rec.id)
    assert f"the result of job {rec.id} is incomplete in {store.place}" in str(error.value)
    store.redis.lset(key, 1, second[:-1] + bytes([second[-1] ^ 1]))  # one bit flipped
    with pytest.raises(SignatureMismatch, match="has a wrong signature"):
        store.outcome(rec.id)
    store.redis.rpop(key)  # a chunk gone
    with pytest.raises(IncompleteInStore, match="incomplete"):
        store.outcome(rec.id)
    store.redis.delete(key)  # all of them
    with pytest.raises(IncompleteInStore, match="incomplete"):
        store.outcome(rec.id)


def test_a_chunk_too_long_ends_the_read_and_the_next_commands_are_answered_right(redis_url):
    """Chunks past the first are read off the socket straight into the blob's buffer:
    a reply longer than the blob is refused midway, and what is left of it never
    answers the store's next command."""
    store, rec, array = finished_on_redis(redis_url)
    key = f"{store.prefix}outcome:{rec.id}"
    second = store.redis.lindex(key, 1)
    store.redis.lset(key, 1, second + bytes(MB))  # longer than the blob's size
    with pytest.raises(IncompleteInStore, match="more than its"):
        store.outcome(rec.id)
    assert store.record(rec.id).status is JobStatus.FINISHED  # answered as itself
    assert store.redis.lindex(key, 1)[: len(second)] == second
    store.redis.lset(key, 1, second)
    assert np.array_equal(loads_outcome(store.outcome(rec.id)).value, array)
    store.redis.lset(key, 2, 7)  # not a chunk: the outcome fails, the store goes on
    with pytest.raises((IncompleteInStore, SignatureMismatch)):
        store.outcome(rec.id)
    assert store.counts()[JobStatus.FINISHED] == 1


def test_forget_expiry_and_prune_delete_the_chunks_too(redis_url):
    store, rec, _ = finished_on_redis(redis_url)
    keys = [f"{store.prefix}{kind}:{rec.id}" for kind in ("payload", "outcome")]
    assert all(store.redis.exists(key) for key in keys)
    store.forget(rec.id)
    assert not any(store.redis.exists(key) for key in keys)
    store, rec, _ = finished_on_redis(redis_url)
    store.forget_many([rec.id])
    assert not store.redis.keys(f"{store.prefix}*{rec.id}*")
    lasting = RedisRecords(redis_url, name=new_job_id(), result_ttl=60)
    rec = queued()
    lasting.add([rec], [dumps_payload(CallPayload(echo, (np.ones(MB),)))])
    lasting.start(rec.id, "w")
    lasting.finish(rec.id, JobStatus.FINISHED, None, dumps_outcome(Outcome(JobStatus.FINISHED, 1)))
    for kind in ("job", "payload", "outcome"):
        assert 0 < lasting.redis.ttl(f"{lasting.prefix}{kind}:{rec.id}") <= 61, kind


def test_a_server_failing_midway_through_a_big_payload_shows_no_job(redis_url):
    client = redis.Redis.from_url(redis_url)
    used = client.info("memory")["used_memory"]
    client.config_set("maxmemory", used + 12 * MB)  # room for a few chunks, not 40 MB
    store = RedisRecords(redis_url, name=new_job_id())
    rec = queued()
    try:
        with pytest.raises(redis.ResponseError, match="maxmemory"):
            store.add([rec], [dumps_payload(CallPayload(echo, (np.ones(5 * MB),)))])
    finally:
        client.config_set("maxmemory", 0)
    assert store.records() == []
    assert 0 < client.ttl(f"{store.prefix}payload:{rec.id}") <= 3600  # the chunks go away


def test_a_full_disk_during_a_big_blob_is_the_clear_disk_full_error(tmp_path):
    with mounted(tmp_path / "small", "-t", "tmpfs", "-o", "size=12m", "tmpfs") as small:
        store = SqliteRecords(small / "home" / "jobs.db")
        rec = queued()
        with pytest.raises(jobnb.StoreUnavailable) as error:
            store.add([rec], [dumps_payload(CallPayload(echo, (np.ones(2 * MB),)))])
        assert f"the file system mounted at {small} is full" in str(error.value)
        assert store.records() == []  # nothing half written shows
        assert blob_files(store) == {}  # nor left: its space is free again
        small_one = queued()
        store.add([small_one], [b"payload"])  # the same store goes on once there is room
        assert store.start(small_one.id, "w")[0] == b"payload"


def test_blobs_written_the_old_way_still_load(store):
    """As the jobnb before framing wrote them: plain pickles, in the jobs table's
    neighbours (SQLite) or in the job's hash (Redis)."""
    array = np.arange(MB)
    payload = dumps(CallPayload(echo, (array,)))
    outcome = pickle.dumps((HEADER_TAG, "finished", None, ())) + dumps((array, None))
    rec = queued()
    store.add([rec], [b"placeholder"])
    signature = {
        k: store._signature(k, rec.id, blob)
        for k, blob in (("payload", payload), ("outcome", outcome))
    }
    if isinstance(store, SqliteRecords):
        db = store.connection()
        with db:
            db.execute("UPDATE payloads SET data = ? WHERE id = ?", (payload, rec.id))
            db.execute("INSERT INTO outcomes (id, data) VALUES (?, ?)", (rec.id, outcome))
            db.execute(
                "UPDATE jobs SET status = 'finished', payload_signature = ?, outcome_signature = ? "
                "WHERE id = ?",
                (signature["payload"], signature["outcome"], rec.id),
            )
    else:
        store.redis.delete(f"{store.prefix}payload:{rec.id}")
        store.redis.hdel(store._job(rec.id), "payload_size")
        store.redis.hset(
            store._job(rec.id),
            mapping={
                "status": "finished",
                "payload": payload,
                "outcome": outcome,
                "payload_signature": signature["payload"],
                "outcome_signature": signature["outcome"],
            },
        )
    assert np.array_equal(loads(store.payload(rec.id)).args[0], array)
    assert np.array_equal(loads_outcome(store.outcome(rec.id)).value, array)


# --- SQLite's largest value ------------------------------------------------------------------
PART = 3 * MB  # the part size these tests set: a few parts of a 24 MB blob, not 1 GB


@pytest.fixture
def small_parts(monkeypatch):
    """Blobs in SQLite in parts, as the jobnb before blobs' files wrote big ones: they
    are still read (and written for an id that cannot name a file)."""
    from jobnb.backends.records import sqlite_blobs

    monkeypatch.setattr(sqlite_blobs, "PART_MOST", PART)
    monkeypatch.setattr(sqlite_blobs, "FILE_LEAST", 2**40)


def blob_rows(store: SqliteRecords, job_id: str) -> list[tuple[str, int]]:
    import sqlite3

    with sqlite3.connect(store.path) as db:
        return db.execute(
            "SELECT kind, length(data) FROM blob_parts WHERE id = ? ORDER BY kind, part",
            (job_id,),
        ).fetchall()


def test_a_sqlite_blob_past_its_largest_value_is_kept_in_parts(small_parts, tmp_path):
    store = SqliteRecords(tmp_path / "home" / "jobs.db")
    array = np.random.default_rng(2).random(3 * MB)  # 24 MB: 8 parts of 3 MB
    payload = dumps_payload(CallPayload(echo, (array,)))
    rec = queued()
    store.add([rec], [payload])
    assert len(blob_rows(store, rec.id)) == -(-size_of(payload) // PART) - 1  # 1st: its row
    got, *_ = store.start(rec.id, "w")
    assert bytes(got) == payload.joined()
    outcome = dumps_outcome(Outcome(JobStatus.FINISHED, array[::-1].copy()))
    assert store.finish(rec.id, JobStatus.FINISHED, None, outcome)
    assert np.array_equal(loads_outcome(store.outcome(rec.id)).value, array[::-1])
    store.forget(rec.id)
    assert blob_rows(store, rec.id) == []  # every part goes with its job


def test_a_changed_part_is_refused_never_loaded(small_parts, tmp_path):
    import sqlite3

    store = SqliteRecords(tmp_path / "home" / "jobs.db")
    rec = queued()
    store.add([rec], [dumps_payload(CallPayload(echo, (np.ones(MB),)))])  # 8 MB: 2 parts more
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE blob_parts SET data = zeroblob(length(data)) WHERE part = 2")
    with pytest.raises(SignatureMismatch):
        store.payload(rec.id)


# --- a big blob of a SQLite home is a file of its own -------------------------------------
def blob_files(store: SqliteRecords) -> dict[str, int]:
    folder = store.path.parent / "blobs"
    return {f.name: f.stat().st_mode & 0o777 for f in folder.iterdir()} if folder.exists() else {}


def test_a_big_blob_of_a_sqlite_home_is_a_private_file_and_goes_with_its_job(tmp_path):
    """Written once, beside SQLite (not three times through its pages, WAL and
    checkpoint), read back mapped; removed when its job is forgotten, pruned or expired."""
    store = SqliteRecords(tmp_path / "home" / "jobs.db")
    array = np.random.default_rng(3).random(2 * MB)  # 16 MB
    payload = dumps_payload(CallPayload(echo, (array,)))
    rec = queued()
    store.add([rec], [payload])
    assert blob_files(store) == {f"payload-{rec.id}": 0o600}
    assert (store.path.parent / "blobs").stat().st_mode & 0o777 == 0o700
    assert store.path.stat().st_size < 2 * MB  # not in SQLite's file
    got, *_ = store.start(rec.id, "w")
    assert bytes(got) == payload.joined()
    call = loads(got)
    assert np.array_equal(call.args[0], array)
    call.args[0][0] = -1.0  # writable: a private mapping (the file is left as it was)
    assert bytes(store.payload(rec.id)) == payload.joined()
    outcome = dumps_outcome(Outcome(JobStatus.FINISHED, array[::-1].copy()))
    assert store.finish(rec.id, JobStatus.FINISHED, None, outcome)
    assert set(blob_files(store)) == {f"payload-{rec.id}", f"outcome-{rec.id}"}
    assert np.array_equal(loads_outcome(store.outcome(rec.id)).value, array[::-1])
    store.forget(rec.id)
    assert blob_files(store) == {}
    # pruned (forget_many) and expired alike
    pruned, expiring = queued(), queued()
    short = SqliteRecords(tmp_path / "home" / "jobs.db", result_ttl=0.2)
    store.add([pruned], [payload])
    short.add([expiring], [payload])
    for one, records in ((pruned, store), (expiring, short)):
        records.start(one.id, "w")
        assert records.finish(one.id, JobStatus.FINISHED, None, outcome)
    assert len(blob_files(store)) == 4
    assert store.forget_many([pruned.id]) == {pruned.id: JobStatus.FINISHED}
    assert set(blob_files(store)) == {f"payload-{expiring.id}", f"outcome-{expiring.id}"}
    time.sleep(1.2)  # past its result_ttl, and the next look for lost or expired jobs
    with pytest.raises(jobnb.JobNotFound):
        short.record(expiring.id)
    assert blob_files(store) == {}


def test_a_big_blob_file_changed_or_deleted_is_refused_never_loaded(tmp_path):
    store = SqliteRecords(tmp_path / "home" / "jobs.db")
    changed, deleted = queued(), queued()
    payload = dumps_payload(CallPayload(echo, (np.ones(2 * MB),)))
    store.add([changed, deleted], [payload, payload])
    folder = store.path.parent / "blobs"
    with open(folder / f"payload-{changed.id}", "r+b") as file:
        file.seek(-8, os.SEEK_END)
        file.write(b"\x01" * 8)
    with pytest.raises(SignatureMismatch):
        store.payload(changed.id)
    (folder / f"payload-{deleted.id}").unlink()
    with pytest.raises(IncompleteInStore, match=f"payload of job {deleted.id} is missing"):
        store.start(deleted.id, "w")


def test_a_failed_add_leaves_no_file_and_touches_no_other_jobs(tmp_path):
    store = SqliteRecords(tmp_path / "home" / "jobs.db")
    first = queued()
    payload = dumps_payload(CallPayload(echo, (np.ones(2 * MB),)))
    store.add([first], [payload])
    again = queued()
    again.id = first.id  # the same id again: refused, the first job's file kept
    with pytest.raises(Exception):  # noqa: B017 - the store's error, whatever its kind
        store.add([again], [dumps_payload(CallPayload(echo, (np.zeros(2 * MB),)))])
    assert bytes(store.payload(first.id)) == payload.joined()
    other, twin = queued(), queued()
    twin.id = other.id  # the second fails after the first's file was written
    with pytest.raises(Exception):  # noqa: B017 - the store's error, whatever its kind
        store.add([other, twin], [payload, payload])
    with pytest.raises(jobnb.JobNotFound):
        store.record(other.id)
    assert blob_files(store) == {f"payload-{first.id}": 0o600}


def test_an_old_file_no_row_names_is_swept(tmp_path):
    """A process killed between a big blob's file and its row's commit leaves a file no
    row names: the next shrink (after a prune) removes it once it is an hour old."""
    store = SqliteRecords(tmp_path / "home" / "jobs.db")
    kept = queued()
    store.add([kept], [dumps_payload(CallPayload(echo, (np.ones(2 * MB),)))])
    folder = store.path.parent / "blobs"
    old, young = folder / "payload-0123456789ab", folder / "outcome-0123456789ac"
    for orphan in (old, young):
        orphan.write_bytes(b"left by a killed process")
    hour_ago = time.time() - 3700
    os.utime(old, (hour_ago, hour_ago))
    os.utime(folder / f"payload-{kept.id}", (hour_ago, hour_ago))
    store.shrink()
    assert set(blob_files(store)) == {f"payload-{kept.id}", young.name}
