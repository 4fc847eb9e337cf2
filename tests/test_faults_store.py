"""The stores under faults (issue 12): liveness that does not depend on two clocks
agreeing, and clear errors from a records file that is full, read-only, locked,
deleted or cannot be made, each gone by itself once its cause is.

Clocks are shifted in the process under test only (its ``time.time``, before jobnb is
imported): the machine's clock, the monotonic clock and the Redis server's stay true,
as on two machines whose clocks disagree.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import eventually, start_redis_worker, stop_process
from jobs_for_tests import add
from test_records import queued

import jobnb
from jobnb import JobStatus
from jobnb.backends.huey_worker import worker_pid
from jobnb.backends.records.sqlite import SqliteRecords

AHEAD, BEHIND = 45.0, -45.0  # seconds: more than LOST_AFTER, as in the issue

#: Python with its wall clock shifted by ``sys.argv[1]`` seconds, otherwise run as
#: ``python -m MODULE ARGS...`` would be: ``[*shifted_python(45), "-m", "jobnb.cli", ...]``
_SHIFTED = """
import runpy, sys, time
_real_time, _offset = time.time, float(sys.argv.pop(1))
time.time = lambda: _real_time() + _offset
if sys.argv[1] == "-m":
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
else:
    runpy.run_path(sys.argv[1], run_name="__main__")
"""


def shifted_python(offset: float) -> list[str]:
    return [sys.executable, "-c", _SHIFTED, str(offset)]


# A kernel: submits a job that runs 3 s and watches it to its end, reading its status
# every 50 ms (so it looks for lost jobs once a second); prints what it saw.
WATCHER = """
import json, time
import jobnb

def square_slowly(x):
    time.sleep(3)
    return x * x

job = jobnb.submit(square_slowly, 7)
seen = []
deadline = time.monotonic() + 90
while not job.done() and time.monotonic() < deadline:
    status = job.status.value
    if status not in seen:
        seen.append(status)
    time.sleep(0.05)
try:
    result = job.result(timeout=1)
except Exception as exc:
    result = f"{type(exc).__name__}: {exc}"
print(json.dumps({"seen": seen, "status": job.status.value, "result": result}))
"""

CLOCK_BACKENDS = ["huey", "huey-redis", "rq"]


def use(setup: str, request, monkeypatch) -> str | None:
    """Point jobnb (here and in the processes the test starts) at ``setup``; the Redis
    URL, if it has one."""
    if setup == "huey":
        monkeypatch.setenv("JOBNB_BACKEND", "huey")
        return None
    url = request.getfixturevalue("redis_url")
    if setup == "huey-redis":
        monkeypatch.setenv("JOBNB_BACKEND", "huey")
        monkeypatch.setenv("JOBNB_HOME", url)
    else:
        monkeypatch.setenv("JOBNB_BACKEND", "rq")
        monkeypatch.setenv("JOBNB_REDIS_URL", url)
    return url


def watch_a_job(tmp_path, python: list[str]) -> dict:
    script = tmp_path / "watcher.py"
    script.write_text(WATCHER)
    done = subprocess.run(
        [*python, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=150
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def assert_ran_to_its_end(watched: dict) -> None:
    assert "lost" not in watched["seen"], watched
    assert "running" in watched["seen"], watched
    assert watched["status"] == "finished" and watched["result"] == 49, watched


@pytest.mark.parametrize("setup", CLOCK_BACKENDS)
def test_a_kernel_whose_clock_is_ahead_sees_a_healthy_job_run_to_its_end(
    setup, request, monkeypatch, tmp_path
):
    url = use(setup, request, monkeypatch)
    worker = None
    if url:  # the huey default starts its own worker, with the machine's clock
        worker = start_redis_worker(url, tmp_path, "-w", "1", backend=setup.removesuffix("-redis"))
    try:
        assert_ran_to_its_end(watch_a_job(tmp_path, shifted_python(AHEAD)))
    finally:
        if worker is not None:
            stop_process(worker)


def start_worker_behind(setup: str, url: str | None, tmp_path) -> subprocess.Popen:
    """A worker whose clock is 45 s behind the machine's (and the Redis server's)."""
    python = shifted_python(BEHIND)
    if url:
        return start_redis_worker(
            url, tmp_path, "-w", "1", backend=setup.removesuffix("-redis"), python=python
        )
    home = tmp_path / ".jobnb"
    proc = subprocess.Popen(
        [*python, "-m", "jobnb.cli", "worker", "--home", str(home), "-w", "1"], cwd=tmp_path
    )
    eventually(lambda: worker_pid(home) == proc.pid, timeout=20)
    return proc


@pytest.mark.parametrize("setup", CLOCK_BACKENDS)
def test_a_worker_whose_clock_is_behind_keeps_its_job_alive(setup, request, monkeypatch, tmp_path):
    url = use(setup, request, monkeypatch)
    worker = start_worker_behind(setup, url, tmp_path)
    try:
        assert_ran_to_its_end(watch_a_job(tmp_path, [sys.executable]))
    finally:
        stop_process(worker)


def test_submitting_what_is_not_callable_names_the_value():
    jobnb.configure("thread")
    with pytest.raises(jobnb.JobnbError) as error:
        jobnb.submit(42)
    assert isinstance(error.value, TypeError)  # what Python says of a call to 42, too
    assert str(error.value).startswith("42 is not callable: ")
    with pytest.raises(TypeError, match="'report.csv' is not callable"):
        jobnb.map("report.csv", [1, 2])


# --- the records file under faults -------------------------------------------------------
@contextlib.contextmanager
def mounted(folder: Path, *options: str) -> Iterator[Path]:
    """A real mount at ``folder`` (``mount OPTIONS... folder``), unmounted after."""
    folder.mkdir(exist_ok=True)
    run_mount(*options, str(folder))
    try:
        yield folder
    finally:
        from jobnb.backends.huey_worker import stop_worker

        stop_worker(folder / "home")  # a worker the test started there, if any
        jobnb.api.shutdown()
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(folder)], check=True)  # still busy: detach


def run_mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    assert done.returncode == 0, f"mount {' '.join(args)}: {done.stderr} (run the tests as root)"


def fill(path: Path) -> None:
    """Write ``path`` until its file system is full."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_a_full_file_system_is_a_clear_error_and_the_home_works_again_once_freed(tmp_path):
    with mounted(tmp_path / "small", "-t", "tmpfs", "-o", "size=2m", "tmpfs") as small:
        home = small / "home"
        jobnb.configure("huey", home=str(home))
        assert jobnb.submit(add, 1, 1).result(timeout=30) == 2
        fill(small / "filler")
        with pytest.raises(jobnb.StoreUnavailable) as error:
            jobnb.submit(len, b"x" * 500_000)  # more than the log has room for
        message = str(error.value)
        assert f"cannot use {home / 'jobs.db'}, a file of the jobnb home {home}" in message
        assert f"the file system mounted at {small} is full (0.0 MiB free)" in message
        (small / "filler").unlink()
        assert jobnb.submit(len, b"x" * 500_000).result(timeout=30) == 500_000  # no restart


def test_a_read_only_records_file_can_be_read_and_is_written_again_once_writable(tmp_path):
    real, view = tmp_path / "real", tmp_path / "view"
    first = queued()
    worker = SqliteRecords(real / "jobs.db")  # keeps the file open, as a worker does:
    worker.add([first], [b""])  # a WAL file can be read read-only only while it is open
    with mounted(view, "--bind", str(real)):
        run_mount("-o", "remount,bind,ro", str(view))
        store = SqliteRecords(view / "jobs.db")
        assert [r.id for r in store.records()] == [first.id]  # read: fine
        with pytest.raises(jobnb.StoreUnavailable) as error:
            store.add([queued()], [b""])
        message = str(error.value)
        assert f"cannot use {view / 'jobs.db'}" in message
        assert "attempt to write a readonly database" in message
        assert f"the file system mounted at {view} is read-only: remount it read-write" in message
        run_mount("-o", "remount,bind,rw", str(view))
        second = queued()
        store.add([second], [b""])  # the same store, no restart
        assert [r.id for r in store.records()] == [second.id, first.id]


def test_an_unwritable_home_folder_is_a_clear_error(tmp_path):
    with mounted(tmp_path / "ro", "-t", "tmpfs", "-o", "size=2m,ro", "tmpfs") as ro:
        jobnb.configure("huey", home=str(ro / "home"))
        with pytest.raises(jobnb.StoreUnavailable) as error:
            jobnb.submit(add, 1, 1)
        message = str(error.value)
        assert f"a file of the jobnb home {ro / 'home'}" in message
        assert "Read-only file system" in message
        assert f"the file system mounted at {ro} is read-only: remount it read-write" in message
        run_mount("-o", "remount,rw", str(ro))
        assert jobnb.submit(add, 1, 1).result(timeout=30) == 2  # once mended, it works


LOCK_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
"""


def test_a_records_file_locked_by_another_process_is_a_clear_error(tmp_path):
    path = tmp_path / "home" / "jobs.db"
    store = SqliteRecords(path, busy_timeout=0.5)
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(jobnb.StoreUnavailable) as error:
            store.add([queued()], [b""])
        message = str(error.value)
        assert f"cannot use {path}, a file of the jobnb home {path.parent}: " in message
        assert "database is locked" in message
        assert f"another process (pid {holder.pid}: python" in message
        assert "has held a lock on it for more than 0.5 s" in message
        assert store.records() == []  # reading goes on meanwhile
    finally:
        holder.communicate("\n", timeout=10)
    rec = queued()
    store.add([rec], [b""])  # the lock is gone: it works
    assert store.record(rec.id).status is JobStatus.QUEUED


ANOTHER_KERNEL = """
import jobnb
print(jobnb.submit(sum, [2, 2]).result(timeout=30))
"""


def test_a_deleted_records_file_is_made_again_in_kernel_and_worker_without_restarts(tmp_path):
    jobnb.configure("huey")
    before = jobnb.submit(add, 1, 1)
    assert before.result(timeout=30) == 2
    home = tmp_path / ".jobnb"
    worker = worker_pid(home)
    (home / "jobs.db").unlink()
    other = subprocess.run(
        [sys.executable, "-c", ANOTHER_KERNEL], cwd=tmp_path, capture_output=True, text=True
    )
    assert (other.returncode, other.stdout) == (0, "4\n"), other.stderr
    assert jobnb.submit(add, 3, 3).result(timeout=30) == 6  # this kernel, too
    assert worker_pid(home) == worker  # the same worker ran both
    assert sorted(job.result() for job in jobnb.jobs()) == [4, 6]  # the file is new
    with pytest.raises(jobnb.JobNotFound):
        before.status  # noqa: B018 - reading it raises
