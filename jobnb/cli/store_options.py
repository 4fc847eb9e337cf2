"""Which queue and records store a command works on: the ``--backend``, ``--home``,
``--url`` and ``--url-file`` options that ``jobnb worker`` and the job commands
(``ls``, ``show``, ``logs``, ...) share, and the one way they resolve to a huey home
(a folder, or a Redis server) or an rq Redis URL.

A URL's password is never printed: messages show ``redacted(url)``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import api, defaults
from ..backends.options import huey_home
from ..backends.redis_connection import DEFAULT_URL, check_url, has_password, redacted
from ..exceptions import JobnbError
from .values import url_file

#: the backends whose jobs outlive the process that submitted them: the only ones a
#: command in another process can see (thread and subprocess jobs live in their kernel)
QUEUE_BACKENDS = ("huey", "rq")


def add_to(parser: argparse.ArgumentParser) -> None:
    """Add the store options to ``parser`` (a command's own)."""
    parser.add_argument(
        "--backend",
        choices=["huey", "rq", "redis"],
        help="huey (SQLite under --home, or Redis with --url) or rq (= redis); default: "
        "the configured backend (JOBNB_BACKEND, jobnb.toml) when it is huey or rq, else huey",
    )
    parser.add_argument(
        "--home",
        help="huey: the jobnb home, a folder or a Redis URL "
        f"(default: JOBNB_HOME, or ./{defaults.HOME})",
    )
    given = parser.add_mutually_exclusive_group()
    given.add_argument(
        "--url",
        help="the Redis server of the queue (redis://[:password@]host:port/db); huey: the "
        "same as --home URL. A password here shows in `ps` to every local user: give it "
        "in --url-file or the environment instead. Where the URL comes from, first found "
        "first: --url or --url-file; then rq: JOBNB_REDIS_URL, jobnb.toml, a local server; "
        "huey: --home, JOBNB_HOME (a folder or a URL), jobnb.toml, ./.jobnb",
    )
    given.add_argument(
        "--url-file",
        type=url_file,
        metavar="PATH",
        help="read the URL from the first line of PATH (a file only you can read, chmod "
        "600; a line JOBNB_REDIS_URL=... is read too, so one systemd EnvironmentFile= "
        "serves both)",
    )


@dataclass(frozen=True)
class Store:
    """Where a command's jobs are: ``backend`` (huey or rq) and, for huey, the home
    folder; ``url`` the Redis server (rq's always; huey's when its queue is in Redis)."""

    backend: str
    home: Path | None
    url: str | None

    def __str__(self) -> str:  # for messages: never the password
        if self.url:
            return f"{self.backend} at {redacted(self.url)}"
        return f"{self.backend} home {self.home}"


def resolve(args: argparse.Namespace, command: str) -> Store:
    """The store the options of ``args`` name (``command`` names the command in the
    warning about a password on the command line)."""
    settings = api.settings()
    url = args.url_file or _url_of_command_line(args.url, "--url", command)
    backend = args.backend or (
        settings.backend if settings.backend in QUEUE_BACKENDS else QUEUE_BACKENDS[0]
    )
    if backend in ("rq", "redis"):
        return Store("rq", None, check_url(url or settings.redis_url or DEFAULT_URL))
    home = _url_of_command_line(args.home, "--home", command) or settings.home
    folder, url = huey_home(home, url)
    return Store("huey", folder, url)


def use(store: Store) -> None:
    """Make ``store`` the backend of this process's ``jobnb.get``, ``jobs_df``,
    ``forget``, ``prune``...; a JobnbError when a huey home folder does not exist
    (reading it would make an empty one, and say nothing of the jobs looked for)."""
    if store.backend == "rq":
        api.configure("rq", redis_url=store.url)
    elif store.url:
        api.configure("huey", home=store.url)
    else:
        if not store.home.is_dir():
            raise JobnbError(
                f"no jobnb home at {store.home}: no job was submitted from here. Give the "
                "home the jobs are in (--home FOLDER, or JOBNB_HOME), or their Redis "
                "server (--url, --url-file), or --backend rq"
            )
        api.configure("huey", home=str(store.home))
    api.get_backend()  # the one backend of this process: what get() and the history read


def _url_of_command_line(value: str | None, option: str, command: str) -> str | None:
    """``value``, given as ``option``; with a warning when it holds a password, which a
    command line shows to every local user (``ps``, /proc/<pid>/cmdline)."""
    if value and "://" in value and has_password(value):
        print(
            f"jobnb {command}: the password in {option} shows in `ps` to every local user: "
            "give the URL in the environment (JOBNB_REDIS_URL for rq, JOBNB_HOME for huey; "
            "systemd: EnvironmentFile=) or in a file only you can read (--url-file PATH)",
            file=sys.stderr,
            flush=True,
        )
    return value
