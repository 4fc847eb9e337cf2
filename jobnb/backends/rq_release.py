"""Queueing on RQ the jobs a records store released (``Records.on_release``): a waiting
job whose dependencies all finished is recorded as queued by the script that ended the
last of them, and the process that ran that script (a worker, or a kernel that
cancelled or found a job lost) queues it here, as one RQ job named by the jobnb id, on
the queue it was submitted to. A process that dies in between leaves it recorded as
queued with no RQ job: the workers' sweep (rq_batches.sweep) queues it again.
"""

from __future__ import annotations

from functools import partial

from rq import Queue

from ..defaults import RQ_QUEUE
from .rq_batches import JOB_TARGET, KEEP_FOREVER, rq_options


def queue_released(client, prefix: str, serializer, job_ids: list[str]) -> None:
    """One RQ job per id, on its recorded queue, in one pipeline."""
    pipe = client.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hmget(f"{prefix}job:{job_id}", ["queue", "result_ttl", "description"])
    found = pipe.execute()
    by_queue: dict[str, list] = {}
    for job_id, (queue_name, result_ttl, description) in zip(job_ids, found, strict=True):
        ttl = KEEP_FOREVER if result_ttl is None else int(float(result_ttl) + 0.999)
        text = description.decode() if description else f"jobnb job {job_id}"
        data = Queue.prepare_data(JOB_TARGET, (job_id,), **rq_options(text, ttl, job_id))
        by_queue.setdefault(queue_name.decode() if queue_name else RQ_QUEUE, []).append(data)
    with client.pipeline() as pipe:
        for name, data in by_queue.items():
            Queue(name, connection=client, serializer=serializer).enqueue_many(data, pipeline=pipe)
        pipe.execute()


def releaser(client, prefix: str, serializer):
    """What a RedisRecords of the rq backend takes as ``on_release``."""
    return partial(queue_released, client, prefix, serializer)
