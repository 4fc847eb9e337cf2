"""Values of the command line's options, checked as argparse reads them (an error
names the option and the value)."""

from __future__ import annotations

import argparse


def at_least_one(text: str) -> int:
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


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, not {text}")
    return value
