"""``jobnb schedule add|ls|pause|resume|rm``: the schedules of a queue backend (huey,
rq), made and steered from a shell, in the store the workers fire them from
(``--backend/--home/--url``, as ``jobnb worker`` and ``jobnb ls``: store_options.py).

``add`` takes a call (``MODULE:FUNCTION`` and its arguments, each a Python literal
or else a string; the module is imported from here, the working directory first) or a
notebook (``--notebook PATH -p NAME=VALUE``). Unlike ``jobnb.schedule`` in a
notebook, where running a cell again replaces its schedule, ``add`` refuses a name
that exists unless ``--replace``: a command typed twice should not quietly reset a
schedule. Exit codes: 0 done; 1 an error (``jobnb schedule: ...`` on stderr); 2 a
usage error.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import importlib
import json
import os
import sys
from typing import Any

from .. import api
from ..backends.private_home import private_home
from ..exceptions import ConfigError
from ..payload import notebook as notebooks
from ..schedule_times import CATCHUP_POLICIES
from . import progress, store_options
from .values import seconds


def add_to(commands) -> None:
    parser = commands.add_parser(
        "schedule",
        help="add, list, pause, resume or remove schedules (runs fired by the workers)",
        description="Schedules of a queue backend (huey, rq): each fires its call or "
        "notebook as an ordinary job at every due time, from the queue's workers.",
    )
    actions = parser.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=_Intermixed
    )
    for adder in (_add_add, _add_ls, _add_pause, _add_resume, _add_rm):
        store_options.add_to(adder(actions))


class _Intermixed(argparse.ArgumentParser):
    """A parser whose positionals may come on either side of the options (``add NAME
    --every 1h MODULE:FUNCTION ARGS``): argparse's own stops at the first option."""

    _inside = False

    def parse_known_args(self, args=None, namespace=None):
        if self._inside:  # (the intermixed parse calls this again, for each pass)
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


# --- add --------------------------------------------------------------------------------
def _add_add(actions) -> argparse.ArgumentParser:
    parser = actions.add_parser(
        "add",
        help="add a schedule: a call (MODULE:FUNCTION ARGS) or a notebook (--notebook)",
        description="Add a schedule. Its runs are ordinary jobs, queued by the workers at "
        "each due time (a SQLite home's worker is started now if none runs; on Redis, "
        "start workers with `jobnb worker`).",
    )
    parser.add_argument("name", help="the schedule's name (letters, digits, '_.@+-')")
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", help="five fields, e.g. '0 6 * * *': every day at 6:00")
    when.add_argument("--every", help="an interval: '2s', '15m', '1h30m', '1d'")
    parser.add_argument("--tz", help="the time zone of --cron (default: this machine's)")
    parser.add_argument(
        "--catchup",
        choices=CATCHUP_POLICIES,
        default="one",
        help="what runs for due times missed while no worker served: one run (default), "
        "all of them, or none",
    )
    parser.add_argument("--queue", help="the queue its runs go to")
    parser.add_argument("--timeout", type=seconds, help="stop each run after this many seconds")
    parser.add_argument("--job-name", help="the name of its runs' jobs (default: the schedule's)")
    parser.add_argument(
        "--replace", action="store_true", help="replace a schedule of that name (else an error)"
    )
    parser.add_argument("--notebook", metavar="PATH", help="run this notebook at each due time")
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a notebook parameter (a Python literal, else a string); repeat for more",
    )
    parser.add_argument(
        "-k",
        "--kwarg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a keyword argument of the call (a Python literal, else a string)",
    )
    parser.add_argument(
        "target",
        nargs="?",
        metavar="MODULE:FUNCTION",
        help="the function to call (imported from here, the working directory first)",
    )
    parser.add_argument(
        "args", nargs="*", metavar="ARG", help="its arguments (Python literals, else strings)"
    )
    parser.set_defaults(execute=_add)
    return parser


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _function(target: str):
    module_name, sep, name = target.partition(":")
    if not sep or not module_name or not name:
        raise ConfigError(f"{target!r} is not MODULE:FUNCTION (e.g. reports:nightly)")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` would: the working directory first
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r} for {target!r}: {exc}") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ConfigError(f"{module_name!r} has no function {name!r} (for {target!r})")
    return fn


def _add(args: argparse.Namespace) -> int:
    from .. import scheduling  # lazy: the schedule stores load redis and huey

    if (args.notebook is None) == (args.target is None):
        raise ConfigError("give a call (MODULE:FUNCTION ARGS) or --notebook PATH, not both")
    _open(args)
    timing = {"cron": args.cron, "every": args.every, "tz": args.tz, "catchup": args.catchup}
    options = {
        "name": args.name,
        "queue": args.queue,
        "timeout": args.timeout,
        "job_name": args.job_name,
        "replace": args.replace,
    }
    if args.notebook is not None:
        if args.args or args.kwarg:
            raise ConfigError("a notebook takes -p NAME=VALUE, not arguments")
        parameters = dict(notebooks.parse_parameter(p) for p in args.parameter)
        made = scheduling.schedule(args.notebook, parameters=parameters, **timing, **options)
    else:
        if args.parameter:
            raise ConfigError("-p is for a notebook's parameters: give a call -k NAME=VALUE")
        kwargs = dict(notebooks.parse_parameter(k) for k in args.kwarg)
        positional = [_literal(a) for a in args.args]
        fn = _function(args.target)
        made = scheduling.schedule(fn, *positional, kwargs=kwargs, **timing, **options)
    rec = made.record()
    print(f"schedule {rec.name}: {rec.timing.describe()}, next run {_local(rec.next_due)}")
    return 0


# --- ls ---------------------------------------------------------------------------------
def _add_ls(actions) -> argparse.ArgumentParser:
    parser = actions.add_parser(
        "ls",
        help="list the schedules: when, next run, last run and its status",
        description="List the schedules, by name.",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of the columns of jobnb.schedules_df() (times as ISO 8601 "
        "in UTC, and as time.time() stamps in <name>_epoch)",
    )
    parser.set_defaults(execute=_ls)
    return parser


def _ls(args: argparse.Namespace) -> int:
    from .. import scheduling  # lazy: see _add

    _open(args)
    backend = api.get_backend()
    store = scheduling.store_of(backend)
    rows = [scheduling.schedule_row(backend, rec) for rec in store.all()]
    if args.json:
        print(json.dumps([_json(row) for row in rows], indent=2))
        return 0
    if not rows:
        print("no schedules")
        return 0
    from rich import box  # lazy: rich draws the table only
    from rich.table import Table  # (as above)

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in ("name", "when", "next run", "last run", "last status", "description"):
        table.add_column(column, no_wrap=True, max_width=50)
    for row in rows:
        table.add_row(
            row["name"],
            row["when"],
            "paused" if row["paused"] else _shown(row["next_run"]),
            _shown(row["last_run"]),
            row["last_status"] or "",
            row["description"],
        )
    progress.console().print(table)
    return 0


def _json(row: dict[str, Any]) -> dict[str, Any]:
    for name in ("next_run", "last_run"):
        moment = row[name]
        stamp = None if moment is None else moment.timestamp()
        row[name] = None if stamp is None else dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat()
        row[f"{name}_epoch"] = stamp
    return row


def _shown(moment: dt.datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def _local(stamp: float | None) -> str:
    return "none (paused)" if stamp is None else _shown(dt.datetime.fromtimestamp(stamp))


# --- pause, resume, rm ------------------------------------------------------------------
def _named(actions, name: str, help_text: str, execute) -> argparse.ArgumentParser:
    parser = actions.add_parser(
        name, help=help_text, description=help_text[0].upper() + help_text[1:] + "."
    )
    parser.add_argument("name", help="the schedule's name (`jobnb schedule ls` lists them)")
    parser.set_defaults(execute=execute)
    return parser


def _add_pause(actions) -> argparse.ArgumentParser:
    return _named(actions, "pause", "stop firing a schedule until resumed", _pause)


def _add_resume(actions) -> argparse.ArgumentParser:
    return _named(
        actions,
        "resume",
        "fire a paused schedule again (what fell due meanwhile is not run)",
        _resume,
    )


def _add_rm(actions) -> argparse.ArgumentParser:
    return _named(actions, "rm", "remove a schedule (its runs' jobs stay)", _rm)


def _handle(args: argparse.Namespace):
    from .. import scheduling  # lazy: see _add

    _open(args)
    handle = scheduling.Schedule(api.get_backend(), args.name)
    handle.record()  # ScheduleNotFound, naming it, before anything else
    return handle


def _pause(args: argparse.Namespace) -> int:
    _handle(args).pause()
    print(f"schedule {args.name}: paused")
    return 0


def _resume(args: argparse.Namespace) -> int:
    handle = _handle(args).resume()
    print(f"schedule {args.name}: resumed, next run {_local(handle.record().next_due)}")
    return 0


def _rm(args: argparse.Namespace) -> int:
    _handle(args).remove()
    print(f"schedule {args.name}: removed")
    return 0


def _open(args: argparse.Namespace) -> store_options.Store:
    store = store_options.resolve(args, "schedule")
    if args.action == "add" and store.backend == "huey" and not store.url:
        private_home(store.home)  # a first schedule, as a first submit, makes the home
    store_options.use(store)
    return store
