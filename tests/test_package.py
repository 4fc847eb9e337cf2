"""The package as a user meets it: import cost, the command line, the demo."""

from __future__ import annotations

import subprocess
import sys

import jobnb


def test_import_jobnb_stays_light():
    heavy = ("redis", "rq", "huey", "ipywidgets", "pandas", "IPython", "numpy")
    code = f"import sys, jobnb; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_one_exception_root():
    for name in (
        "ConfigError",
        "PayloadError",
        "BackendUnavailable",
        "JobNotFound",
        "JobFailed",
        "JobCancelled",
        "JobTimeout",
        "JobLost",
        "ResultTimeout",
        "NotebookError",
        "NotebookCellError",
    ):
        assert issubclass(getattr(jobnb, name), jobnb.JobnbError), name


def test_cli_version_and_help():
    done = subprocess.run(["jobnb", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"jobnb {jobnb.__version__}"
    done = subprocess.run(["jobnb", "--help"], capture_output=True, text=True, check=True)
    assert "demo" in done.stdout


def test_demo_runs_on_the_default_backend(tmp_path):
    done = subprocess.run(
        ["jobnb", "demo"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "jobnb demo on the 'huey' backend" in done.stdout
    assert "result: 49" in done.stdout
    assert "ZeroDivisionError: division by zero" in done.stdout
    assert "demo finished: everything worked" in done.stdout


def test_demo_with_an_unknown_backend_says_so(tmp_path):
    done = subprocess.run(
        ["jobnb", "demo", "-b", "nope"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 1
    assert "unknown backend 'nope'; the known backends are" in done.stderr
    assert "Traceback" not in done.stderr
