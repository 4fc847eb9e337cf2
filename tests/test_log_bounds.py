"""A job's log costs a bounded amount: the stores keep its head and its tail within
the ``log_bytes_kept`` setting (the middle dropped, a marker line saying how much and
where the whole log is), the SQLite home keeps the whole log in a private file, and
the live views read only the tail they show. Real SQLite files, the session's real
redis-server, real workers."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import pytest
import redis
from conftest import _configured, eventually
from jobs_for_logs import numbered_line, print_lines, print_lines_then_wait

import jobnb
from jobnb.backends.huey_home import records_path
from jobnb.backends.memory import new_job_id
from jobnb.backends.records.redis import RedisRecords
from jobnb.backends.records.sqlite import SqliteRecords
from jobnb.exceptions import ConfigError, JobnbError
from jobnb.model import JobRecord

BOUND = 64 * 1024  # bytes kept per job in these tests (small, so that they are quick)
MARKER = re.compile(r"\[jobnb: ([\d,]+) bytes of log dropped here; ([^\]]*)\]\n")


def queued() -> JobRecord:
    return JobRecord(
        id=new_job_id(),
        name="chatty",
        backend="huey",
        description="chatty()",
        submitted=time.time(),
    )


def printed_text(count: int, width: int = 60) -> str:
    return "".join(numbered_line(n, width) for n in range(count))


@pytest.fixture(params=["sqlite", "redis"])
def make_store(request, tmp_path):
    """Opens the records of a home (as many times as asked: a kernel, a worker)."""
    if request.param == "sqlite":
        return lambda **kw: SqliteRecords(tmp_path / "home" / "jobs.db", **kw)
    url = request.getfixturevalue("redis_url")
    return lambda **kw: RedisRecords(url, **kw)


@pytest.fixture
def store(make_store):
    return make_store(log_bytes_kept=BOUND)


def started_job(store) -> str:
    rec = queued()
    store.add([rec], [b"payload"])
    store.start(rec.id, "worker pid 1")
    return rec.id


def write_as_a_worker(store, job_id: str, text: str, chunk: int = 20_000) -> None:
    """Append ``text`` as a worker does: what was printed since its last tick, at once."""
    for start in range(0, len(text), chunk):
        store.log(job_id, text[start : start + chunk])


def stored_log_bytes(store, job_id: str) -> int:
    """What the store holds of the job's log, in bytes, read from the store itself."""
    if isinstance(store, SqliteRecords):
        with sqlite3.connect(store.path) as db:
            (size,) = db.execute(
                "SELECT COALESCE(SUM(LENGTH(CAST(text AS BLOB))), 0) FROM logs WHERE job_id = ?",
                (job_id,),
            ).fetchone()
        return size
    return redis_log_bytes(store.redis, job_id)[0]


def redis_log_bytes(client: redis.Redis, job_id: str) -> tuple[int, int]:
    """(bytes of text, MEMORY USAGE) of every log key of the job on the server."""
    text = memory = 0
    for key in client.scan_iter(match=f"*log*:{job_id}"):
        kind = client.type(key)
        if kind == b"string":
            text += client.strlen(key)
        elif kind == b"list":
            text += sum(len(item) for item in client.lrange(key, 0, -1))
        memory += client.memory_usage(key)
    return text, memory


def split_at_marker(text: str) -> tuple[str, int, str, str]:
    """(head, bytes dropped, what the marker says of the whole log, tail) of a log
    that has a marker; fails unless it has exactly one."""
    found = list(MARKER.finditer(text))
    assert len(found) == 1, f"{len(found)} markers in the log"
    marker = found[0]
    return (
        text[: marker.start()],
        int(marker.group(1).replace(",", "")),
        marker.group(2),
        text[marker.end() :],
    )


def assert_head_and_tail_of(printed: str, text: str) -> int:
    """``text`` is ``printed`` with its middle replaced by the marker, the bytes counted
    exactly; returns how many were dropped."""
    head, dropped, _, tail = split_at_marker(text)
    if not printed.startswith(head):  # the line break the marker adds after a cut line
        assert head.endswith("\n")
        head = head[:-1]
    assert printed.startswith(head) and len(head) > 0
    assert printed.endswith(tail) and len(tail) > 0
    assert len(head.encode()) + dropped + len(tail.encode()) == len(printed.encode())
    return dropped


def assert_tail_reads_match(read_tail, text: str) -> None:
    for lines in (1, 2, 12, 40, 1000):
        assert read_tail(lines).splitlines() == text.splitlines()[-lines:], lines


class TestEveryStore:
    def test_a_long_log_keeps_its_head_and_tail_within_the_bound(self, store):
        job_id = started_job(store)
        printed = printed_text(30_000)  # 2.2 MB
        write_as_a_worker(store, job_id, printed)
        text = store.logs(job_id)
        assert BOUND * 0.9 <= stored_log_bytes(store, job_id) <= BOUND
        dropped = assert_head_and_tail_of(printed, text)
        assert dropped == store.log_dropped(job_id) > len(printed) - BOUND - 200
        assert text.splitlines()[:10] == printed.splitlines()[:10]
        assert text.splitlines()[-10:] == printed.splitlines()[-10:]

    def test_text_that_is_not_ascii_is_cut_between_characters(self, store):
        job_id = started_job(store)
        printed = "".join(f"étape {n} ✓ — ok\n" for n in range(20_000))
        write_as_a_worker(store, job_id, printed, chunk=7_777)
        text = store.logs(job_id)
        assert "\ufffd" not in text
        assert_head_and_tail_of(printed, text)
        assert_tail_reads_match(lambda n: store.log_tail(job_id, n), text)

    def test_a_short_log_is_kept_whole(self, store):
        job_id = started_job(store)
        printed = printed_text(100)
        write_as_a_worker(store, job_id, printed, chunk=333)
        assert store.logs(job_id) == printed
        assert store.log_dropped(job_id) == 0
        assert not MARKER.search(store.logs(job_id))

    @pytest.mark.parametrize(
        "printed",
        ["", "one line\n", "no newline at the end", "a\n\nb\n\n", printed_text(30_000)],
        ids=["nothing", "one-line", "no-newline", "blank-lines", "long"],
    )
    def test_the_tail_read_is_the_end_of_the_log(self, store, printed):
        job_id = started_job(store)
        write_as_a_worker(store, job_id, printed)
        assert_tail_reads_match(lambda n: store.log_tail(job_id, n), store.logs(job_id))

    def test_a_job_not_held_has_no_log_tail(self, store):
        assert store.log_tail("nosuchjob", 12) == "" and store.log_dropped("nosuchjob") == 0

    def test_the_bound_goes_with_the_job_to_its_worker(self, make_store):
        kernel = make_store(log_bytes_kept=BOUND)
        job_id = started_job(kernel)
        worker = make_store()  # the worker's own store: the default bound, not the job's
        printed = printed_text(30_000)
        write_as_a_worker(worker, job_id, printed)
        assert stored_log_bytes(kernel, job_id) <= BOUND
        assert_head_and_tail_of(printed, kernel.logs(job_id))

    def test_a_requeue_note_joins_a_long_log_within_the_bound(self, store):
        job_id = started_job(store)
        write_as_a_worker(store, job_id, printed_text(30_000))
        assert store.requeue(job_id, "requeued: its worker stopped")
        text = store.logs(job_id)
        assert text.endswith("jobnb: requeued: its worker stopped\n")
        assert stored_log_bytes(store, job_id) <= BOUND
        assert store.log_tail(job_id, 1) == "jobnb: requeued: its worker stopped\n"

    def test_forget_deletes_the_kept_log(self, store):
        job_id = started_job(store)
        write_as_a_worker(store, job_id, printed_text(30_000))
        store.finish(job_id, jobnb.JobStatus.FINISHED, None, b"outcome")
        store.forget(job_id)
        assert stored_log_bytes(store, job_id) == 0

    def test_forget_many_deletes_the_kept_logs(self, store):
        job_id = started_job(store)
        write_as_a_worker(store, job_id, printed_text(30_000))
        store.finish(job_id, jobnb.JobStatus.FINISHED, None, b"outcome")
        assert list(store.forget_many([job_id])) == [job_id]  # a prune's step
        assert stored_log_bytes(store, job_id) == 0


def test_sqlite_keeps_the_whole_log_in_a_private_file_of_its_home(tmp_path):
    home = tmp_path / "home"
    store = SqliteRecords(home / "jobs.db", log_bytes_kept=BOUND)
    job_id = started_job(store)
    printed = printed_text(30_000)
    write_as_a_worker(store, job_id, printed)
    whole = home / "logs" / f"{job_id}.log"
    assert whole.read_text() == printed
    assert stat.S_IMODE(whole.stat().st_mode) == 0o600
    assert stat.S_IMODE(whole.parent.stat().st_mode) == 0o700
    _, _, where, _ = split_at_marker(store.logs(job_id))
    assert where == f"the whole log is in {whole}"
    store.finish(job_id, jobnb.JobStatus.FINISHED, None, b"outcome")
    store.forget(job_id)
    assert not whole.exists()
    pruned = started_job(store)  # a prune (forget_many) deletes the file too
    write_as_a_worker(store, pruned, printed)
    store.finish(pruned, jobnb.JobStatus.FINISHED, None, b"outcome")
    assert (home / "logs" / f"{pruned}.log").exists()
    store.forget_many([pruned])
    assert not (home / "logs" / f"{pruned}.log").exists()


def test_redis_memory_per_job_is_bounded(redis_url):
    store = RedisRecords(redis_url, log_bytes_kept=BOUND)
    job_id = started_job(store)
    write_as_a_worker(store, job_id, printed_text(100_000))  # 7.5 MB printed
    text_bytes, memory = redis_log_bytes(store.redis, job_id)
    assert text_bytes <= BOUND
    assert memory <= BOUND * 1.25  # the keys' own overhead beside their text
    _, _, where, _ = split_at_marker(store.logs(job_id))
    assert "log_bytes_kept" in where  # says which setting keeps how much


@pytest.mark.parametrize("bad", [-1, 0, "lots", 1.5])
def test_a_bad_bound_is_refused_naming_it(bad, tmp_path):
    with pytest.raises(ConfigError, match=rf"log_bytes_kept.*{re.escape(repr(bad))}"):
        jobnb.configure(log_bytes_kept=bad)
    with pytest.raises(JobnbError, match=r"log_bytes_kept.*-5"):
        SqliteRecords(tmp_path / "home" / "jobs.db", log_bytes_kept=-5)


def test_the_bound_is_read_from_the_environment_and_jobnb_toml(monkeypatch, tmp_path):
    (tmp_path / "jobnb.toml").write_text("[worker]\nlog_bytes_kept = 100000\n")
    assert jobnb.api.settings().log_bytes_kept == 100_000
    monkeypatch.setenv("JOBNB_LOG_BYTES_KEPT", "200000")
    assert jobnb.api.settings().log_bytes_kept == 200_000
    monkeypatch.setenv("JOBNB_LOG_BYTES_KEPT", "-3")
    with pytest.raises(ConfigError, match="JOBNB_LOG_BYTES_KEPT.*-3"):
        jobnb.api.settings()


def test_the_default_bound_is_4_mb():
    assert jobnb.api.settings().log_bytes_kept == 4 * 2**20


# --- through real workers ------------------------------------------------------------------
def assert_bounded_on_its_backend(backend: str, job, tmp_path: Path) -> None:
    if backend == "huey" and not jobnb.api.settings().home.startswith("redis"):
        with sqlite3.connect(records_path(tmp_path / ".jobnb")) as db:
            (size,) = db.execute(
                "SELECT SUM(LENGTH(CAST(text AS BLOB))) FROM logs WHERE job_id = ?", (job.id,)
            ).fetchone()
    else:
        url = jobnb.api.settings().redis_url or jobnb.api.settings().home
        size = redis_log_bytes(redis.Redis.from_url(url), job.id)[0]
    assert size <= BOUND


def test_a_long_log_through_a_real_worker(process_backend, tmp_path):
    jobnb.configure(log_bytes_kept=BOUND)
    count = 40_000  # 3 MB
    job = jobnb.submit(print_lines, count)
    assert job.result(timeout=120) == count
    printed = printed_text(count)
    text = job.logs()
    assert_tail_reads_match(job.log_tail, text)
    assert assert_head_and_tail_of(printed, text) == job.logs_dropped > 0
    if process_backend == "subprocess":  # the kernel's memory holds it, bounded as well
        assert "the kernel keeps the first" in split_at_marker(text)[2]
        assert len(text.encode()) <= BOUND + 200
        return
    assert_bounded_on_its_backend(process_backend, job, tmp_path)
    if process_backend == "huey" and not jobnb.api.settings().home.startswith("redis"):
        whole = tmp_path / ".jobnb" / "logs" / f"{job.id}.log"
        assert whole.read_text() == printed


def test_the_live_views_show_the_tail_read_alone(tmp_path):
    from jobnb.widgets.dashboard_details import details_html
    from jobnb.widgets.job import LOG_LINES, take_snapshot

    jobnb.configure("huey", log_bytes_kept=BOUND)
    job = jobnb.submit(print_lines, 40_000)
    job.wait(timeout=120)
    snapshot = take_snapshot(job)
    assert snapshot.logs.splitlines()[-LOG_LINES:] == job.logs().splitlines()[-LOG_LINES:]
    assert len(snapshot.logs) < 8 * 1024  # the lines shown, not the log
    panel = details_html(job.record(), job.log_tail(41))
    assert numbered_line(39_999).strip() in panel and numbered_line(39_959) not in panel
    assert "earlier lines" in panel


@pytest.fixture(params=["huey", "huey-redis"])
def queue_backend(request, monkeypatch, tmp_path):
    yield from _configured(request, monkeypatch, tmp_path)


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("PPid:"))


def test_a_worker_killed_mid_log_leaves_a_consistent_log(queue_backend, tmp_path):
    jobnb.configure(log_bytes_kept=BOUND)
    count = 400_000  # 30 MB: printed over a few of the worker's ticks
    job = jobnb.submit(print_lines_then_wait, count, str(tmp_path / "never"))
    eventually(lambda: job.logs_dropped > 0, timeout=60)
    child = int(job.record().worker.rsplit("pid ", 1)[1])
    worker = _parent_of(child)
    os.kill(worker, signal.SIGKILL)  # the process writing the log, mid-way
    os.kill(child, signal.SIGKILL)
    time.sleep(0.5)
    printed = printed_text(count) + "all printed\n"
    text = job.logs()
    head, dropped, _, tail = split_at_marker(text)
    if not printed.startswith(head):
        head = head[:-1]
    written = len(head.encode()) + dropped + len(tail.encode())
    assert dropped == job.logs_dropped
    assert printed.startswith(head)
    assert printed.encode()[written - len(tail.encode()) : written] == tail.encode()
    assert_tail_reads_match(job.log_tail, text)
    if queue_backend == "huey" and not jobnb.api.settings().home.startswith("redis"):
        whole = (tmp_path / ".jobnb" / "logs" / f"{job.id}.log").read_bytes()
        assert printed.encode().startswith(whole) and len(whole) >= written


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MB tmpfs, unmounted after the test."""
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)]).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_while_writing_the_whole_log_leaves_a_clear_state(small_disk):
    home = small_disk / "home"
    store = SqliteRecords(home / "jobs.db", log_bytes_kept=BOUND)
    job_id = started_job(store)
    write_as_a_worker(store, job_id, printed_text(20_000))  # 1.5 MB in the whole log
    filler = small_disk / "filler"
    with open(filler, "wb", buffering=0) as handle:
        chunk = b"\0" * 65536
        while chunk:
            try:
                handle.write(chunk)
            except OSError:
                chunk = chunk[: len(chunk) // 2]
    whole = home / "logs" / f"{job_id}.log"
    try:
        # the whole log's file cannot grow: it is given up (and its space given back),
        # and the store's bounded log takes the text
        store.log(job_id, printed_text(2_600))  # 195 kB, whole lines
    except JobnbError:
        pass  # the store's file was full too: the worker tries again at its next tick
    finally:
        filler.unlink()
    more = "after the disk was full\n"
    store.log(job_id, more)
    text = store.logs(job_id)
    _, _, where, tail = split_at_marker(text)
    assert not whole.exists()
    assert "could not be kept" in where and "No space left on device" in where
    assert tail.endswith(more)
    assert store.log_tail(job_id, 1) == more
    assert stored_log_bytes(store, job_id) <= BOUND
