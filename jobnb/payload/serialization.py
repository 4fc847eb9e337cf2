"""Serialization of what travels between processes: cloudpickle, once each way, and
the explanation of what cannot travel when it fails.

Functions and classes of ``__main__`` (a notebook's) go by value; anything importable
goes by reference. Only when pickling fails are the parts pickled one by one, to name
the one that cannot travel.

The code of a function that goes by value keeps its file name, and when that file is
not on disk (a kernel's cell: IPython keeps its text in ``linecache``) the file's
lines travel with it and are put back in ``linecache`` where it is loaded: so a
traceback in a worker shows the lines of the notebook's functions, as the kernel
would. Only the cells the job's code comes from travel, each once.
"""

from __future__ import annotations

import io
import linecache
import pickle
import reprlib
import types
from collections import ChainMap
from typing import Any

import cloudpickle

from .framing import Framed, is_framed, unframe

#: a short repr of a value, for descriptions and error messages
short = reprlib.Repr()
short.maxstring = 40
short.maxother = 40


def dumps(obj: Any) -> bytes:
    """Serialize with cloudpickle (functions and classes of ``__main__`` go by value,
    with the lines of the cells they were defined in)."""
    with io.BytesIO() as file:
        _SourcedPickler(file, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
        return file.getvalue()


#: a buffer smaller than this stays inside the pickle: a piece of its own costs a write
#: and a slice, worth it only for the buffers whose copy would cost more
OUT_OF_BAND_LEAST = 64 * 2**10


def dumps_framed(obj: Any) -> Framed:
    """As ``dumps``, with protocol 5's out-of-band buffers: the big buffers of NumPy
    arrays and pandas frames stay where they are (views of the value's own memory), and
    the pickle holds the rest. Nothing is joined here: the pieces are written one after
    the other (framing.py)."""
    buffers: list[memoryview] = []

    def out_of_band(buffer: pickle.PickleBuffer) -> bool:
        try:
            view = buffer.raw()  # (contiguous only: the others stay in the pickle)
        except BufferError:
            return True
        if view.nbytes < OUT_OF_BAND_LEAST:
            return True
        buffers.append(view)
        return False

    file = io.BytesIO()
    _SourcedPickler(file, protocol=5, buffer_callback=out_of_band).dump(obj)
    return Framed([file.getbuffer(), *buffers])  # (a view: the pickle is not copied either)


#: how cloudpickle pickles a code object (it names every one's file "<dynamic-code>")
_cloudpickle_code_reduce = cloudpickle.Pickler.dispatch_table[types.CodeType]


def _reduce_code(code: types.CodeType) -> tuple[Any, tuple]:
    """A code object by value, with its own file name and, for a file that is only in
    ``linecache`` (a cell), that file's lines: the very list linecache holds, which the
    pickle's memo then writes once however many functions come from that cell."""
    _, arguments = _cloudpickle_code_reduce(code)
    entry = linecache.cache.get(code.co_filename)
    # an entry without a modification time is a text with no file behind it (IPython's
    # cells; lazily loaded entries are 1-tuples): only these travel
    lines = entry[2] if entry is not None and len(entry) == 4 and entry[1] is None else None
    return _code_with_source, (arguments, code.co_filename, lines)


def _code_with_source(arguments: tuple, filename: str, lines: list[str] | None) -> types.CodeType:
    """The code object again, in the process that loads it, and its cell's lines in this
    process's ``linecache`` (never over an entry it has: its own cells stay as they are)."""
    if lines is not None and filename not in linecache.cache:
        linecache.cache[filename] = (sum(map(len, lines)), None, lines, filename)
    return types.CodeType(*arguments).replace(co_filename=filename)


class _SourcedPickler(cloudpickle.Pickler):
    """cloudpickle, where code objects keep their file and travel with their cell."""

    dispatch_table = ChainMap({types.CodeType: _reduce_code}, cloudpickle.Pickler.dispatch_table)


def loads(data) -> Any:
    """The value of a ``dumps`` (one pickle) or of a ``dumps_framed`` written out in one
    buffer: its arrays are then views of that buffer (writable when the buffer is)."""
    if is_framed(data):
        pickled, *buffers = unframe(data)
        return pickle.loads(pickled, buffers=buffers)
    return pickle.loads(data)


def loads_pieces(pieces: list[memoryview]) -> Any:
    """The value of a ``dumps_framed``'s pieces (already cut: the pickle first)."""
    pickled, *buffers = pieces
    return pickle.loads(pickled, buffers=buffers)


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
