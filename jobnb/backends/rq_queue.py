"""The ``rq`` backend (alias ``redis``, the seed's worker type): jobs go through RQ
queues in a Redis server to ``jobnb worker --backend rq`` processes on any machine.

RQ carries only the job id, to one importable target (``rq_worker.execute_job``), so
notebook-defined functions and ``%%submit`` cells run (RQ alone refuses functions
from ``__main__``). The payload is written once, uncompressed, into the job's record
beside RQ's job hash (RQ zlib-compresses its job data: a 50 MB argument would cost
seconds). Records, progress, logs and heartbeats are RedisRecords under ``jobnb:rq:``;
RQ's job hashes, queues and registries stay true too, so ``rq info`` sees the jobs.

Jobs submitted together (``jobnb.map``, ``submit_many``) go as a batch (rq_batches):
their ids in one Redis list, drained by runners, one per worker serving the queue plus
a spare to start with; the batch keeps a spare runner waiting while it has jobs left,
so workers that join later share it and a worker's crash strands nothing. A single
submit is one RQ job, with jobnb's id.

Defaults that suit notebook jobs: no job timeout unless asked for (RQ's is 180 s),
and records and results kept until deleted (RQ drops a finished job after 500 s).
"""

from __future__ import annotations

import math
import os
import sys
import time

import redis
from rq import Queue, Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job as RqJob
from rq.job import JobStatus as RqStatus

from ..defaults import RQ_QUEUE
from ..model import JobRecord, JobStatus
from .options import RqOptions
from .records.redis import RedisRecords
from .records_backend import RecordsBackend
from .redis_connection import DEFAULT_URL, check_url, redacted, unreachable, worker_command
from .rq_batches import JOB_TARGET, KEEP_FOREVER, rq_options, start_batch
from .rq_release import releaser
from .rq_serializer import SignedPickle
from .secret_key import redis_signer

WORKERS_SEEN_FOR = 5.0  # seconds a count of a queue's workers is reused
RQ_FILES_WITHIN = 2.0  # seconds RQ takes at most to file a job whose target returned


class RqBackend(RecordsBackend):
    """Jobs queued in RQ on the Redis server at ``redis_url`` (default: a local one)."""

    name = "rq"

    def __init__(self, options: RqOptions = RqOptions()) -> None:  # noqa: B008 - frozen
        self.options = options
        self.url = check_url(options.redis_url or DEFAULT_URL)
        self.workers = options.workers  # what `jobnb worker` is told to start; not started here
        signer = redis_signer(self.url, options.secret_key_file)  # refused now if none
        self.records_store = RedisRecords(
            self.url,
            name=None,
            namespace="rq",
            result_ttl=options.result_ttl,
            signer=signer,
            log_bytes_kept=options.log_bytes_kept,
        )
        self.serializer = SignedPickle.with_signer(signer)  # RQ's own pickles, signed too
        # RQ's own copy of a job (its hash, its registries) lives as long as jobnb's
        ttl = options.result_ttl
        self._rq_ttl = KEEP_FOREVER if ttl is None else math.ceil(ttl)
        self.redis = self.records_store.redis
        self.records_store.on_release = releaser(
            self.redis, self.records_store.prefix, self.serializer
        )
        self._queues: dict[str, object] = {}
        self._workers_seen: dict[str, tuple[int, float]] = {}

    def queue(self, name: str | None):
        name = name or RQ_QUEUE
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = Queue(
                name, connection=self.redis, serializer=self.serializer
            )
        return queue

    def store_and_queue(self, records: list[JobRecord], blobs: list[bytes]) -> None:
        """Records, payloads and RQ jobs written in one MULTI: one round trip, and never
        a queued id without its record."""
        try:
            with self.redis.pipeline() as pipe:
                added = self.records_store.add(
                    records, blobs, cwd=os.getcwd(), sys_path=sys.path, pipeline=pipe
                )
                self._queue_on(pipe, records)
                added(pipe.execute())
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise unreachable(self.url, exc) from None

    def _queue_on(self, pipe, records: list[JobRecord]) -> None:
        by_queue: dict[str, list[JobRecord]] = {}
        for rec in records:
            if rec.status is not JobStatus.QUEUED:
                continue  # waiting: queued once released (rq_release.py)
            by_queue.setdefault(rec.queue or RQ_QUEUE, []).append(rec)
        for name, recs in by_queue.items():
            if len(recs) > 1:
                runners = min(len(recs), self._workers_serving(name) + 1)
                ids = [rec.id for rec in recs]
                prefix = self.records_store.prefix
                start_batch(pipe, prefix, self.queue(name), ids, runners, self._rq_ttl)
                continue
            rec = recs[0]
            options = rq_options(rec.description, self._rq_ttl, job_id=rec.id)
            self.queue(name).enqueue_many(
                [Queue.prepare_data(JOB_TARGET, (rec.id,), **options)], pipeline=pipe
            )

    def _workers_serving(self, queue_name: str) -> int:
        """How many RQ workers serve ``queue_name`` (RQ's registry; counted at most every
        few seconds)."""
        seen = self._workers_seen.get(queue_name)
        if seen is None or time.monotonic() - seen[1] > WORKERS_SEEN_FOR:
            count = Worker.count(connection=self.redis, queue=self.queue(queue_name))
            seen = self._workers_seen[queue_name] = (count, time.monotonic())
        return seen[0]

    def unserved(self, records: list[JobRecord]) -> str | None:
        wanted = {rec.queue or RQ_QUEUE for rec in records}
        serving = {q for w in Worker.all(connection=self.redis) for q in w.queue_names()}
        missing = sorted(wanted - serving)
        if not missing:
            return None
        command = worker_command(self.url, "rq", f"-q {' -q '.join(missing)}")
        return (
            f"no RQ worker serves the queue(s) {', '.join(missing)} at {redacted(self.url)} "
            f"yet: the job waits until one does. Start one with {command} (on this machine "
            "or any other that reaches the server)."
        )

    def forget_queued(self, job_id: str) -> None:
        """Take a cancelled job out of its RQ queue (into RQ's canceled registry)."""
        try:
            RqJob.fetch(job_id, connection=self.redis, serializer=self.serializer).cancel()
        except (NoSuchJobError, InvalidJobOperation):
            pass  # already taken by a worker: it finds the record cancelled and skips it

    def forget(self, job_id: str) -> None:
        """Forget the ended job, and RQ's own copy of it (its hash, its registries)."""
        ended_as = self.records_store.forget(job_id)  # refuses a job that has not ended
        self._delete_rq_copy(job_id, ended_as)

    def _delete_rq_copy(self, job_id: str, ended_as: JobStatus) -> None:
        try:
            rq_job = RqJob.fetch(job_id, connection=self.redis, serializer=self.serializer)
            # jobnb's record ends inside RQ's job target; RQ files the job a moment later,
            # writing its hash again if it was deleted before: wait for that (unless the
            # job was lost: its worker is gone, and RQ will not file it)
            deadline = time.monotonic() + RQ_FILES_WITHIN
            while (
                ended_as is not JobStatus.LOST
                and rq_job.get_status(refresh=True) == RqStatus.STARTED
                and time.monotonic() < deadline
            ):
                time.sleep(0.01)
            rq_job.delete()
        except (NoSuchJobError, InvalidJobOperation):
            pass  # one of a map's batch (RQ knows only the batch), or already expired

    def forget_batch(self, job_ids: list[str]) -> list[str]:
        """The records in one script (the store's ``forget_many``), then RQ's own copies of
        them in one pipeline; a copy RQ has not filed yet (it ended this instant) is
        deleted as ``forget`` does, once RQ has filed it."""
        ended = self.records_store.forget_many(job_ids)
        unfiled = []
        rq_jobs = RqJob.fetch_many(list(ended), connection=self.redis, serializer=self.serializer)
        with self.redis.pipeline(transaction=False) as pipe:
            for job_id, rq_job in zip(ended, rq_jobs, strict=True):
                if rq_job is None:
                    continue  # one of a map's batch (RQ knows only the batch), or expired
                if rq_job.get_status(refresh=False) == RqStatus.STARTED:
                    unfiled.append(job_id)
                else:
                    rq_job.delete(pipeline=pipe)
            pipe.execute()
        for job_id in unfiled:
            self._delete_rq_copy(job_id, ended[job_id])
        return list(ended)

    def stats(self) -> dict[str, object]:
        counts = self.counts()
        return {  # (a count, not Worker.all: a dashboard refresh stays a few round trips)
            "workers": Worker.count(connection=self.redis),
            "queued": counts[JobStatus.QUEUED],
            "running": counts[JobStatus.RUNNING],
        }

    def describe(self) -> dict[str, object]:
        return {"backend": self.name, "redis": redacted(self.url)}
