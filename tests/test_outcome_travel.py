"""A job's result on its way back (issue 13): pickled once in the process that ran the
job, carried untouched by a queue worker, unpickled once in the kernel; and a notebook
job's output path, which travels in a field of its own."""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from jobs_for_tests import Counted, import_from, make_counted

import jobnb
from jobnb import JobStatus
from jobnb.widgets.job import JobWidget, take_snapshot

NOTEBOOKS = Path(__file__).parent / "notebooks"


def test_a_result_is_pickled_once_by_the_job_and_unpickled_once_in_the_kernel(backend, tmp_path):
    log = tmp_path / "pickles.log"
    namespace: dict = {}
    job = jobnb.options().submit_cell(
        "value = make_counted(log)",
        {"make_counted": make_counted, "log": str(log)},
        ("value",),
        namespace=namespace,
    )
    assert job.wait(60).status is JobStatus.FINISHED
    assert job.pull() == ["value"]
    assert job.pull() == ["value"]
    assert isinstance(job.result(), dict) and isinstance(job.result()["value"], Counted)
    widget = JobWidget(job)
    widget.show(take_snapshot(job))
    assert widget.ending_view.value.startswith("outputs: value")
    assert isinstance(namespace["value"], Counted)

    seen = log.read_text().split("\n")[:-1] if log.exists() else []
    pickled = [int(line.split()[1]) for line in seen if line.startswith("pickle ")]
    unpickled = [int(line.split()[1]) for line in seen if line.startswith("unpickle ")]
    if backend == "thread":  # the kernel's own object, never pickled
        assert (pickled, unpickled) == ([], [])
        return
    assert len(pickled) == 1 and pickled[0] != os.getpid()  # by the job's process
    assert unpickled == [os.getpid()]  # by the kernel, once


def test_a_result_whose_class_only_the_job_can_import_comes_back(
    process_backend, tmp_path, monkeypatch
):
    """A queue worker (or the kernel, until asked) that cannot import the result's class
    does not fail a job that finished."""
    folder = tmp_path / "only-in-the-job"
    folder.mkdir()
    module = f"made_in_the_job_{uuid.uuid4().hex}"
    (folder / f"{module}.py").write_text(
        "class Value:\n    def __init__(self, number):\n        self.number = number\n"
    )
    job = jobnb.submit(import_from, str(folder), module, 7)
    assert job.wait(60).status is JobStatus.FINISHED, job.error
    assert job.error is None
    with pytest.raises(jobnb.JobFailed) as caught:
        job.result()
    message = str(caught.value)
    assert f"No module named '{module}'" in message
    assert "cannot be loaded in this process" in message and "sys.path" in message
    monkeypatch.syspath_prepend(str(folder))
    assert job.result().number == 7


def test_an_output_path_with_an_arrow_in_it_is_shown_as_it_is(tmp_path):
    notebook = Path(shutil.copy(NOTEBOOKS / "params.ipynb", tmp_path / "in -> put.ipynb"))
    output = tmp_path / "a -> b.ipynb"
    jobnb.configure("thread")
    job = jobnb.submit_notebook(notebook, {"times": 2}, output)
    assert job.wait(120).status is JobStatus.FINISHED, job.error
    record = job.record()
    assert record.output == str(output)
    assert record.description == f"notebook {notebook} (times=2)"
    widget = JobWidget(job)
    widget.show(take_snapshot(job))
    assert widget.notebook_view.value == (
        f"notebook <code>{html.escape(str(notebook))} (times=2)</code> &rarr; output "
        f"<code>{html.escape(str(output))}</code>"
    )

    other = tmp_path / "c -> d.ipynb"
    done = subprocess.run(
        [sys.executable, "-m", "jobnb.cli", "run", notebook.name, "-b", "thread", "-o", other.name],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    job_id = lines[0].split()[1]
    assert lines[0] == f"job {job_id} (in -> put) on thread: {notebook.name} -> {other}"
    assert f"; the executed notebook is {other}" in done.stdout
    assert other.exists()
