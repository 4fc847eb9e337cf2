"""Values of the command line's options, checked as argparse reads them (an error
names the option and the value)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..backends.redis_connection import check_url
from ..exceptions import ConfigError


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


#: ``NAME=value`` (or ``export NAME=value``): a line of a systemd EnvironmentFile, so that
#: one file serves both ``EnvironmentFile=`` and ``--url-file``
_ASSIGNMENT = re.compile(r"^(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*=")


def url_file(text: str) -> str:
    """``--url-file``: the Redis URL on the first line of the file that holds one (blank
    lines and ``#`` comments skipped; ``JOBNB_REDIS_URL=...`` taken as its value). The
    file's text is never shown: it holds a password; a file others can read is said."""
    path = Path(text)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not text"
        raise argparse.ArgumentTypeError(
            f"cannot read {path} ({reason}): give a file that holds the Redis URL on its "
            "first line, readable by this user only (chmod 600)"
        ) from None
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            url = _ASSIGNMENT.sub("", line).strip().strip("'\"")
            break
    else:
        raise argparse.ArgumentTypeError(
            f"{path} holds no Redis URL: write one on its first line, e.g. "
            "redis://:password@host:6379/0 (or JOBNB_REDIS_URL=redis://...)"
        )
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:  # (a warning, not a refusal: the file is the user's to keep)
        print(
            f"jobnb: {path} can be read by other users (mode {mode:04o}) and holds a "
            f"password: `chmod 600 {path}`",
            file=sys.stderr,
            flush=True,
        )
    try:
        return check_url(url)
    except ConfigError:
        raise argparse.ArgumentTypeError(
            f"the first line of {path} is not a Redis URL jobnb can use (not shown: it may "
            "hold a password): it must be redis://, rediss:// or unix://..., with #, /, ? "
            "and @ in the password percent-encoded (%23, %2F, %3F, %40)"
        ) from None


#: ``--older-than``'s units: a week, a day, an hour, a minute, a second
_AGE_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_AGE_PART = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")


def age(text: str) -> float:
    """``--older-than``: an age as seconds, from ``7d``, ``12h``, ``30m``, ``90s``,
    ``1h30m``, ``2w``, or a plain number of seconds (``90``; ``0``: every ended job)."""
    compact = re.sub(r"\s+", "", text.lower())
    parts = _AGE_PART.findall(compact)
    if parts and "".join(n + u for n, u in parts) == compact:
        return sum(float(n) * _AGE_UNITS[u] for n, u in parts)
    if re.fullmatch(r"\d+(\.\d+)?", compact):
        return float(compact)
    raise argparse.ArgumentTypeError(
        f"{text!r} is not an age: give a number with a unit, such as 7d, 12h, 30m, 90s, "
        "1h30m or 2w, or a number of seconds (0: every ended job)"
    )


def job_count(text: str) -> int:
    """``-n``: how many jobs a listing shows, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of jobs, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value
