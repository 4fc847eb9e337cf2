"""What each backend is built from: a small frozen dataclass per backend naming the
settings it takes, and nothing else.

A backend is made once per (name, options) and kept (``api.get_backend``), so the
options are its identity: a setting a backend does not take is not in its options,
and changing it leaves that backend, its pool and its running jobs as they are. The
settings are global (``configure(redis_url=...)`` on the thread backend is kept for
when rq is chosen), so a setting outside a backend's options is ignored by design,
not refused.

Also here, light enough for the settings to use: where a huey home is (a folder, or
a Redis server when the home is a ``redis://`` URL), decided in one function.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

from .. import defaults
from .private_home import home_path
from .redis_connection import check_url, redacted


@dataclass(frozen=True)
class BackendOptions:
    """Base of the options classes: built from the settings by field name."""

    @classmethod
    def from_settings(cls, settings: Any) -> BackendOptions:
        """The options of this kind that ``settings`` (a ``config.Settings``) give."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    def __repr__(self) -> str:  # a Redis URL's password never shows (subclasses: repr=False)
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("redis_url", "home"):
            if shown.get(name) is not None:
                shown[name] = redacted(str(shown[name]))
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


@dataclass(frozen=True, repr=False)
class ThreadOptions(BackendOptions):
    """``thread``: the size of its pool of threads in the kernel, and how much of each
    job's log the kernel keeps."""

    workers: int = defaults.WORKERS
    #: bytes of each job's log the kernel keeps (kernel_log.py)
    log_bytes_kept: int = defaults.LOG_BYTES_KEPT


@dataclass(frozen=True, repr=False)
class SubprocessOptions(BackendOptions):
    """``subprocess``: the size of its pool of worker processes, children of the kernel,
    and how much of each job's log the kernel keeps."""

    workers: int = defaults.WORKERS
    #: bytes of each job's log the kernel keeps (kernel_log.py)
    log_bytes_kept: int = defaults.LOG_BYTES_KEPT


@dataclass(frozen=True, repr=False)
class HueyOptions(BackendOptions):
    """``huey``: its home (a folder, or a Redis URL: see :func:`huey_home`), the threads
    of the worker a kernel starts for a SQLite home, how long ended jobs are kept
    (seconds; None: until forgotten) and how much of their logs. Not ``redis_url``,
    which is rq's: a URL set for rq must not move the embedded default's queue to
    Redis."""

    home: str = defaults.HOME
    workers: int = defaults.WORKERS
    result_ttl: float | None = None
    #: the key file of a Redis home (a folder home has its own: backends/secret_key.py)
    secret_key_file: str | None = None
    #: bytes of each job's log its store keeps (records/log_bounds.py)
    log_bytes_kept: int = defaults.LOG_BYTES_KEPT


@dataclass(frozen=True, repr=False)
class RqOptions(BackendOptions):
    """``rq``: its Redis server (None: a local one), the workers ``jobnb worker`` is
    told to start, how long ended jobs are kept (seconds; None: until forgotten) and
    how much of their logs."""

    redis_url: str | None = None
    workers: int = defaults.WORKERS
    result_ttl: float | None = None
    #: where its secret key is, if not in JOBNB_SECRET_KEY (backends/secret_key.py)
    secret_key_file: str | None = None
    #: bytes of each job's log its store keeps (records/log_bounds.py)
    log_bytes_kept: int = defaults.LOG_BYTES_KEPT


class HueyHome(NamedTuple):
    """Where a huey queue lives: the SQLite file's folder, or a Redis server (the
    folder is then ``./.jobnb``, which holds only this machine's files)."""

    folder: Path
    redis_url: str | None


def redis_home(home: str | os.PathLike) -> str | None:
    """The Redis URL a huey home names (``redis://...``), or None for a folder; a
    ConfigError for a URL that is not Redis's (``http://...``)."""
    text = str(home)
    return check_url(text) if "://" in text else None


def huey_home(home: str | os.PathLike, redis_url: str | None = None) -> HueyHome:
    """Where the huey home ``home`` is, or the Redis server ``redis_url`` when given
    (``jobnb worker --url``): the one place that tells a folder from a URL. A folder is
    made absolute against the working directory now (a home that is a symbolic link
    stays one, to be refused: private_home)."""
    url = check_url(redis_url) if redis_url else redis_home(home)
    return HueyHome(home_path(defaults.HOME if url else home), url)
