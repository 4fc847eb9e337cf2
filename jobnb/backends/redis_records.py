"""Job records in Redis: what the ``huey`` backend keeps beside a Redis queue, with the
same methods as :class:`~jobnb.backends.sqlite_records.SqliteRecords`.

Keys, under a prefix (``jobnb:huey:<queue name>:``, or ``jobnb:rq:`` for the rq
backend, which keeps its records the same way beside RQ's own job hashes)::

    job:<id>          hash: status, name, times, progress, worker, heartbeat, error,
                      payload, outcome, the submitter's cwd and sys.path, seq
    log:<id>          string: the job's output, appended as it comes
    done              stream: the ids of jobs as they end (waiters block on it, no polling)
    seq               counter: the order jobs were submitted in
    all               sorted set: every job id, scored by seq (pages, newest first)
    status:<status>   sorted set per status, scored by seq (counts, filtered pages)
    beats             sorted set: running job ids, scored by their last heartbeat
    expires           sorted set: ended job ids, scored by when their result_ttl ends

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
from collections.abc import Iterable

import redis

from ..exceptions import JobNotFound
from ..model import JobRecord, JobStatus, Progress, refuse_to_forget
from .redis_connection import connect, unreachable
from .sqlite_records import LOST_AFTER, LostLook
from .store_errors import said_clearly

_FIELDS = (
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
)

# The server's clock, in seconds: what heartbeats, the lost cutoff, worker liveness and
# result_ttl are measured on (Redis >= 5 replicates a script's effects, so a script may
# read TIME before it writes).
_SERVER_NOW = """
local function server_now()
    local time = redis.call('TIME')
    return tonumber(time[1]) + tonumber(time[2]) / 1000000
end
"""

# Moves a job from one status's set to another's (and out of the heartbeats when it
# stops running): the prelude of every script that changes a status.
_MOVE = (
    _SERVER_NOW
    + """
local function move(p, id, job, old, new)
    local seq = redis.call('HGET', job, 'seq')
    redis.call('HSET', job, 'status', new)
    redis.call('ZREM', p .. 'status:' .. old, id)
    redis.call('ZADD', p .. 'status:' .. new, seq, id)
    if old == 'running' then redis.call('ZREM', p .. 'beats', id) end
    if new ~= 'running' then  -- it ended: wake whoever waits for it
        redis.call('XADD', p .. 'done', 'MAXLEN', '~', 10000, '*', 'job', id)
        local ttl = tonumber(redis.call('HGET', job, 'result_ttl'))
        if ttl then  -- the job's result_ttl: forget it then (swept from the sets on a read)
            local expires_at = server_now() + ttl
            redis.call('ZADD', p .. 'expires', expires_at, id)
            redis.call('EXPIREAT', job, math.ceil(expires_at))
            redis.call('EXPIREAT', p .. 'log:' .. id, math.ceil(expires_at))
        end
    end
end
"""
)

_START = (
    _MOVE
    + """
local p, id, now, worker = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local job = p .. 'job:' .. id
if redis.call('HGET', job, 'status') ~= 'queued' then return false end
move(p, id, job, 'queued', 'running')
local beat = server_now()
redis.call('HSET', job, 'started', now, 'heartbeat', beat, 'worker', worker)
redis.call('ZADD', p .. 'beats', beat, id)
return {1, redis.call('HMGET', job, 'timeout', 'cwd', 'sys_path')}
"""
)

# Numbers newly added jobs in the order they came (one INCRBY for the lot) and files
# them in the pages' sorted sets: run inside the MULTI that writes their hashes, so
# that a submit is one round trip.
_INDEX = """
local p, status = ARGV[1], ARGV[2]
local n = #ARGV - 2
local last = redis.call('INCRBY', p .. 'seq', n)
for i = 3, #ARGV do
    local id, seq = ARGV[i], last - n + i - 2
    redis.call('HSET', p .. 'job:' .. id, 'seq', seq)
    redis.call('ZADD', p .. 'all', seq, id)
    redis.call('ZADD', p .. 'status:' .. status, seq, id)
end
"""

_FINISH = (
    _MOVE
    + """
local p, id, status, err, outcome, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local job = p .. 'job:' .. id
local old = redis.call('HGET', job, 'status')
if old ~= 'queued' and old ~= 'running' then return 0 end
move(p, id, job, old, status)
redis.call('HSET', job, 'outcome', outcome, 'finished', now)
if err ~= '' then redis.call('HSET', job, 'error', err) end
local total = redis.call('HGET', job, 'progress_total')
if status == 'finished' and total then redis.call('HSET', job, 'progress_done', total) end
return 1
"""
)

_CANCEL = (
    _MOVE
    + """
local p, id, now = ARGV[1], ARGV[2], ARGV[3]
local job = p .. 'job:' .. id
local old = redis.call('HGET', job, 'status')
if not old then return false end
if old == 'queued' then
    move(p, id, job, 'queued', 'cancelled')
    redis.call('HSET', job, 'finished', now,
               'error', 'JobCancelled: the job was cancelled before it started\\n')
elseif old == 'running' then
    redis.call('HSET', job, 'cancel_requested', 1)
end
return old
"""
)

# Every trace of an ended job: its hash (record, payload, outcome), its log, its place in
# the pages (under any ended status: a hash past its EXPIREAT no longer says which).
_DROP = """
local function drop(p, id)
    redis.call('DEL', p .. 'job:' .. id, p .. 'log:' .. id)
    redis.call('ZREM', p .. 'all', id)
    redis.call('ZREM', p .. 'expires', id)
    for _, status in ipairs({'finished', 'failed', 'cancelled', 'lost'}) do
        redis.call('ZREM', p .. 'status:' .. status, id)
    end
end
"""

_FORGET = (
    _DROP
    + """
local p, id = ARGV[1], ARGV[2]
local status = redis.call('HGET', p .. 'job:' .. id, 'status')
if status and status ~= 'queued' and status ~= 'running' then drop(p, id) end
return status
"""
)

_MARK_LOST = (
    _MOVE
    + _DROP
    + """
local p, lost_after, err = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local now = server_now()
local gone = redis.call('ZRANGEBYSCORE', p .. 'expires', '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(gone) do  -- past their result_ttl
    drop(p, id)
end
local ids = redis.call('ZRANGEBYSCORE', p .. 'beats', '-inf', '(' .. (now - lost_after))
for _, id in ipairs(ids) do
    local job = p .. 'job:' .. id
    if redis.call('HGET', job, 'status') == 'running' then
        move(p, id, job, 'running', 'lost')
        redis.call('HSET', job, 'finished', redis.call('HGET', job, 'heartbeat'), 'error', err)
    else
        redis.call('ZREM', p .. 'beats', id)
    end
end
return #ids
"""
)

# A running job back to queued (its worker stopped before it ended), with why in its log.
_REQUEUE = """
local p, id, text = ARGV[1], ARGV[2], ARGV[3]
local job = p .. 'job:' .. id
if redis.call('HGET', job, 'status') ~= 'running' then return 0 end
redis.call('HSET', job, 'status', 'queued')
redis.call('HDEL', job, 'started', 'worker')
redis.call('ZREM', p .. 'status:running', id)
redis.call('ZADD', p .. 'status:queued', redis.call('HGET', job, 'seq'), id)
redis.call('ZREM', p .. 'beats', id)
redis.call('APPEND', p .. 'log:' .. id, text)
return 1
"""

# A running job's heartbeat: one round trip, which also brings back a cancel request.
# A job forgotten meanwhile (lost, then forgotten, while its worker still ran) is not
# made again by its beats.
_HEARTBEAT = (
    _SERVER_NOW
    + """
local p, id = ARGV[1], ARGV[2]
local job = p .. 'job:' .. id
if redis.call('EXISTS', job) == 0 then return false end
local now = server_now()
redis.call('HSET', job, 'heartbeat', now)
redis.call('ZADD', p .. 'beats', 'XX', now, id)  -- only while running
return redis.call('HGET', job, 'cancel_requested')
"""
)

# Progress, which is a heartbeat too; ARGV[4] holds the fields as JSON (a null deletes
# its field: it reads as None).
_PROGRESS = (
    _SERVER_NOW
    + """
local p, id, done = ARGV[1], ARGV[2], ARGV[3]
local job = p .. 'job:' .. id
if redis.call('EXISTS', job) == 0 then return 0 end
local now = server_now()
redis.call('HSET', job, 'progress_done', done, 'heartbeat', now)
for name, value in pairs(cjson.decode(ARGV[4])) do
    if value == cjson.null then
        redis.call('HDEL', job, name)
    else
        redis.call('HSET', job, name, value)
    end
end
redis.call('ZADD', p .. 'beats', 'XX', now, id)
return 1
"""
)

WORKER_BEAT = 5.0  # seconds between two "still here" of a worker

_WORKER_ALIVE = (
    _SERVER_NOW
    + """
redis.call('HSET', KEYS[1], ARGV[1], server_now())
"""
)

# The workers heard from in the last ARGV[1] seconds, by the server's clock.
_LIVE_WORKERS = (
    _SERVER_NOW
    + """
local since, alive = server_now() - tonumber(ARGV[1]), {}
local seen = redis.call('HGETALL', KEYS[1])
for i = 1, #seen, 2 do
    if tonumber(seen[i + 1]) >= since then table.insert(alive, seen[i]) end
end
return alive
"""
)

_LOST_ERROR = (
    "JobLost: its worker stopped sending heartbeats (killed, out of memory, or its "
    "machine is gone) while running the job\n"
)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def _number(value: bytes | None) -> float | None:
    return None if value is None else float(value)


def _record(job_id: str, values: list) -> JobRecord:
    fields = dict(zip(_FIELDS, values, strict=True))
    text = {k: _text(v) for k, v in fields.items()}
    return JobRecord(
        id=job_id,
        name=text["name"],
        backend=text["backend"],
        status=JobStatus(text["status"]),
        kind=text["kind"],
        description=text["description"],
        queue=text["queue"],
        timeout=_number(fields["timeout"]),
        submitted=_number(fields["submitted"]),
        started=_number(fields["started"]),
        finished=_number(fields["finished"]),
        progress=Progress(
            _number(fields["progress_done"]) or 0.0,
            _number(fields["progress_total"]),
            text["progress_message"],
        ),
        worker=text["worker"],
        error=text["error"],
    )


def _unreachable(store: RedisRecords, exc: BaseException) -> BaseException:
    """A server gone away mid-session raises the same BackendUnavailable as one never
    reached (which host and port, how to start one: what the dashboard's banner shows),
    not the client's bare ConnectionError."""
    return unreachable(store.url, exc)


@said_clearly((redis.ConnectionError, redis.TimeoutError), _unreachable)
class RedisRecords:
    """The records of one queue in the Redis server at ``url``."""

    def __init__(
        self,
        url: str,
        name: str | None = "jobnb",
        lost_after: float = LOST_AFTER,
        namespace: str = "huey",
        client=None,
        result_ttl: float | None = None,
    ) -> None:
        self.url = url
        # seconds the jobs added here are kept once ended (None: until deleted); kept in
        # each job's hash, since whoever ends it (a worker, a reader) applies it
        self.result_ttl = result_ttl
        self.redis = client if client is not None else connect(url)
        self.prefix = f"jobnb:{namespace}:" + (f"{name}:" if name else "")
        self.lost_after = lost_after
        self._lost_look = LostLook(lost_after)
        self._finish = self.redis.register_script(_FINISH)
        self._cancel = self.redis.register_script(_CANCEL)
        self._mark_lost_script = self.redis.register_script(_MARK_LOST)
        self._forget = self.redis.register_script(_FORGET)
        self._heartbeat = self.redis.register_script(_HEARTBEAT)
        self._progress = self.redis.register_script(_PROGRESS)
        self._worker_alive = self.redis.register_script(_WORKER_ALIVE)
        self._live_workers = self.redis.register_script(_LIVE_WORKERS)

    def _job(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    # --- writing -------------------------------------------------------------------------
    def add(
        self,
        records: Iterable[JobRecord],
        payloads: Iterable[bytes],
        cwd: str | None = None,
        sys_path: list[str] | None = None,
        pipeline=None,
    ) -> None:
        """Store queued jobs with their payloads, in one transaction, with where the
        submitter was (``cwd``, ``sys_path``): the job runs there. Given a ``pipeline``
        (a MULTI the caller executes), the writes join it: one round trip with the
        caller's own (e.g. queueing the ids)."""
        pairs = list(zip(records, payloads, strict=True))
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
                "payload": payload,
            }
            if rec.queue is not None:
                fields["queue"] = rec.queue
            if rec.timeout is not None:
                fields["timeout"] = rec.timeout
            if self.result_ttl is not None:
                fields["result_ttl"] = self.result_ttl
            if cwd is not None:
                fields["cwd"] = cwd
            if sys_path is not None:
                fields["sys_path"] = json.dumps(sys_path)
            pipe.hset(self._job(rec.id), mapping=fields)
        # EVAL, not a registered script: redis-py checks a pipeline's scripts with an
        # extra SCRIPT EXISTS round trip before every execute
        for status in {rec.status.value for rec, _ in pairs}:
            ids = [rec.id for rec, _ in pairs if rec.status.value == status]
            pipe.eval(_INDEX, 0, self.prefix, status, *ids)
        if pipeline is None:
            pipe.execute()

    def start(
        self, job_id: str, worker: str
    ) -> tuple[bytes, float | None, str | None, list[str]] | None:
        """Mark a queued job running; return its payload, its timeout and the submitter's
        working directory and sys.path, or None if it was cancelled (or taken) meanwhile."""
        # the payload is read beside the script, in the same round trip, not returned by
        # it: Lua would copy it (a 50 MB argument: +0.15 s); unused if the job was taken
        pipe = self.redis.pipeline(transaction=False)
        pipe.eval(_START, 0, self.prefix, job_id, time.time(), worker)  # (EVAL: see add)
        pipe.hget(self._job(job_id), "payload")
        found, payload = pipe.execute()
        if found is None:
            return None
        timeout, cwd, sys_path = found[1]
        return payload, _number(timeout), _text(cwd), json.loads(sys_path) if sys_path else []

    def heartbeat(self, job_id: str) -> bool:
        """Say the job is alive (at the server's time); returns whether a cancel was
        asked for."""
        return bool(self._heartbeat(args=[self.prefix, job_id]))

    def progress(self, job_id: str, done: float, total: float | None, message: str | None) -> None:
        total = None if total is None else float(total)  # (a numpy number is one too)
        fields = json.dumps({"progress_total": total, "progress_message": message})
        self._progress(args=[self.prefix, job_id, float(done), fields])

    def log(self, job_id: str, text: str) -> None:
        self.redis.append(f"{self.prefix}log:{job_id}", text.encode())

    def finish(self, job_id: str, status: JobStatus, error: str | None, outcome: bytes) -> bool:
        """Record how the job ended, unless it had already ended (e.g. found lost)."""
        args = [self.prefix, job_id, status.value, error or "", outcome, time.time()]
        return bool(self._finish(args=args))

    def requeue(self, job_id: str, reason: str) -> bool:
        """Put a running job back in the queued state (its worker stopped before it
        ended), saying ``reason`` in its log; False if it was no longer running. The
        caller queues it again."""
        return bool(self.redis.eval(_REQUEUE, 0, self.prefix, job_id, f"jobnb: {reason}\n"))

    def request_cancel(self, job_id: str) -> JobStatus:
        """Ask for a cancel; returns the status the job had (a queued job is cancelled
        here and now; a running one is stopped by its worker, which watches the flag)."""
        old = self._cancel(args=[self.prefix, job_id, time.time()])
        if old is None:
            raise JobNotFound(f"no job {job_id!r} in Redis under {self.prefix}")
        return JobStatus(old.decode())

    def forget(self, job_id: str) -> JobStatus:
        """Delete an ended job: its record, payload, outcome and logs; returns how it had
        ended. A queued or running job is refused (cancel it first, or wait)."""
        status = self._forget(args=[self.prefix, job_id])
        if status is None:
            raise JobNotFound(f"no job {job_id!r} in Redis under {self.prefix}")
        status = JobStatus(status.decode())
        if not status.is_done:
            raise refuse_to_forget(job_id, status)
        return status

    # --- reading ---------------------------------------------------------------------------
    def record(self, job_id: str) -> JobRecord:
        self._mark_lost()
        values = self.redis.hmget(self._job(job_id), _FIELDS)
        if values[2] is None:
            raise JobNotFound(f"no job {job_id!r} in Redis under {self.prefix}")
        return _record(job_id, values)

    def status(self, job_id: str) -> JobStatus:
        """A job's status alone: what a waiting kernel reads, often."""
        self._mark_lost()
        value = self.redis.hget(self._job(job_id), "status")
        if value is None:
            raise JobNotFound(f"no job {job_id!r} in Redis under {self.prefix}")
        return JobStatus(value.decode())

    def wait(self, job_id: str, timeout: float | None) -> bool:
        """Block until the job has ended (True) or ``timeout`` seconds passed (False),
        on the ``done`` stream: woken when a job ends, not polling its status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        stream = f"{self.prefix}done"
        pipe = self.redis.pipeline(transaction=False)
        pipe.xrevrange(stream, count=1)  # read first: an end after it is in the stream
        pipe.hget(self._job(job_id), "status")
        newest, status = pipe.execute()
        if status is None:
            raise JobNotFound(f"no job {job_id!r} in Redis under {self.prefix}")
        last = newest[0][0] if newest else b"0-0"
        wanted = job_id.encode()
        while not JobStatus(status.decode()).is_done:
            block = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            if block <= 0:
                return False
            found = self.redis.xread({stream: last}, count=1000, block=max(1, int(block * 1000)))
            if found:
                entries = found[0][1]
                last = entries[-1][0]
                if any(fields.get(b"job") == wanted for _, fields in entries):
                    return True
            else:  # a second without news: look again (this also finds lost jobs)
                self._mark_lost()
                status = self.redis.hget(self._job(job_id), "status")
        return True

    def records(
        self, status: JobStatus | None = None, limit: int | None = None, offset: int = 0
    ) -> list[JobRecord]:
        """Newest first: one round trip for the page's ids, one for their records."""
        self._mark_lost()
        key = f"{self.prefix}status:{status.value}" if status else f"{self.prefix}all"
        stop = -1 if limit is None else offset + limit - 1
        if limit == 0:
            return []
        ids = [raw.decode() for raw in self.redis.zrevrange(key, offset, stop)]
        return list(self.records_of(ids, look_for_lost=False).values())

    def records_of(self, job_ids: list[str], look_for_lost: bool = True) -> dict[str, JobRecord]:
        """Several records in one round trip (what the widgets' monitor asks each tick)."""
        if look_for_lost:
            self._mark_lost()
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hmget(self._job(job_id), _FIELDS)
        found = {}
        for job_id, values in zip(job_ids, pipe.execute(), strict=True):
            if values[2] is not None:
                found[job_id] = _record(job_id, values)
        return found

    def counts(self) -> dict[JobStatus, int]:
        self._mark_lost()
        pipe = self.redis.pipeline(transaction=False)
        for status in JobStatus:
            pipe.zcard(f"{self.prefix}status:{status.value}")
        return dict(zip(JobStatus, pipe.execute(), strict=True))

    def queued_ids(self) -> list[str]:
        """The ids of the queued jobs, oldest first (what the queue's repair compares
        with the messages waiting)."""
        return [raw.decode() for raw in self.redis.zrange(f"{self.prefix}status:queued", 0, -1)]

    def logs(self, job_id: str) -> str:
        value = self.redis.get(f"{self.prefix}log:{job_id}")
        return "" if value is None else value.decode(errors="replace")

    def outcome(self, job_id: str) -> bytes | None:
        return self._blob(job_id, "outcome")

    def payload(self, job_id: str) -> bytes | None:
        return self._blob(job_id, "payload")

    def _blob(self, job_id: str, field: str) -> bytes | None:
        status, blob = self.redis.hmget(self._job(job_id), ["status", field])
        if status is None:
            raise JobNotFound(f"no job {job_id!r} in Redis under {self.prefix}")
        return blob

    # --- workers ---------------------------------------------------------------------------
    def worker_alive(self, worker: str) -> None:
        """Say a worker is serving this queue (every WORKER_BEAT seconds while it runs)."""
        self._worker_alive(keys=[f"{self.prefix}workers"], args=[worker])

    def worker_gone(self, worker: str) -> None:
        self.redis.hdel(f"{self.prefix}workers", worker)

    def live_workers(self) -> list[str]:
        """The workers heard from lately, on any machine."""
        alive = self._live_workers(keys=[f"{self.prefix}workers"], args=[3 * WORKER_BEAT])
        return sorted(name.decode() for name in alive)

    def _mark_lost(self) -> None:
        """Whoever reads finds the jobs whose worker stopped beating, and says so, and
        forgets the ended jobs past their result_ttl (at most once a second: a waiting
        kernel reads every few milliseconds)."""
        if not self._lost_look.due():
            return
        self._mark_lost_script(args=[self.prefix, self._lost_look.silence, _LOST_ERROR])
