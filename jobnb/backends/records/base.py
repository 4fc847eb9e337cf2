"""The contract of a records store: where the queue backends (huey, rq) keep their jobs.

A queue carries only job ids; everything else about a job lives in its store, readable
from any process (the kernel that submitted, another kernel, the dashboard, ``jobnb
jobs``): its record (status, name, times, progress, worker, error, output notebook), its
serialized payload, its log, its serialized outcome, and where the submitter was (the
job runs there). :class:`Records` states what every store does; ``sqlite.py`` and
``redis.py`` do it. A new store subclasses ``Records``, implements every method, and
passes the store suite (tests/test_records.py), which runs against every store.

What stores share is here too: when a reader looks for lost jobs, the texts a store
writes as a job's error (defined once, handed to SQL and Lua as parameters), and the
one decoder of a stored record.

A job's life in a store::

    add -> waiting -> (every dependency finished) -> queued
                  \\-> (one failed, cancelled, lost) -> cancelled
    add -> queued -> start -> running -> finish -> finished | failed | cancelled
                 \\-> request_cancel -> cancelled    \\-> (no heartbeat) -> lost
                                                   \\-> requeue -> queued
                                                   \\-> retry -> queued (retry_at)

An ended job's status never changes again (the first end stands: a job found lost stays
lost when its worker reports late). Every store is safe to use from several threads and
processes at once; a fault of the store (a file, a server) is a JobnbError that names it
and says what to do.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from ... import defaults
from ...exceptions import JobNotFound
from ...model import JobRecord, JobStatus, Progress
from ...payload.signing import HashedAsRead, Signer
from ..retries import RETRY_FIELDS, decode_retry_fields

#: seconds without a heartbeat after which a running job is lost (JOBNB_LOST_AFTER: shorter
#: in tests; read by the kernels and workers alike, when jobnb is imported)
LOST_AFTER = float(os.environ.get("JOBNB_LOST_AFTER") or 30.0)

#: when a queued job that was cancelled ended (the error a store writes says it, and so
#: does the outcome a backend makes for it: it has none of its own)
CANCELLED_WHEN = "before it started"
#: the error of a queued job cancelled before it started
CANCELLED_ERROR = f"JobCancelled: the job was cancelled {CANCELLED_WHEN}\n"
#: why a running job whose worker stopped beating is lost
SILENT_WORKER = (
    "its worker stopped sending heartbeats (killed, out of memory, or its machine is gone) "
    "while running the job"
)


#: the error of a waiting job cancelled because a job it waits for ended without
#: finishing ({id}, {name}: that job's; {how}: failed, cancelled, lost, or "is no longer
#: held" for one forgotten before it ended)
DEPENDENCY_ERROR = "JobCancelled: cancelled: job {id} ({name}) it waits for {how}\n"
#: ... and for one that was never there, or was forgotten before this one was added
MISSING_DEPENDENCY = "is no longer held"


def dependency_error(job_id: str, name: str, how: str) -> str:
    """The error a store writes for a waiting job whose dependency ``job_id`` ended
    ``how`` (its status) instead of finishing."""
    return DEPENDENCY_ERROR.format(id=job_id, name=name, how=ENDED_HOW.get(how, how))


#: how a dependency's status reads in ``DEPENDENCY_ERROR``
ENDED_HOW = {"failed": "failed", "cancelled": "was cancelled", "lost": "was lost"}


def lost_error(reason: str) -> str:
    """The error a store writes for a job lost for ``reason``."""
    return f"JobLost: {reason}\n"


def requeue_note(reason: str) -> str:
    """The line a store appends to the log of a job put back in the queue for ``reason``."""
    return f"jobnb: {reason}\n"


class LostLook:
    """When a reader next looks for lost jobs: looking is a query, so at most every
    ``lost_after / 10`` s, and at most once a second (a waiting kernel reads a status
    every millisecond; a job is lost after 30 s, not 30 ms)."""

    def __init__(self, lost_after: float) -> None:
        self.every = min(1.0, lost_after / 10)
        #: how long a running job may stay silent: a look every ``every`` s then finds
        #: it lost no later than ``lost_after`` s after its last heartbeat
        self.silence = lost_after - self.every
        self.last = -float("inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.every:
            return False
        self.last = now
        return True


#: how many jobs ``forget_many`` deletes at once when a prune walks a history (Redis; a
#: SQLite file sizes its own batches, sqlite.py): a thousand jobs' keys take a Redis
#: script ~5-10 ms to delete (five thousand, 30-50 ms), so a running job's heartbeat or
#: finish, which waits for the server between two scripts, never waits long; a million
#: jobs still prune in ~30 s
PRUNE_BATCH = 1000

#: the statuses of an ended job: the only ones a prune deletes
ENDED = tuple(status for status in JobStatus if status.is_done)


#: the fields of a stored record, in the order :func:`decode_record` takes them
RECORD_FIELDS = (
    "id",
    "name",
    "backend",
    "status",
    "kind",
    "description",
    "queue",
    "timeout",
    "submitted",
    "started",
    "finished",
    "progress_done",
    "progress_total",
    "progress_message",
    "worker",
    "error",
    "output",
    "cancelled_by",
    "schedule",
    "due",
    "after_ids",
    *RETRY_FIELDS,
)


def _text(value: str | bytes | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _number(value: float | bytes | None) -> float | None:
    return None if value is None else float(value)


def decode_record(values: Sequence) -> JobRecord:
    """The record whose ``RECORD_FIELDS`` are ``values``, as a store reads them: texts and
    numbers (SQLite) or bytes (Redis); None where a field is not set."""
    retry_fields = decode_retry_fields(values[-len(RETRY_FIELDS) :])
    values = values[: -len(RETRY_FIELDS)]
    (
        job_id,
        name,
        backend,
        status,
        kind,
        description,
        queue,
        timeout,
        submitted,
        started,
        finished,
        done,
        total,
        message,
        worker,
        error,
        output,
        cancelled_by,
        schedule,
        due,
        after_ids,
    ) = values
    return JobRecord(
        id=_text(job_id),
        name=_text(name),
        backend=_text(backend),
        status=JobStatus(_text(status)),
        kind=_text(kind),
        description=_text(description),
        queue=_text(queue),
        timeout=_number(timeout),
        submitted=_number(submitted),
        started=_number(started),
        finished=_number(finished),
        progress=Progress(_number(done) or 0.0, _number(total), _text(message)),
        worker=_text(worker),
        error=_text(error),
        output=_text(output),
        cancelled_by=_text(cancelled_by),
        **retry_fields,
        schedule=_text(schedule),
        due=_number(due),
        after=tuple(_text(after_ids).split(",")) if after_ids else (),
    )


class Records:
    """A store of job records. Every method raises JobNotFound for a job it does not
    hold (unless it says otherwise), and a JobnbError naming the store and what to do
    when the store itself fails. Stores take, beside these arguments, what joins a
    write to their caller's transaction (see ``add``)."""

    #: seconds the jobs added through this store are kept once ended (None: until
    #: forgotten); it goes with each job, so whoever ends it applies it
    result_ttl: float | None = None
    #: seconds a running job may go without a heartbeat before a reader finds it lost
    lost_after: float = LOST_AFTER
    #: bytes of each job's log kept, its head and its tail (log_bounds.py): it goes with
    #: each job added through this store, so whoever appends to its log applies it
    log_bytes_kept: int = defaults.LOG_BYTES_KEPT

    #: what queues the ids of the jobs the store has just moved from ``waiting`` to
    #: ``queued`` (their dependencies all finished), once that change is committed: set
    #: by whoever holds the queue (the backend in a kernel, the queue's worker). Without
    #: it, or when the process dies before it ran, those jobs are recorded as queued
    #: with no queue message, and the workers' repair sweeps queue them (huey_messages,
    #: rq_batches): a released job is never stranded
    on_release: Callable[[list[str]], None] | None = None

    def _released(self, job_ids: list[str]) -> None:
        """Hand the ids moved to ``queued`` to ``on_release`` (a failure there is left
        to the repair sweeps: the store's change is committed already)."""
        if job_ids and self.on_release is not None:
            try:
                self.on_release(job_ids)
            except Exception as exc:  # (the queue's fault: the sweeps mend it)
                logging.getLogger("jobnb").warning(
                    "jobs %s are queued in %s but could not be put in their queue (%s: "
                    "%s); the workers' repair sweep queues them within ~20 s",
                    ", ".join(job_ids),
                    self.place,
                    type(exc).__name__,
                    exc,
                )

    #: the store, in words, for errors: its file, or its server's keys
    place: str = "a records store"

    #: signs the payloads and outcomes the store keeps, and verifies them before they
    #: leave it: whoever can write the store (its file, its Redis server) but has not
    #: the key cannot make a worker or a kernel unpickle what they wrote. The store
    #: signs, not its callers, so that no path in or out can forget it.
    signer: Signer

    def _signature(self, kind: str, job_id: str, blob) -> bytes:
        """The signature of ``blob``, for a store that keeps it beside the blob."""
        return self.signer.signature(blob, f"{kind}:{job_id}")

    def _signature_later(self, kind: str, job_id: str, blob) -> Callable[[], bytes]:
        """What gives the signature of ``blob``, hashed while the store writes it."""
        return self.signer.signature_later(blob, f"{kind}:{job_id}")

    def _verified_apart(
        self, kind: str, job_id: str, signature, stored, hashed: HashedAsRead | None = None
    ) -> memoryview:
        """As ``_verified``, for a blob whose signature was kept beside it (``hashed``:
        its chunks' hashes, started as it was read)."""
        what = f"the {kind} of job {job_id}"
        return self.signer.verify_apart(signature, stored, f"{kind}:{job_id}", what, hashed)

    def _verified(self, kind: str, job_id: str, stored) -> memoryview:
        """The blob a store held (signed by ``_signed``), or SignatureMismatch saying
        which job's payload or outcome failed: never unpickled then."""
        return self.signer.verify(stored, f"{kind}:{job_id}", f"the {kind} of job {job_id}")

    def _missing(self, job_id: str) -> JobNotFound:
        """The error for a job this store does not hold."""
        return JobNotFound(f"no job {job_id!r} in {self.place}")

    # --- what a submitter writes -----------------------------------------------------------
    def add(
        self,
        records: Iterable[JobRecord],
        payloads: Iterable,
        cwd: str | None = None,
        sys_path: list[str] | None = None,
    ) -> None:
        """Store queued jobs (``records``, every field kept, ``output`` included) with
        their serialized ``payloads`` (one each, in order: a Framed value, written piece
        by piece and never joined, or a buffer), all or none, with where the
        submitter was (``cwd``, ``sys_path``): their worker runs them there. A store may
        take one more keyword argument through which the caller's own writes join the
        same transaction (SQLite: ``within``, Redis: ``pipeline``).

        A record with ``after`` (status ``waiting``) is filed under each job it waits
        for, in the same transaction, and settled at once against those that ended
        already: ``queued`` (handed to ``on_release`` after the commit) when they all
        finished, ``cancelled`` (``dependency_error``) when one did not or is not held.
        Whatever ends a job later (``finish``, ``request_cancel``, ``lose_running``, a
        reader finding it lost) settles its waiting dependents in its own transaction
        or script, down a chain."""
        raise NotImplementedError

    def request_cancel(self, job_id: str, by: str) -> JobStatus:
        """Ask for a job to be cancelled, on behalf of ``by`` (kept as the record's
        ``cancelled_by``); return the status it had. A queued job is cancelled here and
        now (``CANCELLED_ERROR``, and it never starts); a running one is flagged, and its
        worker learns it from its next ``heartbeat``; an ended one is left as it is."""
        raise NotImplementedError

    def forget(self, job_id: str) -> JobStatus:
        """Delete every trace of an ended job (record, payload, outcome, log); return how
        it had ended. A queued or running job is refused with a JobnbError that says to
        cancel it first, or to wait (``refuse_to_forget``), and is left as it is."""
        raise NotImplementedError

    def forget_many(self, job_ids: list[str]) -> dict[str, JobStatus]:
        """``forget`` for many jobs at once, in one short transaction (SQLite) or one
        script (Redis) that deletes the same rows or keys as ``forget``: every trace of the
        ended jobs among ``job_ids``; return how each deleted job had ended. Queued and
        running jobs, and jobs the store does not hold, are left out (not an error: a
        prune meets them). Callers keep batches to a few thousand ids (``PRUNE_BATCH``),
        so that a worker's heartbeat or finish never waits long behind one; and call
        ``shrink`` once they are done."""
        raise NotImplementedError

    def shrink(self) -> None:
        """Give the space that ``forget_many`` freed back, in short steps (a SQLite file
        shrinks, a step per transaction; Redis frees a key's memory as it deletes it, so
        has nothing left to do). Once after a prune's last batch, not after each: the
        space of the next batches would be moved around for nothing."""
        raise NotImplementedError

    def ended_before(
        self, before: float, status: JobStatus | None = None, batch: int = PRUNE_BATCH
    ) -> Iterator[list[str]]:
        """The ids of the jobs that ended (``finished``) before ``before`` (a
        ``time.time()`` stamp), of one ended ``status`` or of every one, in lists of at
        most ``batch``, oldest first within a status. A generator that reads one batch
        at a time, resuming after the last id it gave: what ``jobnb.prune`` hands to
        ``forget_many`` batch by batch, so the ids it already deleted are not read again.
        Its whole walk reads each ended job of ``status`` once."""
        raise NotImplementedError

    # --- what a worker writes --------------------------------------------------------------
    def start(
        self, job_id: str, worker: str
    ) -> tuple[bytes, float | None, str | None, list[str]] | None:
        """Mark a queued job running on ``worker``; return its payload, its timeout, and
        the submitter's working directory and sys.path (``[]`` if not given). None if it
        is no longer queued (cancelled, or taken by another worker): a job starts once.
        The same ``worker`` asking again for a job it started gets the same answer: its
        first answer may have been lost with the store's connection after the start was
        made (a Redis server killed, then back from its AOF).
        A payload whose signature fails raises SignatureMismatch once the job is marked
        running: the caller ends it failed with that message."""
        raise NotImplementedError

    def heartbeat(self, job_id: str) -> bool:
        """Say a running job is alive; return whether a cancel was asked for. A job the
        store no longer holds is not made again (False)."""
        raise NotImplementedError

    def progress(self, job_id: str, done: float, total: float | None, message: str | None) -> None:
        """Record what the job last reported (``jobnb.progress``); a heartbeat too.
        Numbers of any kind that converts to float (numpy's) are taken."""
        raise NotImplementedError

    def log(self, job_id: str, text: str) -> None:
        """Append ``text`` to the job's log, within the job's ``log_bytes_kept``: its
        head and its tail are kept, the middle dropped (log_bounds.py). An append costs
        what it appends, whatever the log's length."""
        raise NotImplementedError

    def finish(self, job_id: str, status: JobStatus, error: str | None, outcome) -> bool:
        """Record how a queued or running job ended: ``status``, its ``error`` text (a
        traceback), and its serialized ``outcome`` (a Framed value or a buffer), stored
        as given, never visible in part; a finished job's
        progress shows its total done. False, and nothing written, if it had already
        ended (found lost, cancelled): the first end stands."""
        raise NotImplementedError

    def requeue(self, job_id: str, reason: str) -> bool:
        """Put a running job back in the queued state (its worker stopped before it
        ended), saying ``reason`` in its log (``requeue_note``); False if it was no
        longer running. The caller queues its id again."""
        raise NotImplementedError

    def retry(
        self, job_id: str, status: JobStatus, error: str | None, classes: tuple[str, ...]
    ) -> float | None:
        """A run of the running job ``job_id`` ended ``status`` (``failed`` or ``lost``)
        with ``error``, its exception's class and bases being ``classes``: when the job's
        retries allow another run (backends/retries.py ``retry_plan``) and no cancel was
        asked for, put it back in the queued state in one transaction or script, the run
        kept in its ``attempts``, its next run not before ``retry_at`` (a line in its log
        says so), and return the seconds till then; else None and nothing written (the
        caller then ``finish``es it). A job waiting for its ``retry_at`` is never
        started, nor among ``queued_ids``, until ``take_due_retries`` gives it out.
        Readers that find a job lost, and ``lose_running``, put a job with attempts left
        back the same way instead of losing it."""
        raise NotImplementedError

    def take_due_retries(self) -> list[str]:
        """The ids of the queued jobs whose ``retry_at`` has come, each given out once
        (their ``retry_at`` cleared in the same transaction or script): a worker's sweep
        queues them (backends/retry_sweep.py). Looks for lost jobs first, as a reader
        does, so that a lost job is retried with no reader about."""
        raise NotImplementedError

    def lose_running(self, reason: str) -> list[str]:
        """Mark every running job lost (``lost_error(reason)``) and return their ids: what
        a worker that takes over a whole store does, once it knows no other worker runs
        (it holds the home's lock). Only a store served by one worker at a time
        implements it (SQLite); where workers on several machines share the store
        (Redis), their jobs are found lost by their heartbeats alone."""
        raise NotImplementedError

    # --- what readers read -----------------------------------------------------------------
    # Readers also do the store's chores, at most once a ``LostLook``: a running job
    # silent for ``lost_after`` s becomes lost (``lost_error(SILENT_WORKER)``), and an
    # ended job past its ``result_ttl`` is forgotten.
    def record(self, job_id: str) -> JobRecord:
        """The job's record, as ``add`` stored it and its life since changed it."""
        raise NotImplementedError

    def status(self, job_id: str) -> JobStatus:
        """The job's status alone: what a waiting kernel reads, often (cheap)."""
        raise NotImplementedError

    def wait(self, job_id: str, timeout: float | None) -> bool:
        """Block until the job has ended (True) or ``timeout`` seconds passed (False;
        None: no limit)."""
        raise NotImplementedError

    def records(
        self,
        status: JobStatus | None = None,
        limit: int | None = None,
        offset: int = 0,
        since: float | None = None,
    ) -> list[JobRecord]:
        """A page of records, newest submitted first, of one ``status`` or all: at most
        ``limit`` (None: all), after skipping ``offset``, of the jobs submitted at or
        after ``since`` (a ``time.time()`` stamp; None: every job). Its cost follows the
        page (and the jobs since ``since``), not the history."""
        raise NotImplementedError

    def records_of(self, job_ids: list[str]) -> dict[str, JobRecord]:
        """The records of the jobs among ``job_ids`` that the store holds (the others are
        left out, not an error), in one look: what the widgets' monitor asks each tick."""
        raise NotImplementedError

    def counts(self) -> dict[JobStatus, int]:
        """How many jobs are in each status (every status present, 0 if none); its cost
        does not grow with the history."""
        raise NotImplementedError

    def queued_ids(self) -> list[str]:
        """The ids of the queued jobs, oldest first: what a queue's repair compares with
        the messages waiting."""
        raise NotImplementedError

    def logs(self, job_id: str) -> str:
        """The job's log so far ("" when it has none, or the job is not held): at most
        its ``log_bytes_kept``; when its middle was dropped, a marker line stands there
        saying how many bytes, and where the whole log is (``log_bounds.dropped_marker``)."""
        raise NotImplementedError

    def log_tail(self, job_id: str, lines: int) -> str:
        """The end of the job's log holding its last ``lines`` lines: what a live view
        shows, read from the end, at a cost that does not follow the log's length
        (``log_tail(id, n).splitlines() == logs(id).splitlines()[-n:]``; a line longer
        than ``log_bounds.TAIL_READ_MOST`` shows its end only). "" as ``logs``."""
        raise NotImplementedError

    def log_dropped(self, job_id: str) -> int:
        """How many bytes of the job's log were dropped from the store (0: ``logs`` has
        it whole; 0 for a job not held)."""
        raise NotImplementedError

    def outcome(self, job_id: str) -> memoryview | None:
        """The serialized outcome ``finish`` stored, read into one buffer (the blob its
        pieces make); None until then (or
        when the job ended without one: cancelled while queued, lost). Outcomes and
        payloads are signed as they are stored and verified as they are read: one that
        fails raises SignatureMismatch (IncompleteInStore when part of it is missing),
        never returned."""
        raise NotImplementedError

    def payload(self, job_id: str) -> memoryview | None:
        """The serialized payload ``add`` stored, as it was given (what ``resubmit``
        queues again)."""
        raise NotImplementedError
