"""Job records in Redis: what the ``huey`` backend keeps beside a Redis queue, and the
``rq`` backend beside RQ's own job hashes. The contract every method keeps is in
base.py; the Lua scripts are in redis_scripts.py.

Keys, under a prefix (``jobnb:huey:<queue name>:``, or ``jobnb:rq:`` for the rq
backend)::

    job:<id>          hash: status, name, times, progress, worker, heartbeat, error,
                      output, the signatures and sizes of the payload and the outcome,
                      the submitter's cwd and sys.path, seq (a hash written by an
                      earlier jobnb holds the payload and outcome: still read)
    payload:<id>      list: the payload's bytes in chunks of ``CHUNK`` (one for a small
    outcome:<id>      one), read back into one buffer; redis_scripts.job_keys names
                      every key of a job, for whatever deletes or expires it
    log:<id>          string: the head of the job's output, appended as it comes
    logtail:<id>      list: the tail of its output, in chunks (records/log_bounds.py:
                      the job's hash counts what was written; the middle is dropped)
    done              stream: the ids of jobs as they end (waiters block on it, no polling)
    seq               counter: the order jobs were submitted in
    all               sorted set: every job id, scored by seq (pages, newest first)
    status:<status>   sorted set per status, scored by seq (counts, filtered pages)
    beats             sorted set: running job ids, scored by their last heartbeat
    expires           sorted set: ended job ids, scored by when their result_ttl ends

(The queues keep their own keys under the same prefix: huey's worker presence in
huey_presence.py, rq's batches in rq_batches.py.)

Every change of status goes through one Lua script (atomic: a job is taken once, a
cancelled job never starts, a lost one stays lost), and every read is one or two
round trips, pipelined, whatever the history size.

Liveness is judged on the Redis server's clock alone (``TIME``, read inside the scripts
that write a heartbeat or look for lost jobs and workers), never on a worker's or a
reader's: workers and kernels on machines whose clocks disagree see the same thing.
The times shown (submitted, started, finished) are their writers' wall clocks.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator

import redis

from ... import defaults
from ...exceptions import IncompleteInStore
from ...model import JobRecord, JobStatus, refuse_to_forget
from ...payload.framing import allocate, chunks_of, size_of
from ...payload.signing import HashedAsRead, Signer
from ..redis_connection import connect, unreachable
from ..retries import attempts_json, ended_attempt, retry_fields, retry_note, retry_plan
from ..secret_key import redis_signer
from . import redis_scripts as lua
from .base import (
    CANCELLED_ERROR,
    ENDED,
    LOST_AFTER,
    PRUNE_BATCH,
    RECORD_FIELDS,
    SILENT_WORKER,
    LostLook,
    Records,
    decode_record,
    lost_error,
    requeue_note,
)
from .errors import said_clearly
from .log_bounds import (
    CHUNK_MOST,
    TAIL_READ_MOST,
    LogBound,
    checked_log_bytes_kept,
    dropped_marker,
    kept_where,
    tail_of,
)
from .redis_chunks import CHUNK, read_chunks_into, write_chunks
from .redis_dependencies import SETTLE_ADDED_BODY, split_released
from .redis_done import START, DoneWatch

#: a payload or outcome bigger than this is written ahead of the MULTI or script that
#: makes it its job's, and its signature hashed meanwhile: the signing of a 50 MB
#: argument then hides behind its sending, and no big outcome passes through Lua
WRITTEN_AHEAD = 2**20
#: seconds chunks written ahead are kept if their MULTI or script never comes (the
#: submitter or worker died in between, or the job had ended); linking them to their
#: job makes them its for good
AHEAD_TTL = 3600

_FIELDS = RECORD_FIELDS[1:]  # (the id is in the key)
_STATUS = _FIELDS.index("status")  # None there: no such job
_SILENT_WORKER_LOST = lost_error(SILENT_WORKER)
#: seconds the first read of a wait pipelined with its status look blocks at most
FIRST_BLOCK = 0.05
#: records read per round trip when ``records(since=...)`` walks the history newest first
SINCE_PAGE = 200


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def _number(value: bytes | None) -> float | None:
    return None if value is None else float(value)


def _unreachable(store: RedisRecords, exc: BaseException) -> BaseException:
    """A server gone away mid-session raises the same BackendUnavailable as one never
    reached (which host and port, how to start one: what the dashboard's banner shows),
    not the client's bare ConnectionError."""
    return unreachable(store.url, exc)


def _optional_fields(rec: JobRecord) -> dict:
    """The fields of a new job's hash that only some jobs have (none stored as empty)."""
    fields = {}
    if rec.queue is not None:
        fields["queue"] = rec.queue
    if rec.timeout is not None:
        fields["timeout"] = rec.timeout
    if rec.output is not None:
        fields["output"] = rec.output
    if rec.schedule is not None:  # a schedule's run
        fields["schedule"] = rec.schedule
        fields["due"] = rec.due
    if rec.after:
        fields["after_ids"] = ",".join(rec.after)
    return fields


@said_clearly((redis.ConnectionError, redis.TimeoutError), _unreachable)
class RedisRecords(Records):
    """The records of one queue in the Redis server at ``url``; each job's log is kept
    within ``log_bytes_kept`` bytes (its head and its tail: the whole log is not kept)."""

    def __init__(
        self,
        url: str,
        name: str | None = "jobnb",
        lost_after: float = LOST_AFTER,
        namespace: str = "huey",
        client=None,
        result_ttl: float | None = None,
        signer: Signer | None = None,
        log_bytes_kept: int = defaults.LOG_BYTES_KEPT,
    ) -> None:
        self.log_bytes_kept = checked_log_bytes_kept(log_bytes_kept)
        self.url = url
        # the server's shared key (JOBNB_SECRET_KEY, ...) unless the caller gives one:
        # refused here, before anything is written or read, when there is none
        self.signer = signer if signer is not None else redis_signer(url)
        # seconds the jobs added here are kept once ended (None: until deleted); kept in
        # each job's hash, since whoever ends it (a worker, a reader) applies it
        self.result_ttl = result_ttl
        self.redis = client if client is not None else connect(url)
        self.prefix = f"jobnb:{namespace}:" + (f"{name}:" if name else "")
        self.place = f"Redis under {self.prefix}"
        self._done_key = f"{self.prefix}done"
        self._done = DoneWatch()
        self.lost_after = lost_after
        self._lost_look = LostLook(lost_after)
        self._finish = self.redis.register_script(lua.FINISH)
        self._cancel = self.redis.register_script(lua.CANCEL)
        self._mark_lost_script = self.redis.register_script(lua.MARK_LOST)
        self._forget = self.redis.register_script(lua.FORGET)
        self._forget_many = self.redis.register_script(lua.FORGET_MANY)
        self._ended_before = self.redis.register_script(lua.ENDED_BEFORE)
        self._heartbeat = self.redis.register_script(lua.HEARTBEAT)
        self._progress = self.redis.register_script(lua.PROGRESS)
        self._append_log = self.redis.register_script(lua.APPEND_LOG)
        self._log_tail = self.redis.register_script(lua.LOG_TAIL)
        self._retry = self.redis.register_script(lua.RETRY_RUN)
        self._take_due = self.redis.register_script(lua.TAKE_DUE_RETRIES)

    def _job(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def _blob_key(self, kind: str, job_id: str) -> str:
        return lua.blob_key(self.prefix, kind, job_id)

    # --- writing -------------------------------------------------------------------------
    def add(
        self,
        records: Iterable[JobRecord],
        payloads: Iterable,
        cwd: str | None = None,
        sys_path: list[str] | None = None,
        pipeline=None,
    ) -> Callable[[list], None]:
        """One MULTI. Given a ``pipeline`` (a MULTI the caller executes), the writes join it:
        one round trip with the caller's own (e.g. queueing the ids); the caller then
        hands what its ``execute()`` returned to the function returned here (it notes
        where their waits start)."""
        pairs = list(zip(records, payloads, strict=True))
        ahead = {
            rec.id: self._signature_later("payload", rec.id, payload)
            for rec, payload in pairs
            if size_of(payload) > WRITTEN_AHEAD
        }
        for rec, payload in pairs:  # (no job knows these keys until the MULTI)
            if rec.id in ahead:
                write_chunks(self.redis, self._blob_key("payload", rec.id), payload, AHEAD_TTL)
        pipe = pipeline if pipeline is not None else self.redis.pipeline(transaction=True)
        for rec, payload in pairs:
            fields = {
                "name": rec.name,
                "backend": rec.backend,
                "status": rec.status.value,
                "kind": rec.kind,
                "description": rec.description,
                "submitted": rec.submitted,
                "progress_done": 0,
                "log_kept": self.log_bytes_kept,
            }
            fields["payload_size"] = size_of(payload)
            if rec.id in ahead:
                fields["payload_signature"] = ahead[rec.id]()
                pipe.persist(self._blob_key("payload", rec.id))
            else:  # signed apart: the payload goes as it is
                pipe.rpush(self._blob_key("payload", rec.id), *chunks_of(payload, CHUNK))
                fields["payload_signature"] = self._signature("payload", rec.id, payload)
            fields.update(_optional_fields(rec))
            if self.result_ttl is not None:
                fields["result_ttl"] = self.result_ttl
            if cwd is not None:
                fields["cwd"] = cwd
            if sys_path is not None:
                fields["sys_path"] = json.dumps(sys_path)
            fields.update(retry_fields(rec))
            pipe.hset(self._job(rec.id), mapping=fields)
        # EVAL, not a registered script: redis-py checks a pipeline's scripts with an
        # extra SCRIPT EXISTS round trip before every execute
        for status in {rec.status.value for rec, _ in pairs}:
            ids = [rec.id for rec, _ in pairs if rec.status.value == status]
            pipe.eval(lua.INDEX, 0, self.prefix, status, *ids)
        settled = self._settle_added(pipe, [rec for rec, _ in pairs if rec.after])
        noted = self._note_added(pipe, [rec.id for rec, _ in pairs])

        def added(results: list) -> None:
            noted(results)
            settled(results)

        if pipeline is None:
            added(pipe.execute())
        return added

    def _settle_added(self, pipe, waiting: list[JobRecord]) -> Callable[[list], None]:
        """File the waiting jobs among those the MULTI ``pipe`` adds under what they wait
        for, and settle them against what has ended (redis_dependencies.py); what hands
        the ids it queued to ``on_release``, given the MULTI's results."""
        if not waiting:
            return lambda results: None
        pipe.eval(lua.MOVE + SETTLE_ADDED_BODY, 0, self.prefix, *(rec.id for rec in waiting))
        at = len(pipe) - 1
        return lambda results: self._released(split_released(results[at])[1])

    def _note_added(self, pipe, job_ids: list[str]) -> Callable[[list], None]:
        """Read where the done stream stands in the MULTI ``pipe`` that adds ``job_ids``
        (every end of theirs comes after it): their waits read on from there
        (redis_done.py). Returns what notes it, given the MULTI's results."""
        pipe.xrevrange(self._done_key, count=1)
        at = len(pipe) - 1

        def added(results: list) -> None:
            self._done.submitted(job_ids, results[at])

        return added

    def start(
        self, job_id: str, worker: str
    ) -> tuple[bytes, float | None, str | None, list[str]] | None:
        # the payload is read beside the script, in the same round trip, not returned by
        # it: Lua would copy it (a 50 MB argument: +0.15 s); unused if the job was taken
        pipe = self.redis.pipeline(transaction=False)
        pipe.eval(lua.START, 0, self.prefix, job_id, time.time(), worker)  # (EVAL: see add)
        self._ask_blob(pipe, "payload", job_id)
        found, *answers = pipe.execute()
        if found is None:
            return None
        timeout, cwd, sys_path = found[1]
        # (the job is running: see base)
        _, payload, signature, hashed = self._read_blob("payload", job_id, *answers)
        payload = self._verified_apart("payload", job_id, signature, payload, hashed)
        return payload, _number(timeout), _text(cwd), json.loads(sys_path) if sys_path else []

    def heartbeat(self, job_id: str) -> bool:
        """At the server's time."""
        return bool(self._heartbeat(args=[self.prefix, job_id]))

    def progress(self, job_id: str, done: float, total: float | None, message: str | None) -> None:
        total = None if total is None else float(total)  # (a numpy number is one too)
        fields = json.dumps({"progress_total": total, "progress_message": message})
        self._progress(args=[self.prefix, job_id, float(done), fields])

    def log(self, job_id: str, text: str) -> None:
        """One script, which keeps of ``text`` what the job's bound keeps (the job's own,
        in its hash: the kernel that added it set it)."""
        data = text.encode(errors="replace")
        self._append_log(args=[self.prefix, job_id, self.log_bytes_kept, CHUNK_MOST, data])

    def finish(self, job_id: str, status: JobStatus, error: str | None, outcome) -> bool:
        """A big outcome's chunks are written first under a key of this call's own, with
        a time to live, then the script renames it the job's (FINISH): no byte of it
        passes through Lua, and the chunks of an outcome whose job had already ended are
        deleted (or, if this process dies first, expire)."""
        size = size_of(outcome)
        signature = self._signature_later("outcome", job_id, outcome)
        staged, inline = "", b""
        if size <= WRITTEN_AHEAD:
            inline = b"".join(chunks_of(outcome, size or 1))
        for _ in range(2):  # (once more if the staged chunks vanished before the script)
            if size > WRITTEN_AHEAD:
                staged = f"{self._blob_key('outcome', job_id)}:{uuid.uuid4().hex}"
                write_chunks(self.redis, staged, outcome, AHEAD_TTL)
            args = [self.prefix, job_id, status.value, error or "", staged, time.time()]
            done, released = split_released(self._finish(args=[*args, signature(), size, inline]))
            if done != -1:
                break
        if done != 1 and staged:
            self.redis.delete(staged)
        self._released(released)  # its dependents made queued (redis_dependencies.py)
        return done == 1

    def retry(
        self, job_id: str, status: JobStatus, error: str | None, classes: tuple[str, ...]
    ) -> float | None:
        """Planned here (retries.retry_plan) from the job's record, then one script
        (redis_retries.RETRY) that puts it back only if it still runs that attempt."""
        values = self.redis.hmget(self._job(job_id), _FIELDS)
        if values[_STATUS] is None:
            return None
        record = decode_record([job_id, *values])
        if record.status is not JobStatus.RUNNING or not record.retries:
            return None
        delay = retry_plan(record, status, classes)
        if delay is None:
            return None
        attempt = ended_attempt(record, status, error)
        note = retry_note(attempt, record.retries, delay).encode(errors="replace")
        attempt_text = attempts_json([attempt])[1:-1]  # (the one object)
        args = [self.prefix, job_id, attempt_text, delay, note, len(record.attempts)]
        return delay if self._retry(args=args) == 1 else None

    def take_due_retries(self) -> list[str]:
        self._mark_lost()
        return [raw.decode() for raw in self._take_due(args=[self.prefix])]

    def requeue(self, job_id: str, reason: str) -> bool:
        note = requeue_note(reason)
        args = [self.prefix, job_id, note, self.log_bytes_kept, CHUNK_MOST]
        return bool(self.redis.eval(lua.REQUEUE, 0, *args))

    def request_cancel(self, job_id: str, by: str) -> JobStatus:
        reply = self._cancel(args=[self.prefix, job_id, time.time(), CANCELLED_ERROR, by])
        old, released = split_released(reply)
        if old is None:
            raise self._missing(job_id)
        self._released(released)
        return JobStatus(old.decode())

    def forget(self, job_id: str) -> JobStatus:
        status = self._forget(args=[self.prefix, job_id])
        if status is None:
            raise self._missing(job_id)
        status = JobStatus(status.decode())
        if not status.is_done:
            raise refuse_to_forget(job_id, status)
        return status

    def forget_many(self, job_ids: list[str]) -> dict[str, JobStatus]:
        """One script (FORGET_MANY: what ``forget`` deletes, a command per key for the lot)."""
        if not job_ids:
            return {}
        pairs = self._forget_many(args=[self.prefix, *job_ids])
        return {
            pairs[i].decode(): JobStatus(pairs[i + 1].decode()) for i in range(0, len(pairs), 2)
        }

    def shrink(self) -> None:
        """Nothing to do: the server freed each key's memory as it deleted it."""

    def ended_before(
        self, before: float, status: JobStatus | None = None, batch: int = PRUNE_BATCH
    ) -> Iterator[list[str]]:
        """Each ended status's sorted set, by seq, resuming after the last seq read; each
        batch is one short script (ENDED_BEFORE: the ids and their end times), never one
        long one."""
        for ended in (status,) if status else ENDED:
            after = "-inf"
            while True:
                found = self._ended_before(args=[self.prefix, ended.value, after, batch, before])
                if not found:
                    break
                after = f"({int(float(found[0]))}"
                older = [job_id.decode() for job_id in found[1:]]
                if older:
                    yield older

    # --- reading ---------------------------------------------------------------------------
    def record(self, job_id: str) -> JobRecord:
        self._mark_lost()
        values = self.redis.hmget(self._job(job_id), _FIELDS)
        if values[_STATUS] is None:
            raise self._missing(job_id)
        return decode_record([job_id, *values])

    def status(self, job_id: str) -> JobStatus:
        self._mark_lost()
        value = self.redis.hget(self._job(job_id), "status")
        if value is None:
            raise self._missing(job_id)
        return JobStatus(value.decode())

    def wait(self, job_id: str, timeout: float | None) -> bool:
        """On the ``done`` stream: woken when a job ends, not polling its status. For a
        job this process submitted, one round trip: its status and a first blocking
        read, pipelined, from where the stream stood at its submit; none for a job seen
        ended already (redis_done.py); for any other job, one more, to find the
        stream's end first."""
        if self._done.seen_ended(job_id):
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        last = self._done.read_from(job_id)
        pipe = self.redis.pipeline(transaction=False)
        if last is None:
            pipe.xrevrange(self._done_key, count=1)  # read first: an end after it is in it
            pipe.hget(self._job(job_id), "status")
            newest, status = pipe.execute()
            found = []
        else:  # an end after the status read comes after ``last``; the read blocks
            # briefly: an end before it may have left the stream (trimmed), and the
            # status says so only once the read returns
            pipe.hget(self._job(job_id), "status")
            self._xread(pipe, last, deadline, FIRST_BLOCK)
            status, found = pipe.execute()
        if status is None:
            raise self._missing(job_id)
        if JobStatus(status.decode()).is_done:
            if found:
                self._done.read(last, found[0][1])
            return True
        looked = last is not None  # at the status, FIRST_BLOCK ago at most: not again
        if last is None:
            last = newest[0][0] if newest else START
            self._done.started_at(last)
            found = self._read_done(last, deadline)
        wanted = job_id.encode()
        while True:
            if found:
                entries = found[0][1]
                self._done.read(last, entries)
                last = entries[-1][0]
                if any(fields.get(b"job") == wanted for _, fields in entries):
                    return True
            elif deadline is not None and time.monotonic() >= deadline:
                return False
            elif not looked:  # a second without news: look again (this finds lost jobs)
                self._mark_lost()
                status = self.redis.hget(self._job(job_id), "status")
                if status is None:
                    raise self._missing(job_id)
                if JobStatus(status.decode()).is_done:
                    return True
            looked = False
            found = self._read_done(last, deadline)

    def _xread(self, client, last: bytes, deadline: float | None, most: float = 1.0):
        """An XREAD of the done stream after ``last`` (on ``client``: the server, or a
        pipeline), blocking ``most`` seconds at most (then the waiter looks at the job's
        status again), less if ``deadline`` is nearer."""
        block = most if deadline is None else min(most, deadline - time.monotonic())
        return client.xread({self._done_key: last}, count=1000, block=max(1, int(block * 1000)))

    def _read_done(self, last: bytes, deadline: float | None) -> list:
        if deadline is not None and deadline <= time.monotonic():
            return []
        return self._xread(self.redis, last, deadline)

    def records(
        self,
        status: JobStatus | None = None,
        limit: int | None = None,
        offset: int = 0,
        since: float | None = None,
    ) -> list[JobRecord]:
        """Newest first: one round trip for the page's ids, one for their records. The
        sets are scored by submit order, not time: with ``since``, the set is walked
        newest first a page (``SINCE_PAGE``) at a time, and the walk stops at the first
        page whose jobs were all submitted before ``since`` (jobs come in about the order
        of their submit times: a kernel whose clock is off by more than a page of jobs
        could have some left out)."""
        self._mark_lost()
        key = f"{self.prefix}status:{status.value}" if status else f"{self.prefix}all"
        if limit == 0:
            return []
        if since is not None:
            return self._records_since(key, since, limit, offset)
        stop = -1 if limit is None else offset + limit - 1
        ids = [raw.decode() for raw in self.redis.zrevrange(key, offset, stop)]
        return list(self.records_of(ids, look_for_lost=False).values())

    def _records_since(
        self, key: str, since: float, limit: int | None, offset: int
    ) -> list[JobRecord]:
        """The walk reads submit times alone; then the records of the jobs it kept."""
        newer: list[tuple[float, str]] = []
        start = 0
        while limit is None or len(newer) < offset + limit:
            ids = [raw.decode() for raw in self.redis.zrevrange(key, start, start + SINCE_PAGE - 1)]
            pipe = self.redis.pipeline(transaction=False)
            for job_id in ids:
                pipe.hget(self._job(job_id), "submitted")
            times = [(float(t), i) for t, i in zip(pipe.execute(), ids, strict=True) if t]
            kept = [(t, job_id) for t, job_id in times if t >= since]
            newer.extend(kept)
            if len(ids) < SINCE_PAGE or (times and not kept):
                break
            start += SINCE_PAGE
        newer.sort(reverse=True)
        wanted = [job_id for _, job_id in newer[offset:][:limit]]
        found = self.records_of(wanted, look_for_lost=False)
        return [found[job_id] for job_id in wanted if job_id in found]

    def records_of(self, job_ids: list[str], look_for_lost: bool = True) -> dict[str, JobRecord]:
        """One round trip; ``look_for_lost=False`` when the caller just looked."""
        if look_for_lost:
            self._mark_lost()
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hmget(self._job(job_id), _FIELDS)
        found = {}
        for job_id, values in zip(job_ids, pipe.execute(), strict=True):
            if values[_STATUS] is not None:
                found[job_id] = decode_record([job_id, *values])
        return found

    def counts(self) -> dict[JobStatus, int]:
        self._mark_lost()
        pipe = self.redis.pipeline(transaction=False)
        for status in JobStatus:
            pipe.zcard(f"{self.prefix}status:{status.value}")
        return dict(zip(JobStatus, pipe.execute(), strict=True))

    def queued_ids(self) -> list[str]:
        """(Without the jobs waiting in ``retry``: redis_retries.py.)"""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrange(f"{self.prefix}status:queued", 0, -1)
        pipe.zrange(f"{self.prefix}retry", 0, -1)
        queued, waiting = pipe.execute()
        waiting = set(waiting)
        return [raw.decode() for raw in queued if raw not in waiting]

    def logs(self, job_id: str) -> str:
        """One MULTI: the head, the tail and the counters of one moment."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hmget(self._job(job_id), ["log_written", "log_tail", "log_kept"])
        pipe.get(f"{self.prefix}log:{job_id}")
        pipe.lrange(f"{self.prefix}logtail:{job_id}", 0, -1)
        state, raw_head, tail = pipe.execute()
        head = (raw_head or b"").decode(errors="replace")
        tail = b"".join(tail).decode(errors="replace")
        dropped, where = self._dropped(state, len(raw_head or b""))
        if not dropped:
            return head + tail
        return head + dropped_marker(dropped, where, not head or head.endswith("\n")) + tail

    def log_tail(self, job_id: str, lines: int) -> str:
        """One script, which reads the newest chunks of the tail (and, if they are not
        enough, the end of the head) until they hold enough lines."""
        found = self._log_tail(args=[self.prefix, job_id, lines, TAIL_READ_MOST])
        state, head_len, tail_pieces, head_pieces = found
        head_end = b"".join(reversed(head_pieces)).decode(errors="ignore")  # (a cut start)

        def pieces_from_end():
            for piece in tail_pieces:
                yield piece.decode(errors="replace")
            dropped, where = self._dropped(state, head_len)
            if dropped:
                yield dropped_marker(dropped, where, not head_end or head_end.endswith("\n"))
            yield head_end

        return tail_of(pieces_from_end(), lines)

    def log_dropped(self, job_id: str) -> int:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hmget(self._job(job_id), ["log_written", "log_tail", "log_kept"])
        pipe.strlen(f"{self.prefix}log:{job_id}")
        state, head_bytes = pipe.execute()
        return self._dropped(state, head_bytes)[0]

    def _dropped(self, state: list, head_bytes: int) -> tuple[int, str]:
        """(bytes dropped, what the marker says of the whole log) from a job's counters
        (``log_written``, ``log_tail``, ``log_kept``) and the bytes its head holds."""
        written, tail, kept = state
        if written is None:  # no log, or one written by an older jobnb: whole
            return 0, ""
        dropped = int(written) - head_bytes - int(tail or 0)
        bound = LogBound(int(kept) if kept else self.log_bytes_kept)
        return max(0, dropped), kept_where(bound)

    def outcome(self, job_id: str) -> memoryview | None:
        return self._blob(job_id, "outcome")

    def payload(self, job_id: str) -> memoryview | None:
        return self._blob(job_id, "payload")

    def _blob(self, job_id: str, kind: str) -> memoryview | None:
        """Read in chunks into one buffer (``_read_blob``), then verified."""
        pipe = self.redis.pipeline(transaction=True)  # the hash and first chunks at once
        self._ask_blob(pipe, kind, job_id)
        status, blob, signature, hashed = self._read_blob(kind, job_id, *pipe.execute())
        if status is None:
            raise self._missing(job_id)
        if blob is None:
            return None
        return self._verified_apart(kind, job_id, signature, blob, hashed)

    def _ask_blob(self, pipe, kind: str, job_id: str) -> None:
        """Queue on ``pipe`` what ``_read_blob`` reads first: the job's fields for its
        blob, and the blob's first chunks (all of a small one: one round trip)."""
        fields = ["status", kind, f"{kind}_signature", f"{kind}_size"]
        pipe.hmget(self._job(job_id), fields)
        pipe.lrange(self._blob_key(kind, job_id), 0, 0)

    def _read_blob(self, kind: str, job_id: str, fields: list, first: list):
        """(status, the blob or None, its signature, its chunks' hashes or None), from
        what ``_ask_blob`` queued: the blob read into one buffer, the chunks past the
        first one in one more round trip, from the socket straight into it, each hashed
        as it lands (signing: verifying then waits for the last ones only).
        IncompleteInStore when its chunks are not all there."""
        status, old_field, signature, size = fields
        if old_field is not None:  # written by a jobnb before chunks: in the hash
            return status, old_field, signature, None
        if size is None:
            return status, None, signature, None
        size = int(size)
        if len(first) == 1 and len(first[0]) == size:
            return status, first[0], signature, None  # (a small blob: no copy)
        buffer = allocate(size)
        view = memoryview(buffer)
        hashed = HashedAsRead(buffer)
        at = 0
        for chunk in first:  # (the first chunk: the rest straight from the socket)
            if at + len(chunk) > size:
                raise self._incomplete(kind, job_id, f"more than its {size} bytes")
            view[at : at + len(chunk)] = chunk
            at += len(chunk)
        hashed.filled(at)
        if first and at < size:
            key = self._blob_key(kind, job_id)
            try:
                at = read_chunks_into(self.redis, key, len(first), view, at, hashed.filled)
            except ValueError as exc:
                raise self._incomplete(kind, job_id, str(exc)) from None
        if at != size:
            raise self._incomplete(kind, job_id, f"{at} of its {size} bytes")
        return status, buffer, signature, hashed

    def _incomplete(self, kind: str, job_id: str, found: str) -> IncompleteInStore:
        what = "result" if kind == "outcome" else kind
        return IncompleteInStore(
            f"the {what} of job {job_id} is incomplete in {self.place} ({found} found): "
            "its chunks were deleted or evicted meanwhile (is the server's maxmemory-policy "
            "one that evicts keys?); it is never loaded. Submit the job again."
        )

    def _mark_lost(self) -> None:
        """Whoever reads finds the jobs whose worker stopped beating, and says so, and
        forgets the ended jobs past their result_ttl (at most once a second: a waiting
        kernel reads every few milliseconds)."""
        if not self._lost_look.due():
            return
        reply = self._mark_lost_script(
            args=[self.prefix, self._lost_look.silence, _SILENT_WORKER_LOST]
        )
        self._released(split_released(reply)[1])
