"""Dependencies between jobs (issue 17), on every backend: ``jobnb.options(after=...)``
and Jobs passed as arguments (futures). A job waits (``waiting``) until what it waits for
has finished, is cancelled with the reason when one of those fails, is cancelled or is
lost (and so are its own dependents), and the kernel is never needed in between."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import eventually, start_redis_worker, stop_process
from jobs_for_dependencies import add_when, stamp, total
from jobs_for_tests import add, fail

import jobnb
from jobnb import JobStatus
from jobnb.exceptions import DependencyNotFound

TESTS = Path(__file__).parent


@pytest.fixture
def release(tmp_path):
    """The file that lets ``add_when`` jobs end: touched by the test, and at its end in
    any case (a thread job cannot be killed: the backend's shutdown waits for it)."""
    path = tmp_path / "release"
    yield path
    path.touch()


def test_a_chain_of_three_runs_in_order_and_waits_meanwhile(backend, tmp_path, release):
    first = jobnb.options(name="first").submit(add_when, str(release), 1, 2)
    second = jobnb.options(name="second", after=[first]).submit(stamp, str(tmp_path), "2", "b")
    third = jobnb.options(after=["second"]).submit(stamp, str(tmp_path), "3", "c")
    assert second.record().after == (first.id,)
    assert third.record().after == (second.id,)  # "second" was resolved to its id
    eventually(lambda: first.status is JobStatus.RUNNING, timeout=30)
    time.sleep(0.3)
    assert second.status is JobStatus.WAITING
    assert third.status is JobStatus.WAITING
    assert jobnb.job_history().counts()[JobStatus.WAITING] == 2
    assert set(jobnb.jobs_df(status="waiting")["id"]) == {second.id, third.id}
    assert not (tmp_path / "2").exists()
    release.touch()
    # released by the worker that ended each one, at once: not left to the repair sweeps
    # (10 s apart, a job seen twice), which would take 20 s a link
    assert third.result(timeout=9) == "c"
    assert second.result() == "b" and first.result() == 3
    assert first.record().finished <= float((tmp_path / "2").read_text())
    assert float((tmp_path / "2").read_text()) <= float((tmp_path / "3").read_text())
    assert jobnb.job_history().counts()[JobStatus.WAITING] == 0


def test_a_fan_in_of_ten_gets_every_result(backend):
    parts = [jobnb.submit(add, i, 100) for i in range(10)]
    summed = jobnb.submit(total, *parts)
    assert set(summed.record().after) == {job.id for job in parts}
    assert summed.result(timeout=60) == sum(range(10)) + 1000
    named = jobnb.options(after=parts).submit(add, 1, 1)  # after=, no values passed
    assert named.result(timeout=60) == 2


def test_futures_as_arguments_do_not_make_the_kernel_wait(backend, tmp_path, release):
    first = jobnb.submit(add_when, str(release), 1, 2)
    began = time.monotonic()
    second = jobnb.submit(add, first, 3)
    third = jobnb.submit(add, a=second, b=second)  # keyword arguments, the same job twice
    assert time.monotonic() - began < 5
    assert not first.done()
    assert second.status is JobStatus.WAITING
    assert f"<result of add_when {first.id}>" in second.record().description
    assert third.record().after == (second.id,)
    release.touch()
    assert second.result(timeout=60) == 6
    assert third.result(timeout=60) == 12
    # the worker read the dependency's outcome: submitting the same again, with the
    # dependency ended already, gives the same
    assert jobnb.submit(add, first, 3).result(timeout=60) == 6


def test_a_failed_dependency_cancels_its_dependents_and_theirs(backend):
    failing = jobnb.submit(fail, "bad input")
    dependent = jobnb.options(after=[failing]).submit(add, 1, 1)
    further = jobnb.submit(add, dependent, 1)
    further.wait(timeout=60)
    assert failing.status is JobStatus.FAILED
    assert dependent.status is JobStatus.CANCELLED
    assert f"cancelled: job {failing.id} (fail) it waits for failed" in dependent.error
    assert further.status is JobStatus.CANCELLED
    assert f"job {dependent.id} (add) it waits for was cancelled" in further.error
    with pytest.raises(jobnb.JobCancelled) as raised:
        further.result()
    assert "it waits for was cancelled" in raised.value.traceback
    assert dependent.record().started is None  # it never ran
    # a dependency that had failed before its dependent was submitted counts too
    late = jobnb.options(after=[failing.id]).submit(add, 1, 1)
    late.wait(timeout=30)
    assert late.status is JobStatus.CANCELLED
    assert "it waits for failed" in late.error


def test_a_waiting_job_can_be_cancelled_and_its_dependents_go_with_it(backend, tmp_path, release):
    first = jobnb.submit(add_when, str(release), 1, 2)
    waiting = jobnb.options(after=[first]).submit(stamp, str(tmp_path), "ran")
    after_it = jobnb.options(after=[waiting]).submit(add, 1, 1)
    assert waiting.status is JobStatus.WAITING
    assert waiting.cancel() is True
    assert waiting.status is JobStatus.CANCELLED
    after_it.wait(timeout=30)
    assert after_it.status is JobStatus.CANCELLED
    assert f"job {waiting.id} (stamp) it waits for was cancelled" in after_it.error
    release.touch()
    assert first.result(timeout=60) == 3
    time.sleep(0.5)
    assert waiting.status is JobStatus.CANCELLED  # the first end stands
    assert not (tmp_path / "ran").exists()


def test_an_unknown_dependency_is_refused_before_anything_is_submitted(backend):
    before = sum(jobnb.job_history().counts().values())
    with pytest.raises(DependencyNotFound, match="no job with id or name 'nowhere0000'"):
        jobnb.options(after=["nowhere0000"]).submit(add, 1, 1)
    assert sum(jobnb.job_history().counts().values()) == before


def test_a_dependency_on_another_backend_is_refused():
    jobnb.configure("thread")
    other = jobnb.options(backend="subprocess").submit(add, 1, 2)
    with pytest.raises(DependencyNotFound, match=f"job {other.id} runs on backend 'subprocess'"):
        jobnb.submit(add, other, 1)
    with pytest.raises(DependencyNotFound, match="a job can wait only for jobs of its own"):
        jobnb.options(after=[other]).submit(add, 1, 1)
    assert other.result(timeout=30) == 3


# --- faults: the worker running a dependency is SIGKILLed ---------------------------------

LOST_AFTER = 2.0  # seconds: the lost window of this test, through JOBNB_LOST_AFTER

KERNEL = """
import json, os, signal, sys, time
sys.path.insert(0, sys.argv[1])
import jobnb
from jobs_for_dependencies import kill_my_worker_then_wait
from jobs_for_tests import add
jobnb.configure(sys.argv[2], **json.loads(sys.argv[3]))
pid_file = os.path.abspath("worker.pid")
running = jobnb.submit(kill_my_worker_then_wait, pid_file)
dependent = jobnb.submit(add, running, 1)
further = jobnb.options(after=[dependent]).submit(add, 1, 1)
deadline = time.monotonic() + 60
while not os.path.exists(pid_file) or not open(pid_file).read():
    assert time.monotonic() < deadline, running.status
    time.sleep(0.05)
time.sleep(0.3)
os.kill(int(open(pid_file).read()), signal.SIGKILL)
further.wait(timeout=90)
print(json.dumps({job: [j.status.value, j.error] for job, j in
                  [("running", running), ("dependent", dependent), ("further", further)]}))
"""


@pytest.fixture(params=["huey", "huey-redis", "rq"])
def killable(request, tmp_path, monkeypatch):
    """A queue backend's name and settings, its worker started by the test (Redis) or by
    the kernel (a SQLite home), with a short lost window (JOBNB_LOST_AFTER, read when
    jobnb is imported: by the workers and the kernel the test starts)."""
    monkeypatch.setenv("JOBNB_LOST_AFTER", str(LOST_AFTER))
    if request.param == "huey":
        yield "huey", {}
        return
    url = request.getfixturevalue("redis_url")
    name = request.param.removesuffix("-redis")
    worker = start_redis_worker(url, tmp_path, "-w", "1", backend=name)
    try:
        yield name, {"home" if name == "huey" else "redis_url": url}
    finally:
        stop_process(worker)


def test_a_dependency_whose_worker_was_killed_cancels_its_dependents(killable, tmp_path):
    name, settings = killable
    kernel = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KERNEL), str(TESTS), name, json.dumps(settings)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert kernel.returncode == 0, kernel.stderr
    seen = json.loads(kernel.stdout.strip().splitlines()[-1])
    assert seen["running"][0] == "lost", seen
    assert seen["dependent"][0] == seen["further"][0] == "cancelled", seen  # never stuck
    assert "(kill_my_worker_then_wait) it waits for was lost" in seen["dependent"][1]
    assert "(add) it waits for was cancelled" in seen["further"][1]


def test_submit_cells_wait_for_jobs_named_after(tmp_path, release):
    from IPython.core.interactiveshell import InteractiveShell

    jobnb.configure("thread")
    shell = InteractiveShell.instance()
    shell.reset(new_session=False)
    if not hasattr(shell, "_jobnb_magics"):
        shell.run_line_magic("load_ext", "jobnb")
    shell._jobnb_magics.pending.clear()
    shell.user_ns.update(add_when=add_when, release=str(release))
    first = shell.run_cell("%%submit -n one\nx = add_when(release, 1, 2)").result
    second = shell.run_cell("%%submit -n two\ny = 5").result
    both = shell.run_cell("%%submit -n three --after one --after two\nz = 7").result
    commas = shell.run_cell(f"%%submit -n four -a {first.id},two\nw = 8").result
    assert both.record().after == (first.id, second.id)
    assert commas.record().after == (first.id, second.id)
    assert both.status is JobStatus.WAITING
    release.touch()
    assert both.result(timeout=30) == {"z": 7}
    assert commas.result(timeout=30) == {"w": 8}
    unknown = shell.run_cell("%%submit --after nobody\nv = 1")
    assert isinstance(unknown.error_in_exec, DependencyNotFound)


def test_jobnb_ls_and_show_list_waiting_jobs_and_what_they_wait_for(tmp_path, release):
    import os

    jobnb.configure("huey")
    first = jobnb.options(name="first").submit(add_when, str(release), 1, 2)
    waiting = jobnb.options(name="later", after=[first]).submit(add, 1, 1)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "jobnb.cli", *args],
            capture_output=True,
            text=True,
            timeout=90,
            cwd=tmp_path,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = cli("ls", "-s", "waiting")
    assert waiting.id in listed and first.id not in listed
    shown = cli("show", waiting.id)
    assert "status:       waiting" in shown
    assert f"waits for:    {first.id} (first, " in shown
    assert json.loads(cli("show", waiting.id, "--json"))["after"] == [first.id]
    release.touch()
    assert waiting.result(timeout=60) == 2
    assert f"waited for:   {first.id} (first, finished)" in cli("show", waiting.id)


def test_a_resubmitted_job_waits_for_the_same_jobs(backend):
    first = jobnb.submit(add, 1, 2)
    second = jobnb.submit(add, first, 10)
    assert second.result(timeout=60) == 13
    again = second.resubmit()
    assert again.record().after == (first.id,)
    assert again.result(timeout=60) == 13
    failing = jobnb.submit(fail)
    cancelled = jobnb.options(after=[failing]).submit(add, 1, 1)
    cancelled.wait(timeout=60)
    retried = cancelled.resubmit()  # what it waits for failed: cancelled again, saying so
    retried.wait(timeout=30)
    assert retried.status is JobStatus.CANCELLED
    assert f"job {failing.id} (fail) it waits for failed" in retried.error


def test_the_job_widget_says_what_a_job_waits_for_and_why_it_was_cancelled(release):
    from jobnb.widgets.job import job_widget

    jobnb.configure("thread")
    first = jobnb.options(name="first").submit(add_when, str(release), 1, 2)
    waiting = jobnb.options(after=[first]).submit(add, 1, 1)
    widget = job_widget(waiting)
    eventually(lambda: ">waiting<" in widget.header.value)
    assert f"for {first.id} (" in widget.header.value
    assert widget.controls in widget.children  # it can be cancelled
    from jobnb.widgets.dashboard import Dashboard

    board = Dashboard()
    assert ">waiting</span> 1" in board.counts_view.value
    board.status_filter.value = "waiting"
    rows = [child for child in board.table.children if "jobnb-row" in child._dom_classes]
    assert [row.record.id for row in rows] == [waiting.id]
    assert ">waiting<" in rows[0].summary.value
    board.close()
    failing = jobnb.submit(fail, "<b>bad</b>")
    cancelled = jobnb.options(after=[failing]).submit(add, 1, 1)
    cancelled.wait(timeout=30)
    ended = job_widget(cancelled)
    eventually(lambda: ">cancelled<" in ended.header.value)
    assert f"before it started: job {failing.id} (fail) it waits for failed" in ended.header.value
    widget.close()
    ended.close()
