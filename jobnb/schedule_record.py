"""A schedule as its store keeps it: what it runs and when (its definition, fixed once
added, kept signed), and where it stands (paused, the last due time claimed, the next
one, the job of its last run), which the workers change as they fire it.

What it runs is a call (a cloudpickled CallPayload, kept beside the definition: every
run queues those same bytes) or a notebook (its path and parameters: each run reads
the notebook as it is then, and writes its own output, ``<name>-<job id>.ipynb``).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

from .exceptions import ConfigError
from .schedule_times import Timing, checked_catchup

#: a schedule's name: it names it in the store's keys, the CLI and the jobs it runs
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}")


def checked_name(name: object) -> str:
    """``name`` if it can name a schedule; a ConfigError naming it otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"name={name!r} cannot name a schedule: give 1 to 100 letters, digits or "
            "'_.@+-', starting with a letter or digit (e.g. 'nightly-report')"
        )
    return name


@dataclass
class ScheduleRecord:
    """A snapshot of one schedule. The fields down to ``created`` are its definition
    (``definition_json``); the rest, its state."""

    name: str
    timing: Timing
    catchup: str = "one"
    kind: str = "call"  # "call" or "notebook"
    description: str = ""  # the call (``report(day=1)``) or the notebook's path
    backend: str = "huey"
    #: the options of its runs' jobs (the jobs are named after the schedule unless given)
    job_name: str | None = None
    queue: str | None = None
    timeout: float | None = None
    #: a notebook schedule's: path, parameters (their repr: Python literals), output,
    #: kernel_name
    notebook: dict[str, Any] | None = None
    #: where the schedule was made: its runs run there, as a submitted job would
    cwd: str | None = None
    sys_path: list[str] = field(default_factory=list)
    #: what the store that made it applies to its runs' jobs
    result_ttl: float | None = None
    log_bytes_kept: int | None = None
    created: float = field(default_factory=time.time)
    # --- its state ---------------------------------------------------------------------
    paused: bool = False
    #: the last due time claimed (or when it was made or resumed: runs come after it)
    last_due: float | None = None
    #: its next due time (None while paused)
    next_due: float | None = None
    #: the id of the job of its last run, if it ran
    last_job: str | None = None

    def __post_init__(self) -> None:
        checked_name(self.name)
        checked_catchup(self.catchup)

    def definition_json(self) -> str:
        """The definition as one line of JSON (no newline in it)."""
        timing = self.timing
        return json.dumps(
            {
                "name": self.name,
                "timing": [timing.cron, timing.every, timing.tz, timing.start],
                "catchup": self.catchup,
                "kind": self.kind,
                "description": self.description,
                "backend": self.backend,
                "job_name": self.job_name,
                "queue": self.queue,
                "timeout": self.timeout,
                "notebook": self.notebook,
                "cwd": self.cwd,
                "sys_path": self.sys_path,
                "result_ttl": self.result_ttl,
                "log_bytes_kept": self.log_bytes_kept,
                "created": self.created,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_definition(cls, text: str | bytes, **state: Any) -> ScheduleRecord:
        """The schedule whose definition ``definition_json`` wrote, with ``state``."""
        data = json.loads(text)
        cron, every, tz, start = data.pop("timing")
        return cls(timing=Timing(cron=cron, every=every, tz=tz, start=start), **data, **state)

    def with_state(self, **state: Any) -> ScheduleRecord:
        return replace(self, **state)

    @property
    def jobs_name(self) -> str:
        """The name its runs' jobs take."""
        return self.job_name or self.name

    def describe_timing(self) -> str:
        return self.timing.describe()
