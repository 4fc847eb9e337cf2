"""The options of the commands that submit jobs, declared once: ``jobnb run`` and
``%submit_notebook`` share the notebook's; ``%%submit`` and ``%submit`` share theirs,
and the line form ``%submit [options] call(...)`` finds where its options end from
the same declaration.

An option is what argparse's ``add_argument`` takes, which IPython's
``magic_arguments.argument`` takes too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .backends import known_names


@dataclass(frozen=True)
class Option:
    """One option: its flags (or a positional's name) and ``add_argument``'s keywords."""

    flags: tuple[str, ...]
    settings: Mapping[str, Any]

    @property
    def takes_value(self) -> bool:
        return self.settings.get("action") not in ("store_true", "store_false")

    def with_help(self, more: str) -> Option:
        """This option, its help followed by ``more`` (what one front adds)."""
        settings = dict(self.settings, help=f"{self.settings['help']} {more}")
        return dataclasses.replace(self, settings=settings)

    def add_to(self, parser: Any) -> None:
        parser.add_argument(*self.flags, **self.settings)


def option(*flags: str, **settings: Any) -> Option:
    return Option(flags, settings)


BACKEND = option(
    "-b",
    "--backend",
    help=f"the backend to run it on (default: the configured one): {known_names()}",
)
TIMEOUT = option("-t", "--timeout", type=float, help="stop the job after this many seconds")
QUEUE = option("-q", "--queue", help="the queue to send it to, where the backend has queues")
#: the magics only (a notebook's page shows the notification; ``jobnb run`` has none)
NOTIFY = option(
    "--notify",
    action="store_true",
    help="a desktop notification in this notebook's page when the job ends (the browser "
    "asks once; %%jobnb notify on: for every job)",
)
RETRIES = option(
    "--retries",
    type=int,
    default=0,
    metavar="N",
    help="run it again up to N times when it fails or its worker is lost (default 0)",
)
RETRY_DELAY = option(
    "--retry-delay",
    type=float,
    metavar="S",
    help="seconds before its second run, doubling before each next one (default 1)",
)
AFTER = option(
    "-a",
    "--after",
    action="append",
    default=[],
    metavar="NAME_OR_ID",
    help="a job to wait for (its name or id, on the same backend; several: repeat, or "
    "separate them by commas): the job waits until they have all finished, and is "
    "cancelled if one fails, is cancelled or is lost",
)


def after_of(values: list[str]) -> tuple[str, ...]:
    """The names or ids ``--after`` was given (repeated, or separated by commas)."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


#: ``jobnb run`` and ``%submit_notebook``
NOTEBOOK_JOB = (
    option("notebook", help="the notebook to run (its path)"),
    option(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter, written into the notebook as papermill does (after its cell "
        "tagged 'parameters'); VALUE is read as a Python literal (0.1, True, [1, 2], 'x') "
        "when it is one, else kept as text; quote as in a shell (-p title='a b', "
        "-p \"s='7'\"). Repeat for more.",
    ),
    option(
        "-r",
        "--raw",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter whose VALUE is kept as text, as written",
    ),
    option(
        "-o",
        "--output",
        help="where to write the executed notebook (a file or a folder; default: beside "
        "the input, named after it and the job id)",
    ),
    option("-k", "--kernel", help="the Jupyter kernel to run it in (default: its own)"),
    option("-n", "--name", help="the job's name (default: the notebook's name)"),
    BACKEND,
    TIMEOUT,
    QUEUE,
    RETRIES,
    RETRY_DELAY,
    AFTER,
)

#: ``%%submit`` (a cell) and ``%submit`` (a call)
CELL_JOB = (
    option("-n", "--name", help="the job's name (default: cell-N, N the cell's number)"),
    BACKEND,
    TIMEOUT,
    QUEUE,
    RETRIES,
    RETRY_DELAY,
    NOTIFY,
    AFTER,
    option(
        "--no-pull",
        action="store_true",
        help="do not write the cell's variables into the notebook when it finishes (use "
        "%%pull or job.pull() later)",
    ),
    option(
        "expression",
        nargs="*",
        help="%%submit only: a call to run as a job, e.g. %%submit train(lr=0.1)",
    ),
)

#: ``%schedule`` (a call or a notebook, on a schedule): the timing, then the options of
#: %submit and %submit_notebook
SCHEDULE = (
    option("--cron", help="five fields, e.g. '0 6 * * *' (every day at 6:00)"),
    option("--every", help="an interval: '2s', '15m', '1h30m', '1d'"),
    option("--tz", help="the time zone of --cron (default: this machine's)"),
    option(
        "--catchup",
        choices=["one", "all", "none"],
        default="one",
        help="what runs for due times missed while no worker served: one run (default), "
        "all of them, or none",
    ),
    option("-n", "--name", help="the schedule's name (default: the function's or notebook's)"),
    option("--job-name", help="the name of its runs' jobs (default: the schedule's)"),
    option(
        "--no-replace",
        action="store_true",
        help="refuse a name that exists (default: the schedule of that name is replaced)",
    ),
    option("--notebook", help="run this notebook at each due time (its path)"),
    *(opt for opt in NOTEBOOK_JOB if opt.flags[0] in ("-p", "-r", "-o", "-k")),
    BACKEND,
    TIMEOUT,
    QUEUE,
    option("expression", nargs="*", help="the call to run, e.g. train(lr=0.1)"),
)
