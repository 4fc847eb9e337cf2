"""The ``jobnb`` command."""

from __future__ import annotations

import argparse
import sys

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
    demo.add_argument("-w", "--workers", type=int, help="number of workers")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "demo":
            return _demo(args)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
