"""The ``jobnb`` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .exceptions import JobnbError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobnb", description="jobnb: a job manager for Jupyter notebooks."
    )
    parser.add_argument("--version", action="version", version=f"jobnb {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="run the quick start headless: submit jobs, watch them, read results"
    )
    demo.add_argument("-b", "--backend", help="backend to run it on (default: the configured one)")
    demo.add_argument("-w", "--workers", type=_at_least_one, help="number of workers")
    run = commands.add_parser(
        "run",
        help="run a notebook as a job, with parameters; show its progress; say where its output is",
        description="Run a notebook as a jobnb job (with nbclient), as papermill would: "
        "parameters go into a new cell after the one tagged 'parameters'. Shows the "
        "progress cell by cell while it waits, then where the executed notebook is. Exit "
        "code 0 when it ran to its end, 1 when it failed (the error names the cell).",
    )
    run.add_argument("notebook", help="the notebook to run")
    run.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter; VALUE is read as a Python literal (0.1, True, [1, 2], \"'7'\") "
        "when it is one, else kept as text. Repeat for more.",
    )
    run.add_argument(
        "-r",
        "--raw",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter whose VALUE is kept as text, as written",
    )
    run.add_argument("-b", "--backend", help="backend to run it on (default: the configured one)")
    run.add_argument(
        "-o",
        "--output",
        help="where to write the executed notebook (a file or a folder; default: beside the "
        "input, named after it and the job id)",
    )
    run.add_argument("-k", "--kernel", help="the Jupyter kernel to run it in (default: its own)")
    run.add_argument("-n", "--name", help="the job's name (default: the notebook's name)")
    run.add_argument("-t", "--timeout", type=float, help="stop the job after this many seconds")
    run.add_argument(
        "--log", action="store_true", help="also print what the cells print, as it comes"
    )
    run.add_argument(
        "--no-wait",
        action="store_true",
        help="print the job's id and return at once (queue backends only: huey)",
    )
    worker = commands.add_parser(
        "worker",
        help="run the workers of a queue backend (huey, rq), until stopped",
        description="Run the workers of a queue backend: the seed's "
        "`huey_consumer ... -k thread -w 2` (huey) or `rq worker` (rq), in jobnb's words.",
    )
    worker.add_argument(
        "--backend",
        default="huey",
        choices=["huey", "rq", "redis"],
        help="huey (default; SQLite under --home, or Redis with --url) or rq (= redis)",
    )
    worker.add_argument(
        "-w",
        "--workers",
        type=_at_least_one,
        default=2,
        help="worker threads or processes, at least 1 (default 2)",
    )
    worker.add_argument(
        "-k",
        "--worker-type",
        dest="kind",
        default="thread",
        choices=["thread", "process"],
        help="(default thread)",
    )
    worker.add_argument(
        "--home",
        help="huey: the jobnb home whose queue to serve, a folder or a Redis URL "
        "(default: JOBNB_HOME, or ./.jobnb)",
    )
    worker.add_argument(
        "--url",
        help="the Redis server of the queue (redis://[:password@]host:port/db); huey: the "
        "same as --home URL; rq: default JOBNB_REDIS_URL or jobnb.toml, else a local server",
    )
    worker.add_argument(
        "-q",
        "--queue",
        dest="queues",
        action="append",
        metavar="QUEUE",
        help="rq: a queue to serve, repeatable, first listed first served (default: default)",
    )
    worker.add_argument(
        "--idle-exit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="exit after this long with nothing queued or running",
    )
    worker.add_argument(
        "--grace",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="huey: when stopped (--stop, SIGTERM, Ctrl-C), jobs still running get this long "
        "to finish; then they are stopped and requeued, to run on the next worker (default 30)",
    )
    worker.add_argument("--status", action="store_true", help="say whether a worker is alive")
    worker.add_argument(
        "--stop",
        action="store_true",
        help="stop the running worker (with --grace: its running jobs' time to finish) and "
        "wait for it",
    )
    return parser


def _at_least_one(text: str) -> int:
    """``-w``: a worker with no threads would hold the home's lock and serve nothing."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be at least 1, not {value}: with no worker threads nothing would run the "
            "jobs (and this process would keep any other worker from starting)"
        )
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, not {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "worker":
            return _worker(args)
        if args.command == "run":
            return _run(args)
    except JobnbError as exc:
        print(f"jobnb {args.command}: {exc}", file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return 2


def _demo(args: argparse.Namespace) -> int:
    from . import api, demo

    options = {"workers": args.workers} if args.workers else {}
    api.configure(args.backend, **options)
    return demo.main()


#: backends whose jobs end with the process that submitted them
_IN_PROCESS = ("thread", "subprocess")


def _run(args: argparse.Namespace) -> int:
    from . import api
    from .backends import canonical_name
    from .payload import notebook as notebooks

    backend = canonical_name(args.backend) if args.backend else api.settings().backend
    if args.no_wait and backend in _IN_PROCESS:
        print(
            f"jobnb run: --no-wait needs a queue backend (huey): the jobs of {backend!r} "
            "end with this command",
            file=sys.stderr,
        )
        return 2
    parameters = dict(notebooks.parse_parameter(p) for p in args.parameter)
    parameters.update(notebooks.parse_parameter(p, raw=True) for p in args.raw)
    submitter = api.options(name=args.name, timeout=args.timeout, backend=backend)
    job = submitter.submit_notebook(args.notebook, parameters, args.output, args.kernel)
    rec = job.record()
    output = rec.output
    if args.no_wait:
        print(f"job {job.id} ({job.name}) queued on {backend}; it writes {output}")
        return 0
    print(f"job {job.id} ({job.name}) on {backend}: {args.notebook} -> {output}", flush=True)
    try:
        _follow(job, args.log)
    except KeyboardInterrupt:
        job.cancel()
        print(f"\njobnb run: interrupted: job {job.id} cancelled", file=sys.stderr)
        return 130
    rec = job.record()
    took = f"{rec.duration:.1f} s" if rec.duration is not None else ""
    if rec.status.value == "finished":
        values = job.result()
        print(f"finished in {took}; the executed notebook is {output}")
        for name, value in values.items():
            print(f"  recorded {name} = {value!r}"[:200])
        return 0
    print(f"{rec.status.value} after {took}: see {output}", file=sys.stderr)
    print(rec.error or "", file=sys.stderr, end="")
    return 1


def _follow(job, echo_log: bool) -> None:
    """Print a line per cell started (``[2/7] df = load(path)``), and with ``echo_log``
    what the cells print, until the job ends."""
    import time

    shown_progress = None
    shown_log = 0
    while True:
        done = job.done()
        rec = job.record()
        if echo_log:
            logs = job.logs()
            if len(logs) > shown_log:
                print(logs[shown_log:], end="", flush=True)
                shown_log = len(logs)
        progress = (rec.progress.done, rec.progress.message)
        if rec.progress.total and progress != shown_progress and not done:
            shown_progress = progress
            done_cells, total = int(rec.progress.done), int(rec.progress.total)
            print(f"[{done_cells}/{total}] {rec.progress.message or ''}", flush=True)
        if done:
            return
        time.sleep(0.1)


def _worker(args: argparse.Namespace) -> int:
    from . import api
    from .backends import huey_worker
    from .backends.huey_queue import redis_home

    settings = api.settings()
    if args.backend in ("rq", "redis"):
        return _rq_worker(args, args.url or settings.redis_url)
    url = args.url or redis_home(args.home or settings.home)  # huey's home may be a URL
    home = Path(".jobnb" if url else (args.home or settings.home)).resolve()
    if args.queues:
        parser_error = "-q/--queue is for --backend rq: a huey queue has no named queues"
        print(f"jobnb worker: {parser_error}", file=sys.stderr)
        return 2
    if url:
        return _redis_worker(args, home, url)
    if args.status:
        pid = huey_worker.worker_pid(home)
        print(f"a worker serves {home} (pid {pid})" if pid else f"no worker serves {home}")
        return 0 if pid else 1
    if args.stop:
        pid = huey_worker.stop_worker(home, args.grace)
        print(f"stopped the worker of {home} (pid {pid})" if pid else f"no worker serves {home}")
        return 0
    return huey_worker.run_worker(home, args.workers, args.kind, args.idle_exit, grace=args.grace)


def _rq_worker(args: argparse.Namespace, url: str | None) -> int:
    from .backends import rq_worker
    from .backends.redis_connection import DEFAULT_URL, check_url, redacted

    url = check_url(url or DEFAULT_URL)
    queues = args.queues or ["default"]
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
    from .backends import huey_worker
    from .backends.huey_queue import open_records
    from .backends.redis_connection import check_url, redacted

    url = check_url(url)
    if args.status:
        alive = open_records(home, url).live_workers()
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
