"""How the worker of a SQLite home learns at once that a job was queued: a wake-up,
not a poll. (A Redis queue needs none: its workers wait in BRPOP.)

The worker binds a Unix datagram socket, ``HOME/worker.wake`` (0600, in the home only
its user controls: private_home.py), and its threads wait on it between two looks at
the queue; whoever queues a job (a kernel's submit, once its transaction is committed;
the worker's own requeues) sends it one empty datagram. A wake-up carries nothing: a
thread woken reads the queue, as it would have by polling, so a lost or extra datagram
costs at most one look, and one that takes a job while more wait wakes the next. They
still look every ``LOOK_EVERY`` seconds without one (a kernel of an older jobnb sends
none; a home whose path is too long for a socket has none).
"""

from __future__ import annotations

import atexit
import os
import socket
import sys
import threading
import time
from pathlib import Path

WAKE_FILE = "worker.wake"
LOOK_EVERY = 0.05  # seconds a worker thread waits for a wake-up before it looks anyway
_PATH_MOST = 107  # bytes of a Unix socket's path (sun_path, its NUL included, is 108)


def wake_path(home: str | os.PathLike) -> Path:
    return Path(home) / WAKE_FILE


def _fits(path: Path) -> bool:
    return len(os.fsencode(path)) <= _PATH_MOST


_sender: socket.socket | None = None  # an unbound datagram socket to send from
_sender_made = threading.Lock()


def _sending_socket() -> socket.socket:
    global _sender
    with _sender_made:
        if _sender is None:
            _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            _sender.setblocking(False)
            atexit.register(_sender.close)
        return _sender


def wake_worker(home: str | os.PathLike) -> None:
    """Tell the worker of ``home`` a job was queued; nothing if no worker listens (its
    queue is read when one starts), or if its socket is full (it has wake-ups waiting)."""
    path = wake_path(home)
    if not _fits(path):
        return
    try:
        _sending_socket().sendto(b"", os.fspath(path))
    except OSError:  # no worker (no file, nobody bound), or wake-ups already waiting
        pass


class WakeUps:
    """The worker's end: bound for the worker's life (it holds the home's lock, so no
    other worker is bound there; a file left by a worker that died is replaced)."""

    def __init__(self, home: str | os.PathLike) -> None:
        self.path = wake_path(home)
        self.socket: socket.socket | None = None
        if not _fits(self.path):
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            try:
                os.unlink(self.path)  # (a socket file outlives a worker killed)
            except FileNotFoundError:
                pass
            sock.settimeout(LOOK_EVERY)
            sock.bind(os.fspath(self.path))
            os.chmod(self.path, 0o600)  # (the home is 0700 already: belt and braces)
        except OSError as exc:  # (a folder of that name, ...): the threads poll instead
            sock.close()
            print(
                f"jobnb worker: cannot make {self.path} ({exc}); looking at the queue "
                f"every {LOOK_EVERY:g} s instead",
                file=sys.stderr,
                flush=True,
            )
            return
        self.socket = sock

    def wait(self) -> None:
        """Return when woken (one wake-up taken: several threads waiting are woken one
        per datagram), or after ``LOOK_EVERY`` s."""
        if self.socket is None:
            time.sleep(LOOK_EVERY)  # (no socket: a poll at that pace)
            return
        try:
            self.socket.recv(1)
        except (TimeoutError, InterruptedError):
            pass

    def wake(self) -> None:
        """Wake another thread of this worker (the queue has more than one took)."""
        wake_worker(self.path.parent)

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
