"""When a schedule is due: its timing (a cron expression in a time zone, or a fixed
interval), the due times in a span, and what to run after downtime (the catch-up
policy). Pure arithmetic on ``time.time()`` stamps: the store that claims each due time
once, and the workers that fire it, are elsewhere.

A cron expression (croniter) is read in its schedule's time zone, on the wall clock:
``"30 2 * * *"`` is half past two local time every day. Across a DST change the wall
clock skips or repeats an hour; each wall-clock due time is then mapped to one instant,
so a run is never doubled (the repeated hour's due time is its first occurrence) nor
skipped (a due time in the skipped hour runs when the clock resumes, an hour later on
the wall clock; a schedule of several runs an hour runs at each wall-clock time that
exists, once). An interval (``every="15m"``) counts seconds from the schedule's start,
on no wall clock at all: DST does not move it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .exceptions import ConfigError

#: what to run for the due times missed while no worker served the queue
CATCHUP_POLICIES = ("one", "all", "none")
#: the most due times one plan runs under ``catchup="all"`` (the oldest beyond are
#: dropped): a schedule of every second left a month would otherwise flood the queue
CATCHUP_MOST = 1000
#: a due time this close to now is on time, not missed: ``catchup="none"`` runs it (the
#: workers look for due schedules every second or so, and may be a little late)
ON_TIME_WITHIN = 5.0
#: the shortest interval a schedule takes (the workers look for due schedules about
#: this often)
EVERY_LEAST = 1.0

_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d)")


def interval_seconds(every: object) -> float:
    """``every`` as seconds: a number of seconds, a ``timedelta``, or a text such as
    ``"15m"``, ``"2s"``, ``"1h30m"``, ``"1d"``; a ConfigError naming it otherwise."""
    seconds: float | None = None
    if isinstance(every, dt.timedelta):
        seconds = every.total_seconds()
    elif isinstance(every, int | float) and not isinstance(every, bool):
        seconds = float(every)
    elif isinstance(every, str):
        text = every.strip().lower()
        parts = _PART.findall(text)
        if parts and "".join(n + u for n, u in parts) == re.sub(r"\s+", "", text):
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
        elif re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
    if seconds is None or not math.isfinite(seconds) or seconds < EVERY_LEAST:
        raise ConfigError(
            f"every={every!r} is not an interval of at least {EVERY_LEAST:g} s: give seconds "
            "(90), a timedelta, or a text such as '2s', '15m', '1h30m', '1d'"
        )
    return seconds


def zone_name(tz: str | None) -> str:
    """The IANA name of the zone ``tz`` names (None or "local": this machine's, so that
    a worker elsewhere reads the schedule as its author meant); a ConfigError otherwise."""
    if tz is None or tz == "local":
        import tzlocal  # lazy: only a schedule in local time asks

        return tzlocal.get_localzone_name() or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"tz={tz!r} is not a time zone this machine knows: give an IANA name such as "
            "'Europe/Paris' or 'UTC' (or 'local')"
        ) from None
    return tz


@dataclass(frozen=True)
class Timing:
    """When a schedule is due: ``cron`` in zone ``tz``, or every ``every`` seconds from
    ``start``."""

    cron: str | None = None
    every: float | None = None
    tz: str = "UTC"
    start: float = 0.0

    @classmethod
    def parse(
        cls,
        cron: str | None = None,
        every: object = None,
        tz: str | None = None,
        start: float = 0.0,
    ) -> Timing:
        """A checked timing: exactly one of ``cron`` and ``every``."""
        if (cron is None) == (every is None):
            raise ConfigError(
                "a schedule needs exactly one of cron= (e.g. '0 6 * * *') and every= "
                f"(e.g. '15m'), not cron={cron!r}, every={every!r}"
            )
        if cron is not None:
            from croniter import croniter  # lazy: only schedules need it

            if not isinstance(cron, str) or len(cron.split()) != 5 or not croniter.is_valid(cron):
                raise ConfigError(
                    f"cron={cron!r} is not a cron expression of five fields (minute hour "
                    "day-of-month month day-of-week), e.g. '0 6 * * *' for every day at 6:00"
                )
            return cls(cron=" ".join(cron.split()), tz=zone_name(tz), start=start)
        return cls(every=interval_seconds(every), tz=zone_name(tz), start=start)

    def next_after(self, moment: float) -> float:
        """The first due time strictly after ``moment``."""
        if self.every is not None:
            steps = max(0, math.floor((moment - self.start) / self.every) + 1)
            due = self.start + steps * self.every
            return due if due > moment else due + self.every
        return self._next_cron(moment)

    def _next_cron(self, moment: float) -> float:
        from croniter import croniter  # lazy: see parse

        zone = ZoneInfo(self.tz)
        # the wall clock at ``moment``; cron steps on the wall clock, naive
        wall = dt.datetime.fromtimestamp(moment, zone).replace(tzinfo=None)
        steps = croniter(self.cron, wall)
        while True:
            due_wall = steps.get_next(dt.datetime)
            # fold=0: a repeated hour's first occurrence; a skipped hour's wall time maps
            # past the change (the offset before it applied to a time after it)
            due = due_wall.replace(tzinfo=zone, fold=0).timestamp()
            if due > moment:
                return due

    def due_in(self, after: float, until: float, most: int = CATCHUP_MOST) -> list[float]:
        """The due times in ``(after, until]``, the latest ``most`` of them."""
        found: list[float] = []
        due = self.next_after(after)
        if self.every is not None and until - after > most * self.every:
            due = self.next_after(until - most * self.every)  # (no need to step through)
        while due <= until:
            found.append(due)
            due = self.next_after(due)
        return found[-most:]

    def describe(self) -> str:
        """``cron '0 6 * * *' (Europe/Paris)`` or ``every 15 min``."""
        if self.cron is not None:
            return f"cron {self.cron!r} ({self.tz})"
        seconds = self.every or 0.0
        if seconds % 86400 == 0:
            return f"every {seconds / 86400:g} d"
        if seconds % 3600 == 0:
            return f"every {seconds / 3600:g} h"
        if seconds % 60 == 0:
            return f"every {seconds / 60:g} min"
        return f"every {seconds:g} s"


def checked_catchup(catchup: str) -> str:
    if catchup not in CATCHUP_POLICIES:
        raise ConfigError(
            f"catchup={catchup!r} is not a catch-up policy: give 'one' (a single run for "
            "what was missed), 'all' (every missed run) or 'none'"
        )
    return catchup


def plan(
    timing: Timing, last_due: float | None, now: float, catchup: str = "one"
) -> tuple[list[float], float]:
    """What a schedule runs at ``now``: ``(the due times to run, the next due time)``.

    ``last_due`` is the last due time already run (None: none yet, the schedule is new:
    it runs from its next due time, never for the past). Of the due times missed in
    ``(last_due, now]``: ``"one"`` runs the latest alone, ``"all"`` runs each (at most
    ``CATCHUP_MOST``), ``"none"`` runs none unless the latest is on time (within
    ``ON_TIME_WITHIN`` of ``now``).
    """
    checked_catchup(catchup)
    upcoming = timing.next_after(now)
    if last_due is None:
        return [], upcoming
    missed = timing.due_in(last_due, now)
    if not missed:
        return [], upcoming
    if catchup == "all":
        return missed, upcoming
    if catchup == "one" or now - missed[-1] <= ON_TIME_WITHIN:
        return [missed[-1]], upcoming
    return [], upcoming
