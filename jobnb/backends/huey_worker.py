"""``jobnb worker --backend huey``: the Huey consumer of a jobnb home, and the
embedded default's automatic start.

A worker holds an exclusive lock on ``HOME/worker.lock`` for its whole life, so two
kernels submitting at once never leave two workers on one queue: the second one
finds the lock taken and exits. An automatically started worker exits by itself
after ``idle_exit`` seconds with nothing queued or running.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..job import JobStatus

DEFAULT_IDLE_EXIT = 600.0
_spawned: dict[Path, tuple[subprocess.Popen, float]] = {}
_checked: dict[Path, float] = {}
_held_locks: list = []  # a worker's lock file, open (so held) until it exits
CHECK_EVERY = 1.0  # seconds between two liveness checks from one kernel


def _lock_path(home: Path) -> Path:
    return Path(home) / "worker.lock"


def worker_pid(home: str | os.PathLike) -> int | None:
    """The pid of the worker serving ``home``, or None when there is none."""
    path = _lock_path(Path(home))
    if not path.exists():
        return None
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def ensure_worker(home: Path, workers: int) -> None:
    """Start a worker for ``home`` in the background unless one is alive (checked at
    most once a second per kernel, so submitting stays cheap)."""
    now = time.monotonic()
    if now - _checked.get(home, -CHECK_EVERY) < CHECK_EVERY:
        return
    _checked[home] = now
    spawned = _spawned.get(home)
    if spawned and spawned[0].poll() is None and now - spawned[1] < 30:
        return  # ours, still starting up or running
    if worker_pid(home) is not None:
        return
    log = open(Path(home) / "worker.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobnb.cli",
            "worker",
            "--backend",
            "huey",
            "--home",
            str(home),
            "-w",
            str(workers),
            "--idle-exit",
            str(DEFAULT_IDLE_EXIT),
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    log.close()
    # reap it when it exits (idle, or stopped), so it leaves no zombie in the kernel
    threading.Thread(target=proc.wait, name="jobnb-worker-reaper", daemon=True).start()
    _spawned[home] = (proc, now)


def run_worker(
    home: str | os.PathLike,
    workers: int = 2,
    kind: str = "thread",
    idle_exit: float | None = None,
    redis_url: str | None = None,
) -> int:
    """Serve ``home``'s queue (or the Redis queue at ``redis_url``) until stopped
    (SIGINT/SIGTERM) or idle for ``idle_exit`` s."""
    from .huey_queue import make_huey, open_records

    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not redis_url and not _take_lock(home):
        return 1
    huey = make_huey(home, redis_url)
    records = open_records(home, redis_url)
    # poll the queue every few ms at most: a job submitted after a long idle time
    # starts at once, where Huey's defaults back off to 10 s between polls (a Redis
    # queue is not polled: its worker waits in BRPOP)
    consumer = huey.create_consumer(
        workers=workers,
        worker_type=kind,
        periodic=False,
        initial_delay=0.001,
        backoff=1.5,
        max_delay=0.01,
    )
    if idle_exit:
        threading.Thread(target=_exit_when_idle, args=(records, idle_exit), daemon=True).start()
    if redis_url:
        from .redis_connection import redacted

        name = f"{socket.gethostname()} pid {os.getpid()}"
        threading.Thread(target=_say_alive, args=(records, name), daemon=True).start()
        serving = redacted(redis_url)
    else:
        serving = str(home)
    print(
        f"jobnb worker: serving {serving} with {workers} {kind} workers (pid {os.getpid()})",
        flush=True,
    )
    try:
        consumer.run()
    finally:
        if redis_url:
            records.worker_gone(name)
    return 0


def _take_lock(home: Path) -> bool:
    """Hold ``HOME/worker.lock`` for this process's life: one worker per queue file."""
    lock = open(_lock_path(home), "a+")  # noqa: SIM115 - held for the worker's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(
            f"jobnb worker: a worker already serves {home} (pid {worker_pid(home)})",
            file=sys.stderr,
        )
        return False
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    _held_locks.append(lock)
    return True


def _say_alive(records, name: str) -> None:
    from .redis_records import WORKER_BEAT

    while True:
        try:
            records.worker_alive(name)
        except Exception as exc:  # Redis away for a moment: say so, go on
            print(f"jobnb worker: cannot reach Redis: {exc}", file=sys.stderr, flush=True)
        time.sleep(WORKER_BEAT)


def _exit_when_idle(records, idle_exit: float) -> None:
    idle_since = time.monotonic()
    while True:
        time.sleep(min(5.0, idle_exit / 4))
        counts = records.counts()
        if counts[JobStatus.QUEUED] or counts[JobStatus.RUNNING]:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= idle_exit:
            print(f"jobnb worker: idle for {idle_exit:g} s, exiting", flush=True)
            os.kill(os.getpid(), signal.SIGINT)  # Huey's graceful shutdown
            return


def stop_worker(home: str | os.PathLike, timeout: float = 10.0) -> int | None:
    """Stop the worker of ``home``; returns its pid, or None if there was none."""
    pid = worker_pid(home)
    if pid is None or pid < 0:
        return None
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while worker_pid(home) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    if worker_pid(home) is not None:
        os.kill(pid, signal.SIGKILL)
    return pid
