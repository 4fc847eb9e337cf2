"""Every notebook in notebooks/ runs top to bottom, headless, on a real kernel, and shows
what its text says it shows."""

from __future__ import annotations

import nbformat
import pytest
from execute_notebooks import NOTEBOOKS, execute, harness_traces

#: what each tutorial's outputs must show (besides running without an error)
SHOWS = {
    "01-quickstart": ["(385, [1, 4, 9])", "finished; pulled", "ZeroDivisionError"],
    "02-functions-map-progress": ["{'lr': 0.1, 'score': 0.9}", "[0.9, 0.8, 0.7]", "CANCELLED"],
    "03-dashboard": ["<JobStatus.FAILED: 'failed'>: 6", "ValueError: seed"],
    "04-persistence": ["[0, 1, 4, 9, 16]", "squaring", "a worker serves"],
    "05-redis-scale-out": ["RQ worker(s)", "(idle; gpu)", "finished; pulled socket, ran_on"],
    "06-notebook-jobs": [
        "five thousand: drew 5000 values",
        "'histogram': [",
        "# Parameters",
        "n = 5000",
        "recorded mean",
    ],
    "07-schedules-retries-dependencies": [
        "149.85",
        "top is waiting - waiting for 3 jobs",
        "failed -> cancelled",
        "it waits for failed",
        "answered on try 3",
        "2 failed ConnectionError: try 2",
        "ran 3 times or more",
        "cron '0 6 * * *'",
        "schedule morning: removed",
    ],
}


def outputs(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                parts.append(output.text)
            elif "data" in output:
                parts.append(output.data.get("text/plain", ""))
    return "\n".join(parts)


def test_every_notebook_is_checked():
    assert sorted(SHOWS) == sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("name", sorted(SHOWS))
def test_the_tutorial_runs_top_to_bottom(name, tmp_path, redis_url, monkeypatch):
    monkeypatch.setenv("JOBNB_REDIS_URL", redis_url)  # notebooks/05's server: ours
    monkeypatch.delenv("JOBNB_SECRET_KEY")  # as on a fresh machine: 05 makes its key
    executed = execute(NOTEBOOKS / f"{name}.ipynb", tmp_path, redis_url=redis_url)
    shown = outputs(executed)
    for expected in SHOWS[name]:
        assert expected in shown, f"{name} does not show {expected!r}"
    # what `execute_notebooks.py --write` stores: a user's run, not this test's
    assert harness_traces(executed) == []


@pytest.mark.parametrize("name", sorted(SHOWS))
def test_the_stored_tutorial_shows_a_users_run_not_a_test_run(name):
    """What GitHub or nbviewer show: no scratch paths, no test server's port, no job
    shown queued that finished (regenerate with tests/execute_notebooks.py --write)."""
    stored = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert harness_traces(stored) == []
    assert SHOWS[name][0] in outputs(stored)  # it was stored with its outputs
