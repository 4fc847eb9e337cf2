"""The contract every backend keeps (DESIGN.md, "Public API"), run on each of them."""

from __future__ import annotations

import getpass
import socket
import time

import pandas as pd
import pytest
from conftest import eventually
from jobs_for_tests import (
    NeedsTwoArgs,
    add,
    echo_kwargs,
    fail,
    fail_unrebuildable,
    mark_and_return,
    print_then_wait,
    progress_then_wait,
    spin,
)

import jobnb
from jobnb import JobStatus
from jobnb.job import RemoteTraceback


def test_submit_returns_at_once_and_result_comes_back(backend):
    job = jobnb.submit(add, 2, b=40)
    assert isinstance(job, jobnb.Job)
    assert job.result(timeout=30) == 42
    assert job.status is JobStatus.FINISHED
    assert job.done()
    assert job.name == "add"
    assert job.backend == backend
    assert job.error is None
    rec = job.record()
    assert rec.submitted <= rec.started <= rec.finished
    assert rec.description == "add(2, b=40)"
    assert f"<Job {job.id} 'add' finished on {backend}>" == repr(job)


def test_job_options_never_collide_with_the_functions_keywords(backend):
    job = jobnb.options(name="train", timeout=30).submit(
        echo_kwargs, name="n", timeout=5, queue="q", backend="b"
    )
    assert job.result(timeout=30) == {"name": "n", "timeout": 5, "queue": "q", "backend": "b"}
    assert job.name == "train"
    assert job.record().timeout == 30


def test_logs_are_readable_while_the_job_runs(backend, tmp_path):
    release = tmp_path / "release"
    job = jobnb.submit(print_then_wait, str(release))
    # (stdout and stderr are written apart: the second line may come a moment later)
    eventually(lambda: "started" in job.logs() and "to stderr" in job.logs())
    assert job.status is JobStatus.RUNNING
    release.touch()
    assert job.result(timeout=30) == "done"
    assert job.logs() == "started\nto stderr\nreleased\n"


def test_progress_is_reported_from_inside_the_job(backend, tmp_path):
    release = tmp_path / "release"
    job = jobnb.submit(progress_then_wait, str(release))
    progress = eventually(lambda: job.progress.total and job.progress)
    assert progress == jobnb.Progress(3, 10, "three of ten")
    assert progress.fraction == pytest.approx(0.3)
    release.touch()
    job.wait(30)
    assert job.progress.fraction == 1.0  # a finished job is complete


def test_progress_outside_a_job_does_nothing():
    jobnb.progress(1, 2, "not in a job")  # no error, no output


def test_map_keeps_the_order_of_its_inputs(backend):
    jobs = jobnb.map(add, range(20), range(100, 120))
    assert len({j.id for j in jobs}) == 20
    expected = [a + b for a, b in zip(range(20), range(100, 120), strict=True)]
    assert [j.result(timeout=30) for j in jobs] == expected


def test_get_finds_a_job_by_id_and_the_newest_by_name(backend):
    first = jobnb.options(name="twice").submit(add, 1)
    first.wait(30)
    second = jobnb.options(name="twice").submit(add, 2)
    second.wait(30)
    assert jobnb.get(first.id) == first
    assert jobnb.get(first.id).result() == 1
    assert jobnb.get("twice") == second
    with pytest.raises(jobnb.JobNotFound, match="no job has the id or name 'nothing'"):
        jobnb.get("nothing")
    with pytest.raises(LookupError):  # JobNotFound is a LookupError too
        jobnb.get("nothing")


def test_jobs_lists_newest_first_and_filters_by_status(backend):
    ok = jobnb.submit(add, 1)
    ok.wait(30)
    bad = jobnb.submit(fail)
    bad.wait(30)
    assert jobnb.jobs() == [bad, ok]
    assert jobnb.jobs("failed") == [bad]
    assert jobnb.jobs(JobStatus.FINISHED) == [ok]
    with pytest.raises(ValueError, match="unknown status 'done'; the statuses are: waiting, q"):
        jobnb.jobs("done")


def test_jobs_df_has_the_documented_columns(backend):
    jobnb.options(name="ok").submit(add, 1).wait(30)
    jobnb.options(name="bad").submit(fail).wait(30)
    df = jobnb.jobs_df()
    assert list(df.columns) == [
        "id",
        "name",
        "status",
        "backend",
        "submitted",
        "started",
        "finished",
        "duration",
        "progress",
        "worker",
        "error",
        "attempts",
    ]
    assert list(df["name"]) == ["bad", "ok"]
    assert list(df["attempts"]) == [1, 1]  # (no retries: each ran once)
    assert list(df["status"]) == ["failed", "finished"]
    assert set(df["backend"]) == {backend}
    assert isinstance(df["submitted"].dtype, pd.DatetimeTZDtype)
    assert (df["duration"] >= 0).all()
    assert "ValueError: bad input" in df.loc[0, "error"]
    assert df.loc[1, "error"] is None or pd.isna(df.loc[1, "error"])
    assert len(jobnb.jobs_df("finished")) == 1


def test_resubmit_runs_the_same_again_as_a_new_job(backend):
    first = jobnb.options(name="again", timeout=60).submit(add, 2, b=3)
    assert first.result(timeout=30) == 5
    second = first.resubmit()
    assert isinstance(second, jobnb.Job) and second.id != first.id
    assert second.result(timeout=30) == 5
    assert (second.name, second.backend) == ("again", backend)
    assert second.record().description == "add(2, b=3)"
    assert second.record().timeout == 60
    assert first.status is JobStatus.FINISHED  # the first is left as it was
    assert jobnb.jobs() == [second, first]
    first.forget()
    with pytest.raises(jobnb.JobNotFound):
        first.resubmit()


def test_job_history_counts_pages_and_hands_out_jobs(backend):
    ok = [jobnb.options(name=f"ok{i}").submit(add, i) for i in range(3)]
    for job in ok:
        job.wait(30)
    bad = jobnb.options(name="bad").submit(fail)
    bad.wait(30)
    history = jobnb.job_history()
    counts = history.counts()
    assert counts[JobStatus.FINISHED] == 3 and counts[JobStatus.FAILED] == 1
    assert sum(counts.values()) == 4
    assert [r.name for r in history.page(limit=2)] == ["bad", "ok2"]
    assert [r.name for r in history.page(offset=2, limit=2)] == ["ok1", "ok0"]
    assert [r.name for r in history.page("finished", offset=1, limit=5)] == ["ok1", "ok0"]
    assert history.jobs("failed") == [bad]
    assert history.job(ok[0].id) == ok[0] and history.job(ok[0].id).result() == 0
    assert set(history.stats()) == {backend}
    with pytest.raises(jobnb.JobNotFound, match="'nothing'"):
        history.job("nothing")


def test_a_failing_job_keeps_its_traceback_and_logs(backend):
    job = jobnb.submit(fail, "bad input")
    job.wait(30)
    assert job.status is JobStatus.FAILED
    assert "Traceback (most recent call last)" in job.error
    assert "in fail\n    raise ValueError(message)" in job.error
    assert job.error.strip().endswith("ValueError: bad input")
    assert "jobnb/worker/" not in job.error and "jobnb/payload/" not in job.error  # not shown
    assert job.logs() == "about to fail\n"
    with pytest.raises(ValueError, match="bad input") as info:
        job.result()
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "raise ValueError(message)" in str(cause)


def test_an_exception_that_cannot_be_rebuilt_still_fails_clearly(backend):
    job = jobnb.submit(fail_unrebuildable)
    job.wait(30)
    assert "NeedsTwoArgs: cannot be rebuilt" in job.error
    # in the kernel's own threads the exception object itself comes back; from a
    # worker process it cannot be rebuilt, and a JobnbError carries the traceback
    with pytest.raises((NeedsTwoArgs, jobnb.JobFailed)) as info:
        job.result()
    if isinstance(info.value, jobnb.JobFailed):
        assert isinstance(info.value, jobnb.JobnbError)
        assert "NeedsTwoArgs: cannot be rebuilt" in str(info.value)
        assert "NeedsTwoArgs" in info.value.traceback


def test_wait_with_a_timeout_raises_and_the_job_goes_on(backend, tmp_path):
    release = tmp_path / "release"
    job = jobnb.submit(print_then_wait, str(release))
    with pytest.raises(jobnb.ResultTimeout, match="it goes on running"):
        job.result(timeout=0.2)
    with pytest.raises(TimeoutError):
        job.wait(timeout=0.05)
    release.touch()
    assert job.result(timeout=30) == "done"


@pytest.mark.workers(1)  # also for workers started by hand (huey on Redis)
def test_a_queued_job_can_be_cancelled_and_never_runs(backend, tmp_path):
    jobnb.configure(workers=1)
    release, marker = tmp_path / "release", tmp_path / "marker"
    blocker = jobnb.submit(print_then_wait, str(release))
    eventually(lambda: blocker.status is JobStatus.RUNNING)
    queued = jobnb.submit(mark_and_return, str(marker))
    assert queued.status is JobStatus.QUEUED
    assert queued.cancel() is True
    assert queued.status is JobStatus.CANCELLED
    assert queued.record().cancelled_by == f"{getpass.getuser()}@{socket.gethostname()}"
    release.touch()
    assert blocker.result(timeout=30) == "done"
    after = jobnb.submit(add, 5)
    assert after.result(timeout=30) == 5
    assert not marker.exists()
    with pytest.raises(jobnb.JobCancelled, match="was cancelled"):
        queued.result()
    assert queued.cancel() is False  # already ended


def test_a_running_job_can_be_cancelled_and_the_pool_keeps_serving(backend):
    job = jobnb.submit(spin, 60)
    eventually(lambda: job.status is JobStatus.RUNNING)
    started = time.monotonic()
    assert job.cancel(via="a test") is True
    job.wait(timeout=2)
    assert time.monotonic() - started < 2
    assert job.status is JobStatus.CANCELLED
    with pytest.raises(jobnb.JobCancelled):
        job.result()
    assert "cancelled while running" in job.error
    who = f"{getpass.getuser()}@{socket.gethostname()} via a test"
    assert job.record().cancelled_by == who  # who asked is kept, and shown
    assert [j.result(timeout=30) for j in jobnb.map(add, [1, 2, 3])] == [1, 2, 3]


def test_a_job_past_its_timeout_is_stopped(backend):
    started = time.monotonic()
    job = jobnb.options(timeout=0.5).submit(spin, 60)
    job.wait(timeout=10)
    assert time.monotonic() - started < 5
    assert job.status is JobStatus.FAILED
    assert "timeout" in job.error
    with pytest.raises(jobnb.JobTimeout):
        job.result()
    assert jobnb.submit(add, 1).result(timeout=30) == 1


def test_cancel_of_a_finished_job_returns_false(backend):
    job = jobnb.submit(add, 1)
    job.wait(30)
    assert job.cancel() is False
    assert job.status is JobStatus.FINISHED


def test_bad_job_options_are_refused():
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        jobnb.options(timeout=-1)
    with pytest.raises(jobnb.ConfigError, match="unknown backend 'nope'"):
        jobnb.options(backend="nope")
    with pytest.raises(TypeError, match="needs a callable"):
        jobnb.submit(42)


def test_a_cell_job_returns_the_names_it_assigned(backend):
    namespace = {}
    job = jobnb.options().submit_cell(
        "y = x * 2\nimport math\nprint(y)",
        {"x": 21},
        ("y", "math", "never_bound"),
        namespace=namespace,
    )
    assert job.name == "cell"
    outputs = job.result(timeout=30)
    assert outputs["y"] == 42
    assert outputs["math"].pi > 3
    assert "never_bound" not in outputs
    assert job.logs() == "42\n"
    assert job.pull() == ["y", "math"]
    assert namespace["y"] == 42


def test_a_failing_cell_shows_its_own_lines(backend):
    job = jobnb.options().submit_cell("a = 1\nb = a / 0\n", {}, ("a", "b"))
    job.wait(30)
    assert "b = a / 0" in job.error
    assert "ZeroDivisionError" in job.error
    with pytest.raises(ZeroDivisionError):
        job.result()
