"""What travels to a worker (a Payload: a call, a cell or a notebook) and back (an
Outcome), each serialized once.

- base.py: what every payload is, and its serialization in the kernel
- call.py, cell.py, notebook.py: one kind each (notebook.py also reads and
  parameterizes the notebook at submit time)
- outcome.py: how a job ended, serialized once in the worker, opened once in the kernel
- serialization.py: cloudpickle, and the explanation of what cannot travel
"""

from __future__ import annotations

from .base import Payload, Worker, dumps_payload, dumps_payloads
from .call import CallPayload
from .cell import CellPayload
from .notebook import NotebookPayload
from .outcome import Outcome, SealedOutcome, dumps_outcome, last_line, loads_outcome
from .serialization import dumps, loads

__all__ = [
    "CallPayload",
    "CellPayload",
    "NotebookPayload",
    "Outcome",
    "Payload",
    "SealedOutcome",
    "Worker",
    "dumps",
    "dumps_outcome",
    "dumps_payload",
    "dumps_payloads",
    "last_line",
    "loads",
    "loads_outcome",
]
