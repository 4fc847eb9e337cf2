"""``jobnb ls``, ``show``, ``logs``, ``cancel``, ``forget``, ``prune``, ``wait``: the jobs
of a queue backend (huey, rq), seen and steered from a shell, read from the store the
dashboard reads (``--backend/--home/--url``, as ``jobnb worker``: store_options.py).

Only queue backends: thread and subprocess jobs live in the kernel that submitted
them, which no other process can read. ``--json`` prints one JSON document (times as
ISO 8601 in UTC and as ``time.time()`` stamps, ``<name>_epoch``), for scripts.
Exit codes: 0 done; 1 an error (``jobnb CMD: ...`` on stderr), or for ``wait`` and
``logs -f`` a job that did not finish; 2 a usage error, or for ``wait`` its
``--timeout`` passed while a job was still queued or running (not a failure: the jobs
go on); 130 interrupted.

rich (tables, bars) is imported inside the commands that draw with it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from typing import Any

from .. import api
from ..exceptions import JobNotFound, ResultTimeout
from ..history import JOBS_DF_COLUMNS, record_row
from ..job import Job
from ..model import JobRecord, JobStatus
from ..payload import last_line
from . import progress, store_options
from .log_follow import LogFollower
from .values import age, job_count, seconds

STATUSES = [status.value for status in JobStatus]
ENDED = [status.value for status in JobStatus if status.is_done]
TIMES = ("submitted", "started", "finished")
#: seconds between two reads of a followed job (its record, its log)
FOLLOW_EVERY = 0.25
#: ``jobnb wait``'s exit code when its --timeout passed first: not a failure (that is 1)
TIMED_OUT = 2
#: what ``jobnb cancel`` writes in the record of a job it cancels (``cancelled_by``)
CANCEL_VIA = "jobnb cancel"


def add_to(commands) -> None:
    for name, adder in (
        ("ls", _add_ls),
        ("show", _add_show),
        ("logs", _add_logs),
        ("cancel", _add_cancel),
        ("forget", _add_forget),
        ("prune", _add_prune),
        ("wait", _add_wait),
    ):
        parser = adder(commands, name)
        store_options.add_to(parser)


def _jobs_argument(parser: argparse.ArgumentParser, many: bool) -> None:
    if many:
        parser.add_argument(
            "jobs", nargs="+", metavar="ID_OR_NAME", help="job ids, or names (the newest job)"
        )
    else:
        parser.add_argument("job", metavar="ID_OR_NAME", help="a job id, or a name (the newest)")


def _json_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what} as one JSON document")


# --- ls ---------------------------------------------------------------------------------
def _add_ls(commands, name: str) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help="list the jobs, newest first, with counts per status",
        description="List the jobs of a queue backend, newest first (the table of %jobs -l), "
        "with how many jobs are in each status at the bottom.",
    )
    parser.add_argument("-s", "--status", choices=STATUSES, help="only the jobs in this status")
    parser.add_argument(
        "-n", "--limit", type=job_count, default=20, help="at most this many jobs (default 20)"
    )
    _json_option(parser, '{"jobs": [the columns of jobnb.jobs_df()], "counts": {status: n}}')
    parser.set_defaults(execute=_ls)
    return parser


def _ls(args: argparse.Namespace) -> int:
    _open(args)
    history = api.job_history()
    records = history.page(args.status, 0, args.limit)
    counts = history.counts()
    if args.json:
        document = {
            "jobs": [_json_row(rec) for rec in records],
            "counts": {status.value: n for status, n in counts.items()},
        }
        print(json.dumps(document, indent=2))
        return 0
    console = progress.console()
    if records:
        console.print(_table(records))
    else:
        console.print("no jobs" + (f" with status {args.status}" if args.status else ""))
    console.print(_counts_line(counts, len(records), args.status))
    return 0


def _table(records: list[JobRecord]):
    from rich import box  # lazy: see the module's docstring
    from rich.table import Table  # (rich: as above)

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in ("id", "name", "status", "backend", "duration", "progress", "submitted"):
        table.add_column(column, no_wrap=True, max_width=40 if column == "name" else None)
    table.add_column("error", no_wrap=True, max_width=60, overflow="ellipsis")
    for rec in records:
        table.add_row(
            rec.id,
            rec.name,
            rec.status.value,
            rec.backend,
            "" if rec.duration is None else f"{rec.duration:.1f}s",
            "" if rec.progress.fraction is None else f"{rec.progress.fraction:.0%}",
            _local(rec.submitted),
            last_line(rec.error),
        )
    return table


def _counts_line(counts: dict[JobStatus, int], shown: int, status: str | None) -> str:
    total = sum(counts.values())
    parts = [f"{n} {s.value}" for s, n in counts.items() if n]
    line = f"{total} job{'s' * (total != 1)}" + (": " + ", ".join(parts) if parts else "")
    of = counts[JobStatus(status)] if status else total
    if shown < of:
        line += f" (the newest {shown} shown: -n for more)"
    return line


# --- show -------------------------------------------------------------------------------
def _add_show(commands, name: str) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help="a job's status, times, worker, progress, what it runs, and its error",
        description="Show one job: its status, times, worker, progress, what it runs, who "
        "cancelled it, and its error's traceback.",
    )
    _jobs_argument(parser, many=False)
    _json_option(parser, "the job's record")
    parser.set_defaults(execute=_show)
    return parser


def _show(args: argparse.Namespace) -> int:
    store = _open(args)
    job = _find(args.job, store)
    rec = job.record()
    dropped = job.logs_dropped
    if args.json:
        print(json.dumps(_json_record(rec, dropped), indent=2))
        return 0
    took = "" if rec.duration is None else f" ({rec.duration:.1f} s)"
    fields = [
        ("status", rec.status.value + (took if rec.status.is_done else "")),
        ("backend", f"{rec.backend}" + (f", queue {rec.queue}" if rec.queue else "")),
        ("kind", rec.kind),
        ("submitted", _local(rec.submitted)),
        ("started", _local(rec.started)),
        ("finished", _local(rec.finished)),
        ("worker", rec.worker or ""),
        ("progress", progress.progress_text(rec)),
        ("timeout", "" if rec.timeout is None else f"{rec.timeout:g} s"),
        ("retries", _retries_text(rec)),
        ("cancelled by", rec.cancelled_by or ""),
        ("waits for" if rec.status is JobStatus.WAITING else "waited for", _after_text(rec)),
        ("output", rec.output or ""),
        ("log", f"{dropped:,} bytes of its middle dropped" if dropped else ""),
    ]
    print(f"job {rec.id} ({rec.name})")
    for label, value in fields:
        if value:
            print(f"  {label + ':':<14}{value}")
    runs = rec.description.rstrip("\n").replace("\n", "\n" + " " * 16)
    print(f"  {'runs:':<14}{runs}")
    for attempt in rec.attempts:  # (the earlier runs of a job with retries)
        why = last_line(attempt.error, attempt.status.value)
        where = f" on {attempt.worker}" if attempt.worker else ""
        print(
            f"  attempt {attempt.number}: {attempt.status.value}{where} at "
            f"{_local(attempt.finished)}: {why}"
        )
    if rec.error:
        print(
            "  error:\n" + "".join(f"    {line}\n" for line in rec.error.rstrip().splitlines()),
            end="",
        )
    return 0


def _retries_text(rec: JobRecord) -> str:
    """``attempt 2 of 4 (next at ...)``, for a job with retries; "" for one without."""
    if not rec.attempt_text:
        return ""
    waiting = rec.status is JobStatus.QUEUED and rec.retry_at is not None
    return rec.attempt_text + (f", next at {_local(rec.retry_at)}" if waiting else "")


# --- logs -------------------------------------------------------------------------------
def _add_logs(commands, name: str) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help="print a job's log; -f follows it until the job ends",
        description="Print what a job wrote to stdout and stderr. A long log has its "
        "middle dropped by its store (setting log_bytes_kept): a line says where. With "
        "-f, print the log as it grows, each part once, until the job ends (a progress "
        "bar below it on a terminal); then exit 0 if the job finished, else 1.",
    )
    _jobs_argument(parser, many=False)
    parser.add_argument(
        "-f", "--follow", action="store_true", help="follow the log until the job ends"
    )
    parser.set_defaults(execute=_logs)
    return parser


def _logs(args: argparse.Namespace) -> int:
    store = _open(args)
    job = _find(args.job, store)
    if not args.follow:
        sys.stdout.write(job.logs())
        return 0
    follower = LogFollower()
    try:
        # piped, the log alone goes to stdout (progress lines would mix into it)
        with progress.display(labelled=False, progress_lines=False) as shown:
            while True:
                done = job.done()  # before the log: the log read after it is whole
                rec = job.record()
                shown.log(follower.next(job.logs()))
                shown.show(rec)
                if done:
                    break
                time.sleep(FOLLOW_EVERY)
    except KeyboardInterrupt:
        print(f"\njobnb logs: stopped following; job {job.id} goes on", file=sys.stderr)
        return 130
    print(_ended_line(rec), file=sys.stderr)
    return 0 if rec.status is JobStatus.FINISHED else 1


# --- cancel, forget, prune --------------------------------------------------------------
def _add_cancel(commands, name: str) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help="cancel jobs: a queued job never runs, a running one is stopped",
        description="Cancel jobs: a queued job never runs, a running one is stopped by its "
        f"worker. Their records keep who asked (user@host via {CANCEL_VIA}). A job that "
        "had already ended is left as it is (and said). Nothing is cancelled when one of "
        "them is not found.",
    )
    _jobs_argument(parser, many=True)
    parser.set_defaults(execute=_cancel)
    return parser


def _cancel(args: argparse.Namespace) -> int:
    store = _open(args)
    for job in [_find(key, store) for key in args.jobs]:  # all found before any is cancelled
        rec = job.record()
        if job.cancel(via=CANCEL_VIA):
            print(f"cancelled {progress.job_label(rec)} (it was {rec.status.value})")
        else:
            print(f"{progress.job_label(rec)} had already ended: {job.status.value}")
    return 0


def _add_forget(commands, name: str) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help="delete ended jobs: their records, what they ran, results and logs",
        description="Delete ended jobs with what they ran, their results and their logs. "
        "Nothing is deleted when one of them is not found or has not ended (cancel it "
        "first, or wait for it).",
    )
    _jobs_argument(parser, many=True)
    parser.set_defaults(execute=_forget)
    return parser


def _forget(args: argparse.Namespace) -> int:
    store = _open(args)
    for job_id in api.forget(*[_find(key, store) for key in args.jobs]):
        print(f"forgot {job_id}")
    return 0


def _add_prune(commands, name: str) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help="delete the jobs that ended longer ago than --older-than",
        description="Delete the jobs that ended longer ago than --older-than, with what they "
        "ran, their results and their logs (as forget). Queued and running jobs are never "
        "deleted; the deletes go in short batches that never hold up running jobs.",
    )
    parser.add_argument(
        "--older-than",
        type=age,
        required=True,
        metavar="AGE",
        help="how long ago they ended: 7d, 12h, 30m, 90s, 1h30m, 2w, or seconds (0: every "
        "ended job)",
    )
    parser.add_argument("--status", choices=ENDED, help="only the jobs that ended so")
    parser.set_defaults(execute=_prune)
    return parser


def _prune(args: argparse.Namespace) -> int:
    store = _open(args)
    cut = time.time() - args.older_than
    deleted = api.prune(before=cut, status=args.status)
    which = f"{args.status} " if args.status else ""
    print(
        f"deleted {deleted} {which}job{'s' * (deleted != 1)} that ended before "
        f"{_local(cut)} from {store}"
    )
    return 0


# --- wait -------------------------------------------------------------------------------
def _add_wait(commands, name: str) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help="wait for jobs to end: exit 0 when all finished, 1 when one did not, 2 when "
        "--timeout passed first",
        description="Wait for jobs to end (a progress bar per job on a terminal, a line per "
        "change otherwise), then say how each ended (for shell scripts and CI).",
        epilog="exit codes: 0 every job finished; 1 a job failed, was cancelled or lost (or "
        "an error: a job not found, the store unreachable); 2 --timeout passed while a job "
        "was still queued or running (named on stderr; the jobs go on), or a usage error; "
        "130 interrupted (Ctrl+C; the jobs go on)",
    )
    _jobs_argument(parser, many=True)
    parser.add_argument(
        "--timeout",
        type=seconds,
        metavar="SECONDS",
        help="give up after this long (exit 2, naming the jobs still running; they go on)",
    )
    parser.set_defaults(execute=_wait)
    return parser


def _wait(args: argparse.Namespace) -> int:
    store = _open(args)
    jobs = list(dict.fromkeys(_find(key, store) for key in args.jobs))
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    ended: dict[Job, JobRecord] = {}
    try:
        with progress.display() as shown:
            while True:
                for job in jobs:
                    if job not in ended:
                        rec = job.record()
                        shown.show(rec)
                        if rec.status.is_done:
                            ended[job] = rec
                pending = [job for job in jobs if job not in ended]
                if not pending or (deadline is not None and time.monotonic() >= deadline):
                    break
                try:  # (huey on SQLite: a wait also restarts a worker that died)
                    pending[0].wait(FOLLOW_EVERY)
                except ResultTimeout:
                    pass
    except KeyboardInterrupt:
        print("\njobnb wait: interrupted; the jobs go on", file=sys.stderr)
        return 130
    for job in jobs:
        if job in ended:
            print(_ended_line(ended[job]))
    if pending:
        records = [job.record() for job in pending]
        waiting = ", ".join(f"{progress.job_label(rec)} {rec.status.value}" for rec in records)
        print(
            f"jobnb wait: not ended after {args.timeout:g} s (the jobs go on): {waiting}",
            file=sys.stderr,
        )
    if any(rec.status is not JobStatus.FINISHED for rec in ended.values()):
        return 1  # a job that did not finish: a failure, whatever else is still running
    return TIMED_OUT if pending else 0


def _ended_line(rec: JobRecord) -> str:
    """How a job ended, on one line: ``job ID (name) finished in 1.2 s``."""
    took = "" if rec.duration is None else f" {rec.duration:.1f} s"
    if rec.status is JobStatus.FINISHED:
        return f"job {progress.job_label(rec)} finished in{took or ' no time'}"
    why = last_line(rec.error)
    return f"job {progress.job_label(rec)} {rec.status.value}" + (f": {why}" if why else "")


# --- shared -----------------------------------------------------------------------------
def _open(args: argparse.Namespace) -> store_options.Store:
    store = store_options.resolve(args, args.command)
    store_options.use(store)
    return store


def _after_text(rec: JobRecord) -> str:
    """The jobs ``rec`` waits (or waited) for: ``0a1b (train, finished), ...``."""
    parts = []
    for job_id in rec.after:
        try:
            found = api.get(job_id).record()
            parts.append(f"{job_id} ({found.name}, {found.status.value})")
        except JobNotFound:
            parts.append(f"{job_id} (no longer held)")
    return ", ".join(parts)


def _find(key: str, store: store_options.Store) -> Job:
    """The job with id or name ``key``; JobNotFound naming it and the store looked in."""
    try:
        return api.get(key)
    except JobNotFound:
        raise JobNotFound(
            f"no job has the id or name {key!r} in {store} (`jobnb ls` lists them; "
            "--backend, --home, --url choose where to look)"
        ) from None


def _local(stamp: float | None) -> str:
    """A ``time.time()`` stamp as this machine's local time, to the second."""
    if stamp is None:
        return ""
    return dt.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return dt.datetime.fromtimestamp(stamp, dt.timezone.utc).isoformat()


def _with_times(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with its times as ISO 8601 (UTC), and as stamps in ``<time>_epoch``."""
    for name in TIMES:
        stamp = row[name]
        row[name] = _iso(stamp)
        row[f"{name}_epoch"] = stamp
    return row


def _json_row(rec: JobRecord) -> dict[str, Any]:
    """A row of ``jobs_df()`` (its columns, in order), its times as ``_with_times``."""
    row = record_row(rec)
    return _with_times({name: row[name] for name in JOBS_DF_COLUMNS})


def _json_record(rec: JobRecord, logs_dropped: int) -> dict[str, Any]:
    return _with_times(
        {
            **record_row(rec),
            "kind": rec.kind,
            "description": rec.description,
            "queue": rec.queue,
            "timeout": rec.timeout,
            "progress": {
                "done": rec.progress.done,
                "total": rec.progress.total,
                "message": rec.progress.message,
                "fraction": rec.progress.fraction,
            },
            "output": rec.output,
            "cancelled_by": rec.cancelled_by,
            "retries": rec.retries,
            "retry_at": rec.retry_at,
            "earlier_attempts": [{**vars(a), "status": a.status.value} for a in rec.attempts],
            "after": list(rec.after),
            "logs_dropped": logs_dropped,
        }
    )
