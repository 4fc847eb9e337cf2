"""Signed pickles (issue 14): whoever can write where jobnb reads (a Redis server, a home's
``jobs.db``) but has not the secret key cannot make a worker or a kernel unpickle what
they wrote. Each attack here writes, with plain redis-py or sqlite3 and no jobnb code, a
pickle whose loading would create a marker file, into a place jobnb loads from; the
marker never appears, and the user sees the job failed with "signature mismatch"."""

from __future__ import annotations

import os
import pickle
import signal
import sqlite3
import stat
import subprocess
import sys
import time
import zlib

import pytest
import redis
from conftest import TEST_SECRET_KEY, eventually, start_redis_worker, stop_process

import jobnb
from jobnb import JobStatus
from jobnb.backends.secret_key import home_signer, redis_signer
from jobnb.cli import main as jobnb_command
from jobnb.exceptions import MissingSecretKey, SignatureMismatch, UnsafeHome
from jobnb.payload import signing
from jobnb.payload.signing import Signer

HINT = "(was the key changed, or did someone else write to this server?)"


class Planted:
    """What an attacker writes: unpickling it creates ``marker``."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def planted(marker) -> bytes:
    return pickle.dumps(Planted(marker))


def add(a, b):
    return a + b


# --- the signer --------------------------------------------------------------------------
def test_a_signed_blob_opens_only_for_its_own_context_and_key():
    signer = Signer(b"k" * 32)
    blob = signer.sign(b"payload bytes", "payload:job1")
    assert bytes(signer.verify(blob, "payload:job1")) == b"payload bytes"
    with pytest.raises(SignatureMismatch, match="signature mismatch: the payload of job2 has a"):
        signer.verify(blob, "payload:job2", "the payload of job2")  # swapped into another job
    with pytest.raises(SignatureMismatch, match="wrong signature"):
        Signer(b"o" * 32).verify(blob, "payload:job1")
    tampered = blob[:-1] + b"X"
    with pytest.raises(SignatureMismatch) as caught:
        signer.verify(tampered, "payload:job1", "the payload of job job1")
    assert str(caught.value).endswith(HINT)


@pytest.mark.parametrize("key_bytes", [16, 64, 65, 200])
def test_a_signature_is_the_standard_hmac_sha256_of_context_and_data(key_bytes):
    """Built from pre-keyed SHA-256 states (RFC 2104) for speed: the same bytes as the
    standard library's HMAC, for keys shorter and longer than SHA-256's block."""
    import hashlib
    import hmac

    key = os.urandom(key_bytes)
    data = os.urandom(1000)
    head = len(b"payload:j1").to_bytes(4, "big") + b"payload:j1"
    expected = hmac.new(key, head + data, hashlib.sha256).digest()
    assert Signer(key).signature(data, "payload:j1") == signing.MAGIC + expected


def test_a_blob_written_without_signature_is_said_to_be_unsigned():
    signer = Signer(b"k" * 32)
    with pytest.raises(SignatureMismatch, match="the outcome of job abc is not signed"):
        signer.verify(pickle.dumps("old"), "outcome:abc", "the outcome of job abc")


def test_a_short_key_is_refused_and_a_key_never_shows():
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Signer(b"short")
    signer = Signer(b"very-secret-key-material")
    assert "very-secret" not in repr(signer)


# --- the keys ----------------------------------------------------------------------------
def test_a_home_key_file_is_made_owner_only_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        signer = home_signer(tmp_path / "home")
    finally:
        os.umask(old)
    key_file = tmp_path / "home" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = home_signer(tmp_path / "home")  # read, not made again
    assert bytes(again.verify(signer.sign(b"x", "c"), "c")) == b"x"


def test_a_planted_key_symlink_is_not_followed(tmp_path):
    (tmp_path / "home").mkdir()
    target = tmp_path / "elsewhere"
    target.write_text("attacker-chosen-key-0123456789")
    (tmp_path / "home" / "secret.key").symlink_to(target)
    with pytest.raises(UnsafeHome, match="secret.key is a symbolic link"):
        home_signer(tmp_path / "home")
    assert target.read_text() == "attacker-chosen-key-0123456789"


def test_jobnb_key_makes_a_shared_key_and_says_how_to_share_it_without_showing_it(tmp_path, capsys):
    old = os.umask(0)
    try:
        assert jobnb_command(["key"]) == 0
    finally:
        os.umask(old)
    key_file = tmp_path / ".jobnb" / "secret.key"
    said = capsys.readouterr().out
    assert str(key_file) in said and "JOBNB_SECRET_KEY" in said
    assert key_file.read_text().strip() not in said
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert jobnb_command(["key", "--show"]) == 0
    assert key_file.read_text().strip() in capsys.readouterr().out


def test_a_kernel_without_a_key_refuses_a_redis_server_naming_it(redis_url, monkeypatch):
    monkeypatch.delenv("JOBNB_SECRET_KEY")
    jobnb.configure("rq", redis_url=redis_url)
    with pytest.raises(MissingSecretKey) as caught:
        jobnb.submit(add, 1, 2)
    said = str(caught.value)
    assert redis_url.split("//")[1].split("/")[0] in said and "jobnb key" in said
    jobnb.configure("huey", home=redis_url)
    with pytest.raises(MissingSecretKey, match="jobnb key"):
        jobnb.submit(add, 1, 2)


@pytest.mark.parametrize("backend", ["rq", "huey"])
def test_a_worker_without_a_key_exits_at_once_saying_how_to_set_it(redis_url, tmp_path, backend):
    env = {k: v for k, v in os.environ.items() if k != "JOBNB_SECRET_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "jobnb.cli", "worker", "--backend", backend, "--url", redis_url],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "no secret key" in done.stderr and "jobnb key" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_key_file_named_by_the_setting_is_shared_with_the_workers(
    redis_url, tmp_path, monkeypatch, rq_worker
):
    rq_worker()  # its key: JOBNB_SECRET_KEY
    monkeypatch.delenv("JOBNB_SECRET_KEY")
    key_file = tmp_path / "shared.key"
    key_file.write_text(TEST_SECRET_KEY + "\n")
    key_file.chmod(0o600)
    jobnb.configure("rq", redis_url=redis_url, secret_key_file=str(key_file))
    assert jobnb.submit(add, 1, 2).result(timeout=30) == 3


# --- attacks on Redis --------------------------------------------------------------------
@pytest.fixture
def rq_worker(redis_url, tmp_path):
    started = []

    def start(env_key: str | None = None):
        if env_key is not None:
            os.environ["JOBNB_SECRET_KEY"] = env_key
        try:
            started.append(start_redis_worker(redis_url, tmp_path, "-w", "1", backend="rq"))
        finally:
            os.environ["JOBNB_SECRET_KEY"] = TEST_SECRET_KEY

    yield start
    for proc in started:
        stop_process(proc)


def plant(client, kind: str, job_id: str, blob: bytes) -> None:
    """Put ``blob`` where the rq backend keeps a job's payload or outcome (``kind``): a
    list of chunks, its size in the job's hash (as someone who can write the server
    would)."""
    key = f"jobnb:rq:{kind}:{job_id}"
    client.delete(key)
    client.rpush(key, blob)
    client.hset(f"jobnb:rq:job:{job_id}", f"{kind}_size", len(blob))


def test_a_planted_payload_is_never_loaded_by_an_rq_worker(redis_url, tmp_path, rq_worker):
    marker = tmp_path / "marker"
    jobnb.configure("rq", redis_url=redis_url)
    with pytest.warns(jobnb.JobnbWarning):  # no worker yet
        job = jobnb.submit(add, 1, 2)
    plant(redis.Redis.from_url(redis_url), "payload", job.id, planted(marker))
    rq_worker()
    job.wait(timeout=30)
    assert job.status is JobStatus.FAILED
    assert f"signature mismatch: the payload of job {job.id}" in job.error
    assert HINT in job.error
    with pytest.raises(SignatureMismatch):
        job.result()
    assert jobnb.submit(add, 2, 3).result(timeout=30) == 5  # the worker goes on
    assert not marker.exists()


def test_a_planted_rq_job_data_is_never_loaded_and_the_job_still_runs(
    redis_url, tmp_path, rq_worker
):
    marker = tmp_path / "marker"
    jobnb.configure("rq", redis_url=redis_url)
    with pytest.warns(jobnb.JobnbWarning):
        job = jobnb.submit(add, 1, 2)
    client = redis.Redis.from_url(redis_url)
    rq_key = f"rq:job:{job.id}"
    assert client.exists(rq_key)
    # RQ keeps a job's data zlib-compressed and its meta plain: both planted
    client.hset(rq_key, mapping={"data": zlib.compress(planted(marker)), "meta": planted(marker)})
    rq_worker()
    # RQ drops what it cannot load; jobnb's sweep queues the recorded job again
    assert job.result(timeout=60) == 3
    assert not marker.exists()


def test_a_planted_outcome_is_never_loaded_by_the_kernel_nor_its_widget(
    redis_url, tmp_path, rq_worker
):
    from jobnb.widgets.job import JobWidget, take_snapshot

    marker = tmp_path / "marker"
    rq_worker()
    jobnb.configure("rq", redis_url=redis_url)
    done = jobnb.submit(add, 1, 2)
    assert done.result(timeout=30) == 3
    plant(redis.Redis.from_url(redis_url), "outcome", done.id, planted(marker))
    job = jobnb.get(done.id)  # a new handle: the outcome is read again
    with pytest.raises(SignatureMismatch, match=f"the outcome of job {job.id}"):
        job.result()
    snapshot = take_snapshot(jobnb.get(done.id))
    assert snapshot.record.status is JobStatus.FAILED
    assert "signature mismatch" in snapshot.record.error
    widget = JobWidget(jobnb.get(done.id))
    widget.show(snapshot)
    assert "signature mismatch" in widget.traceback_view.value
    board = jobnb.dashboard()  # its rows read records, never outcomes
    board.refresh()
    board.close()
    assert not marker.exists()


def test_an_outcome_of_another_job_swapped_in_is_refused(redis_url, rq_worker):
    rq_worker()
    jobnb.configure("rq", redis_url=redis_url)
    one, two = jobnb.submit(add, 1, 2), jobnb.submit(add, 10, 20)
    assert (one.result(timeout=30), two.result(timeout=30)) == (3, 30)
    client = redis.Redis.from_url(redis_url)
    client.copy(f"jobnb:rq:outcome:{one.id}", f"jobnb:rq:outcome:{two.id}", replace=True)
    with pytest.raises(SignatureMismatch):
        jobnb.get(two.id).result()  # never 3


def test_a_worker_with_another_key_fails_the_job_saying_so(redis_url, rq_worker):
    rq_worker(env_key="another-key-of-another-machine-0123")
    jobnb.configure("rq", redis_url=redis_url)
    job = jobnb.submit(add, 1, 2)
    job.wait(timeout=30)
    assert job.status is JobStatus.FAILED
    assert "signature mismatch" in job.error


def test_planted_huey_messages_are_dropped_and_the_replaced_job_still_runs(redis_url, tmp_path):
    marker = tmp_path / "marker"
    jobnb.configure("huey", home=redis_url)
    with pytest.warns(jobnb.JobnbWarning):
        job = jobnb.submit(add, 1, 2)
    client = redis.Redis.from_url(redis_url)
    queue_key = "huey.redis.jobnb"
    assert client.llen(queue_key) == 1
    client.delete(queue_key)  # the job's genuine message replaced by two planted ones
    client.lpush(queue_key, planted(marker), planted(marker))
    worker = start_redis_worker(redis_url, tmp_path, "-w", "1")
    try:
        assert job.result(timeout=60) == 3  # queued again by the worker's repair
        eventually(lambda: client.llen(queue_key) == 0)
        assert jobnb.submit(add, 2, 3).result(timeout=30) == 5
    finally:
        stop_process(worker)
    assert not marker.exists()


# --- attacks on a SQLite home ------------------------------------------------------------
def test_a_planted_outcome_or_payload_in_jobs_db_is_never_loaded(tmp_path):
    marker = tmp_path / "marker"
    jobnb.configure("huey")
    done = jobnb.submit(add, 1, 2)
    assert done.result(timeout=60) == 3
    db = sqlite3.connect(tmp_path / ".jobnb" / "jobs.db")
    with db:
        db.execute("UPDATE outcomes SET data = ? WHERE id = ?", (planted(marker), done.id))
        db.execute("UPDATE payloads SET data = ? WHERE id = ?", (planted(marker), done.id))
    db.close()
    with pytest.raises(SignatureMismatch, match="signature mismatch: the outcome of job"):
        jobnb.get(done.id).result()
    with pytest.raises(SignatureMismatch, match="signature mismatch: the payload of job"):
        jobnb.get(done.id).resubmit()
    assert not marker.exists()


def test_a_key_file_others_can_read_is_refused(tmp_path, monkeypatch):
    key_file = tmp_path / "shared.key"
    key_file.write_text("a-key-of-enough-length-0123456789")
    key_file.chmod(0o644)
    monkeypatch.delenv("JOBNB_SECRET_KEY")
    with pytest.raises(MissingSecretKey, match=r"mode 0644\) is not yours alone.*chmod 600"):
        redis_signer("redis://:pw@localhost:6379/0", key_file)
    key_file.chmod(0o600)
    assert redis_signer("redis://:pw@localhost:6379/0", key_file) is not None


def test_a_forked_child_signs_big_blobs_too():
    """The hashing threads do not survive a fork: a child given the parent's pool would
    wait for ever on a blob of more than one chunk."""
    signer = Signer(b"k" * 32)
    big = b"x" * (3 * signing.CHUNK + 5)
    signed = signer.sign(big, "payload:a")  # the pool is made in this process
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if it signed the same bytes the same way
        os._exit(0 if signer.sign(big, "payload:a") == signed else 1)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung signing a big blob")


# --- big payloads: signed while they are written -----------------------------------------
def total(array):
    return int(array.sum())


def big_array():
    import numpy as np

    return np.arange(3 * signing.CHUNK // 8 + 11, dtype=np.int64)  # three chunks and more


def test_a_big_argument_written_ahead_becomes_the_jobs_for_good_and_runs(
    redis_url, tmp_path, rq_worker
):
    """On Redis a big payload is written before its job's MULTI (its signature hashed
    meanwhile), with a time to live in case the submitter dies in between: the MULTI
    takes the time to live away, so a job that waits long in the queue keeps its data."""
    from jobnb.backends.records.redis import AHEAD_TTL, WRITTEN_AHEAD

    array = big_array()
    assert array.nbytes > WRITTEN_AHEAD
    jobnb.configure("rq", redis_url=redis_url)
    with pytest.warns(jobnb.JobnbWarning):  # no worker yet
        job = jobnb.submit(total, array)
    client = redis.Redis.from_url(redis_url)
    key = f"jobnb:rq:job:{job.id}"
    assert client.ttl(key) == -1  # kept until it ends, like any job
    assert client.hget(key, "payload_signature").startswith(signing.MAGIC)
    assert 0 < AHEAD_TTL <= 24 * 3600
    rq_worker()
    assert job.result(timeout=60) == int(array.sum())


def test_a_big_planted_payload_is_never_loaded(redis_url, tmp_path, rq_worker):
    marker = tmp_path / "marker"
    jobnb.configure("rq", redis_url=redis_url)
    with pytest.warns(jobnb.JobnbWarning):
        job = jobnb.submit(total, big_array())
    # the attacker's pickle, made as big as the genuine one (its chunks hashed apart)
    bait = planted(marker) + b"\0" * (3 * signing.CHUNK)
    redis.Redis.from_url(redis_url).hset(f"jobnb:rq:job:{job.id}", "payload", bait)
    rq_worker()
    job.wait(timeout=60)
    assert job.status is JobStatus.FAILED
    assert f"signature mismatch: the payload of job {job.id} has a wrong signature" in job.error
    assert not marker.exists()


def test_a_payload_written_ahead_by_a_submitter_that_died_goes_away(redis_url):
    """The submitter writes a big payload, then dies before its MULTI: no job shows, and
    the payload's key expires by itself."""
    from jobnb.backends.memory import new_job_id
    from jobnb.backends.records.redis import AHEAD_TTL, RedisRecords
    from jobnb.model import JobRecord

    store = RedisRecords(redis_url, "died")
    record = JobRecord(id=new_job_id(), name="big", backend="huey", description="big()")
    client = redis.Redis.from_url(redis_url)
    unsent = client.pipeline(transaction=True)  # its MULTI, never executed
    store.add([record], [b"x" * (2 * signing.CHUNK)], pipeline=unsent)
    unsent.reset()
    assert not client.exists(f"{store.prefix}job:{record.id}")
    key = f"{store.prefix}payload:{record.id}"
    assert client.llen(key) == 2  # its two chunks, written ahead
    assert 0 < client.ttl(key) <= AHEAD_TTL
    assert store.records() == []


def test_a_big_argument_and_result_in_the_home_are_signed_and_checked(tmp_path):
    import numpy as np

    jobnb.configure("huey")
    array = big_array()
    job = jobnb.submit(np.negative, array)
    assert np.array_equal(job.result(timeout=60), -array)
    db = sqlite3.connect(tmp_path / ".jobnb" / "jobs.db")
    signatures = db.execute(
        "SELECT payload_signature, outcome_signature FROM jobs WHERE id = ?", (job.id,)
    ).fetchone()
    assert all(s.startswith(signing.MAGIC) for s in signatures)
    with db:  # a byte changed in the middle of the outcome
        (blob,) = db.execute("SELECT data FROM outcomes WHERE id = ?", (job.id,)).fetchone()
        middle = len(blob) // 2
        changed = blob[:middle] + bytes([blob[middle] ^ 1]) + blob[middle + 1 :]
        db.execute("UPDATE outcomes SET data = ? WHERE id = ?", (changed, job.id))
    db.close()
    with pytest.raises(SignatureMismatch, match=f"the outcome of job {job.id} has a wrong"):
        jobnb.get(job.id).result()


def test_a_home_of_the_first_signing_jobnb_keeps_its_jobs_and_its_guard(tmp_path):
    """Its jobs.db had each signature in front of its blob, and no signature columns: the
    file is brought up to date, its results still load, and a planted blob there is still
    refused (taking the signature column away does not make the check skip)."""
    marker = tmp_path / "marker"
    jobnb.configure("huey")
    done, planted_job = jobnb.submit(add, 1, 2), jobnb.submit(add, 3, 4)
    assert (done.result(timeout=60), planted_job.result(timeout=60)) == (3, 7)
    key = home_signer(tmp_path / ".jobnb")
    db = sqlite3.connect(tmp_path / ".jobnb" / "jobs.db")
    with db:  # as the first signing jobnb wrote them
        for job_id in (done.id, planted_job.id):
            (outcome,) = db.execute("SELECT data FROM outcomes WHERE id = ?", (job_id,)).fetchone()
            db.execute(
                "UPDATE outcomes SET data = ? WHERE id = ?",
                (key.sign(outcome, f"outcome:{job_id}"), job_id),
            )
        db.execute("UPDATE outcomes SET data = ? WHERE id = ?", (planted(marker), planted_job.id))
        db.execute("UPDATE jobs SET outcome_signature = NULL, payload_signature = NULL")
    db.close()
    assert jobnb.get(done.id).result() == 3
    with pytest.raises(SignatureMismatch, match="is not signed"):
        jobnb.get(planted_job.id).result()
    assert not marker.exists()
