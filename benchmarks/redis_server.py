"""A redis-server of a benchmark's own, on a free loopback port (never the machine's
6379), keeping nothing on disk; every benchmark that needs Redis starts it here."""

from __future__ import annotations

import socket
import subprocess
import time


def start_redis(scratch: str) -> tuple[subprocess.Popen, str]:
    """Start the server in ``scratch`` and wait until it answers; return it and its URL.
    The caller terminates it."""
    import redis  # lazy: only the Redis measures need it

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no"],
        cwd=scratch,
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return server, f"redis://127.0.0.1:{port}/0"
