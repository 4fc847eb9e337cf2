"""A worker stays right when its records store fails under a running job, and when a job
prints without pause.

- The store fails mid-job (the disk of a SQLite home fills up and is freed; the
  redis-server of a Redis home is SIGKILLed and restarted on the same port, with and
  without its append-only file): the job ends with its own result (or is clearly
  gone), its log is complete, and every later job served by that same worker returns
  its own result, never the one before.
- A job that prints a line every 0.1 s keeps its heartbeat (it is not ``lost``), and
  its cancel and timeout are seen within a second or two.
"""

from __future__ import annotations

import errno
import json
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import eventually, start_redis_server, start_redis_worker, stop_process
from jobs_for_faults import chatty_until, times_ten
from jobs_for_tests import KeptReport

import jobnb
from jobnb import JobStatus
from jobnb.backends.huey_worker import stop_worker
from jobnb.payload import CallPayload, dumps_payload
from jobnb.worker.child import ChildProcess

TESTS = Path(__file__).parent


def _own_results(count: int = 5) -> list[int]:
    """Run ``count`` jobs one after the other: each must come back with its own value."""
    return [jobnb.submit(times_ten, k).result(timeout=60) for k in range(count)]


def _complete_log(log: str, name: str) -> bool:
    """Every line the chatty job ``name`` printed is in ``log``, in order, once."""
    ended = re.search(rf"^{name} released after (\d+) lines$", log, re.M)
    if ended is None:
        return False
    expected = [f"{name} line {n}" for n in range(int(ended.group(1)))]
    return log.splitlines() == [*expected, ended.group(0)]


# --- an error in the middle of a job --------------------------------------------------
class _StoreGone:
    """A reporter whose records store is gone: every write raises, as a store's did."""

    def log(self, stream: str, text: str) -> None:
        raise jobnb.BackendUnavailable("cannot reach the records store")

    def progress(self, done, total, message) -> None:
        raise jobnb.BackendUnavailable("cannot reach the records store")


def test_an_error_in_the_middle_of_a_job_never_hands_its_outcome_to_the_next(tmp_path):
    """Whatever raises inside ChildProcess.run (here its reporter, as a failing store's
    writes did), the child does not keep the job: the next job gets its own outcome."""
    release = tmp_path / "release"
    child = ChildProcess()
    try:
        child.ready()
        first = dumps_payload(CallPayload(chatty_until, (str(release), "A")))
        with pytest.raises(jobnb.BackendUnavailable):
            child.run(first, _StoreGone())
        release.touch()  # a child still running A would now send A's outcome
        child.ready()
        kept = KeptReport()
        outcome = child.run(dumps_payload(CallPayload(times_ten, (7,))), kept, timeout=60).open()
        assert (outcome.status, outcome.value) == (JobStatus.FINISHED, 70)
        assert not any("A " in text for text in kept.output)
    finally:
        child.kill()
        child.close()


# --- a SQLite home whose disk fills up ---------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 16 MB tmpfs, unmounted after the test (and after the worker using it stopped)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        jobnb.api.shutdown()
        stop_worker(mount / "home")
        if subprocess.run(["umount", str(mount)]).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=True)


def _fill(folder: Path) -> Path:
    """Write a file in ``folder`` until its file system is full; return the file."""
    filler = folder / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as handle:
        while True:
            try:
                handle.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                chunk = chunk[: len(chunk) // 2]
                if not chunk:
                    return filler


def test_huey_sqlite_jobs_keep_their_own_results_after_the_disk_was_full(
    small_disk, tmp_path, monkeypatch
):
    home = small_disk / "home"
    monkeypatch.setenv("JOBNB_HOME", str(home))
    jobnb.configure("huey", home=str(home), workers=1)  # one worker thread: one child
    release = tmp_path / "release"
    job = jobnb.submit(chatty_until, str(release), "A")
    eventually(lambda: "A line 3" in job.logs(), timeout=60)
    filler = _fill(small_disk)
    try:
        time.sleep(0.5)  # the writes under way when it filled up end
        seen = job.logs()
        time.sleep(1.5)  # the job goes on printing, none of it can be written
        assert job.logs() == seen, "the log grew on a full disk: the fault did not bite"
    finally:
        filler.unlink()
    release.touch()
    assert job.result(timeout=60) == "result of A"
    assert _complete_log(job.logs(), "A")
    assert job.status is JobStatus.FINISHED
    assert _own_results() == [0, 10, 20, 30, 40]


# --- a Redis home whose server is killed and restarted ------------------------------------
@pytest.mark.parametrize("aof", [True, False], ids=["appendonly", "no-appendonly"])
def test_huey_redis_jobs_keep_their_own_results_after_the_server_restarted(
    aof, tmp_path, monkeypatch, capfd
):
    options = ("--appendonly", "yes") if aof else ()
    server, url = start_redis_server(tmp_path, *options)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    worker = None
    try:
        monkeypatch.setenv("JOBNB_HOME", url)
        jobnb.configure("huey", home=url)
        worker = start_redis_worker(url, tmp_path, "-w", "1")  # one worker thread
        release = tmp_path / "release"
        job = jobnb.submit(chatty_until, str(release), "A")
        eventually(lambda: "A line 3" in job.logs(), timeout=60)
        if aof:
            time.sleep(1.5)  # the append-only file is written once a second
        server.send_signal(signal.SIGKILL)
        server.wait()
        time.sleep(2)  # the job prints; its log, progress and heartbeats cannot be written
        server = start_redis_server(tmp_path, *options, port=port)[0]
        release.touch()
        if aof:  # the record survived: the job ends as itself, all its log kept
            assert job.result(timeout=60) == "result of A"
            assert job.status is JobStatus.FINISHED
            assert _complete_log(job.logs(), "A")
        else:  # the server forgot everything: the job is gone, and says so
            time.sleep(1)  # time for the worker to end A (released) and try to record it
            with pytest.raises(jobnb.JobNotFound):
                job.status  # noqa: B018
        assert _own_results() == [0, 10, 20, 30, 40]
        said = capfd.readouterr().err
        assert f"jobnb worker: cannot write the records of job {job.id}" in said
    finally:
        if worker is not None:
            stop_process(worker)
        stop_process(server)


# --- jobs that print without pause ------------------------------------------------------
CHATTY_KERNEL = """
import json, sys
sys.path.insert(0, sys.argv[1])
import jobnb
from jobs_for_faults import chatty_for
jobnb.configure(sys.argv[2], **json.loads(sys.argv[3]))
job = jobnb.submit(chatty_for, float(sys.argv[4]))
try:
    value = job.result(timeout=120)
except jobnb.JobnbError as exc:
    value = repr(exc)
print(json.dumps({"status": job.status.value, "value": value, "log": job.logs()}))
"""

LOST_AFTER = 2.0  # seconds: the lost window of these tests, through JOBNB_LOST_AFTER


@pytest.fixture(params=["huey", "rq"])
def chatty_backend(request, tmp_path, monkeypatch):
    """A backend's name and settings, with a short lost window for its workers and for
    the kernels the test starts (JOBNB_LOST_AFTER, read when jobnb is imported)."""
    monkeypatch.setenv("JOBNB_LOST_AFTER", str(LOST_AFTER))
    if request.param == "huey":
        jobnb.configure("huey")
        yield "huey", {}
        return
    url = request.getfixturevalue("redis_url")
    worker = start_redis_worker(url, tmp_path, "-w", "1", backend="rq")
    jobnb.configure("rq", redis_url=url)
    try:
        yield "rq", {"redis_url": url}
    finally:
        jobnb.api.shutdown()
        stop_process(worker)


def test_a_job_printing_all_along_stays_running_past_the_lost_window(chatty_backend, tmp_path):
    name, settings = chatty_backend
    seconds = 3 * LOST_AFTER
    kernel = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHATTY_KERNEL), str(TESTS), name]
        + [json.dumps(settings), str(seconds)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert kernel.returncode == 0, kernel.stderr
    seen = json.loads(kernel.stdout.strip().splitlines()[-1])
    assert seen["status"] == "finished", seen["value"]
    count = seen["value"]
    assert count >= 3 * LOST_AFTER / 0.1 * 0.5  # it did print all along
    assert seen["log"] == "".join(f"line {n}\n" for n in range(count))


def test_a_chatty_job_is_cancelled_within_two_seconds(chatty_backend, tmp_path):
    release = tmp_path / "never"
    job = jobnb.submit(chatty_until, str(release), "C", 0.01)
    eventually(lambda: "C line 20" in job.logs(), timeout=60)
    started = time.monotonic()
    assert job.cancel()
    job.wait(timeout=10)
    took = time.monotonic() - started
    assert job.status is JobStatus.CANCELLED
    assert took < 2, f"the cancel took {took:.1f} s"
    assert "C released" not in job.logs()
    assert jobnb.submit(times_ten, 4).result(timeout=60) == 40


def test_a_chatty_job_is_stopped_at_its_timeout(chatty_backend, tmp_path):
    release = tmp_path / "never"
    started = time.monotonic()
    job = jobnb.options(timeout=3).submit(chatty_until, str(release), "T", 0.01)
    job.wait(timeout=60)
    assert job.status is JobStatus.FAILED
    assert "JobTimeout: the job ran past its timeout of 3 s" in job.error
    assert time.monotonic() - started < 15
    with pytest.raises(jobnb.JobTimeout):
        job.result()
