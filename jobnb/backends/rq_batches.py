"""Batches of jobs on RQ (``jobnb.map``): the jobs' ids in one Redis list, drained by
runners, RQ jobs whose target (``rq_worker.drain_batch``) takes the next id and runs
it until none is left. RQ's bookkeeping (a dozen Redis commands a job) is then paid
per runner, not per job.

How many runners a batch needs is not known at submit: workers join, leave and crash
while it drains. So a batch keeps one *spare* runner waiting in its RQ queue while it
has jobs left: a runner that takes a job and sees the spare gone (taken by a worker)
queues another. Any idle or newly started worker takes the spare and joins in, and a
worker that dies leaves the spare behind for the others. A sweep in the jobnb workers
(``sweep``, every few seconds) mends what no runner is left to mend: a batch with
jobs left and no spare (its last runner's worker died), and a job recorded as queued
that no RQ job nor batch holds any more (its worker died between taking it and
starting it).

Keys, beside the records (prefix ``jobnb:rq:``)::

    batch:<id>        list: the ids of the batch's jobs not yet taken
    batch:<id>:spare  string: the RQ job id of the spare runner, or "pending" for
                      a few seconds while a runner queues one
    batches           hash: batch id -> its queue and its RQ jobs' ttl (JSON)
    sweep             string: held for a few seconds by the worker sweeping
    orphans           set: the queued jobs the last sweep found no RQ job nor batch for
"""

from __future__ import annotations

import json
import uuid

from rq import Queue

from ..defaults import RQ_QUEUE

JOB_TARGET = "jobnb.backends.rq_worker.execute_job"
BATCH_TARGET = "jobnb.backends.rq_worker.drain_batch"
KEEP_FOREVER = -1  # RQ's result_ttl / failure_ttl for "never expire"
PENDING_FOR = 5  # seconds a runner has to queue the spare it claimed
SWEEP_EVERY = 10.0  # seconds between two sweeps (of any worker)

# A spare is needed unless one waits in the queue (searched from the tail, where RQ
# pushed it) or is being queued: then it is claimed ("pending") and 1 returned, and
# the caller queues one. One Lua call: two runners never both queue one.
_CLAIM = """
local function claim(spare_key, queue_key)
    local spare = redis.call('GET', spare_key)
    if spare == 'pending' then return 0 end
    if spare and redis.call('LPOS', queue_key, spare, 'RANK', -1) then return 0 end
    redis.call('SET', spare_key, 'pending', 'EX', ARGV[4])
    return 1
end
"""

# The next job id of a batch, and whether the caller must queue a spare runner.
_TAKE = (
    _CLAIM
    + """
local batch = ARGV[1] .. 'batch:' .. ARGV[2]
local id = redis.call('LPOP', batch)
if not id then  -- drained: forget it
    redis.call('HDEL', ARGV[1] .. 'batches', ARGV[2])
    redis.call('DEL', batch .. ':spare')
    return {false, 0}
end
if redis.call('LLEN', batch) == 0 then return {id, 0} end
return {id, claim(batch .. ':spare', ARGV[3])}
"""
)

# The sweep's look at one batch: 1 if it has jobs left and no spare (claimed now).
_CHECK = (
    _CLAIM
    + """
local batch = ARGV[1] .. 'batch:' .. ARGV[2]
if redis.call('LLEN', batch) == 0 then
    redis.call('HDEL', ARGV[1] .. 'batches', ARGV[2])
    redis.call('DEL', batch .. ':spare')
    return 0
end
return claim(batch .. ':spare', ARGV[3])
"""
)


_take_script = None  # _TAKE, registered (once per process)


def queue_key(queue_name: str) -> str:
    return f"{Queue.redis_queue_namespace_prefix}{queue_name}"


def rq_options(description: str, ttl: int, job_id: str | None = None) -> dict[str, object]:
    """RQ's options for a jobnb RQ job: no timeout of RQ's (jobnb's own, per job), and
    kept as long as jobnb keeps its records (``ttl``)."""
    return {
        "timeout": -1,
        "result_ttl": ttl,
        "failure_ttl": ttl,
        "description": description,
        "job_id": job_id,
    }


def start_batch(pipe, prefix: str, queue, job_ids: list[str], runners: int, ttl: int) -> None:
    """Queue the batch ``job_ids`` with ``runners`` runners, on ``pipe`` (the caller's
    MULTI, with the jobs' records); the last runner is the batch's first spare."""
    batch_id = uuid.uuid4().hex[:12]
    description = f"jobnb batch {batch_id}: {len(job_ids)} jobs"
    pipe.rpush(f"{prefix}batch:{batch_id}", *job_ids)
    pipe.hset(f"{prefix}batches", batch_id, json.dumps({"queue": queue.name, "ttl": ttl}))
    ids = [uuid.uuid4().hex for _ in range(runners)]
    pipe.set(f"{prefix}batch:{batch_id}:spare", ids[-1])
    queue.enqueue_many(
        [
            Queue.prepare_data(BATCH_TARGET, (batch_id,), **rq_options(description, ttl, i))
            for i in ids
        ],
        pipeline=pipe,
    )


def take(client, prefix: str, batch_id: str, queue_name: str, serializer) -> str | None:
    """The next job id of the batch (None: drained); queues a spare runner first when
    the batch has more and no spare waits."""
    global _take_script
    if _take_script is None:  # (EVALSHA: the script's text is not sent each time)
        _take_script = client.register_script(_TAKE)
    args = [prefix, batch_id, queue_key(queue_name), PENDING_FOR]
    job_id, spare_needed = _take_script(args=args, client=client)
    if spare_needed:
        add_spare(client, prefix, batch_id, serializer)
    return None if job_id is None else job_id.decode()


def add_spare(client, prefix: str, batch_id: str, serializer) -> None:
    """Queue a runner of the batch and record it as its spare (one MULTI); ``serializer``:
    RQ's, signing (rq_serializer)."""
    meta = client.hget(f"{prefix}batches", batch_id)
    if meta is None:  # drained meanwhile
        return
    meta = json.loads(meta)
    queue = Queue(meta["queue"], connection=client, serializer=serializer)
    spare = uuid.uuid4().hex
    description = f"jobnb batch {batch_id}: spare runner"
    with client.pipeline() as pipe:
        queue.enqueue_many(
            [
                Queue.prepare_data(
                    BATCH_TARGET, (batch_id,), **rq_options(description, meta["ttl"], spare)
                )
            ],
            pipeline=pipe,
        )
        pipe.set(f"{prefix}batch:{batch_id}:spare", spare)
        pipe.execute()


def sweep(client, prefix: str, worker: str, serializer) -> list[str]:
    """Mend what no runner is left to mend, if no other worker swept lately: queue a
    spare for each batch left without one, and queue again (as single RQ jobs) the
    jobs recorded as queued that no RQ job nor batch holds, seen so in two sweeps in
    a row (a worker takes a job a moment before it starts it). Returns the ids of the
    jobs queued again."""
    if not client.set(f"{prefix}sweep", worker, nx=True, ex=int(SWEEP_EVERY) - 1):
        return []
    batches = {
        key.decode(): json.loads(value) for key, value in client.hgetall(f"{prefix}batches").items()
    }
    for batch_id, meta in batches.items():
        args = (prefix, batch_id, queue_key(meta["queue"]), PENDING_FOR)
        if client.eval(_CHECK, 0, *args):
            add_spare(client, prefix, batch_id, serializer)
    return _requeue_orphans(client, prefix, batches, serializer)


def _requeue_orphans(client, prefix: str, batches: dict, serializer) -> list[str]:
    # (a job waiting for its next attempt is queued by the sweep of due retries)
    waiting = set(client.zrange(f"{prefix}retry", 0, -1))
    queued = [raw.decode() for raw in client.zrange(f"{prefix}status:queued", 0, -1)]
    queued = [job_id for job_id in queued if job_id.encode() not in waiting]
    held = set()
    if queued:
        pipe = client.pipeline(transaction=False)
        for batch_id in batches:
            pipe.lrange(f"{prefix}batch:{batch_id}", 0, -1)
        for queue in Queue.all(connection=client):
            pipe.lrange(queue.key, 0, -1)
        for ids in pipe.execute():  # (an RQ job id is the jobnb id, or starts with it)
            held.update(raw.decode().split("-", 1)[0] for raw in ids)
    orphans = {job_id for job_id in queued if job_id not in held}
    suspects = {raw.decode() for raw in client.smembers(f"{prefix}orphans")}
    confirmed = sorted(orphans & suspects)
    with client.pipeline() as pipe:
        pipe.delete(f"{prefix}orphans")
        if orphans - suspects:
            pipe.sadd(f"{prefix}orphans", *(orphans - suspects))
        pipe.execute()
    for job_id in confirmed:
        _requeue(client, prefix, job_id, serializer)
    return confirmed


def _requeue(client, prefix: str, job_id: str, serializer, why: str = "nothing held it") -> None:
    queue_name, result_ttl = client.hmget(f"{prefix}job:{job_id}", ["queue", "result_ttl"])
    queue_name = queue_name.decode() if queue_name else RQ_QUEUE
    queue = Queue(queue_name, connection=client, serializer=serializer)
    ttl = KEEP_FOREVER if result_ttl is None else int(float(result_ttl) + 0.999)
    description = f"jobnb job {job_id}, queued again: {why}"
    rq_id = f"{job_id}-again-{uuid.uuid4().hex[:8]}"  # (its first RQ job may still exist)
    data = Queue.prepare_data(JOB_TARGET, (job_id,), **rq_options(description, ttl, rq_id))
    queue.enqueue_many([data])


def queue_again(client, prefix: str, job_ids: list[str], serializer, why: str) -> None:
    """Queue the recorded jobs ``job_ids`` again, each as a single RQ job (``why``: in
    its RQ description)."""
    for job_id in job_ids:
        _requeue(client, prefix, job_id, serializer, why)
