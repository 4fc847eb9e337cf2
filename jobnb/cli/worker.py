"""``jobnb worker``: the workers of a queue backend (huey on SQLite or Redis, rq), run,
asked about, or stopped.

The backends' worker modules are imported when a worker command runs: they bring in
huey, rq and redis, which ``jobnb --help`` and ``jobnb run`` on a thread do without.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import api, defaults
from ..backends.redis_connection import redacted
from . import store_options
from .values import at_least_one, seconds


def add_to(commands) -> None:
    parser = commands.add_parser(
        "worker",
        help="run the workers of a queue backend (huey, rq), until stopped",
        description="Run the workers of a queue backend: the seed's "
        "`huey_consumer ... -k thread -w 2` (huey) or `rq worker` (rq), in jobnb's words.",
    )
    store_options.add_to(parser)
    parser.add_argument(
        "-w",
        "--workers",
        type=at_least_one,
        default=defaults.WORKERS,
        help=f"worker threads or processes, at least 1 (default {defaults.WORKERS})",
    )
    parser.add_argument(
        "-k",
        "--worker-type",
        dest="kind",
        default=defaults.WORKER_KIND,
        choices=["thread", "process"],
        help=f"(default {defaults.WORKER_KIND})",
    )
    parser.add_argument(
        "-q",
        "--queue",
        dest="queues",
        action="append",
        metavar="QUEUE",
        help="rq: a queue to serve, repeatable, first listed first served "
        f"(default: {defaults.RQ_QUEUE})",
    )
    parser.add_argument(
        "--idle-exit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="exit after this long with nothing queued or running",
    )
    parser.add_argument(
        "--grace",
        type=seconds,
        default=defaults.GRACE,
        metavar="SECONDS",
        help="huey: when stopped (--stop, SIGTERM, Ctrl-C), jobs still running get this long "
        "to finish; then they are stopped and requeued, to run on the next worker "
        f"(default {defaults.GRACE:g})",
    )
    parser.add_argument("--status", action="store_true", help="say whether a worker is alive")
    parser.add_argument(
        "--stop",
        action="store_true",
        help="stop the running worker (with --grace: its running jobs' time to finish) and "
        "wait for it",
    )
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    settings = api.settings()
    if settings.secret_key_file:  # (jobnb.toml's, for the worker processes it starts)
        os.environ.setdefault("JOBNB_SECRET_KEY_FILE", settings.secret_key_file)
    store = store_options.resolve(args, "worker")
    if store.backend == "rq":
        return _rq_worker(args, store.url)
    if args.queues:
        parser_error = "-q/--queue is for --backend rq: a huey queue has no named queues"
        print(f"jobnb worker: {parser_error}", file=sys.stderr)
        return 2
    if store.url:
        return _redis_worker(args, store.home, store.url)
    return _sqlite_worker(args, store.home)


def _sqlite_worker(args: argparse.Namespace, home: Path) -> int:
    from ..backends import huey_worker  # (huey: see the module's docstring)

    if args.status:
        pid = huey_worker.worker_pid(home)
        print(f"a worker serves {home} (pid {pid})" if pid else f"no worker serves {home}")
        return 0 if pid else 1
    if args.stop:
        pid = huey_worker.stop_worker(home, args.grace)
        print(f"stopped the worker of {home} (pid {pid})" if pid else f"no worker serves {home}")
        return 0
    return huey_worker.run_worker(home, args.workers, args.kind, args.idle_exit, grace=args.grace)


def _rq_worker(args: argparse.Namespace, url: str) -> int:
    from ..backends import rq_worker  # (rq, redis: see the module's docstring)

    queues = args.queues or [defaults.RQ_QUEUE]
    if args.status:
        names = rq_worker.worker_names(url)
        print(f"{len(names)} RQ worker(s) at {redacted(url)}" + "".join(f"\n  {n}" for n in names))
        return 0 if names else 1
    if args.stop:
        stopped = rq_worker.stop_workers(url, args.queues)
        print(f"asked {len(stopped)} RQ worker(s) at {redacted(url)} to stop")
        return 0
    return rq_worker.run_rq_worker(url, queues, args.workers)


def _redis_worker(args: argparse.Namespace, home: Path, url: str) -> int:
    from ..backends import huey_worker  # (huey, redis: see the module's docstring)
    from ..backends.huey_home import open_records  # (huey, redis: as above)
    from ..backends.huey_presence import live_workers  # (redis)

    if args.status:
        alive = live_workers(open_records(home, url))
        print(f"{len(alive)} worker(s) serve {redacted(url)}" + "".join(f"\n  {w}" for w in alive))
        return 0 if alive else 1
    if args.stop:
        print(
            "jobnb worker: workers of a Redis queue may run on other machines: stop each "
            "where it runs (Ctrl-C, SIGTERM, or its service manager)",
            file=sys.stderr,
        )
        return 2
    return huey_worker.run_worker(
        home, args.workers, args.kind, args.idle_exit, redis_url=url, grace=args.grace
    )
