"""``jobnb run``: a notebook as a job, followed to its end (or left queued)."""

from __future__ import annotations

import argparse
import sys
import time

from .. import api, arguments
from ..backends import backend_class, canonical_name
from ..payload import notebook as notebooks
from . import progress
from .log_follow import LogFollower


def add_to(commands) -> None:
    parser = commands.add_parser(
        "run",
        help="run a notebook as a job, with parameters; show its progress; say where its output is",
        description="Run a notebook as a jobnb job (with nbclient), as papermill would: "
        "parameters go into a new cell after the one tagged 'parameters'. Shows the "
        "progress cell by cell while it waits, then where the executed notebook is. Exit "
        "code 0 when it ran to its end, 1 when it failed (the error names the cell).",
    )
    for option in arguments.NOTEBOOK_JOB:  # the options of %submit_notebook too
        option.add_to(parser)
    parser.add_argument(
        "--log", action="store_true", help="also print what the cells print, as it comes"
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="print the job's id and return at once (queue backends only: huey, rq)",
    )
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    backend = canonical_name(args.backend) if args.backend else api.settings().backend
    if args.no_wait and backend_class(backend).in_process:
        print(
            f"jobnb run: --no-wait needs a queue backend (huey, rq): the jobs of {backend!r} "
            "end with this command",
            file=sys.stderr,
        )
        return 2
    parameters = dict(notebooks.parse_parameter(p) for p in args.parameter)
    parameters.update(notebooks.parse_parameter(p, raw=True) for p in args.raw)
    submitter = api.options(
        name=args.name,
        timeout=args.timeout,
        queue=args.queue,
        backend=backend,
        retries=args.retries,
        retry_delay=args.retry_delay,
        after=arguments.after_of(args.after),
    )
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
        job.cancel(via="jobnb run (interrupted)")
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
    """Show the job's progress until it ends: a bar on a terminal, else a line per cell
    started (``[2/7] df = load(path)``); with ``echo_log`` what the cells print, each
    part once (log_follow.py)."""
    follower = LogFollower()
    with progress.display(labelled=False) as shown:
        while True:
            done = job.done()  # before the log: the log read after it is whole
            rec = job.record()
            if echo_log:
                shown.log(follower.next(job.logs()))
            shown.show(rec)
            if done:
                return
            time.sleep(0.1)
