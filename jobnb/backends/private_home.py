"""A jobnb home only its user controls, kept as ssh keeps ``~/.ssh``.

A home's files hold pickles (``jobs.db``: payloads, outcomes, queue messages), and
loading a pickle runs code; ``worker.lock`` names the pid ``jobnb worker --stop``
signals. Whoever can write a home can therefore run code as its user. So a home, and
each file jobnb uses in it, must be owned by this process's user, writable by nobody
else, and not a symbolic link; otherwise it is refused (``UnsafeHome``, naming the path,
its owner and mode, and the fix), never used nor changed. A home of ours that others can
merely read (made 0755 by an older jobnb, or under a umask of 022) is tightened to 0700,
its files to 0600.

Every place jobnb makes a home or opens a file in it comes here: the folder is made 0700
and each file 0600 whatever the umask, and files are opened without following symbolic
links. The folder and the files in it are checked once per process per folder (one
``lstat`` a call after that, so a submit stays cheap; a home deleted and made again is
checked again). Once a folder is ours and writable by us alone, nobody else can plant a
file in it; opening without following links still guards a home replaced meanwhile.
"""

from __future__ import annotations

import errno
import os
import pwd
import stat
import threading
from pathlib import Path
from typing import IO

from ..exceptions import UnsafeHome

#: the files jobnb makes in a home (SQLite's companions of its files included): each
#: is checked with the folder, before any is opened
HOME_FILES = (
    "jobs.db",
    "jobs.db-wal",
    "jobs.db-shm",
    "jobs.db-journal",
    "queue.db",  # (a home made before the queue moved into jobs.db)
    "queue.db-wal",
    "queue.db-shm",
    "queue.db-journal",
    "worker.log",
    "worker.lock",
    "worker.stop",
    "secret.key",
)
PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600
_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH
_OTHERS_ANY = stat.S_IRWXG | stat.S_IRWXO

_checked: dict[str, tuple[int, int]] = {}  # folder -> (device, inode) found safe
_checking = threading.Lock()


def home_path(home: str | os.PathLike) -> Path:
    """``home`` made absolute with the folders above it resolved, but not the home itself:
    a home that is a symbolic link stays one, for :func:`private_home` to see (and refuse)."""
    path = Path(home).absolute()
    if path.name in ("", ".", ".."):
        return path.resolve()
    return path.parent.resolve() / path.name


def private_home(folder: str | os.PathLike) -> Path:
    """The home ``folder``, made 0700 (with the folders above it) if missing; refused
    (UnsafeHome) if it, or a file of :data:`HOME_FILES` in it, is not this user's alone;
    tightened if others can read it. Checked once per process per folder."""
    path = Path(folder)
    key = os.fspath(path)
    try:
        found = os.lstat(key)
    except FileNotFoundError:
        found = None
    if found is not None and _checked.get(key) == (found.st_dev, found.st_ino):
        return path
    with _checking:
        if found is None:
            path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
            found = os.lstat(key)
        _refuse_unless_ours(path, found, "folder")
        if stat.S_IMODE(found.st_mode) & _OTHERS_ANY:  # ours, readable by others
            os.chmod(key, stat.S_IMODE(found.st_mode) & ~_OTHERS_ANY)
        for name in HOME_FILES:
            check_file(path / name)
        _checked[key] = (found.st_dev, found.st_ino)
    return path


def check_file(path: Path) -> None:
    """Refuse the file at ``path`` unless it is ours alone (a missing one is fine),
    tightening it to owner-only if others can read it: for a file another library opens
    by its name (SQLite), in a folder :func:`private_home` checked."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return
    _refuse_unless_ours(path, found, "file")
    if stat.S_IMODE(found.st_mode) & _OTHERS_ANY:
        os.chmod(path, stat.S_IMODE(found.st_mode) & ~_OTHERS_ANY)


def create_private_file(path: Path) -> None:
    """Create ``path`` 0600 (whatever the umask) unless it is there; an existing one is
    checked. Never through a symbolic link: one planted at ``path`` is refused."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, PRIVATE_FILE))
    except FileExistsError:
        check_file(path)


def open_private(path: Path, mode: str = "r", **options) -> IO:
    """``open(path, mode)`` for a file of a home: created 0600 whatever the umask, never
    through a symbolic link, refused if another user owns it or others can write it."""
    return open(path, mode, opener=_private_opener, **options)  # noqa: SIM115 - the caller's


def _private_opener(name: str, flags: int) -> int:
    try:
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # (O_NOFOLLOW's answer to a link)
            _refuse_unless_ours(Path(name), os.lstat(name), "file")
        raise
    try:
        found = os.fstat(fd)
        _refuse_unless_ours(Path(name), found, "file")
        if stat.S_IMODE(found.st_mode) & _OTHERS_ANY:
            os.fchmod(fd, stat.S_IMODE(found.st_mode) & ~_OTHERS_ANY)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refuse_unless_ours(path: Path, found: os.stat_result, kind: str) -> None:
    """UnsafeHome unless ``found`` (the lstat of ``path``) is a ``kind`` ("folder" or
    "file") owned by this process's user and writable by nobody else."""
    mode = stat.S_IMODE(found.st_mode)
    where = f"the jobnb home {path}" if kind == "folder" else f"the jobnb home file {path}"
    why = (
        "A jobnb home holds pickles, which run code when jobnb loads them: whoever can "
        "change it can run code as you, so jobnb uses a home only you control."
    )
    me = os.geteuid()
    if stat.S_ISLNK(found.st_mode):
        target = os.readlink(path)
        fix = (
            f"jobnb follows no link in a home. If you made the link, use the folder it "
            f"points to as the home (JOBNB_HOME={target}); if not, remove it (`rm {path}`) "
            "and see who else can write there."
            if kind == "folder"
            else f"jobnb follows no link in a home. Remove it (`rm {path}`) and see who "
            "else could write there."
        )
        raise UnsafeHome(f"{where} is a symbolic link (to {target}). {why} {fix}", str(path))
    if found.st_uid != me:
        fix = (
            "Choose a home of your own (JOBNB_HOME, or jobnb.configure(home=...)), or, if "
            f"it is yours, `chown {_user(me, name_only=True)} {path}` and "
            f"`chmod {700 if kind == 'folder' else 600} {path}`."
        )
        raise UnsafeHome(
            f"{where} is owned by {_user(found.st_uid)}, not by you, {_user(me)}; "
            f"mode {mode:04o}. {why} {fix}",
            str(path),
        )
    if mode & _OTHERS_WRITE:
        who = " and ".join(
            name
            for bit, name in ((stat.S_IWGRP, "its group"), (stat.S_IWOTH, "others"))
            if mode & bit
        )
        fix = (
            f"`chmod {700 if kind == 'folder' else 600} {path}` if no one else needs it, or "
            "choose another home (JOBNB_HOME, or jobnb.configure(home=...))."
        )
        raise UnsafeHome(
            f"{where} is writable by {who} (owner {_user(found.st_uid, name_only=True)}, "
            f"mode {mode:04o}). {why} {fix}",
            str(path),
        )
    wanted = stat.S_ISDIR(found.st_mode) if kind == "folder" else stat.S_ISREG(found.st_mode)
    if not wanted:
        raise UnsafeHome(
            f"{where} is not a {'folder' if kind == 'folder' else 'regular file'} "
            f"(mode {stat.filemode(found.st_mode)}): move it away, or choose another home "
            "(JOBNB_HOME).",
            str(path),
        )


def _user(uid: int, name_only: bool = False) -> str:
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no name here (a container, another machine's files)
        return str(uid) if name_only else f"uid {uid}"
    return name if name_only else f"{name} (uid {uid})"
