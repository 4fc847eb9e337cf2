"""What a command shows while it waits for jobs to end (``jobnb run``, ``wait``, ``logs
-f``): on a terminal, a live bar per job (rich) under the log lines it prints; when
its output is not a terminal (a pipe, a file, CI), plain lines, one each time a job's
status or progress changes, which read well in a log file.

rich is imported when a terminal display is made, not with the ``jobnb`` command: its
``--help`` and the commands that show no bar do without it.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from ..model import JobRecord


def job_label(rec: JobRecord) -> str:
    """How a job is named in lines and bars: ``id (name)``."""
    return f"{rec.id} ({rec.name})"


def progress_text(rec: JobRecord) -> str:
    """A job's progress as ``[2/7] message`` (empty when it reports none)."""
    progress = rec.progress
    if progress.total:
        return f"[{progress.done:g}/{progress.total:g}] {progress.message or ''}".rstrip()
    if progress.message:
        return progress.message
    return ""


class PlainDisplay:
    """Lines, each time a job's status or progress changes; log text as it comes.

    ``labelled``: start each line with the job's id and name (several jobs, or a command
    that has not named the job yet); else only its progress, as ``jobnb run`` prints.
    ``progress_lines=False``: the log text alone (``jobnb logs -f > file``)."""

    def __init__(self, stream: TextIO, labelled: bool = True, progress_lines: bool = True) -> None:
        self.stream = stream
        self.labelled = labelled
        self.progress_lines = progress_lines
        self._shown: dict[str, tuple] = {}

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.flush()

    def show(self, rec: JobRecord) -> None:
        if not self.progress_lines:
            return
        state = (rec.status, rec.progress.done, rec.progress.message)
        before = self._shown.get(rec.id)
        if state == before:
            return
        self._shown[rec.id] = state
        if rec.status.is_done:
            return  # the command says how each job ended, once
        text = progress_text(rec)
        if self.labelled:
            status_changed = before is None or before[0] != rec.status
            if status_changed or text:
                line = f"{job_label(rec)}: {rec.status.value}" + (f" {text}" if text else "")
                print(line, file=self.stream, flush=True)
        elif text and rec.progress.total:
            print(text, file=self.stream, flush=True)

    def log(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


class TerminalDisplay:
    """A rich progress bar per job at the bottom of the terminal, with log text printed
    above it, a whole line at a time (a part line waits for its end, or the end)."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console  # lazy: see the module's docstring
        from rich.progress import (  # (rich: as above)
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=Console(file=stream, highlight=False, markup=False, emoji=False),
        )
        self._tasks: dict[str, int] = {}
        self._part_line = ""

    def __enter__(self) -> TerminalDisplay:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._part_line:
            self._print(self._part_line + "\n")
            self._part_line = ""
        self._progress.stop()

    def show(self, rec: JobRecord) -> None:
        status = rec.status.value + (f" {rec.progress.message}" if rec.progress.message else "")
        total = rec.progress.total or None  # None: a bar that only says it is alive
        done = rec.progress.done
        if rec.status.value == "finished" and total is None:
            total, done = 1, 1
        task = self._tasks.get(rec.id)
        if task is None:
            self._tasks[rec.id] = self._progress.add_task(
                job_label(rec), total=total, completed=done, status=status
            )
        else:
            self._progress.update(task, total=total, completed=done, status=status)
        if rec.status.is_done:
            self._progress.stop_task(self._tasks[rec.id])  # its clock stops at the end

    def log(self, text: str) -> None:
        text = self._part_line + text
        whole, _, self._part_line = text.rpartition("\n")
        if whole or _:
            self._print(whole + "\n")

    def _print(self, text: str) -> None:
        self._progress.console.print(text, end="", soft_wrap=True)


def display(
    stream: TextIO | None = None, labelled: bool = True, progress_lines: bool = True
) -> PlainDisplay | TerminalDisplay:
    """A terminal display when ``stream`` (default stdout) is a terminal, else a plain
    one (``labelled``, ``progress_lines``: see PlainDisplay)."""
    stream = stream or sys.stdout
    if on_terminal(stream):
        return TerminalDisplay(stream)
    return PlainDisplay(stream, labelled, progress_lines)


def on_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal a live display can redraw. Not the pseudo-terminal
    a notebook's ``!jobnb run`` writes to: IPython runs ``!`` commands on one, but the
    cell's output keeps every redraw as a line of its own (a kernel's children have
    JPY_PARENT_PID, set by jupyter_client when it starts the kernel)."""
    return stream.isatty() and "JPY_PARENT_PID" not in os.environ


def console():
    """A rich console for the commands' tables: as the terminal is on one; elsewhere
    (piped, a notebook's ``!jobnb ls``) plain text, no line cut at 80 columns (a
    script reads whole lines) and no escapes for bold (a cell's output shows them)."""
    from rich.console import Console  # lazy: see the module's docstring

    terminal = on_terminal(sys.stdout)
    return Console(
        highlight=False,
        markup=False,
        emoji=False,
        width=None if terminal else 500,
        force_terminal=None if terminal else False,
    )
