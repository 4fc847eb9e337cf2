"""What a records store's failures mean to its user: an error of the SQLite file or of
the file system under it (full, read-only, locked, no permission, damaged) becomes a
StoreUnavailable that names the file and says what to do, instead of a bare
``sqlite3.OperationalError: disk I/O error``.
"""

from __future__ import annotations

import errno
import functools
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from ...exceptions import JobnbError, StoreUnavailable
from ...worker.process_tree import lock_holders

# SQLite's primary result codes (an extended code keeps them in its low byte)
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26
#: what a SQLite store translates; of these, a constraint or a misuse is a bug: raised as is
SQLITE_FAULTS = (sqlite3.DatabaseError, OSError)
_BUGS = (sqlite3.IntegrityError, sqlite3.ProgrammingError)


def said_clearly(catch: tuple[type[BaseException], ...], translate: Callable) -> Callable:
    """A class decorator: every public method of the class, and ``__init__``, raises
    ``translate(self, exc)`` (a JobnbError) in place of an error of ``catch``; where
    ``translate`` gives ``exc`` back (a bug, not a fault), ``exc`` goes on as it is."""

    def wrap(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except JobnbError:
                raise
            except catch as exc:
                error = translate(self, exc)
                if error is exc:
                    raise
                raise error from None  # its message holds the reason: a short traceback

        return wrapper

    def decorate(cls):
        # (a function put between the decorator and its class would be "decorated" and
        # the class left bare, its faults going out raw: refused when it is imported)
        if not isinstance(cls, type):
            raise TypeError(f"said_clearly decorates a class, not {cls!r}")
        for name, value in list(vars(cls).items()):
            if callable(value) and (name == "__init__" or not name.startswith("_")):
                setattr(cls, name, wrap(value))
        return cls

    return decorate


def sqlite_error(path: Path, exc: BaseException, busy_timeout: float) -> BaseException:
    """The StoreUnavailable to raise for ``exc``, met while using the SQLite file
    ``path`` (or ``exc`` itself when it is a bug, not a fault of the file)."""
    if isinstance(exc, _BUGS):
        return exc
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    number = getattr(exc, "errno", None)
    mount = mount_point(path)
    if primary == _FULL or number == errno.ENOSPC:
        advice = (
            f"the file system mounted at {mount} is full ({_free(mount)} free): free "
            "space there, or move the home to another file system (JOBNB_HOME)"
        )
    elif primary == _READONLY or number in (errno.EROFS, errno.EACCES, errno.EPERM):
        advice = _unwritable(path, mount)
    elif primary in (_BUSY, _LOCKED):
        advice = (
            f"{_lock_holders(path)} has held a lock on it for more than {busy_timeout:g} s "
            "(a long transaction: a `sqlite3` shell, a backup, a stuck program): end that "
            "transaction or that process, or wait"
        )
    elif primary == _CANTOPEN:
        advice = f"it cannot be opened: {_unwritable(path, mount)}"
    elif primary in (_CORRUPT, _NOTADB):
        advice = (
            "it is damaged, or not a jobnb records file: move it away (jobnb then starts "
            "an empty one; the jobs it holds are lost to jobnb)"
        )
    elif primary == _IOERR:
        advice = (
            f"the file system mounted at {mount} failed to read or write it ({_free(mount)} "
            "free): see that it has room and works (`df`, `dmesg`)"
        )
    else:
        advice = "see the reason above"
    return StoreUnavailable(
        f"cannot use {path}, a file of the jobnb home {path.parent}: {exc}. "
        f"What to do: {advice}. "
        "jobnb tries again at the next call: nothing needs restarting once this is mended."
    )


def _unwritable(path: Path, mount: Path) -> str:
    try:
        read_only = bool(os.statvfs(mount).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        return (
            f"the file system mounted at {mount} is read-only: remount it read-write "
            f"(`mount -o remount,rw {mount}`), or choose a home elsewhere (JOBNB_HOME)"
        )
    return (
        f"make the folder {path.parent} and the files in it writable by this user "
        f"(uid {os.getuid()}), or choose a home elsewhere (JOBNB_HOME)"
    )


def mount_point(path: Path) -> Path:
    """The mount point of the file system that holds ``path`` (bind mounts included,
    which ``os.path.ismount`` misses)."""
    target = os.path.realpath(path)
    try:
        with open("/proc/self/mounts") as mounts:
            points = [line.split()[1].replace("\\040", " ") for line in mounts]
    except OSError:
        points = []
    inside = [p for p in points if target == p or target.startswith(p.rstrip("/") + "/")]
    if inside:
        return Path(max(inside, key=len))
    found = Path(target)
    while not os.path.ismount(found):
        found = found.parent
    return found


def _free(mount: Path) -> str:
    try:
        stats = os.statvfs(mount)
    except OSError:
        return "unknown"
    return f"{stats.f_bavail * stats.f_frsize / 2**20:.1f} MiB"


def _lock_holders(path: Path) -> str:
    """Which other processes hold a write lock on the database or its WAL index (from
    /proc/locks), in words; 'another process' where that cannot be told."""
    try:
        holders = lock_holders([path, Path(f"{path}-shm")])
    except OSError:
        holders = set()
    holders.discard(os.getpid())
    if not holders:
        return "another process"
    return "another process (" + ", ".join(f"pid {p}{_command(p)}" for p in sorted(holders)) + ")"


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return f": {comm.read().strip()}"
    except OSError:
        return ""
