"""The SQLite file of a records store, as its processes share it: one connection per
thread, opened in WAL mode, to whatever file is at the path *now*. Another process may
delete the file or replace it (a user's ``rm -r .jobnb``, a restore): the next call then
opens the new one, or makes it again, empty, with its tables; it never goes on, unaware,
with the old inode. The file holds pickles, which run code: it is its owner's alone
(private_home.py: made 0600 in a 0700 folder, never through a link).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from pathlib import Path

from ..private_home import check_file, create_private_file, private_home
from .sqlite_schema import prepare

#: what a WAL is cut back to once checkpointed (SQLite's default checkpoint: ~4 MB)
WAL_KEPT_BYTES = 4 * 2**20


def _identity(path: str | Path) -> tuple[int, int] | None:
    """Which file is at ``path`` now (None: none). An open connection keeps its file's
    inode in use, so a new file there never has the same one."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class SqliteFile:
    """The file at ``path``, each thread's writes waiting up to ``busy_timeout`` seconds
    for another process's lock. Its errors are raw (sqlite3's, OSError's): the store
    that uses it says them clearly, and calls ``drop`` first."""

    def __init__(self, path: Path, busy_timeout: float) -> None:
        self.path = path
        self._name = os.fspath(path)  # (a str: os.stat takes it without converting)
        self.busy_timeout = busy_timeout
        self._local = threading.local()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, to the file at ``path`` now: one stat a call finds a
        file deleted or replaced under an open connection and opens the new one, or
        makes it again."""
        local = self._local
        db = getattr(local, "db", None)
        if db is not None and _identity(self._name) == local.identity:
            # SQLite opens a file it cannot write read-only, and it stays so: once the
            # file can be written (remounted, permissions mended), open it again
            if local.writable or not os.access(self.path, os.W_OK):
                return db
        self.drop()
        # a new file, or a new thread: its folder and the file are ours alone (checked
        # once per process per folder), and SQLite, which follows links, meets none
        private_home(self.path.parent)
        check_file(self.path)
        local.identity = self._make_if_missing()
        local.writable = os.access(self.path, os.W_OK)
        db = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        local.db = db
        if self.path.stat().st_size == 0:  # new: its pages go back as jobs are forgotten
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # (before WAL writes a header)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL keeps it consistent on a crash
        # a WAL that held a 500 MB result is cut back to this once checkpointed
        db.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
        prepare(db)
        return db

    def drop(self) -> None:
        """Close this thread's connection: the next call opens the file again."""
        db = getattr(self._local, "db", None)
        self._local.db = None
        if db is not None:
            try:
                db.close()
            except sqlite3.Error:
                pass

    def _make_if_missing(self) -> tuple[int, int]:
        """Create the file if it is missing, with a lock on its folder (several processes
        may find it gone at once); return its identity. A missing file's WAL and index
        are an older file's: left there, they would be read as the new one's."""
        if _identity(self.path) is None:
            private_home(self.path.parent)  # (gone too? made again, 0700)
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                fcntl.flock(folder, fcntl.LOCK_EX)
                if _identity(self.path) is None:
                    for suffix in ("-wal", "-shm", "-journal"):
                        Path(f"{self.path}{suffix}").unlink(missing_ok=True)
                    create_private_file(self.path)  # 0600: it holds pickles, which run code
            finally:
                os.close(folder)  # (and the lock with it)
        return _identity(self.path)
