"""The huey queue under faults (issue 12): a submitter killed mid-``map`` leaves no job
queued for ever, a waiting kernel replaces a dead worker, a stopped worker lets its jobs
finish within a grace period and requeues the rest, and a worker with no threads is
refused."""

from __future__ import annotations

import subprocess
import sys

import pytest

import jobnb


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_a_worker_with_no_threads_is_refused(tmp_path, workers):
    worker = subprocess.run(
        [sys.executable, "-m", "jobnb.cli", "worker", "-w", workers],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 2
    assert f"-w/--workers: must be at least 1, not {workers}" in worker.stderr
    assert not (tmp_path / ".jobnb" / "worker.lock").exists()  # it took no home


def test_no_workers_is_a_config_error_naming_the_value(monkeypatch):
    with pytest.raises(jobnb.ConfigError, match="workers must be at least 1, not 0"):
        jobnb.configure(workers=0)
    monkeypatch.setenv("JOBNB_WORKERS", "0")
    with pytest.raises(jobnb.ConfigError, match="JOBNB_WORKERS must be at least 1, not 0"):
        jobnb.settings()
