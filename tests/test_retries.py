"""Retries (``jobnb.options(retries=N, retry_delay=S, retry_on=...)``) on every backend: a
run that fails runs again, its attempts and their errors kept; the delay is honoured and
doubles; ``retry_on`` chooses what is retried; a cancel never is, a timeout is; a job
whose worker is SIGKILLed mid-run finishes on another worker when it has retries left,
and ends ``lost`` as before when it has none."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import eventually, start_redis_worker, stop_process
from jobs_for_retries import fails_first, slow_first

import jobnb
from jobnb import JobStatus, api
from jobnb.arguments import CELL_JOB, NOTEBOOK_JOB
from jobnb.backends.base import new_job_id
from jobnb.backends.records.redis import RedisRecords
from jobnb.backends.records.sqlite import SqliteRecords
from jobnb.model import JobRecord

#: seconds without a heartbeat before a job is lost, for the workers these tests start
LOST_AFTER = 2.0


def _count(path) -> int:
    return int(path.read_text()) if path.exists() else 0


def test_a_job_failing_twice_then_succeeding_finishes_at_its_third_attempt(backend, tmp_path):
    runs = tmp_path / "runs"
    job = jobnb.options(retries=3, retry_delay=0.1).submit(fails_first, str(runs), 2)
    assert job.result(timeout=60) == 3
    assert job.status is JobStatus.FINISHED and job.error is None
    attempts = job.attempts
    assert [(a.number, a.status) for a in attempts] == [
        (1, JobStatus.FAILED),
        (2, JobStatus.FAILED),
    ]
    assert "RuntimeError: run 1 fails" in attempts[0].error
    assert "RuntimeError: run 2 fails" in attempts[1].error
    assert all(a.started <= a.finished for a in attempts)
    assert job.record().attempt == 3 and _count(runs) == 3
    log = job.logs()
    assert "attempt 1 of 4 failed (RuntimeError: run 1 fails); attempt 2 starts in 0.1 s" in log
    assert "attempt 2 of 4 failed (RuntimeError: run 2 fails); attempt 3 starts in 0.2 s" in log


def test_a_job_out_of_retries_ends_failed_with_every_attempt_kept(backend, tmp_path):
    runs = tmp_path / "runs"
    job = jobnb.options(retries=2, retry_delay=0.05).submit(fails_first, str(runs), 10)
    with pytest.raises(RuntimeError, match="run 3 fails"):
        job.result(timeout=60)
    assert job.status is JobStatus.FAILED
    assert "RuntimeError: run 3 fails" in job.error  # the last run's error, as without retries
    assert [a.number for a in job.attempts] == [1, 2]
    assert ["run 1 fails" in job.attempts[0].error, "run 2 fails" in job.attempts[1].error] == [
        True,
        True,
    ]
    assert _count(runs) == 3


def test_retry_on_names_the_exceptions_worth_another_run(backend, tmp_path):
    """A ValueError is not an OSError: not retried; a FileNotFoundError is one (a base
    class in ``retry_on`` matches)."""
    submitter = jobnb.options(retries=2, retry_delay=0.05, retry_on=(OSError,))
    other = submitter.submit(fails_first, str(tmp_path / "other"), 1, "ValueError")
    kind = submitter.submit(fails_first, str(tmp_path / "kind"), 1, "FileNotFoundError")
    with pytest.raises(ValueError, match="run 1 fails"):
        other.result(timeout=60)
    assert other.attempts == [] and _count(tmp_path / "other") == 1
    assert kind.result(timeout=60) == 2
    assert "FileNotFoundError: run 1 fails" in kind.attempts[0].error


def test_the_retry_delay_is_waited_and_doubles(backend, tmp_path):
    job = jobnb.options(retries=2, retry_delay=1.0).submit(fails_first, str(tmp_path / "r"), 2)
    assert job.result(timeout=60) == 3
    first, second = job.attempts
    assert second.started - first.finished >= 1.0
    assert job.record().started - second.finished >= 2.0


def test_a_cancelled_job_is_never_run_again(backend, tmp_path):
    running = jobnb.options(retries=3, retry_delay=0.05).submit(slow_first, str(tmp_path / "a"), 60)
    eventually(lambda: _count(tmp_path / "a") == 1, timeout=30)  # it runs
    assert running.cancel()
    running.wait(timeout=30)
    # between two attempts: queued, with when the next one starts
    waiting = jobnb.options(retries=2, retry_delay=3).submit(fails_first, str(tmp_path / "b"), 5)
    eventually(lambda: waiting.attempts, timeout=30)
    rec = waiting.record()
    assert rec.status is JobStatus.QUEUED and rec.retry_at > time.time()
    assert waiting.cancel()
    time.sleep(3.5)  # past when the next attempt would have started
    for job, runs in ((running, "a"), (waiting, "b")):
        assert job.status is JobStatus.CANCELLED
        assert _count(tmp_path / runs) == 1
    assert running.attempts == [] and len(waiting.attempts) == 1


def test_a_run_past_its_timeout_is_retried(backend, tmp_path):
    job = jobnb.options(timeout=1.5, retries=1, retry_delay=0.05).submit(
        slow_first, str(tmp_path / "t"), 60
    )
    assert job.result(timeout=60) == 2
    assert "JobTimeout: the job ran past its timeout" in job.attempts[0].error


def test_without_retries_nothing_changes(backend, tmp_path):
    job = jobnb.submit(fails_first, str(tmp_path / "n"), 1)
    with pytest.raises(RuntimeError):
        job.result(timeout=60)
    assert job.attempts == [] and job.record().retries == 0


# --- a worker killed mid-run ------------------------------------------------------------
@pytest.fixture(params=["huey", "huey-redis", "rq"])
def killable(request, tmp_path, monkeypatch):
    """A queue backend whose workers find a silent job lost after ``LOST_AFTER`` s; on
    Redis, two worker processes (a SQLite home's kernel starts a new worker when its
    worker is gone)."""
    monkeypatch.setenv("JOBNB_LOST_AFTER", str(LOST_AFTER))  # (read by the workers)
    if request.param == "huey":
        jobnb.configure("huey")
        yield "huey"
        return
    url = request.getfixturevalue("redis_url")
    backend = request.param.removesuffix("-redis")
    workers = [start_redis_worker(url, tmp_path, "-w", "1", backend=backend) for _ in range(2)]
    jobnb.configure(backend, **{"home" if backend == "huey" else "redis_url": url})
    try:
        yield request.param
    finally:
        api.shutdown()
        for worker in workers:
            stop_process(worker)


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def _kill_its_worker(tmp_path, runs) -> str:
    """SIGKILL the worker process running the job (and the job's own process: the
    machine is gone); which worker it was."""
    child = int(
        eventually(
            lambda: (runs.with_suffix(".pid")).exists() and runs.with_suffix(".pid").read_text(),
            timeout=30,
        )
    )
    worker = _parent(child)
    os.kill(worker, signal.SIGKILL)
    try:
        os.kill(child, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return f"pid {child}"


@pytest.mark.parametrize("retries", [1, 0])
def test_a_job_whose_worker_is_killed_runs_again_on_another(killable, tmp_path, retries):
    runs = tmp_path / "runs"
    job = jobnb.options(retries=retries, retry_delay=0.1).submit(slow_first, str(runs), 120)
    eventually(lambda: job.status is JobStatus.RUNNING, timeout=30)
    killed = _kill_its_worker(tmp_path, runs)
    started = time.monotonic()
    job.wait(timeout=60)
    if not retries:  # as before retries: lost
        assert job.status is JobStatus.LOST and job.attempts == []
        with pytest.raises(jobnb.JobLost):
            job.result()
        return
    assert job.result() == 2
    assert time.monotonic() - started < 30
    (lost,) = job.attempts
    assert lost.status is JobStatus.LOST and lost.error.startswith("JobLost: ")
    assert killed in lost.worker and killed not in job.record().worker
    assert "attempt 1 of 2 lost (JobLost: " in job.logs()


# --- options, said wrong ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"retries": -1}, "-1"),
        ({"retries": 1.5}, "1.5"),
        ({"retries": 2, "retry_delay": -3}, "-3"),
        ({"retries": 2, "retry_on": "ValueError"}, "'ValueError'"),
        ({"retries": 2, "retry_on": (ValueError, 3)}, "3"),
    ],
)
def test_bad_retry_options_are_refused_naming_the_value(options, named):
    with pytest.raises(jobnb.ConfigError, match=named):
        jobnb.options(**options)


def test_the_magics_and_run_take_retries_and_a_delay():
    import argparse

    for declared in (CELL_JOB, NOTEBOOK_JOB):
        parser = argparse.ArgumentParser()
        for opt in declared:
            opt.add_to(parser)
        extra = ["x.ipynb"] if declared is NOTEBOOK_JOB else []
        args = parser.parse_args([*extra, "--retries", "3", "--retry-delay", "0.5"])
        assert (args.retries, args.retry_delay) == (3, 0.5)
        assert parser.parse_args(extra).retries == 0


# --- what people see ----------------------------------------------------------------------
def test_the_widget_dashboard_jobs_df_and_show_say_the_attempts(tmp_path):
    from jobnb.widgets.dashboard_details import details_html
    from jobnb.widgets.dashboard_rows import cells
    from jobnb.widgets.job import JobWidget, take_snapshot

    jobnb.configure("huey")
    job = jobnb.options(retries=3, retry_delay=0.05).submit(fails_first, str(tmp_path / "w"), 2)
    waiting = jobnb.options(retries=1, retry_delay=60).submit(fails_first, str(tmp_path / "x"), 5)
    job.wait(timeout=60)
    eventually(lambda: waiting.attempts, timeout=60)

    widget = JobWidget(job)
    widget.show(take_snapshot(job))
    assert "attempt 3 of 4" in widget.header.value
    assert widget.attempts_view in widget.children
    earlier = widget.attempts_view.value
    assert "attempt 1 failed" in earlier and "RuntimeError: run 1 fails" in earlier
    assert "attempt 2 failed" in earlier and "RuntimeError: run 2 fails" in earlier
    widget.show(take_snapshot(waiting))
    assert "attempt 2 of 2, next at " in widget.header.value
    assert "3/4" in cells(job.record())
    assert "attempt 1 failed" in details_html(job.record(), "")

    frame = jobnb.jobs_df()
    assert frame.set_index("id").loc[job.id, "attempts"] == 3

    show = subprocess.run(
        [sys.executable, "-m", "jobnb.cli", "show", job.id],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert show.returncode == 0, show.stderr
    assert "attempt 3 of 4" in show.stdout
    assert "attempt 1: failed on " in show.stdout and "RuntimeError: run 1 fails" in show.stdout
    assert waiting.cancel()


# --- the stores' part (records/base.py retry, take_due_retries) ----------------------------
@pytest.fixture(params=["sqlite", "redis"])
def make_store(request, tmp_path):
    if request.param == "sqlite":
        return lambda **kw: SqliteRecords(tmp_path / "home" / "jobs.db", **kw)
    url = request.getfixturevalue("redis_url")
    return lambda **kw: RedisRecords(url, **kw)


def _running(store, retries: int, retry_on=("builtins.Exception",), delay=0.3) -> JobRecord:
    rec = JobRecord(
        id=new_job_id(),
        name="j",
        backend="huey",
        retries=retries,
        retry_delay=delay,
        retry_on=retry_on,
    )
    store.add([rec], [b"payload"])
    assert store.start(rec.id, "w1") is not None
    return rec


VALUE_ERROR = ("builtins.ValueError", "builtins.Exception", "builtins.BaseException")


def test_a_store_puts_a_failed_run_back_and_gives_it_out_once_due(make_store):
    store = make_store()
    rec = _running(store, retries=1)
    assert store.retry(rec.id, JobStatus.FAILED, "Tb\nValueError: no\n", VALUE_ERROR) == 0.3
    back = store.record(rec.id)
    assert back.status is JobStatus.QUEUED and back.worker is None and back.retry_at
    (attempt,) = back.attempts
    assert (attempt.number, attempt.status, attempt.worker) == (1, JobStatus.FAILED, "w1")
    assert "ValueError: no" in attempt.error and "attempt 2 starts in 0.3 s" in store.logs(rec.id)
    assert store.start(rec.id, "w2") is None  # not before its time
    assert rec.id not in store.queued_ids()  # nor queued again by a repair
    assert store.take_due_retries() == []
    time.sleep(0.4)
    assert store.take_due_retries() == [rec.id]
    assert store.take_due_retries() == []  # once
    assert store.start(rec.id, "w2") is not None
    # the last attempt: no retry, the caller finishes it
    assert store.retry(rec.id, JobStatus.FAILED, "ValueError: again\n", VALUE_ERROR) is None
    assert store.finish(rec.id, JobStatus.FAILED, "ValueError: again\n", b"")
    ended = store.record(rec.id)
    assert ended.status is JobStatus.FAILED and ended.attempt == 2 and ended.retry_at is None


def test_a_store_never_retries_a_cancel_nor_what_retry_on_leaves_out(make_store):
    store = make_store()
    other = _running(store, retries=3, retry_on=("builtins.OSError",))
    assert store.retry(other.id, JobStatus.FAILED, "ValueError\n", VALUE_ERROR) is None
    asked = _running(store, retries=3)
    store.request_cancel(asked.id, "ann@box")
    assert store.retry(asked.id, JobStatus.FAILED, "ValueError\n", VALUE_ERROR) is None
    assert store.retry(asked.id, JobStatus.CANCELLED, None, ()) is None
    waiting = _running(store, retries=3, delay=0.2)
    assert store.retry(waiting.id, JobStatus.FAILED, "ValueError\n", VALUE_ERROR)
    store.request_cancel(waiting.id, "ann@box")  # between two attempts
    time.sleep(0.3)
    assert store.take_due_retries() == []
    assert store.record(waiting.id).status is JobStatus.CANCELLED


def test_a_store_retries_a_lost_run_and_loses_one_without_retries(make_store):
    store = make_store(lost_after=0.3)
    again, once = _running(store, retries=1, delay=0), _running(store, retries=0)
    time.sleep(0.5)
    assert store.record(once.id).status is JobStatus.LOST
    back = store.record(again.id)
    assert back.status is JobStatus.QUEUED
    (attempt,) = back.attempts
    assert attempt.status is JobStatus.LOST and "stopped sending heartbeats" in attempt.error
    assert "attempt 1 of 2 lost (JobLost: " in store.logs(again.id)
    assert eventually(store.take_due_retries) == [again.id]


def test_a_sqlite_worker_taking_over_retries_what_ran_there(tmp_path):
    store = SqliteRecords(tmp_path / "jobs.db")
    again, once = _running(store, retries=2, delay=0), _running(store, retries=0)
    assert store.lose_running("its worker (pid 7) ended while running it") == [once.id]
    assert store.record(again.id).attempts[0].error.startswith("JobLost: its worker (pid 7)")
    assert store.take_due_retries() == [again.id]


def test_submit_magic_takes_retries(tmp_path):
    """``%%submit --retries N --retry-delay S`` (IPython's shell, on thread); a bad value
    is a UsageError naming it."""
    from IPython.core.interactiveshell import InteractiveShell

    jobnb.configure("thread")
    shell = InteractiveShell.instance()
    shell.reset(new_session=False)
    if not hasattr(shell, "_jobnb_magics"):
        shell.run_line_magic("load_ext", "jobnb")
    runs = tmp_path / "m"
    cell = f"from jobs_for_retries import fails_first\nx = fails_first({str(runs)!r}, 1)"
    job = shell.run_cell(f"%%submit --retries 2 --retry-delay 0.05\n{cell}").result
    assert job.wait(timeout=30).result()["x"] == 2
    assert job.record().attempt_text == "attempt 2 of 3" and len(job.attempts) == 1
    refused = shell.run_cell("%%submit --retries -2\ny = 1")
    assert "not -2" in str(refused.error_in_exec or refused.error_before_exec)
    shell._jobnb_magics.pending.clear()
