"""The ``jobnb`` command: a module per group of commands (demo, key, run, worker,
jobs: ls, show, logs, cancel, forget, prune, wait; schedules: schedule add, ls, pause,
resume, rm), each adding its parsers and saying what runs them; ``main`` is the entry
point."""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..exceptions import JobnbError
from . import demo, jobs, key, run, schedules, worker


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobnb", description="jobnb: a job manager for Jupyter notebooks."
    )
    parser.add_argument("--version", action="version", version=f"jobnb {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in (demo, key, run, worker, jobs, schedules):
        group.add_to(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.execute(args)
    except JobnbError as exc:
        print(f"jobnb {args.command}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `jobnb ls | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (no error at exit)
        return 1
