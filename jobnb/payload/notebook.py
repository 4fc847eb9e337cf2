"""A whole notebook as a job: read and parameterized in the kernel at submit time, run
by a worker with nbclient in a kernel of its own (worker/notebook_client.py), written to
``output``; the job's value is a dict of what it ``jobnb.record``-ed.

The submitting side is here: read the notebook, write its parameters into it as
papermill does, and decide where the executed notebook goes. Everything happens in the
kernel at submit time, so that a mistake (no such file, a parameter that cannot be
written as a literal, an output folder that does not exist) is an error at once, not a
failed job later, and so that paths are absolute before the job reaches a worker that
may run in another working directory.
"""

from __future__ import annotations

import ast
import keyword
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from ..exceptions import NotebookError
from .base import Payload, Worker
from .serialization import short

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"  # papermill's name: re-running its outputs works


@dataclass
class NotebookPayload(Payload):
    """Absolute paths, resolved in the kernel at submit time."""

    kind = "notebook"
    named_outputs = True

    notebook: dict[str, Any]  # nbformat v4, parameters already injected
    path: str  # the input notebook
    output: str  # where the executed notebook is written
    job_id: str
    kernel_name: str | None = None
    cwd: str | None = None  # the kernel's working directory: the input's folder
    parameters: dict[str, Any] = field(default_factory=dict)  # as given, for describe()
    #: index of the cell jobnb inserted for the parameters (None: none inserted), so
    #: that an error can count the cells of the input notebook
    injected_at: int | None = None

    @classmethod
    def prepare(
        cls,
        path: str | os.PathLike,
        parameters: dict[str, Any] | None,
        output: str | os.PathLike | None,
        kernel_name: str | None,
        job_id: str,
    ) -> NotebookPayload:
        """The payload of a notebook job: the notebook read now, with its parameters in."""
        source = Path(path).expanduser().resolve()
        parameters = dict(parameters or {})
        # Read at submit time, not in the worker: the job runs the notebook as the user
        # saw it when submitting (Jupyter autosaves the file while it sits in a queue,
        # and the user may go on editing it), a missing or broken file is an error now,
        # and a worker on another machine (huey on Redis) needs no copy of it. Papermill
        # reads at start, but it starts at once. Resubmitting runs the same cells again.
        notebook = read_notebook(source)
        lines = parameter_source(parameters)  # refuses what cannot be written, naming it
        if parameters:
            _check_language(notebook, kernel_name, source)
        injected_at = inject_parameters(notebook, lines) if parameters else None
        _clear_outputs(notebook)
        target = output_path(source, output, job_id)
        notebook.metadata["jobnb"] = {
            "job_id": job_id,
            "input": str(source),
            "parameters": {name: repr(value) for name, value in parameters.items()},
        }
        return cls(
            notebook=notebook,
            path=str(source),
            output=str(target),
            job_id=job_id,
            kernel_name=kernel_name,
            cwd=str(source.parent),
            parameters=parameters,
            injected_at=injected_at,
        )

    def default_name(self) -> str:
        return PurePath(self.path).stem

    def describe(self) -> str:
        """``notebook /in.ipynb (lr=0.1)``; where it is written is the record's ``output``."""
        given = ", ".join(f"{k}={short.repr(v)}" for k, v in self.parameters.items())
        return f"notebook {self.path}" + (f" ({given})" if given else "")

    def parts(self) -> list[tuple[str, Any]]:
        return [("the notebook", self.notebook)] + [
            (f"parameter `{k}`", v) for k, v in self.parameters.items()
        ]

    def execute(self, worker: Worker) -> dict[str, Any]:
        return worker.run_notebook(self)


def read_notebook(path: Path):
    """The notebook at ``path`` (nbformat v4), or a NotebookError saying why not."""
    import nbformat  # heavy: imported by notebook jobs only, so `import jobnb` stays light

    if not path.is_file():
        raise NotebookError(f"no notebook at {path}")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # not JSON, not a notebook: the reader's reason, one line
        raise NotebookError(
            f"{path} cannot be read as a notebook: {type(exc).__name__}: {exc}"
        ) from None


def parameter_source(parameters: dict[str, Any]) -> str:
    """``name = repr(value)`` lines, as papermill writes them for Python kernels.

    A value goes in only if its repr reads back as the same value (str, int, float,
    bool, None, and lists, tuples, dicts and sets of them); anything else is refused,
    naming the parameter, since it would not arrive in the notebook as it was given.
    """
    lines = []
    for name, value in parameters.items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise NotebookError(f"parameter name {name!r} is not a Python variable name")
        text = repr(value)
        try:
            same = _same(ast.literal_eval(text), value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            same = False
        if not same:
            kind = f"{type(value).__module__}.{type(value).__qualname__}"
            raise NotebookError(
                f"parameter {name!r} ({kind}: {text[:60]}) cannot be written into the notebook: "
                "parameters are written as Python literals (name = repr(value)), as papermill "
                "does, and its repr does not read back as the same value. Pass str, int, "
                "float, bool, None, or lists, tuples, dicts and sets of them (e.g. str(path), "
                "float(x), df.to_dict()); nan and inf are refused too."
            )
        lines.append(f"{name} = {text}\n")
    return "# Parameters\n" + "".join(lines)


def _same(read_back: Any, value: Any) -> bool:
    """Equal and of the same types all the way down (``1`` is not ``True``)."""
    if type(read_back) is not type(value):
        return False
    if isinstance(value, (list, tuple)):
        return len(read_back) == len(value) and all(map(_same, read_back, value))
    if isinstance(value, dict):
        return read_back.keys() == value.keys() and all(
            _same(read_back[k], value[k]) for k in value
        )
    return read_back == value


def _check_language(notebook: Any, kernel_name: str | None, path: Path) -> None:
    spec = notebook.metadata.get("kernelspec", {})
    if kernel_name and kernel_name != spec.get("name"):
        return  # another kernel than the notebook's: its language is not known here
    language = spec.get("language") or notebook.metadata.get("language_info", {}).get("name")
    if language and language.lower() != "python":
        raise NotebookError(
            f"{path.name} runs in a {language} kernel: jobnb writes parameters as Python "
            "only; set them in the notebook instead"
        )


def inject_parameters(notebook: Any, source: str) -> int | None:
    """Insert the parameters cell as papermill does: in place of an earlier injected cell,
    else after the first cell tagged ``parameters``, else first. Returns the new cell's
    index when it was inserted (None when it replaced one: the indexes stay)."""
    import nbformat  # heavy: imported by notebook jobs only, so `import jobnb` stays light

    cell = nbformat.v4.new_code_cell(source=source)
    cell.metadata["tags"] = [INJECTED_TAG]
    if notebook.nbformat_minor < 5:
        cell.pop("id", None)  # cell ids came with nbformat 4.5
    injected = _first_tagged(notebook, INJECTED_TAG)
    if injected is not None:
        notebook.cells[injected] = cell
        return None
    tagged = _first_tagged(notebook, PARAMETERS_TAG)
    index = 0 if tagged is None else tagged + 1
    notebook.cells.insert(index, cell)
    return index


def _first_tagged(notebook: Any, tag: str) -> int | None:
    for index, cell in enumerate(notebook.cells):
        if tag in cell.get("metadata", {}).get("tags", []):
            return index
    return None


def _clear_outputs(notebook: Any) -> None:
    """Start from empty outputs, as papermill does: a cell left unrun after a failure
    must not show what an earlier run printed (and the payload stays small)."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None


def output_path(source: Path, output: str | os.PathLike | None, job_id: str) -> Path:
    """Where the executed notebook goes: ``output``, or a file named after the input and
    the job id in ``output`` when it is a folder, or beside the input by default."""
    name = f"{source.stem}-{job_id}.ipynb"
    if output is None:
        return source.parent / name
    target = Path(output).expanduser().resolve()
    if target.is_dir():
        return target / name
    if not target.parent.is_dir():
        raise NotebookError(f"cannot write the output notebook {target}: no folder {target.parent}")
    return target


def parse_parameter(text: str, raw: bool = False) -> tuple[str, Any]:
    """``name=value`` from a command line: the value as a Python literal when it is one
    (``lr=0.1``, ``flag=True``, ``ids=[1, 2]``, ``s='7'``), else the text as a string
    (``name=alice``); with ``raw`` always the text."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise NotebookError(f"a parameter is NAME=VALUE, not {text!r}")
    if raw:
        return name, value
    try:
        return name, ast.literal_eval(value.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return name, value
