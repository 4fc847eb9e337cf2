"""The jobs this process asked to be told of when they end, and who tells.

A job asks with ``%%submit --notify``, ``jobnb.options(notify=True)``, or for every job
with ``jobnb.configure(notify=True)`` / ``%jobnb notify on``. The wish belongs to the
kernel that submitted, not to the job: it is kept here, in that process, and never in
the records store (a job's record is the same whether or not someone is told of its
end, and a restarted kernel has no page left to tell).

Who tells is a front: in a kernel with a notebook page, ``widgets/display.py``'s
``register_display`` sets the notebook's notifier (``widgets/notifier.py``: a desktop
notification through the browser) as the teller when it registers the job display.
Where nothing registered one (a script, a terminal IPython) a wish is kept and nothing
is told: there is no page to tell.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .job import Job

#: told of each job that asks, as it is submitted (on the submitting thread): it watches
#: for the end itself (``Job.add_done_callback``), whatever the backend
Teller = Callable[["Job"], None]

_teller: Teller | None = None
#: (backend, id) of every job that asked, as in done_callbacks: two handles, one job
#: (kept for the kernel's life, a few dozen bytes a job: an ended job's view reads it)
_wished: set[tuple[int, str]] = set()
_lock = threading.Lock()


def set_teller(teller: Teller | None) -> None:
    """Make ``teller`` the one told of each job that asks from now on (None: nobody)."""
    global _teller
    _teller = teller


def notify_at_end(job: Job) -> None:
    """Remember that ``job`` wants to be told of its end, and hand it to the teller."""
    with _lock:
        _wished.add(_key(job))
    teller = _teller
    if teller is not None:
        teller(job)


def wished(job: Job) -> bool:
    """Whether ``job`` asked (from this process) to be told of its end."""
    return _key(job) in _wished


def _key(job: Job) -> tuple[int, str]:
    return (id(job._backend), job.id)
