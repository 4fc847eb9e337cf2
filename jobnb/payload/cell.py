"""A notebook cell as a job (``%%submit``): its source run in a namespace made of its
``inputs``; the job's value is a dict of the names in ``outputs`` that the cell bound."""

from __future__ import annotations

import linecache
from dataclasses import dataclass, field
from typing import Any

from .base import Payload, Worker


@dataclass
class CellPayload(Payload):
    kind = "cell"
    named_outputs = True

    source: str
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.inputs = dict(self.inputs)
        self.outputs = tuple(self.outputs)

    def default_name(self) -> str:
        return "cell"

    def describe(self) -> str:
        """The cell's source."""
        return self.source

    def parts(self) -> list[tuple[str, Any]]:
        return [(f"variable `{k}`", v) for k, v in self.inputs.items()]

    def execute(self, worker: Worker) -> dict[str, Any]:
        filename = f"<jobnb cell {worker.job_id}>"
        # so that the traceback shows the cell's lines, as IPython does
        linecache.cache[filename] = (len(self.source), None, self.source.splitlines(True), filename)
        namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
        namespace.update(self.inputs)
        exec(compile(self.source, filename, "exec"), namespace)
        return {name: namespace[name] for name in self.outputs if name in namespace}
