"""A notebook job in the worker: its notebook run with nbclient, cell by cell, in a
kernel of its own (a process, a child of the worker), reporting through the job's
Reporter.

Progress goes as cells run over cells to run, with the running cell's first line as
the message; the cells' stdout/stderr as they come. The executed notebook is written to
the payload's output as cells finish (at most once a second, so a long notebook can be
followed) and at the end, also when a cell fails. What the notebook ``jobnb.record``-ed
(worker/reporting.py) is taken out of the cells' outputs: the job's value.

Importing this module imports nbclient: only a worker running a notebook job does
(worker/runner.py), so ``import jobnb`` stays light.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import socket
import time
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

from ..exceptions import NotebookCellError, NotebookError
from ..payload import loads
from .interrupts import Interrupted
from .reporting import RECORD_MIME

SAVE_EVERY = 1.0  # seconds between two writes of the output notebook while it runs

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def execute(payload: Any, reporter: Any) -> dict[str, Any]:
    """Run the notebook of ``payload``; return what it recorded. Raises NotebookError
    (kernel missing or dead) or NotebookCellError (a cell raised; the output is written)."""
    notebook = nbformat.from_dict(payload.notebook)  # a copy: a resubmit runs it afresh
    client = JobClient(notebook, payload, reporter)
    # A loop of its own, closed at the end: the thread backend runs this in a thread of
    # a kernel whose main thread has a running loop (a worker process has none).
    loop = asyncio.new_event_loop()
    interrupts: list[BaseException] = []
    loop.set_task_factory(_watching_for(interrupts))
    try:
        loop.run_until_complete(client.run())
    except BaseException:
        client.kill_kernel()  # interrupted: before nbclient asks a busy kernel to stop
        if interrupts:
            raise interrupts[0] from None
        raise
    finally:
        client.kill_kernel()  # already gone unless the job was interrupted
        _close(loop)
    return client.recorded


def _watching_for(interrupts: list[BaseException]):
    """A task factory that stops the loop when a task ends with a jobnb interrupt.

    On the thread backend, cancel and timeout raise an exception in the job's thread,
    wherever it is; inside one of nbclient's background tasks (the kernel-alive poll)
    asyncio would keep it in that task, which nobody awaits, and the job would go on.
    """

    def check(task: asyncio.Task) -> None:
        if not task.cancelled() and isinstance(task.exception(), Interrupted):
            interrupts.append(task.exception())
            task.get_loop().stop()

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        task.add_done_callback(check)
        return task

    return factory


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on the loop (after an interrupt), let it end, close the loop."""
    try:
        left = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


class JobClient(NotebookClient):
    """An nbclient NotebookClient that runs a notebook payload and reports to a jobnb
    Reporter; ``recorded`` holds what the notebook recorded."""

    def __init__(self, notebook: Any, payload: Any, reporter: Any) -> None:
        super().__init__(
            notebook,
            timeout=None,  # no limit per cell: the job's own timeout stops it
            kernel_name=payload.kernel_name or "",
            resources={"metadata": {"path": payload.cwd}},
            # graceful (nbclient's default): the kernel exits as Python does, flushing
            # files the notebook left open; "immediate" (SIGKILL) saves ~0.15 s but
            # could lose what they buffered
            shutdown_kernel="graceful",
        )
        self.payload = payload
        self.reporter = reporter
        self.output_path = Path(payload.output)
        self.recorded: dict[str, Any] = {}
        self.kernel_process: Any = None  # its Popen, once started
        skip = self.skip_cells_with_tag
        self.to_run = [
            i
            for i, cell in enumerate(notebook.cells)
            if cell.cell_type == "code"
            and cell.source.strip()
            and skip not in cell.metadata.get("tags", [])
        ]
        self.done = 0
        self.last_save = 0.0
        self.running: int | None = None  # index of the cell running now

    # --- the run, start to end ---------------------------------------------------------
    async def run(self) -> None:
        total = len(self.to_run)
        self.reporter.progress(0, total, "starting the kernel")
        try:
            await self.async_execute()
        except NoSuchKernel:
            raise NotebookError(self._no_such_kernel()) from None
        except CellExecutionError as exc:
            self.save()
            raise self._cell_error(exc.ename, exc.evalue) from None
        except DeadKernelError as exc:
            self.save()
            if self.running is None:
                raise NotebookError(f"the kernel {self.kernel_label} died: {exc}") from None
            raise self._cell_error("DeadKernelError", "the kernel died") from None
        except RuntimeError as exc:
            if self.running is not None:
                raise
            raise NotebookError(f"the kernel {self.kernel_label} did not start: {exc}") from None
        self.save()
        self.reporter.progress(total, total, f"wrote {self.output_path}")

    async def async_start_new_kernel(self, **kwargs: Any) -> None:
        await super().async_start_new_kernel(**kwargs)
        process = getattr(self.km.provisioner, "process", None)
        pid = getattr(process, "pid", None)
        if pid:
            self.kernel_process = process
            # the kernel runs in a session of its own: a worker killed to cancel the
            # job must kill it too (subprocess and huey workers; see child.py)
            adopt = getattr(self.reporter, "adopt", None)
            if adopt is not None:
                adopt(pid)
        self.save()  # the output exists from the start: it shows how far the job got

    async def async_execute_cell(self, cell: Any, cell_index: int, **kwargs: Any) -> Any:
        runs = cell_index in self.to_run
        if runs:
            self.running = cell_index
            self.reporter.progress(self.done, len(self.to_run), first_line(cell.source))
        result = await super().async_execute_cell(cell, cell_index, **kwargs)
        if runs:
            self.done += 1
            self.running = None
            if time.monotonic() - self.last_save >= SAVE_EVERY:
                self.save()
        return result

    # --- outputs as they come --------------------------------------------------------
    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        msg_type = msg["msg_type"]
        content = msg["content"]
        if msg_type == "stream":
            self.reporter.log(content.get("name", "stdout"), content.get("text", ""))
        elif msg_type in ("display_data", "execute_result"):
            data = content.get("data", {})
            if RECORD_MIME in data:
                data[RECORD_MIME] = self._take_record(data[RECORD_MIME])
        return super().output(outs, msg, display_id, cell_index)

    def _take_record(self, sent: Any) -> dict[str, Any]:
        """Keep the recorded value; leave its name and repr in the notebook."""
        name = sent.get("name", "?")
        try:
            self.recorded[name] = loads(base64.b64decode(sent["pickle"]))
        except Exception as exc:  # e.g. its class is not importable in the worker
            self.reporter.log(
                "stderr",
                f"jobnb.record: the value recorded as {name!r} cannot be loaded in the "
                f"worker ({type(exc).__name__}: {exc}); it is left out of the result\n",
            )
        return {"name": name, "repr": sent.get("repr", "")}

    # --- errors ------------------------------------------------------------------------
    def _cell_error(self, ename: str, evalue: str) -> NotebookCellError:
        index = self.running
        cell = self.nb.cells[index] if index is not None else None
        source = cell.source if cell is not None else ""
        where = self._cell_label(index)
        text = f"{where} ({first_line(source)!r}) raised {ename}"
        text += f": {evalue}" if evalue else ""
        message = f"{text}; the executed notebook is {self.output_path}"
        lines = []
        for output in cell.outputs if cell is not None else []:
            if output.get("output_type") == "error":
                lines = [_ANSI.sub("", line) for line in output.get("traceback", [])]
        traceback = (
            f"In {where} of {self.payload.path}:\n"
            + "".join(f"    {row}\n" for row in source.splitlines())
            + "\n"
            + "".join(line.rstrip("\n") + "\n" for line in lines)
            + f"NotebookCellError: {message}\n"
        )
        return NotebookCellError(
            message,
            traceback,
            cell_index=self._input_index(index),
            source=source,
            ename=ename,
            evalue=evalue,
            output=str(self.output_path),
            recorded=dict(self.recorded),
        )

    def _input_index(self, index: int | None) -> int | None:
        """The cell's index in the input notebook (without the injected cell)."""
        injected = self.payload.injected_at
        if index is None or injected is None or index < injected:
            return index
        return None if index == injected else index - 1

    def _cell_label(self, index: int | None) -> str:
        if index is None:
            return "a cell"
        if index == self.payload.injected_at:
            return "the injected parameters cell"
        return f"cell {self._input_index(index)}"

    def _no_such_kernel(self) -> str:
        try:
            known = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
        except Exception as exc:  # noqa: BLE001 - the name is what matters
            known = f"(cannot list them: {exc})"
        return (
            f"no Jupyter kernel named {self.kernel_label} on {socket.gethostname()}; "
            f"the kernels there are: {known}. Give one of them as kernel_name "
            "(or install the missing one with its `... install --user --name ...`)."
        )

    # --- the output file and the kernel -------------------------------------------------
    @property
    def kernel_label(self) -> str:
        return repr(self.kernel_name or "python3")  # jupyter_client's default

    def save(self) -> None:
        """Write the notebook as it is now, atomically (a reader never sees half)."""
        partial = self.output_path.with_name(f".{self.output_path.name}.{os.getpid()}.tmp")
        with open(partial, "w", encoding="utf-8") as handle:
            nbformat.write(self.nb, handle)
        os.replace(partial, self.output_path)
        self.last_save = time.monotonic()

    def kill_kernel(self) -> None:
        """Stop the kernel's process group if it still runs (an interrupted job)."""
        process = self.kernel_process
        if process is None or process.poll() is not None:
            return  # never started, or stopped and reaped by nbclient
        try:
            os.killpg(process.pid, signal.SIGKILL)  # a session leader: pgid == pid
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()


def first_line(source: str) -> str:
    """The first non-blank line of a cell, shortened: what progress and errors show."""
    for line in source.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= 80 else line[:77] + "..."
    return ""
