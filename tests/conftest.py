"""Shared fixtures: every test runs in its own directory with a clean configuration,
and the workers it started are stopped after it. The session starts its own
``redis-server`` on a free port (never the machine's), and stops it at the end."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
from redis_server import free_port, start_redis_server  # noqa: F401 - the tests' too

import jobnb
from jobnb import api

#: Every backend set-up the contract suite runs on: a backend name, or a name and the
#: store it runs over ("huey-redis": the huey backend on a Redis queue).
BACKEND_NAMES = ["thread", "subprocess", "huey", "huey-redis", "rq"]
#: Backends whose workers are separate processes (a job there cannot take down the test).
PROCESS_BACKENDS = ["subprocess", "huey", "huey-redis", "rq"]

ENV_VARS = (
    "JOBNB_BACKEND",
    "JOBNB_WORKERS",
    "JOBNB_REDIS_URL",
    "JOBNB_HOME",
    "JOBNB_RESULT_TTL",
    "JOBNB_SECRET_KEY_FILE",
    "JOBNB_NOTIFY",
)
#: the key every kernel and worker of the tests' Redis servers signs jobs with (set once,
#: not cleared per test: the workers the tests start inherit it)
TEST_SECRET_KEY = "jobnb-tests-secret-key-0123456789abcdef"
os.environ["JOBNB_SECRET_KEY"] = TEST_SECRET_KEY


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

    stop_worker(tmp_path / ".jobnb", grace=0)  # a huey worker the test started, if any


@pytest.fixture
def kernel(tmp_path):
    """A client of a fresh python3 kernel working in the test's folder (kernel_client.py)."""
    from kernel_client import kernel_in  # lazy: jupyter_client, for the kernel tests only

    yield from kernel_in(tmp_path)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[str]:
    """The URL of a redis-server this session started (and stops): tests may flush it."""
    server, url = start_redis_server(tmp_path_factory.mktemp("redis"))
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server) -> Iterator[str]:
    """The session's Redis server, emptied after the test."""
    yield redis_server
    import redis

    redis.Redis.from_url(redis_server).flushdb()  # ours: started by this session


def start_redis_worker(
    url: str, cwd, *extra: str, backend: str = "huey", python: list[str] | None = None
) -> subprocess.Popen:
    """A ``jobnb worker --backend huey|rq --url URL`` process, once its workers (``-w``,
    default 2) say they are alive; run by ``python`` (a command, default this Python)."""
    if backend == "rq":
        import redis
        from rq import Worker

        client = redis.Redis.from_url(url)
        before = len(Worker.all(connection=client))
    worker = subprocess.Popen(
        [*(python or [sys.executable]), "-m", "jobnb.cli", "worker", "--backend", backend]
        + ["--url", url, *extra],
        cwd=cwd,
    )
    if backend == "rq":
        count = int(extra[extra.index("-w") + 1]) if "-w" in extra else 2
        eventually(lambda: len(Worker.all(connection=client)) >= before + count, timeout=20)
        return worker
    from jobnb.backends.huey_presence import live_workers
    from jobnb.backends.huey_queue import open_records

    records = open_records(cwd / ".jobnb", url)
    eventually(lambda: any(f"pid {worker.pid}" in w for w in live_workers(records)))
    return worker


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _configured(request, monkeypatch, tmp_path) -> Iterator[str]:
    """Configure jobnb for the set-up ``request.param`` (also for the processes and
    kernels a test starts, through the environment); yield the backend's name."""
    name = request.param
    if name not in ("huey-redis", "rq"):
        jobnb.configure(name)
        monkeypatch.setenv("JOBNB_BACKEND", name)
        yield name
        return
    backend = name.removesuffix("-redis")
    url = request.getfixturevalue("redis_url")
    # huey's queue is in Redis when its home is a URL; rq's server is redis_url
    setting = "home" if backend == "huey" else "redis_url"
    monkeypatch.setenv("JOBNB_BACKEND", backend)
    monkeypatch.setenv(f"JOBNB_{setting.upper()}", url)
    jobnb.configure(backend, **{setting: url})
    marker = request.node.get_closest_marker("workers")
    workers = str(marker.args[0] if marker else 2)
    worker = start_redis_worker(url, tmp_path, "-w", workers, backend=backend)
    try:
        yield backend
    finally:
        api.shutdown()
        stop_process(worker)


@pytest.fixture(params=BACKEND_NAMES)
def backend(request, monkeypatch, tmp_path) -> Iterator[str]:
    """The name of the backend under test; jobnb is configured to use it."""
    yield from _configured(request, monkeypatch, tmp_path)


@pytest.fixture(params=PROCESS_BACKENDS)
def process_backend(request, monkeypatch, tmp_path) -> Iterator[str]:
    yield from _configured(request, monkeypatch, tmp_path)


def kill_and_see_lost(job, pid: int, reason: str = "stopped sending heartbeats") -> None:
    """SIGKILL the worker ``pid`` while ``job`` runs: the job must show ``lost`` within
    30 s (its heartbeats stop), say why (``reason``), and raise JobLost from ``result()``."""
    import os
    import signal

    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    job.wait(timeout=40)
    assert job.status is jobnb.JobStatus.LOST
    assert time.monotonic() - killed <= 31
    assert reason in job.error
    with pytest.raises(jobnb.JobLost):
        job.result()


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
