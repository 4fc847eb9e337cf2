"""Shared fixtures: every test runs in its own directory with a clean configuration,
and the workers it started are stopped after it."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

import jobnb
from jobnb import api

#: Every backend the contract suite runs on. Later backends join this list.
BACKEND_NAMES = ["thread", "subprocess", "huey"]
#: Backends whose workers are separate processes (a job there cannot take down the test).
PROCESS_BACKENDS = ["subprocess", "huey"]

ENV_VARS = ("JOBNB_BACKEND", "JOBNB_WORKERS", "JOBNB_REDIS_URL", "JOBNB_HOME")


@pytest.fixture(autouse=True)
def clean_jobnb(tmp_path, monkeypatch):
    """A fresh working directory, no JOBNB_* variables, no configured backend."""
    monkeypatch.chdir(tmp_path)
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    api.shutdown()
    yield tmp_path
    api.shutdown()
    from jobnb.backends.huey_worker import stop_worker

    stop_worker(tmp_path / ".jobnb")  # a huey worker the test started, if any


@pytest.fixture(params=BACKEND_NAMES)
def backend(request) -> str:
    """The name of the backend under test; jobnb is configured to use it."""
    jobnb.configure(request.param)
    return request.param


@pytest.fixture(params=PROCESS_BACKENDS)
def process_backend(request) -> str:
    jobnb.configure(request.param)
    return request.param


def eventually(check: Callable[[], object], timeout: float = 10.0, interval: float = 0.02):
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: {check}")
        time.sleep(interval)
