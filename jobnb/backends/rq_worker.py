"""``jobnb worker --backend rq``: RQ workers for jobnb's jobs, on any machine that
reaches the Redis server.

Each worker is an RQ ``SimpleWorker`` (it runs the job target in its own process, no
fork per job: a fork costs ~10 ms a job) whose target runs the job in a clean child
process it can kill (worker/recorded_job.py): cancel and timeout work, and the
worker beats the job's heartbeat meanwhile. ``-w N`` starts N such worker processes
and restarts one that dies. Plain ``rq worker`` runs jobnb's jobs too (its forking
worker: slower, same results).

A worker rides out a Redis restart: the running job waits for its records to be
written (recorded_job); where RQ's own bookkeeping then fails (RQ's worker would quit),
or RQ's wait for a job does, the work loop ends, waits for the server with back-off
(saying so in its log), registers again and goes on serving. Each worker also sweeps
now and then for batches and jobs that no runner is left to run (rq_batches).
"""

from __future__ import annotations

import functools
import itertools
import os
import signal
import subprocess
import sys
import threading
import time

from rq import Queue, SimpleWorker, Worker, get_current_job
from rq.command import send_shutdown_command
from rq.exceptions import StopRequested

from ..exceptions import JobFailed
from ..model import JobStatus
from ..worker.recorded_job import run_recorded_job
from . import rq_batches
from .options import RqOptions
from .records.redis import RedisRecords
from .redis_connection import connect, redacted
from .redis_outage import CONNECTION_ERRORS, say, wait_for_server
from .retry_sweep import sweep_retries_forever
from .rq_queue import RqBackend
from .rq_release import releaser
from .rq_serializer import SignedPickle
from .schedule_firing import QueueSide, Scheduler
from .secret_key import redis_signer

RESTART_PAUSE = 5.0  # seconds before RQ's work loop starts again after it quit on an error
_records = None  # this worker process's RedisRecords
_scheduler = None  # this worker process's scheduler (schedule_firing.py)


def execute_job(job_id: str) -> None:
    """RQ's job target: run the recorded job ``job_id``. A job that did not finish
    raises here too, so that RQ files it among its failed jobs."""
    outcome = run_recorded_job(_records_here(), job_id)
    if outcome is not None and outcome.status is not JobStatus.FINISHED:
        raise JobFailed(f"jobnb job {job_id} {outcome.status.value}", outcome.error)


def drain_batch(batch_id: str) -> int:
    """RQ's target for a batch of jobs (rq_batches): take the batch's next job id and
    run it, until none is left; other workers drain the same batch meanwhile. A job
    that fails is recorded as failed; the batch goes on. Returns how many jobs ran here."""
    records = _records_here()
    queue_name = get_current_job().origin
    ran = 0
    serializer = SignedPickle.with_signer(records.signer)
    while job_id := rq_batches.take(
        records.redis, records.prefix, batch_id, queue_name, serializer
    ):
        if run_recorded_job(records, job_id) is not None:
            ran += 1
    return ran


def _records_here():
    """The records of the Redis server this worker serves: the one RQ hands us jobs
    from (also under plain ``rq worker``)."""
    global _records
    if _records is None:
        client = get_current_job().connection
        kwargs = client.connection_pool.connection_kwargs
        url = f"redis://{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}"
        _records = _releasing(RedisRecords(url, name=None, namespace="rq", client=client))
    return _records


def _releasing(records: RedisRecords) -> RedisRecords:
    """``records``, queueing at once the waiting jobs a job's end releases here
    (rq_release.py; were this worker to die first, the sweep queues them)."""
    serializer = SignedPickle.with_signer(records.signer)
    records.on_release = releaser(records.redis, records.prefix, serializer)
    return records


class RedisLost(Exception):
    """The worker lost its Redis server: its work loop ends, to start again once the
    server answers (a StopRequested to RQ, so that it ends quietly)."""


@functools.cache
def worker_class():
    """RQ's SimpleWorker, with its own heartbeat (which keeps its key alive in Redis for
    ``worker_ttl``, 420 s) sent at most once a second when sent alone: RQ sends it
    before and after every dequeue, six round trips a job that change nothing when jobs
    come faster than that. Heartbeats sent within a pipeline, with a job, go as RQ says.
    A lost connection ends its work loop (RedisLost) wherever it happens: RQ retries it
    only while idle, and quits when it happens during a job."""

    class Lost(RedisLost, StopRequested):
        pass

    def lost(worker, exc: BaseException) -> Lost:
        worker.lost = True
        return Lost(str(exc))

    class JobnbQueue(Queue):
        @classmethod
        def dequeue_any(cls, *args, **kwargs):
            try:
                return super().dequeue_any(*args, **kwargs)
            except CONNECTION_ERRORS as exc:  # (RQ would retry it: the worker does)
                raise Lost(str(exc)) from None

    class JobnbWorker(SimpleWorker):
        _beaten_at = -float("inf")
        queue_class = JobnbQueue
        stop_asked = False  # SIGINT, SIGTERM, `jobnb worker --stop`: ends for good
        lost = False  # the server went away: ends, to start again once it answers

        def heartbeat(self, timeout=None, pipeline=None):
            if pipeline is None and timeout is None:
                if time.monotonic() - self._beaten_at < 1.0:
                    return
                self._beaten_at = time.monotonic()
            try:
                super().heartbeat(timeout, pipeline)
            except CONNECTION_ERRORS as exc:
                raise lost(self, exc) from None

        def dequeue_job_and_maintain_ttl(self, *args, **kwargs):
            try:
                return super().dequeue_job_and_maintain_ttl(*args, **kwargs)
            except RedisLost:  # (from JobnbQueue.dequeue_any)
                self.lost = True
                raise

        def execute_job(self, job, queue):
            try:  # (the job itself waits for its records: RQ's bookkeeping does not)
                super().execute_job(job, queue)
            except CONNECTION_ERRORS as exc:
                raise lost(self, exc) from None

        def request_stop(self, signum, frame):
            self.stop_asked = True
            if _scheduler is not None:
                _scheduler.stop()  # a stopping worker fires no schedule
            super().request_stop(signum, frame)

    return JobnbWorker


def run_rq_worker(url: str, queues: list[str], workers: int = 1, burst: bool = False) -> int:
    """Serve ``queues`` at ``url`` with ``workers`` worker processes until stopped."""
    global _records, _scheduler
    client = connect(url)
    signer = redis_signer(url)  # no key: refused now, before any worker starts
    if workers > 1:
        return _supervise(url, queues, workers)

    _records = _releasing(
        RedisRecords(url, name=None, namespace="rq", client=client, signer=signer)
    )
    name = f"{os.uname().nodename}.{os.getpid()}"
    threading.Thread(target=_sweep_now_and_then, args=(client, name), daemon=True).start()
    serializer = SignedPickle.with_signer(_records.signer)
    sweep_retries_forever(
        _records,
        lambda job_ids: rq_batches.queue_again(
            client, _records.prefix, job_ids, serializer, "its next attempt"
        ),
    )
    scheduler = _scheduler = Scheduler(_queue_side(url))  # the schedules fire from here
    scheduler.start()
    serving = f"serving {', '.join(queues)} at {redacted(url)} (pid {os.getpid()})"
    print(f"jobnb worker: {serving}", flush=True)
    for incarnation in itertools.count():
        # a new name each time: the server may still hold the last one, never unregistered
        suffix = f".{incarnation}" if incarnation else ""
        worker = worker_class()(
            queues,
            connection=client,
            name=name + suffix,
            serializer=SignedPickle.with_signer(_records.signer),
        )
        try:
            worker.work(burst=burst, logging_level="WARNING", with_scheduler=False)
        except CONNECTION_ERRORS:  # its last words to the server could not be said
            worker.lost = True
        if worker.stop_asked or (burst and not worker.lost):
            scheduler.stop()
            return 0
        if not worker.lost:  # RQ quit on an error of its own (it logged it): start again
            say(f"RQ's work loop ended; starting it again in {RESTART_PAUSE:g} s")
            time.sleep(RESTART_PAUSE)
        # (RQ's signal handlers need the server: till it answers, a stop ends at once)
        signal.signal(signal.SIGINT, _exit_now)
        signal.signal(signal.SIGTERM, _exit_now)
        wait_for_server(client, url, lost=worker.lost)
        _forget(worker)
        say(serving)
    return 1  # (never reached)


def _queue_side(url: str):
    """What this worker's scheduler fires schedules through: an RqBackend of the server
    per (result_ttl, log bound) of the schedules, kept."""
    made: dict[tuple, QueueSide] = {}

    def side(result_ttl: float | None, log_bytes_kept: int | None) -> QueueSide:
        key = (result_ttl, log_bytes_kept)
        if key not in made:
            options = {"redis_url": url, "result_ttl": result_ttl}
            if log_bytes_kept is not None:
                options["log_bytes_kept"] = log_bytes_kept
            backend = RqBackend(RqOptions(**options))
            made[key] = QueueSide("rq", backend.records_store, queue_on=backend._queue_on)
        return made[key]

    return side


def _exit_now(signum, _frame) -> None:
    say(f"stopped ({signal.Signals(signum).name}) while waiting for Redis")
    sys.exit(0)


def _forget(worker) -> None:
    """Take a worker that lost its server out of RQ's registry (where it is left if the
    server kept its data), so that ``rq info`` and the kernels count the live ones."""
    try:
        worker.register_death()
    except CONNECTION_ERRORS:
        pass


def _sweep_now_and_then(client, name: str) -> None:
    """Every few seconds, if no other worker did lately: mend the batches and jobs no
    runner is left to run (rq_batches.sweep)."""
    while True:
        time.sleep(rq_batches.SWEEP_EVERY)
        try:
            serializer = SignedPickle.with_signer(_records.signer)
            repaired = rq_batches.sweep(client, _records.prefix, name, serializer)
        except CONNECTION_ERRORS:
            continue  # the work loop says so, and waits for the server
        if repaired:
            shown = ", ".join(repaired[:5]) + (", ..." if len(repaired) > 5 else "")
            say(f"queued again {len(repaired)} job(s) that nothing held ({shown})")


def _supervise(url: str, queues: list[str], workers: int) -> int:
    """Start ``workers`` single worker processes; restart one that dies; stop them all
    on SIGINT/SIGTERM (RQ's warm shutdown: a running job finishes first)."""
    # the URL goes in the environment: a command line is for all to see (ps), a
    # password in it too
    command = [sys.executable, "-m", "jobnb.cli", "worker", "--backend", "rq", "-w", "1"]
    for name in queues:
        command += ["-q", name]
    environment = {**os.environ, "JOBNB_REDIS_URL": url}
    stopping = False

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    procs = [subprocess.Popen(command, env=environment) for _ in range(workers)]
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        for index, proc in enumerate(procs):
            if proc.poll() is not None and not stopping:
                print(
                    f"jobnb worker: worker pid {proc.pid} ended ({proc.returncode}); "
                    "starting another",
                    file=sys.stderr,
                    flush=True,
                )
                procs[index] = subprocess.Popen(command, env=environment)
        time.sleep(0.5)
    for proc in procs:
        proc.wait()
    return 0


def worker_names(url: str) -> list[str]:
    """The RQ workers registered at ``url``, with their queues and state."""
    return [
        f"{w.name} ({w.get_state()}; {', '.join(w.queue_names())})"
        for w in Worker.all(connection=connect(url))
    ]


def stop_workers(url: str, queues: list[str] | None = None) -> list[str]:
    """Ask every RQ worker at ``url`` (serving one of ``queues``, if given) to shut down,
    wherever it runs; returns their names."""
    client = connect(url)
    stopped = []
    for worker in Worker.all(connection=client):
        if queues and not set(queues) & set(worker.queue_names()):
            continue
        send_shutdown_command(client, worker.name)
        stopped.append(worker.name)
    return stopped
