"""``jobnb demo``: the quick start, headless."""

from __future__ import annotations

import argparse

from .. import api, demo
from .values import at_least_one


def add_to(commands) -> None:
    parser = commands.add_parser(
        "demo", help="run the quick start headless: submit jobs, watch them, read results"
    )
    parser.add_argument(
        "-b", "--backend", help="backend to run it on (default: the configured one)"
    )
    parser.add_argument("-w", "--workers", type=at_least_one, help="number of workers")
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    options = {"workers": args.workers} if args.workers else {}
    api.configure(args.backend, **options)
    return demo.main()
