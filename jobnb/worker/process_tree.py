"""Every process a worker process started, also those that left its process group or
its session, found and killed (Linux).

A job's worker process makes itself a *child subreaper* (``become_subreaper``): a
process its job started and then orphaned (a double-forked daemon, whose parent
exited) is re-parented to the worker instead of to init, so it stays among the
worker's descendants whatever session or process group it moved to. ``kill_tree``
finds them all by their parent links in /proc, stops them (so that none starts
another meanwhile), then kills them.

Elsewhere than Linux there is neither: ``become_subreaper`` does nothing and
``descendants`` finds nothing, so only the process groups given to ``kill_tree`` are
killed: a process a job started in a session of its own (``start_new_session=True``,
``setsid``, a daemon) survives a cancel or a timeout there.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterable

PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>


def become_subreaper() -> bool:
    """Make this process adopt its orphaned descendants (Linux); whether it did.

    An adopted process that ends stays a zombie until this process reaps it
    (``reap_zombies``)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes  # Linux only, in the worker: never loaded by `import jobnb`

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap_zombies() -> None:
    """Collect the exit status of every child of this process that has ended.

    Only when no job runs: a job's own ``subprocess.Popen`` waits for its children's
    status, which this would take from it."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _parents() -> dict[int, int]:
    """The parent pid of every process, read from /proc ({} without /proc)."""
    found = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                text = stat.read()
        except OSError:  # it ended meanwhile
            continue
        # "pid (command) state ppid ...": the command may hold spaces and parentheses
        fields = text[text.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            found[int(name)] = int(fields[1])
    return found


def children(pid: int) -> list[int]:
    """The pids of the processes whose parent is ``pid``."""
    return [child for child, parent in _parents().items() if parent == pid]


def descendants(pid: int) -> list[int]:
    """The pids of the processes below ``pid`` (children, theirs, and so on)."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid: int, groups: Iterable[int] = ()) -> None:
    """SIGKILL ``pid``, every process below it and the process groups ``groups``.

    ``pid`` and each process found below it are first stopped (SIGSTOP), and the search
    repeated until it finds no new one: a process cannot start another once stopped,
    nor reap one (which would take it out of the tree). ``pid`` may be this process
    itself: it is then killed last, not stopped."""
    own = pid == os.getpid()
    if not own:
        _signal(pid, signal.SIGSTOP)
    stopped: list[int] = []
    seen: set[int] = set()
    while True:
        new = [child for child in descendants(pid) if child not in seen]
        if not new:
            break
        for child in new:
            _signal(child, signal.SIGSTOP)
        seen.update(new)
        stopped.extend(new)
    for child in stopped:
        _signal(child, signal.SIGKILL)
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def lock_holders(paths: Iterable[str | os.PathLike], kind: str | None = None) -> set[int]:
    """The pids holding a write lock on any of the files at ``paths`` (those that
    exist), from /proc/locks (Linux); only locks of ``kind`` ("FLOCK", "POSIX") if
    given. OSError when /proc/locks cannot be read."""
    inodes = set()
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        inodes.add(f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}")
    holders = set()
    with open("/proc/locks") as locks:
        for line in locks:  # "1: FLOCK  ADVISORY  WRITE 1234 fe:00:56789 0 EOF"
            fields = line.split()
            if "->" in fields or "WRITE" not in fields:  # (-> : a process waiting)
                continue
            if kind is not None and kind not in fields:
                continue
            at = fields.index("WRITE")  # then the pid, then the file's device:inode
            pid, inode = (fields[at + 1 : at + 3] + ["", ""])[:2]
            if inode in inodes and pid.lstrip("-").isdigit():
                holders.add(int(pid))
    return holders
