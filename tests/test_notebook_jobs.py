"""Notebook jobs: real notebooks of tests/notebooks run by nbclient in real kernels, as
jobs, on every backend; and their command line, magic, cancel and errors.

Each notebook job starts a kernel (about a second), so the tests that run on every
backend are two; the others run on the backends where they differ."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import eventually
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import jobnb
from jobnb import JobStatus, Progress
from jobnb.payload import last_line
from jobnb.widgets.dashboard import Dashboard
from jobnb.widgets.job import JobWidget, take_snapshot

NOTEBOOKS = Path(__file__).parent / "notebooks"


def copy(name: str, folder: Path) -> Path:
    """A copy of a test notebook in ``folder``: outputs go beside it, not into the repo."""
    return Path(shutil.copy(NOTEBOOKS / name, folder / name))


def kernel_gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


# --- on every backend ----------------------------------------------------------------------
def test_a_notebook_job_runs_with_parameters_and_its_records_come_back(backend, tmp_path):
    notebook = copy("params.ipynb", tmp_path)
    release = tmp_path / "release"
    parameters = {"greeting": "hi", "times": 3, "release": str(release)}
    job = jobnb.submit_notebook(notebook, parameters)
    try:
        output = tmp_path / f"params-{job.id}.ipynb"
        assert job.name == "params"
        description = job.record().description
        assert description.startswith(f"notebook {notebook} (greeting='hi', times=3, release=")
        assert description.endswith("')")  # where it is written: the record's output
        assert job.record().output == str(output)
        # while the notebook waits for the release file: progress names the running cell,
        # the log already holds what the cells before it printed, the output file exists
        eventually(lambda: job.progress.message == "wait_until(release)", timeout=60)
        assert job.progress == Progress(4, 6, "wait_until(release)")
        eventually(lambda: "hi x3\n" in job.logs() and "to stderr\n" in job.logs())
        assert job.status is JobStatus.RUNNING
        assert output.exists()
    finally:
        release.touch()

    values = job.result(timeout=60)
    assert values == {
        "total": 3.0,
        "greeting": "HI",
        "where": {"cwd_has_it": True, "pid": values["where"]["pid"]},  # ran in its folder
    }
    assert job.progress == Progress(6, 6, f"wrote {output}")
    assert sorted(job.logs().splitlines()) == ["hi x3", "released", "to stderr"]

    executed = nbformat.read(output, as_version=4)
    assert executed.cells[1].metadata.tags == ["parameters"]  # papermill's layout
    injected = executed.cells[2]
    assert injected.metadata.tags == ["injected-parameters"]
    assert injected.source == f"# Parameters\ngreeting = 'hi'\ntimes = 3\nrelease = '{release}'\n"
    shown = [o.data["text/plain"] for o in executed.cells[-1].outputs]
    assert shown[:2] == ["recorded total = 3.0", "recorded greeting = 'HI'"]
    assert '"pickle"' not in output.read_text()  # the values travel, the file stays clean
    assert executed.metadata.jobnb["job_id"] == job.id

    # what the job widget and the dashboard show of it
    widget = JobWidget(job)
    widget.show(take_snapshot(job))
    assert widget.notebook_view in widget.children
    assert f"<code>{output}</code>" in widget.notebook_view.value
    assert widget.ending_view.value == "recorded: total, greeting, where (job.result())"
    board = Dashboard()
    assert f"<code>{output}</code>" in board.rows[0].summary.value


def test_a_failing_cell_fails_the_job_naming_it_and_the_output_is_written(backend, tmp_path):
    job = jobnb.submit_notebook(copy("failing.ipynb", tmp_path))
    output = tmp_path / f"failing-{job.id}.ipynb"
    with pytest.raises(jobnb.NotebookCellError) as caught:
        job.result(timeout=60)
    error = caught.value
    summary = (
        "cell 1 ('ratio = 1 / 0  # this cell fails') raised ZeroDivisionError: division by "
        f"zero; the executed notebook is {output}"
    )
    assert str(error) == summary
    assert (error.cell_index, error.ename, error.output) == (1, "ZeroDivisionError", str(output))
    assert error.recorded == {"early": 1}  # what was recorded before the failure
    assert job.status is JobStatus.FAILED
    assert last_line(job.error) == f"NotebookCellError: {summary}"
    assert "----> 1 ratio = 1 / 0  # this cell fails" in job.error  # the cell's traceback
    assert "\x1b[" not in job.error
    assert job.logs() == "before the failure\n"
    assert job.progress == Progress(1, 3, "ratio = 1 / 0  # this cell fails")

    executed = nbformat.read(output, as_version=4)
    assert executed.cells[0].outputs[0].text == "before the failure\n"
    assert executed.cells[1].outputs[-1].ename == "ZeroDivisionError"
    assert executed.cells[2].outputs == []  # never ran


# --- on some backends ----------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["thread", "subprocess", "huey", "rq"], indirect=True)
def test_cancel_leaves_no_kernel_running(backend, tmp_path):
    pid_file = tmp_path / "kernel.pid"
    job = jobnb.submit_notebook(copy("sleeper.ipynb", tmp_path), {"pid_file": str(pid_file)})
    pid = int(eventually(lambda: pid_file.exists() and pid_file.read_text(), timeout=60))
    eventually(lambda: job.progress.message == "time.sleep(120)")
    assert job.cancel()
    job.wait(30)
    assert job.status is JobStatus.CANCELLED
    eventually(lambda: kernel_gone(pid), timeout=5)


def test_a_timeout_stops_the_notebook_and_its_kernel(tmp_path):
    jobnb.configure("subprocess")
    pid_file = tmp_path / "kernel.pid"
    job = jobnb.submit_notebook(
        copy("sleeper.ipynb", tmp_path), {"pid_file": str(pid_file)}, timeout=5
    )
    with pytest.raises(jobnb.JobTimeout):
        job.result(timeout=60)
    assert "ran past its timeout of 5 s" in job.error
    eventually(lambda: kernel_gone(int(pid_file.read_text())), timeout=5)


def test_an_unknown_kernel_is_named_with_the_kernels_that_exist(tmp_path):
    jobnb.configure("subprocess")
    job = jobnb.submit_notebook(copy("params.ipynb", tmp_path), kernel_name="no-such-kernel")
    with pytest.raises(jobnb.NotebookError) as caught:
        job.result(timeout=60)
    message = str(caught.value)
    assert message.startswith("no Jupyter kernel named 'no-such-kernel' on ")
    assert "the kernels there are: " in message and "python3" in message
    assert last_line(job.error) == f"NotebookError: {message}"
    assert not list(tmp_path.glob("params-*.ipynb"))  # nothing ran: no output


# --- the command line --------------------------------------------------------------------
def jobnb_command(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jobnb.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_cli_run_shows_progress_and_where_the_output_is(tmp_path):
    copy("params.ipynb", tmp_path)
    (tmp_path / "out").mkdir()
    done = jobnb_command(
        "run", "params.ipynb", "-p", "times=2", "-r", "greeting=007", "-b", "subprocess",
        "-o", "out", "--log", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    job_id = lines[0].split()[1]
    output = tmp_path / "out" / f"params-{job_id}.ipynb"
    assert lines[0] == f"job {job_id} (params) on subprocess: params.ipynb -> {output}"
    assert "[0/6] starting the kernel" in lines
    assert "007 x2" in lines  # --log: what the cells print; -r kept "007" as text
    assert "finished in " in lines[-4] and lines[-4].endswith(f"the executed notebook is {output}")
    assert lines[-3:-1] == ["  recorded total = 2.0", "  recorded greeting = '007'"]
    assert output.exists()


def test_cli_run_of_a_failing_notebook_exits_1_naming_the_cell(tmp_path):
    copy("failing.ipynb", tmp_path)
    done = jobnb_command("run", "failing.ipynb", "-b", "thread", cwd=tmp_path)
    assert done.returncode == 1
    assert "[1/3] ratio = 1 / 0  # this cell fails" in done.stdout
    assert "failed after " in done.stderr
    assert "NotebookCellError: cell 1 ('ratio = 1 / 0  # this cell fails') raised " in done.stderr
    done = jobnb_command("run", "missing.ipynb", "-b", "thread", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        1,
        f"jobnb run: no notebook at {tmp_path}/missing.ipynb\n",
    )


def test_cli_run_no_wait_leaves_the_job_to_a_huey_worker(tmp_path):
    copy("params.ipynb", tmp_path)
    done = jobnb_command("run", "params.ipynb", "--no-wait", "-p", "times=5", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.split()[1]
    assert done.stdout.startswith(f"job {job_id} (params) queued on huey; it writes ")
    jobnb.configure("huey")  # the same queue, under ./.jobnb: the job outlived the command
    assert jobnb.get(job_id).result(timeout=60)["total"] == 5.0
    done = jobnb_command("run", "params.ipynb", "--no-wait", "-b", "thread", cwd=tmp_path)
    assert done.returncode == 2
    assert "--no-wait needs a queue backend" in done.stderr


# --- the magic -------------------------------------------------------------------------------
def test_the_submit_notebook_magic(tmp_path):
    jobnb.configure("thread")
    shell = InteractiveShell.instance()
    if not hasattr(shell, "_jobnb_magics"):
        shell.run_line_magic("load_ext", "jobnb")
    (tmp_path / "my notebooks").mkdir()
    shutil.copy(NOTEBOOKS / "params.ipynb", tmp_path / "my notebooks")
    copy("params.ipynb", tmp_path)
    shell.run_cell("n = 4", store_history=True)
    result = shell.run_cell(
        '%submit_notebook "my notebooks/params.ipynb" -p times=$n -p greeting="good day" -n nb',
        store_history=True,
    )
    job = result.result
    assert isinstance(job, jobnb.Job) and job.name == "nb"
    assert job.result(timeout=60)["greeting"] == "GOOD DAY"
    assert job.result()["total"] == 4.0
    assert (tmp_path / "my notebooks" / f"params-{job.id}.ipynb").exists()
    error = shell.run_cell("%submit_notebook nowhere.ipynb").error_in_exec
    assert (
        isinstance(error, UsageError) and str(error) == f"no notebook at {tmp_path}/nowhere.ipynb"
    )
    error = shell.run_cell("%submit_notebook params.ipynb -p 1x=2").error_in_exec
    assert "parameter name '1x' is not a Python variable name" in str(error)
    error = shell.run_cell(f"%pull {job.id}").error_in_exec
    assert "ran a notebook, not a %%submit cell" in str(error)
    doc = shell.find_line_magic("submit_notebook").__doc__
    for option in ("-p NAME=VALUE", "-r NAME=VALUE", "-o OUTPUT", "-k KERNEL", "-b BACKEND"):
        assert option in doc


# --- at submit, no kernel ------------------------------------------------------------------
def test_parameters_go_in_as_papermill_puts_them(tmp_path):
    from jobnb.payload import NotebookPayload

    # no cell tagged `parameters`: the injected cell comes first
    payload = NotebookPayload.prepare(
        copy("failing.ipynb", tmp_path), {"a": [1, (2, 3)], "b": None}, None, None, "i1"
    )
    assert payload.notebook.cells[0].source == "# Parameters\na = [1, (2, 3)]\nb = None\n"
    assert payload.injected_at == 0
    # after the first cell tagged `parameters`; a papermill output has its cell replaced
    payload = NotebookPayload.prepare(
        copy("params.ipynb", tmp_path), {"times": 2}, None, None, "i2"
    )
    assert payload.notebook.cells[2].metadata.tags == ["injected-parameters"]
    rerun = tmp_path / "rerun.ipynb"
    nbformat.write(payload.notebook, rerun)
    again = NotebookPayload.prepare(rerun, {"times": 9}, tmp_path, None, "i3").notebook
    assert [
        c.source for c in again.cells if "injected-parameters" in c.metadata.get("tags", [])
    ] == ["# Parameters\ntimes = 9\n"]
    assert len(again.cells) == len(payload.notebook.cells)
    # no parameters: the notebook runs as it is
    assert (
        NotebookPayload.prepare(rerun, None, None, None, "i4").notebook.cells[2].source
        == "# Parameters\ntimes = 2\n"
    )


def test_what_cannot_be_written_into_the_notebook_is_refused_at_submit(tmp_path):
    import datetime

    notebook = copy("params.ipynb", tmp_path)
    for value, shown in [
        (datetime.date(2024, 1, 2), "(datetime.date: datetime.date(2024, 1, 2))"),
        (float("nan"), "(builtins.float: nan)"),
        (Path("x"), "(pathlib.PosixPath: PosixPath('x'))"),
    ]:
        with pytest.raises(jobnb.NotebookError) as caught:
            jobnb.submit_notebook(notebook, {"when": value})
        assert str(caught.value).startswith(f"parameter 'when' {shown} cannot be written")
    with pytest.raises(jobnb.NotebookError, match="no folder"):
        jobnb.submit_notebook(notebook, output=tmp_path / "nowhere" / "out.ipynb")
    (tmp_path / "bad.ipynb").write_text("{not json")
    with pytest.raises(jobnb.NotebookError, match="bad.ipynb cannot be read as a notebook"):
        jobnb.submit_notebook(tmp_path / "bad.ipynb")
    assert jobnb.jobs() == []


def test_record_outside_a_notebook_job_does_nothing(capsys):
    assert jobnb.record("x", 1) is None
    assert capsys.readouterr() == ("", "")
    with pytest.raises(TypeError, match="needs a name"):
        jobnb.record("", 1)


def test_notebook_paths_are_absolute_at_submit(tmp_path, monkeypatch):
    from jobnb.payload import NotebookPayload

    copy("params.ipynb", tmp_path)
    (tmp_path / "sub").mkdir()
    payload = NotebookPayload.prepare("params.ipynb", None, "sub/out.ipynb", None, "abc")
    assert (payload.path, payload.output, payload.cwd) == (
        str(tmp_path / "params.ipynb"),
        str(tmp_path / "sub" / "out.ipynb"),
        str(tmp_path),
    )
    monkeypatch.chdir(tmp_path / "sub")
    assert NotebookPayload.prepare("../params.ipynb", None, None, None, "abc").output == str(
        tmp_path / "params-abc.ipynb"
    )
    assert os.path.isabs(NotebookPayload.prepare("../params.ipynb", None, ".", None, "d").output)
