"""Serialization of what travels between processes: cloudpickle, once each way, and
the explanation of what cannot travel when it fails.

Functions and classes of ``__main__`` (a notebook's) go by value; anything importable
goes by reference. Only when pickling fails are the parts pickled one by one, to name
the one that cannot travel.
"""

from __future__ import annotations

import pickle
import reprlib
from typing import Any

import cloudpickle

#: a short repr of a value, for descriptions and error messages
short = reprlib.Repr()
short.maxstring = 40
short.maxother = 40


def dumps(obj: Any) -> bytes:
    """Serialize with cloudpickle (functions and classes of ``__main__`` go by value)."""
    return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    return pickle.loads(data)


def explain_unpicklable(parts: list[tuple[str, Any]], exc: Exception, verb: str) -> str:
    """Which of the labelled ``parts`` cannot be pickled, and what to do about it (``exc``:
    the error pickling them all together; ``verb``: what the part cannot do, as
    "be sent to a worker")."""
    for label, value in parts:
        try:
            dumps(value)
        except Exception as part_exc:
            return (
                f"{label} ({type(value).__module__}.{type(value).__qualname__}: "
                f"{short.repr(value)}) cannot {verb}: {part_exc}. "
                "Pass something picklable, create it inside the job, or use backend 'thread', "
                "which shares the kernel's objects."
            )
    return f"the job cannot {verb}: {type(exc).__name__}: {exc}"
