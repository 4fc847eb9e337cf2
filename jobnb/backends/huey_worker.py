"""``jobnb worker --backend huey``: the Huey consumer of a jobnb home, and the
embedded default's automatic start.

A worker holds an exclusive lock on ``HOME/worker.lock`` for its whole life, so two
kernels submitting at once never leave two workers on one queue: the second one
finds the lock taken and exits. An automatically started worker exits by itself
after ``idle_exit`` seconds with nothing queued or running.

The worker that takes the lock finds what the one before left: the jobs it was
running are lost (it is gone), jobs recorded as queued with no queue message are
queued again (huey_messages; also looked for every few seconds after). A stopped
worker (``--stop``, SIGTERM, Ctrl-C) takes no new job, gives the running ones a grace
period, then stops and requeues the rest, saying why in their log.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from huey.consumer import Consumer

from .. import defaults
from ..exceptions import UnsafeHome
from ..model import JobStatus
from ..worker.process_tree import lock_holders
from ..worker.recorded_job import stop_running
from .huey_home import make_huey, open_records
from .huey_messages import MessageRepair, move_old_queue, queue_messages
from .huey_presence import WORKER_BEAT, say_alive, say_gone
from .huey_wakeup import WakeUps
from .private_home import home_path, open_private, private_home
from .redis_connection import redacted
from .redis_outage import CONNECTION_ERRORS, wait_for_server
from .retry_sweep import sweep_retries_forever
from .schedule_firing import QueueSide, Scheduler

DEFAULT_IDLE_EXIT = 600.0
DEFAULT_GRACE = defaults.GRACE  # seconds a stopped worker's running jobs get to finish
STOP_MARGIN = 10.0  # seconds `stop_worker` waits past the grace period before SIGKILL
REPAIR_EVERY = 10.0  # seconds between two looks for queued jobs with no queue message
_spawned: dict[Path, tuple[subprocess.Popen, float]] = {}
_checked: dict[Path, float] = {}
_held_locks: list = []  # a worker's lock file, open (so held) until it exits
CHECK_EVERY = 1.0  # seconds between two liveness checks from one kernel


def _lock_path(home: Path) -> Path:
    return Path(home) / "worker.lock"


def worker_pid(home: str | os.PathLike) -> int | None:
    """The pid of the worker serving ``home``, or None when there is none (-1: one whose
    lock file names no pid)."""
    path = _lock_path(Path(home))
    if not os.path.lexists(path):
        return None
    private_home(home)  # (a lock file another user wrote would name any pid)
    try:
        handle = open_private(path, "r")
    except FileNotFoundError:  # its worker gone meanwhile
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def ensure_worker(home: Path, workers: int) -> None:
    """Start a worker for ``home`` in the background unless one is alive (checked at
    most once a second per kernel, so submitting stays cheap)."""
    now = time.monotonic()
    if now - _checked.get(home, -CHECK_EVERY) < CHECK_EVERY:
        return
    _checked[home] = now
    spawned = _spawned.get(home)
    if spawned and spawned[0].poll() is None and now - spawned[1] < 30:
        return  # ours, still starting up or running
    private_home(home)  # (one lstat, once the home was checked)
    if worker_pid(home) is not None:
        return
    log = open_private(Path(home) / "worker.log", "ab")  # handed to the child
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobnb.cli",
            "worker",
            "--backend",
            "huey",
            "--home",
            str(home),
            "-w",
            str(workers),
            "--idle-exit",
            str(DEFAULT_IDLE_EXIT),
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    log.close()
    # reap it when it exits (idle, or stopped), so it leaves no zombie in the kernel
    threading.Thread(target=proc.wait, name="jobnb-worker-reaper", daemon=True).start()
    _spawned[home] = (proc, now)


def run_worker(
    home: str | os.PathLike,
    workers: int = defaults.WORKERS,
    kind: str = defaults.WORKER_KIND,
    idle_exit: float | None = None,
    redis_url: str | None = None,
    grace: float = DEFAULT_GRACE,
) -> int:
    """Serve ``home``'s queue (or the Redis queue at ``redis_url``) until stopped
    (SIGINT/SIGTERM: running jobs get ``grace`` seconds to finish, the rest are
    requeued) or idle for ``idle_exit`` s."""
    home = private_home(home_path(home))  # (the folder of a Redis queue's too)
    if not redis_url:
        taken, previous = _take_lock(home)
        if not taken:
            return 1
    huey = make_huey(home, redis_url)
    records = open_records(home, redis_url)
    repair = MessageRepair(huey, records)
    # a job's end releases its waiting dependents: queued here, at once (were this
    # worker to die first, the repair sweeps queue them)
    records.on_release = lambda ids: queue_messages(huey, ids)
    if not redis_url:
        _take_over(huey, records, home, previous, repair)
        huey.storage.wake_ups = WakeUps(home)  # (the lock is ours: no other is bound)
    # a SQLite queue's threads wait for a wake-up (huey_wakeup.py), a Redis queue's in
    # BRPOP; should a read fail, Huey's worker pauses a few ms at most before the next,
    # where its defaults back off to 10 s
    consumer = GracefulConsumer(
        huey,
        grace=grace,
        stop_request=lambda: _requested_grace(home),
        workers=workers,
        worker_type=kind,
        periodic=False,
        initial_delay=0.001,
        backoff=1.5,
        max_delay=0.01,
    )
    # the schedules of this store fire from here (schedule_firing.py)
    consumer.jobnb_scheduler = Scheduler(_queue_side(home, redis_url))
    consumer.jobnb_scheduler.start()
    if idle_exit:
        scheduled = consumer.jobnb_scheduler.store.active
        idle = (records, idle_exit, scheduled)
        threading.Thread(target=_exit_when_idle, args=idle, daemon=True).start()
    name = f"{socket.gethostname()} pid {os.getpid()}"
    upkeep = (repair, records, name if redis_url else None, redis_url)
    threading.Thread(target=_upkeep, args=upkeep, daemon=True).start()
    sweep_retries_forever(records, lambda job_ids: queue_messages(huey, job_ids))
    if redis_url:
        serving = redacted(redis_url)
    else:
        serving = str(home)
    print(
        f"jobnb worker: serving {serving} with {workers} {kind} workers (pid {os.getpid()})",
        flush=True,
    )
    try:
        consumer.run()
        _requeue_the_rest(huey, records, consumer.shutdown_timeout, whole_home=not redis_url)
    finally:
        if redis_url:
            say_gone(records, name)
        else:
            huey.storage.wake_ups.close()
    return 0


def _queue_side(home: Path, redis_url: str | None):
    """What this worker's scheduler fires schedules through: this queue, and a records
    store per (result_ttl, log bound) of the schedules (open_records keeps them)."""
    huey = make_huey(home, redis_url)
    folder = None if redis_url else home

    def side(result_ttl: float | None, log_bytes_kept: int | None) -> QueueSide:
        kept = {"result_ttl": result_ttl}
        if log_bytes_kept is not None:
            kept["log_bytes_kept"] = log_bytes_kept
        records = open_records(home, redis_url, **kept)
        return QueueSide("huey", records, huey=huey, home=folder)

    return side


class GracefulConsumer(Consumer):
    """Huey's consumer, stopped alike by SIGINT and SIGTERM (a service manager's stop):
    it takes no new job and gives the running ones ``grace`` seconds to finish (or what
    ``stop_request()`` asks, if anything; ``jobnb worker --stop --grace``); then its
    ``run`` returns, and the worker requeues the jobs still running."""

    def __init__(self, huey, grace: float, stop_request, **options) -> None:
        super().__init__(huey, shutdown_timeout=grace, **options)
        # (restart, graceful) per signal: Huey's SIGTERM stops at once, abandoning jobs
        self._signal_actions[self._interrupt_sig] = (False, True)
        self._stop_request = stop_request

    def stop(self, graceful: bool = False) -> None:
        asked = self._stop_request()
        if asked is not None:
            self.shutdown_timeout = asked
        scheduler = getattr(self, "jobnb_scheduler", None)
        if scheduler is not None:
            scheduler.stop()  # a stopping worker fires no schedule
        if graceful:
            print(
                f"jobnb worker: stopping (jobs still running get {self.shutdown_timeout:g} s "
                "to finish, then are requeued)",
                flush=True,
            )
        super().stop(graceful)


def _requeue_the_rest(huey, records, grace: float, whole_home: bool) -> None:
    """After the grace period: stop the jobs still running and queue them again, first
    in line, saying why in their log. ``whole_home``: every running job of the records
    is this worker's (a SQLite home has one worker), also those of forked workers."""
    running = stop_running()
    if whole_home:
        running += [rec.id for rec in records.records(JobStatus.RUNNING) if rec.id not in running]
    reason = (
        f"requeued: worker pid {os.getpid()} was stopped; it ran past the {grace:g} s grace period"
    )
    requeued = [job_id for job_id in running if records.requeue(job_id, reason)]
    queue_messages(huey, requeued, first=True)
    for job_id in requeued:
        print(f"jobnb worker: job {job_id} {reason}", flush=True)


def _take_lock(home: Path) -> tuple[bool, int | None]:
    """Hold ``HOME/worker.lock`` for this process's life: one worker per queue file.
    Returns whether it was taken, and the pid of the worker that held it last."""
    lock = open_private(_lock_path(home), "a+")  # held for the worker's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(
            f"jobnb worker: a worker already serves {home} (pid {worker_pid(home)})",
            file=sys.stderr,
        )
        return False, None
    lock.seek(0)
    text = lock.read().strip()
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    _held_locks.append(lock)
    return True, int(text) if text.isdigit() else None


def _take_over(huey, records, home: Path, previous: int | None, repair) -> None:
    """What the worker that takes a SQLite home finds left by the one before (it holds
    the lock, so that one is gone): the jobs it was running are lost, now rather than
    after 30 s without heartbeats; jobs queued without a message are queued again; an
    old home's ``queue.db`` is moved into ``jobs.db``."""
    moved = move_old_queue(huey, home)
    if moved:
        print(f"jobnb worker: moved {moved} queued job(s) from {home}/queue.db", flush=True)
    who = f"its worker (pid {previous})" if previous else "its worker"
    lost = records.lose_running(f"{who} ended while running it")
    if lost:
        print(f"jobnb worker: {len(lost)} job(s) lost: {who} ended while running them")
    _say_repaired(repair.sweep(at_once=True))


def _say_repaired(job_ids: list[str]) -> None:
    if job_ids:
        shown = ", ".join(job_ids[:5]) + (", ..." if len(job_ids) > 5 else "")
        print(
            f"jobnb worker: queued again {len(job_ids)} job(s) recorded as queued that had "
            f"no queue message ({shown})",
            flush=True,
        )


def _upkeep(repair, records, name: str | None, redis_url: str | None) -> None:
    """Every few seconds: say this worker is alive (``name``, on Redis), and queue again
    the jobs recorded as queued that no message will run; wait out a Redis restart."""
    last_sweep = time.monotonic()
    while True:
        try:
            if name is not None:
                say_alive(records, name)
            if time.monotonic() - last_sweep >= REPAIR_EVERY - 0.1:
                last_sweep = time.monotonic()
                _say_repaired(repair.sweep())
        except Exception as exc:  # the store away for a moment: say so, go on
            if redis_url and _is_outage(exc):
                wait_for_server(records.redis, redis_url)
                continue  # say this worker is alive at once: the server may have forgotten
            else:
                print(f"jobnb worker: cannot check the queue: {exc}", file=sys.stderr, flush=True)
        time.sleep(WORKER_BEAT if redis_url else REPAIR_EVERY)


def _is_outage(exc: Exception) -> bool:
    return isinstance(exc, CONNECTION_ERRORS)


def _exit_when_idle(records, idle_exit: float, scheduled=lambda: 0) -> None:
    """Exit once nothing was queued or running for ``idle_exit`` s, and no schedule is
    active (``scheduled()``: they fire from this worker)."""
    idle_since = time.monotonic()
    while True:
        time.sleep(min(5.0, idle_exit / 4))
        counts = records.counts()
        if (
            counts[JobStatus.QUEUED]
            or counts[JobStatus.RUNNING]
            or counts[JobStatus.WAITING]
            or scheduled()
        ):
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= idle_exit:
            print(f"jobnb worker: idle for {idle_exit:g} s, exiting", flush=True)
            os.kill(os.getpid(), signal.SIGINT)  # Huey's graceful shutdown
            return


def stop_worker(home: str | os.PathLike, grace: float = DEFAULT_GRACE) -> int | None:
    """Stop the worker of ``home``: it takes no new job, its running jobs get ``grace``
    seconds to finish, the rest are requeued. Waits for that (killing the worker if it
    has not ended ``STOP_MARGIN`` s later); returns its pid, or None if there was none.

    The pid is signalled only once it is known to be the worker of ``home`` (UnsafeHome,
    and nothing signalled, if not), and through a pidfd: a pid the system gives another
    process once the worker has ended is never signalled."""
    pid = worker_pid(home)
    if pid is None or pid < 0:
        return None
    worker = _open_worker(Path(home), pid)
    if worker is None:
        return None  # it ended meanwhile
    try:
        with open_private(_stop_request_path(home), "w") as request:
            request.write(f"{pid} {grace:g}")
        _send(worker, signal.SIGTERM)
        deadline = time.monotonic() + grace + STOP_MARGIN
        while worker_pid(home) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        if worker_pid(home) is not None:
            _send(worker, signal.SIGKILL)
    finally:
        os.close(worker)
    return pid


def _open_worker(home: Path, pid: int) -> int | None:
    """A pidfd of ``pid``, once it is known to be the worker of ``home``: a process of
    this user holding the lock on ``HOME/worker.lock`` (a pid in that file alone proves
    nothing); None if it has ended. UnsafeHome if it is not that worker."""
    try:
        worker = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    try:
        reason = _not_the_worker(home, pid)
    except BaseException:
        os.close(worker)
        raise
    if reason:
        os.close(worker)
        lock = _lock_path(home)
        raise UnsafeHome(
            f"{lock} names pid {pid}, which is not the jobnb worker of {home}: {reason}; "
            f"nothing was stopped. If no worker serves {home}, delete {lock}; if that "
            f"file was written by someone else, see who else can write to {home}.",
            str(lock),
        )
    return worker


def _not_the_worker(home: Path, pid: int) -> str | None:
    """Why ``pid`` is not the worker of ``home`` (None: it is)."""
    try:
        owner = os.stat(f"/proc/{pid}").st_uid
    except FileNotFoundError:
        return None  # ended meanwhile: signalling its pidfd does nothing
    if owner != os.geteuid():
        return f"it is a process of uid {owner}, not of this user (uid {os.geteuid()})"
    if pid not in lock_holders([_lock_path(home)], kind="FLOCK"):
        return f"it does not hold the lock on {_lock_path(home)} (it is {_command(pid)})"
    return None


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = cmdline.read().rstrip(b"\0").split(b"\0")
    except OSError:
        return "gone"
    return "`" + " ".join(w.decode(errors="replace") for w in words)[:200] + "`"


def _send(worker: int, signum: int) -> None:
    try:
        signal.pidfd_send_signal(worker, signum)
    except ProcessLookupError:  # it ended meanwhile
        pass


def _stop_request_path(home: str | os.PathLike) -> Path:
    return Path(home) / "worker.stop"


def _requested_grace(home: Path) -> float | None:
    """The grace period ``stop_worker`` asked of this worker, if it did (a request left
    for an earlier worker of the home is not this one's)."""
    path = _stop_request_path(home)
    try:
        with open_private(path, "r") as request:
            pid, grace = request.read().split()
    except (OSError, ValueError, UnsafeHome):  # none, or not a request to trust
        return None
    path.unlink(missing_ok=True)
    return float(grace) if int(pid) == os.getpid() else None
