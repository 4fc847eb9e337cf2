"""A redis-server of the tests' own, on a free loopback port (never the machine's 6379),
keeping nothing on disk unless told; for conftest's fixtures and the scripts beside it
(execute_notebooks.py), so without pytest."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis_server(
    folder: Path, *options: str, port: int | None = None
) -> tuple[subprocess.Popen, str]:
    """A redis-server on a free port (or ``port``: a server restarted where it was), in
    ``folder`` (its log: ``redis.log``), once it answers; and its URL. ``options`` are
    the server's (a later one wins: ``--appendonly yes``)."""
    import redis  # lazy: only the Redis tests need it

    exe = shutil.which("redis-server")
    if exe is None:  # CI installs it: a missing server fails the tests, never skips them
        raise RuntimeError("redis-server is not installed: `apt-get install redis-server`")
    port = port or free_port()
    server = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + list(options),
        cwd=folder,
        stdout=open(Path(folder) / "redis.log", "ab"),  # noqa: SIM115 - the server's, till it ends
        stderr=subprocess.STDOUT,
    )
    password = options[options.index("--requirepass") + 1] if "--requirepass" in options else None
    client = redis.Redis(port=port, password=password)
    deadline = time.monotonic() + 20  # (an append-only file is loaded first)
    while True:
        try:
            if client.ping():
                break
        except redis.ConnectionError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"redis-server on port {port} did not answer: see {folder}/redis.log"
                ) from None
            time.sleep(0.05)
    return server, f"redis://127.0.0.1:{port}/0"
