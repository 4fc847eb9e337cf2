"""A rehearsal of the Binder build without Docker: what repo2docker does with binder/,
step by step, in a fresh virtualenv, on a copy of the repository. Then binder/start
runs every notebook, and whatever it started is stopped when the rehearsal ends."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from conftest import eventually, free_port

ROOT = Path(__file__).resolve().parent.parent
LEFT_OUT = shutil.ignore_patterns(
    ".git", ".jobnb", "__pycache__", "*.egg-info", "build", ".pytest_cache", ".ruff_cache"
)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done


def test_the_binder_build_runs_every_notebook(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=LEFT_OUT)
    assert (repo / "binder" / "apt.txt").read_text().split() == ["redis-server"]
    assert shutil.which("redis-server"), "apt.txt's redis-server is not installed here"

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    env.pop("PYTHONPATH", None)  # nothing of this machine's Python leaks in
    for var in (
        "JOBNB_BACKEND",
        "JOBNB_REDIS_URL",
        "JOBNB_HOME",
        "JOBNB_SECRET_KEY",
        "VIRTUAL_ENV",
    ):
        env.pop(var, None)
    python = str(venv / "bin" / "python")
    run([python, "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"], cwd=repo, env=env)
    run(["bash", "binder/postBuild"], cwd=repo, env=env)
    assert (venv / "bin" / "jobnb").exists()  # installed into the fresh environment

    port = free_port()
    start = subprocess.Popen(
        ["binder/start", python, "tests/execute_notebooks.py"],
        cwd=repo,
        env=dict(env, REDIS_PORT=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # one process group: start and all it launched
    )
    try:
        shown, _ = start.communicate(timeout=600)
    finally:
        try:
            os.killpg(start.pid, signal.SIGTERM)  # the Redis server and the workers
        except ProcessLookupError:
            pass
    notebooks = len(list((repo / "notebooks").glob("*.ipynb")))
    assert start.returncode == 0, shown
    assert f"{notebooks} of {notebooks} notebooks ran top to bottom" in shown
    assert "jobnb" in run([python, "-c", "import jobnb; print(jobnb.__file__)"], env=env).stdout
    # stopped, as the rehearsal ends: no process left in its group, nothing on its port
    try:
        eventually(lambda: not _group_alive(start.pid), timeout=30)
    finally:
        if _group_alive(start.pid):
            os.killpg(start.pid, signal.SIGKILL)
    assert _port_closed(port)


def _group_alive(group: int) -> bool:
    found = subprocess.run(["pgrep", "-g", str(group)], capture_output=True, text=True)
    return bool(found.stdout.strip())


def _port_closed(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0
