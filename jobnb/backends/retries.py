"""When a job that failed runs again: ``retries``, ``retry_delay`` and ``retry_on``, read
the same way by every backend (the kernel's own, thread and subprocess, and the records
stores of huey and rq, whose workers and readers decide it).

A job with ``retries=N`` runs at most N + 1 times. A run that fails with an exception
whose class (or one of its bases) is in ``retry_on``, or whose worker is lost (matched
as ``JobLost``), is kept in the record's ``attempts`` and the job goes back to
``queued``, to run again ``retry_delay`` seconds later, that delay doubling after each
attempt. A timeout is a failure (``JobTimeout``: retried when ``retry_on`` allows it, as
the default ``Exception`` does); a cancelled job is never run again. Once no attempt is
left the job ends as its last attempt did (``failed`` or ``lost``, with its error).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable

from .. import defaults
from ..exceptions import ConfigError, JobLost
from ..model import RETRY_ON_ANY, Attempt, JobRecord, JobStatus, class_names
from ..payload import last_line

#: how a lost run is matched against ``retry_on``: as a JobLost
LOST_CLASSES = class_names(JobLost)
#: characters of an attempt's error kept in its record (its end: the exception's line)
ATTEMPT_ERROR_MOST = 2000


def checked_retries(retries: object, retry_delay: object) -> tuple[int, float]:
    """``retries`` (a whole number >= 0) and ``retry_delay`` (seconds >= 0; None: the
    default), or a ConfigError naming the bad value."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigError(
            f"retries must be a whole number of runs again, 0 or more, not {retries!r}"
        )
    if retry_delay is None:
        retry_delay = defaults.RETRY_DELAY
    if (
        isinstance(retry_delay, bool)
        or not isinstance(retry_delay, int | float)
        or not math.isfinite(retry_delay)
        or retry_delay < 0
    ):
        raise ConfigError(
            f"retry_delay must be a number of seconds, 0 or more, not {retry_delay!r}"
        )
    return retries, float(retry_delay)


def retry_on_names(retry_on: object) -> tuple[str, ...]:
    """The qualified names of ``retry_on``: an exception class, or a tuple or list of
    them (or of qualified names, ``"builtins.ValueError"``); None: any Exception. A
    ConfigError names what is not one."""
    if retry_on is None:
        return RETRY_ON_ANY
    items = retry_on if isinstance(retry_on, tuple | list) else (retry_on,)
    names = []
    for item in items:
        if isinstance(item, type) and issubclass(item, BaseException):
            names.append(class_names(item)[0])
        elif isinstance(item, str) and "." in item:
            names.append(item)
        else:
            raise ConfigError(
                f"retry_on takes exception classes (ValueError, or a tuple of them), not "
                f"{item!r}: pass the class itself, or its qualified name ('builtins.ValueError')"
            )
    if not names:
        raise ConfigError("retry_on is empty: leave it out to retry on any Exception")
    return tuple(names)


def delay_before(attempt: int, retry_delay: float) -> float:
    """Seconds to wait before run number ``attempt`` (2 or more): ``retry_delay`` before
    the second, doubling after."""
    return retry_delay * 2 ** max(0, attempt - 2)


def retry_plan(record: JobRecord, status: JobStatus, classes: Iterable[str]) -> float | None:
    """Seconds before the job of ``record`` runs again, now that its run under way
    ended ``status`` (its exception's ``classes``: ``class_names``); None when it ends
    here: it finished, was cancelled, has no attempt left, or failed with an exception
    that ``retry_on`` does not name."""
    if record.attempt > record.retries:
        return None
    if status is JobStatus.LOST:
        classes = LOST_CLASSES
    elif status is not JobStatus.FAILED:
        return None
    if not set(record.retry_on) & set(classes):
        return None
    return delay_before(record.attempt + 1, record.retry_delay)


def ended_attempt(record: JobRecord, status: JobStatus, error: str | None) -> Attempt:
    """The run under way of ``record``, ended ``status`` with ``error``, as an Attempt."""
    if error and len(error) > ATTEMPT_ERROR_MOST:
        error = "...\n" + error[-ATTEMPT_ERROR_MOST:]
    return Attempt(record.attempt, status, error, record.worker, record.started, time.time())


def retry_note(attempt: Attempt, retries: int, delay: float) -> str:
    """The line a job's log gets when one of its runs failed and it will run again."""
    why = last_line(attempt.error, attempt.status.value)
    return (
        f"jobnb: attempt {attempt.number} of {retries + 1} {attempt.status.value} ({why}); "
        f"attempt {attempt.number + 1} starts in {delay:g} s\n"
    )


def attempts_json(attempts: Iterable[Attempt]) -> str:
    """The attempts as a store keeps them: a JSON list of objects."""
    return json.dumps([{**vars(a), "status": a.status.value} for a in attempts])


def attempts_from_json(text: str | bytes | None) -> list[Attempt]:
    """The attempts a store kept (``attempts_json``; none when the field is not set)."""
    if not text:
        return []
    found = json.loads(text)
    if not isinstance(found, list):  # (Lua's cjson writes an empty list as {})
        return []
    return [Attempt(**{**item, "status": JobStatus(item["status"])}) for item in found]


#: the fields of a stored record that say its retries (records/base.py RECORD_FIELDS
#: ends with them): a SQLite column or a Redis hash field each, unset when ``retries``
#: is 0 (then they read as the defaults)
RETRY_FIELDS = ("retries", "retry_delay", "retry_on", "attempts", "retry_at")


def retry_fields(record: JobRecord) -> dict[str, object]:
    """What a store writes of a new job's retries (nothing when it has none)."""
    if not record.retries:
        return {}
    return {
        "retries": record.retries,
        "retry_delay": record.retry_delay,
        "retry_on": json.dumps(list(record.retry_on)),
    }


def decode_retry_fields(values) -> dict[str, object]:
    """The JobRecord fields of the stored ``RETRY_FIELDS`` (texts and numbers, or bytes)."""
    retries, delay, retry_on, attempts, retry_at = values
    found: dict[str, object] = {"attempts": attempts_from_json(attempts)}
    if retries is not None:
        found["retries"] = int(retries)
    if delay is not None:
        found["retry_delay"] = float(delay)
    if retry_on is not None:
        found["retry_on"] = tuple(json.loads(retry_on))
    if retry_at is not None:
        found["retry_at"] = float(retry_at)
    return found
