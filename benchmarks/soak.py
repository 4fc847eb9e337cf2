"""Soak: thousands of jobs on a queue backend while faults are injected at random, and
the same jobs without faults, side by side in one run.

    python benchmarks/soak.py                        # huey (SQLite) and rq, 10,000 jobs each
    python benchmarks/soak.py --backend rq --jobs 2000

Every job returns a value derived from its own input, so a wrong result is seen. The
mix: most jobs sleep a few ms; some are chatty (a line every 10 ms), some fail on
purpose, some are cancelled soon after submit. Faults while jobs remain: a worker
process SIGKILLed every few seconds (huey: the home's worker, restarted by jobnb
itself; rq: one of the supervisor's workers, restarted by the supervisor) and, on rq,
the Redis server SIGKILLed and restarted twice (with AOF, fsync always: what a Redis
that must not lose jobs runs with).

Reported per backend: wrong results (must be 0), jobs not ended 60 s after the last
fault (must be 0), the longest time from a worker's death to its running job's
``lost`` (must be <= 30 s), and throughput with faults vs without. Not a timed test.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import jobnb
from jobnb import JobStatus
from jobnb.worker.process_tree import children as children_of

WORKERS = 2
BATCH = 100
SETTLE_AFTER_LAST_FAULT = 60.0  # every job must have ended this long after the last fault
KILL_EVERY = (3.0, 6.0)  # seconds between two worker kills
REDIS_RESTARTS = 2
MAX_RUN = 1800.0  # a run without faults ends by then, whatever happens
STALLED_AFTER = 60.0  # no job ended for this long: stop injecting faults, report


def expected(i: int):
    return ("soak", i, i * i % 1_000_003)


def soak_job(i: int, kind: str, pause: float):
    """The job: its value is derived from ``i`` alone."""
    if kind == "chatty":
        for line in range(20):
            print(f"job {i} line {line}", flush=True)
            time.sleep(0.01)
    elif kind == "fail":
        raise ValueError(f"soak job {i} fails on purpose")
    elif kind == "cancel":
        time.sleep(3)
    else:
        time.sleep(pause)
    return ("soak", i, i * i % 1_000_003)


def plan(count: int, seed: int) -> list[tuple[int, str, float]]:
    rng = random.Random(seed)
    jobs = []
    for i in range(count):
        roll = rng.random()
        kind = (
            "chatty"
            if roll < 0.02
            else "fail"
            if roll < 0.07
            else "cancel"
            if roll < 0.08
            else "ok"
        )
        jobs.append((i, kind, rng.uniform(0, 0.01)))
    return jobs


# --- the systems under test ---------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of the soak's own, with AOF (fsync always), that can be killed
    and started again on the same port and folder."""

    def __init__(self, folder: str) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                self.folder,
            ],
            stdout=open(os.path.join(self.folder, "redis.log"), "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except (redis.ConnectionError, redis.BusyLoadingError):
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer")

    def restart(self) -> None:
        self.proc.kill()
        self.proc.wait()
        time.sleep(1.0)  # down for a second
        self.start()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


class HueySystem:
    name = "huey (SQLite)"

    def __init__(self, scratch: str) -> None:
        self.home = os.path.join(scratch, "home")
        jobnb.configure("huey", home=self.home, workers=WORKERS)

    def victim(self) -> int | None:
        from jobnb.backends.huey_worker import worker_pid

        pid = worker_pid(self.home)
        return pid if pid and pid > 0 else None

    def restart_store(self) -> bool:
        return False  # SQLite: nothing to restart

    def close(self) -> None:
        from jobnb.backends.huey_worker import stop_worker

        jobnb.api.shutdown()
        stop_worker(self.home)


class RqSystem:
    name = "rq (Redis)"

    def __init__(self, scratch: str) -> None:
        self.redis = RedisServer(scratch)
        self.supervisor = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jobnb.cli",
                "worker",
                "--backend",
                "rq",
                "--url",
                self.redis.url,
                "-w",
                str(WORKERS),
            ],
            cwd=scratch,
            stdout=open(os.path.join(scratch, "workers.log"), "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        jobnb.configure("rq", redis_url=self.redis.url)
        deadline = time.monotonic() + 30
        while len(children_of(self.supervisor.pid)) < WORKERS:
            if time.monotonic() > deadline:
                raise RuntimeError("the rq workers did not start")
            time.sleep(0.1)
        time.sleep(1.0)  # registered with RQ

    def victim(self) -> int | None:
        workers = children_of(self.supervisor.pid)
        return random.choice(workers) if workers else None

    def restart_store(self) -> bool:
        self.redis.restart()
        return True

    def close(self) -> None:
        jobnb.api.shutdown()
        self.supervisor.send_signal(signal.SIGTERM)
        try:
            self.supervisor.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.supervisor.kill()
        self.redis.stop()


# --- one run ------------------------------------------------------------------------------
@dataclass
class Run:
    label: str
    jobs: list = field(default_factory=list)  # (Job, i, kind)
    kills: int = 0
    store_restarts: int = 0
    last_fault: float | None = None
    death_to_lost: list[float] = field(default_factory=list)
    submit_errors: int = 0
    started: float = 0.0
    ended: float = 0.0


def watch_victims(jobs: list, killed_at: float, run: Run) -> None:
    """How long the jobs running on a killed worker take to show ``lost``."""
    pending = list(jobs)
    while pending and time.monotonic() - killed_at < 120:
        for job in list(pending):
            try:
                status = job.status
            except jobnb.JobnbError:
                continue
            if status.is_done:
                pending.remove(job)
                if status is JobStatus.LOST:
                    run.death_to_lost.append(time.monotonic() - killed_at)
        time.sleep(0.25)
    run.death_to_lost.extend(float("inf") for _ in pending)  # never ended


def running_on(pid: int) -> list:
    """The jobs running on worker process ``pid`` (their records name its child)."""
    children = {f"pid {child}" for child in children_of(pid)}
    try:
        running = jobnb.jobs(JobStatus.RUNNING)
        return [
            job for job in running if any((job.record().worker or "").endswith(c) for c in children)
        ]
    except jobnb.JobnbError:
        return []


def inject_faults(system, run: Run, stop: threading.Event, remaining) -> None:
    rng = random.Random(7)
    restarts_at = [0.3, 0.6][:REDIS_RESTARTS]
    progress_at, last_left = time.monotonic(), None
    while not stop.is_set():
        if stop.wait(rng.uniform(*KILL_EVERY)):
            break
        left, total = remaining()
        if left == 0:
            break
        if left != last_left:
            progress_at, last_left = time.monotonic(), left
        elif time.monotonic() - progress_at > STALLED_AFTER:
            print(f"  stalled: {left} job(s) left, none ended for {STALLED_AFTER:g} s", flush=True)
            break
        done_share = 1 - left / max(total, 1)
        if restarts_at and done_share >= restarts_at[0]:
            restarts_at.pop(0)
            if system.restart_store():
                run.store_restarts += 1
                run.last_fault = time.monotonic()
                print(f"  fault: Redis restarted ({done_share:.0%} done)", flush=True)
                continue
        pid = system.victim()
        if pid is None:
            continue
        victims = running_on(pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        run.kills += 1
        run.last_fault = killed_at = time.monotonic()
        print(
            f"  fault: worker pid {pid} SIGKILLed, {len(victims)} job(s) running on it", flush=True
        )
        threading.Thread(target=watch_victims, args=(victims, killed_at, run), daemon=True).start()


def one_run(system, planned, faults: bool) -> Run:
    run = Run("with faults" if faults else "without faults")
    submitted = [0]
    stop = threading.Event()

    def remaining():
        try:
            counts = jobnb.job_history().counts()
        except jobnb.JobnbError:
            return 1, len(planned)
        return counts[JobStatus.QUEUED] + counts[JobStatus.RUNNING] + len(planned) - submitted[
            0
        ], len(planned)

    injector = threading.Thread(
        target=inject_faults, args=(system, run, stop, remaining), daemon=True
    )
    run.started = time.monotonic()
    if faults:
        injector.start()
    submit_all(planned, run, submitted)
    wait_for_all(run, injector, stop, faults)
    stop.set()
    run.ended = time.monotonic()
    return run


def submit_all(planned, run: Run, submitted: list[int]) -> None:
    """Submit ``planned`` in batches (one batch in ten as single submits), retrying a
    batch the store refuses for a moment; a job planned as "cancel" is cancelled soon."""
    for start in range(0, len(planned), BATCH):
        batch = planned[start : start + BATCH]
        jobs = submit_batch(batch, singly=(start // BATCH) % 10 == 9, run=run)
        run.jobs += [(job, i, kind) for job, (i, kind, _) in zip(jobs, batch, strict=True)]
        submitted[0] += len(batch)
        for job, (_, kind, _) in zip(jobs, batch, strict=True):
            if kind == "cancel":
                threading.Timer(0.2, _cancel_quietly, args=(job,)).start()
        time.sleep(0.02)


def submit_batch(batch, singly: bool, run: Run) -> list:
    ids, kinds, pauses = zip(*batch, strict=True)
    for attempt in range(60):  # a submit while Redis restarts fails clearly: try again
        try:
            if singly:
                return [jobnb.submit(soak_job, *args) for args in batch]
            return jobnb.map(soak_job, ids, kinds, pauses)
        except jobnb.JobnbError as exc:
            run.submit_errors += 1
            if attempt == 0:
                print(f"  submit refused, retrying: {str(exc)[:120]}", flush=True)
            time.sleep(0.5)
    raise RuntimeError("could not submit for 30 s")


def wait_for_all(run: Run, injector: threading.Thread, stop: threading.Event, faults: bool):
    """Wait for the jobs as a user would (``job.wait()``), while the faults go on: the
    injector stops once nothing remains (or nothing ended for STALLED_AFTER s); from then
    on every job has SETTLE_AFTER_LAST_FAULT s after the last fault to end."""
    pending = [job for job, _, _ in run.jobs]
    deadline = None if faults else time.monotonic() + MAX_RUN
    while pending:
        if deadline is None and not injector.is_alive():
            stop.set()
            settle_from = run.last_fault if run.last_fault is not None else time.monotonic()
            deadline = max(settle_from + SETTLE_AFTER_LAST_FAULT, time.monotonic() + 5)
        if deadline is not None and time.monotonic() >= deadline:
            break
        try:
            pending[0].wait(timeout=1.0)
            pending.pop(0)
        except jobnb.ResultTimeout:
            pass
        except jobnb.JobnbError:  # the store is away for a moment (a Redis restart)
            time.sleep(0.5)


def _cancel_quietly(job) -> None:
    for _ in range(20):
        try:
            job.cancel()
            return
        except jobnb.JobnbError:
            time.sleep(0.5)


def verdict(run: Run) -> dict[str, object]:
    tally = dict.fromkeys(
        [
            "finished right",
            "WRONG",
            "failed on purpose",
            "failed otherwise",
            "cancelled",
            "lost",
            "NOT ENDED",
        ],
        0,
    )
    last_end = run.started
    for job, i, kind in run.jobs:
        try:
            rec = job.record()
        except jobnb.JobnbError:
            tally["NOT ENDED"] += 1
            continue
        status = rec.status
        if rec.finished:
            last_end = max(last_end, rec.finished)
        if status is JobStatus.FINISHED:
            value = job.result()
            if value == expected(i) and kind != "fail":
                tally["finished right"] += 1
            else:
                tally["WRONG"] += 1
                print(f"  WRONG: job {job.id} (input {i}, {kind}) returned {value!r}", flush=True)
        elif status is JobStatus.FAILED:
            if kind == "fail" and f"soak job {i} fails on purpose" in (rec.error or ""):
                tally["failed on purpose"] += 1
            elif kind == "fail":
                tally["WRONG"] += 1
                print(
                    f"  WRONG: job {job.id} (input {i}) failed with another job's error", flush=True
                )
            else:
                tally["failed otherwise"] += 1
                reason = (rec.error or "").strip()[-160:]
                print(f"  failed by a fault: job {job.id} ({kind}): {reason}", flush=True)
        elif status is JobStatus.CANCELLED:
            tally["cancelled"] += 1
        elif status is JobStatus.LOST:
            tally["lost"] += 1
        else:
            tally["NOT ENDED"] += 1
    return tally


def soak(backend: str, count: int, seed: int) -> list[tuple[str, Run, dict]]:
    planned = plan(count, seed)
    results = []
    for faults in (False, True):
        scratch = tempfile.mkdtemp(prefix=f"jobnb-soak-{backend}-")
        os.chdir(scratch)
        system = HueySystem(scratch) if backend == "huey" else RqSystem(scratch)
        label = f"{system.name}, {'with' if faults else 'without'} faults"
        print(f"{label}: {count} jobs", flush=True)
        try:
            run = one_run(system, planned, faults)
            tally = verdict(run)
        finally:
            system.close()
            os.chdir(tempfile.gettempdir())
            shutil.rmtree(scratch, ignore_errors=True)
        results.append((system.name, run, tally))
        print(f"  {tally}", flush=True)
    return results


def report(rows: list[tuple[str, Run, dict]]) -> None:
    print()
    print(
        "| backend | run | jobs | finished right | wrong results | failed on purpose | "
        "failed by a fault | cancelled | lost | not ended 60 s after the last fault | "
        "worker kills | Redis restarts | longest death -> lost | throughput |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    base = {}
    for name, run, tally in rows:
        seconds = run.ended - run.started
        rate = len(run.jobs) / seconds
        faulted = run.label == "with faults"
        if not faulted:
            base[name] = rate
        longest = max(run.death_to_lost, default=None)
        longest_text = (
            "-" if longest is None else ("never" if longest == float("inf") else f"{longest:.1f} s")
        )
        ratio = f" ({rate / base[name]:.2f}x)" if faulted and name in base else ""
        print(
            f"| {name} | {run.label} | {len(run.jobs):,} | {tally['finished right']:,} | "
            f"{tally['WRONG']} | {tally['failed on purpose']} | {tally['failed otherwise']} | "
            f"{tally['cancelled']} | {tally['lost']} | {tally['NOT ENDED']} | {run.kills} | "
            f"{run.store_restarts} | {longest_text} | {rate:,.0f} jobs/s{ratio} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["huey", "rq", "both"], default="both")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None and args.backend != "huey":
        parser.error("redis-server is not installed (apt-get install redis-server)")
    rows = []
    for backend in ["huey", "rq"] if args.backend == "both" else [args.backend]:
        rows += soak(backend, args.jobs, args.seed)
    report(rows)
    bad = sum(t["WRONG"] + t["NOT ENDED"] for _, _, t in rows)
    slow = [r for _, r, _ in rows if any(d > 30 for d in r.death_to_lost)]
    return 1 if bad or slow else 0


if __name__ == "__main__":
    sys.exit(main())
