"""The fronts declare once what they share: ``jobnb run`` and ``%submit_notebook`` take
the same options, ``python -m jobnb`` is the ``jobnb`` command, and whether ``--no-wait``
makes sense is asked of the backend."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from IPython.core.interactiveshell import InteractiveShell

import jobnb

NOTEBOOKS = Path(__file__).parent / "notebooks"
FLAG = re.compile(r"(?<![\w-])(--?[a-z][\w-]*)")


def jobnb_command(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jobnb.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, **env},
    )


def test_python_dash_m_jobnb_is_the_jobnb_command():
    done = subprocess.run(
        [sys.executable, "-m", "jobnb", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"jobnb {jobnb.__version__}"


def test_jobnb_run_and_the_submit_notebook_magic_take_the_same_options():
    cli_help = jobnb_command("run", "--help").stdout
    shell = InteractiveShell.instance()
    if not hasattr(shell, "_jobnb_magics"):
        shell.run_line_magic("load_ext", "jobnb")
    magic_help = shell.find_line_magic("submit_notebook").__doc__
    cli_options, magic_options = set(FLAG.findall(cli_help)), set(FLAG.findall(magic_help))
    assert {"-p", "--parameter", "-o", "-b", "-q", "--queue"} <= magic_options
    # the magic's own: a notification in the notebook's page (a terminal has none)
    assert magic_options - cli_options == {"--notify"}
    # the command's own: its help, and waiting for the job (a magic never waits)
    assert cli_options - magic_options == {"-h", "--help", "--log", "--no-wait"}
    for backend in ("thread", "subprocess (or process)", "huey", "rq (or redis)"):
        assert backend in " ".join(cli_help.split())
        assert backend in " ".join(magic_help.split())


def test_jobnb_run_sends_a_notebook_to_a_named_queue(tmp_path, redis_url):
    shutil.copy(NOTEBOOKS / "params.ipynb", tmp_path)
    done = jobnb_command(
        *("run", "params.ipynb", "--no-wait", "-b", "rq", "-q", "nightly"),
        cwd=tmp_path,
        JOBNB_REDIS_URL=redis_url,
    )
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.split()[1]
    jobnb.configure("rq", redis_url=redis_url)
    assert jobnb.get(job_id).record().queue == "nightly"
