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
    AFTER,
)

#: ``%%submit`` (a cell) and ``%submit`` (a call)
CELL_JOB = (
    option("-n", "--name", help="the job's name (default: cell-N, N the cell's number)"),
    BACKEND,
    TIMEOUT,
    QUEUE,
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
