"""A function call as a job: ``fn(*args, **kwargs)``; the job's value is what it returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import NotCallable
from .base import Payload, Worker
from .futures import replace_results
from .serialization import short


@dataclass
class CallPayload(Payload):
    kind = "call"

    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise NotCallable(
                f"{short.repr(self.fn)} is not callable: jobnb needs a callable (a function) "
                "and its arguments apart, as in jobnb.submit(f, x), not the result of calling "
                "it, as in jobnb.submit(f(x))."
            )
        self.args = tuple(self.args)
        self.kwargs = dict(self.kwargs or {})

    def default_name(self) -> str:
        return getattr(self.fn, "__name__", None) or type(self.fn).__name__

    def describe(self) -> str:
        """``train(0.1, epochs=3)``"""
        parts = [short.repr(a) for a in self.args]
        parts += [f"{k}={short.repr(v)}" for k, v in self.kwargs.items()]
        return f"{self.default_name()}({', '.join(parts)})"

    def parts(self) -> list[tuple[str, Any]]:
        labelled = [("the function", self.fn)]
        labelled += [(f"argument {i} (positional)", a) for i, a in enumerate(self.args)]
        labelled += [(f"keyword argument `{k}`", v) for k, v in self.kwargs.items()]
        return labelled

    def execute(self, worker: Worker) -> Any:
        # (a Job's result passed as an argument: futures.py)
        args = replace_results(list(self.args), worker.result_of)
        values = replace_results(list(self.kwargs.values()), worker.result_of)
        return self.fn(*args, **dict(zip(self.kwargs, values, strict=True)))
