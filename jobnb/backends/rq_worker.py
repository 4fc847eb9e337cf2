"""``jobnb worker --backend rq``: RQ workers for jobnb's jobs, on any machine that
reaches the Redis server.

Each worker is an RQ ``SimpleWorker`` (it runs the job target in its own process, no
fork per job: a fork costs ~10 ms a job) whose target runs the job in a clean child
process it can kill (backends/recorded_job.py): cancel and timeout work, and the
worker beats the job's heartbeat meanwhile. ``-w N`` starts N such worker processes
and restarts one that dies. Plain ``rq worker`` runs jobnb's jobs too (its forking
worker: slower, same results).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from ..exceptions import JobFailed
from ..job import JobStatus
from .recorded_job import run_recorded_job
from .redis_connection import connect, redacted

_records = None  # this worker process's RedisRecords


def execute_job(job_id: str) -> None:
    """RQ's job target: run the recorded job ``job_id``. A job that did not finish
    raises here too, so that RQ files it among its failed jobs."""
    outcome = run_recorded_job(_records_here(), job_id)
    if outcome is not None and outcome.status is not JobStatus.FINISHED:
        raise JobFailed(f"jobnb job {job_id} {outcome.status.value}", outcome.error)


def drain_batch(batch_id: str) -> int:
    """RQ's target for a batch of jobs (rq_queue): take the batch's next job id and run
    it, until none is left; other workers drain the same batch meanwhile. A job that
    fails is recorded as failed; the batch goes on. Returns how many jobs ran here."""
    records = _records_here()
    ran = 0
    while (job_id := records.take_from_batch(batch_id)) is not None:
        if run_recorded_job(records, job_id) is not None:
            ran += 1
    return ran


def _records_here():
    """The records of the Redis server this worker serves: the one RQ hands us jobs
    from (also under plain ``rq worker``)."""
    global _records
    if _records is None:
        from rq import get_current_job

        from .redis_records import RedisRecords

        client = get_current_job().connection
        kwargs = client.connection_pool.connection_kwargs
        url = f"redis://{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}"
        _records = RedisRecords(url, name=None, namespace="rq", client=client)
    return _records


def worker_class():
    """RQ's SimpleWorker, with its own heartbeat (which keeps its key alive in Redis for
    ``worker_ttl``, 420 s) sent at most once a second when sent alone: RQ sends it
    before and after every dequeue, six round trips a job that change nothing when jobs
    come faster than that. Heartbeats sent within a pipeline, with a job, go as RQ says."""
    from rq import SimpleWorker

    class JobnbWorker(SimpleWorker):
        _beaten_at = -float("inf")

        def heartbeat(self, timeout=None, pipeline=None):
            if pipeline is None and timeout is None:
                if time.monotonic() - self._beaten_at < 1.0:
                    return
                self._beaten_at = time.monotonic()
            super().heartbeat(timeout, pipeline)

    return JobnbWorker


def run_rq_worker(url: str, queues: list[str], workers: int = 1, burst: bool = False) -> int:
    """Serve ``queues`` at ``url`` with ``workers`` worker processes until stopped."""
    global _records
    client = connect(url)
    if workers > 1:
        return _supervise(url, queues, workers)
    from .redis_records import RedisRecords

    _records = RedisRecords(url, name=None, namespace="rq", client=client)
    worker = worker_class()(queues, connection=client, name=f"{os.uname().nodename}.{os.getpid()}")
    print(
        f"jobnb worker: serving {', '.join(queues)} at {redacted(url)} (pid {os.getpid()})",
        flush=True,
    )
    worker.work(burst=burst, logging_level="WARNING", with_scheduler=False)
    return 0


def _supervise(url: str, queues: list[str], workers: int) -> int:
    """Start ``workers`` single worker processes; restart one that dies; stop them all
    on SIGINT/SIGTERM (RQ's warm shutdown: a running job finishes first)."""
    command = [sys.executable, "-m", "jobnb.cli", "worker", "--backend", "rq", "--url", url]
    for name in queues:
        command += ["-q", name]
    command += ["-w", "1"]
    stopping = False

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    procs = [subprocess.Popen(command) for _ in range(workers)]
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
                procs[index] = subprocess.Popen(command)
        time.sleep(0.5)
    for proc in procs:
        proc.wait()
    return 0


def worker_names(url: str) -> list[str]:
    """The RQ workers registered at ``url``, with their queues and state."""
    from rq import Worker

    return [
        f"{w.name} ({w.get_state()}; {', '.join(w.queue_names())})"
        for w in Worker.all(connection=connect(url))
    ]


def stop_workers(url: str, queues: list[str] | None = None) -> list[str]:
    """Ask every RQ worker at ``url`` (serving one of ``queues``, if given) to shut down,
    wherever it runs; returns their names."""
    from rq import Worker
    from rq.command import send_shutdown_command

    client = connect(url)
    stopped = []
    for worker in Worker.all(connection=client):
        if queues and not set(queues) & set(worker.queue_names()):
            continue
        send_shutdown_command(client, worker.name)
        stopped.append(worker.name)
    return stopped
