"""jobnb against the raw system each backend wraps, side by side in one run.

    python benchmarks/run.py                    # every pair
    python benchmarks/run.py --only subprocess  # one pair
    python benchmarks/run.py --only huey        # jobnb huey vs raw SqliteHuey (+60 s idle)
    python benchmarks/run.py --only rq          # jobnb rq vs raw RQ with 2 SimpleWorkers
    python benchmarks/run.py --only huey-redis  # jobnb huey on Redis vs raw RedisHuey
    python benchmarks/run.py --only huey-redis-notify  # ... RedisHuey(notify_result=True)

Prints a markdown table. Ratios are jobnb / raw for times (lower is better) and
jobnb / raw for throughput (higher is better). Not a timed test: machines are shared
and noisy, so read ratios from one run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import redis_server

import jobnb
from jobnb.backends.huey_worker import stop_worker

WORKERS = 2
ROUND_TRIPS = 50
WARMUP = 10
THROUGHPUT_JOBS = 2000
BIG_MB = 50
SCRATCH = tempfile.mkdtemp(prefix="jobnb-bench-")
IDLE_SECONDS = 60
REPEATS = 3  # each measure, alternating raw and jobnb
COUNTED_JOBS = 100  # no-op jobs whose Redis commands are counted, each side
#: the jobnb command, run by this Python: its workers import the jobnb this run imports
#: (PYTHONPATH's, a checkout's), not whichever the `jobnb` script on PATH would
JOBNB = [sys.executable, "-m", "jobnb.cli"]


def noop(*_args):
    return None


def nbytes(array):
    return array.nbytes


@dataclass
class System:
    """One side of a comparison: how to submit, get a result, and map."""

    label: str
    submit: Callable  # (fn, *args) -> handle
    result: Callable  # handle -> value
    map: Callable  # (fn, items) -> list of values
    close: Callable[[], None]


def executor_system(label: str, executor: Executor) -> System:
    return System(
        label,
        submit=executor.submit,
        result=lambda f: f.result(),
        map=lambda fn, items: list(executor.map(fn, items)),
        close=lambda: executor.shutdown(),
    )


def jobnb_system(backend: str) -> System:
    options = {"workers": WORKERS}
    if backend == "huey":
        options["home"] = os.path.join(SCRATCH, "jobnb-home")
    jobnb.configure(backend, **options)

    def close() -> None:
        jobnb.api.get_backend().shutdown()
        if backend == "huey":
            stop_worker(options["home"])

    return System(
        f"jobnb {backend}",
        submit=jobnb.submit,
        result=lambda job: job.result(),
        map=lambda fn, items: [job.result() for job in jobnb.map(fn, items)],
        close=close,
    )


def raw_huey_system(redis_url: str | None = None, notify: bool = False) -> System:
    """SqliteHuey with default settings (or RedisHuey at ``redis_url``: defaults, or
    ``notify_result=True``), its consumer run as the docs say (-w 2 -k thread)."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, RAW_HUEY_DB=os.path.join(SCRATCH, "raw_huey.db"))
    if redis_url:
        env.update(RAW_HUEY_REDIS_URL=redis_url, RAW_HUEY_NOTIFY="1" if notify else "0")
    for name in ("RAW_HUEY_DB", "RAW_HUEY_REDIS_URL", "RAW_HUEY_NOTIFY"):
        if name in env:
            os.environ[name] = env[name]
    sys.path.insert(0, here)
    import importlib

    import raw_huey_tasks as tasks

    tasks = importlib.reload(tasks)  # its Huey follows the variables just set

    consumer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "huey.bin.huey_consumer",
            "raw_huey_tasks.huey",
            "-w",
            str(WORKERS),
            "-k",
            "thread",
            "-q",
        ],
        cwd=here,
        env=env,
    )
    by_name = {"noop": tasks.noop, "nbytes": tasks.nbytes}

    def submit(fn, *args):
        return by_name[fn.__name__](*args)

    def run_map(fn, items):
        results = [by_name[fn.__name__](item) for item in items]
        return [r.get(blocking=True) for r in results]

    def close() -> None:
        consumer.send_signal(signal.SIGINT)
        consumer.wait(30)

    if redis_url:
        label = "raw RedisHuey (notify_result)" if notify else "raw RedisHuey (defaults)"
    else:
        label = "raw SqliteHuey (defaults)"
    system = System(
        label,
        submit=submit,
        result=lambda r: r.get(blocking=True),
        map=run_map,
        close=close,
    )
    system.started_at = tasks.started_at
    return system


def start_redis() -> tuple[subprocess.Popen, str]:
    """A redis-server of the benchmark's own (redis_server.py), in its scratch folder."""
    return redis_server.start_redis(SCRATCH)


def jobnb_rq_system(url: str) -> System:
    """jobnb rq with `jobnb worker --backend rq -w 2`."""
    worker = subprocess.Popen(
        [*JOBNB, "worker", "--backend", "rq", "--url", url, "-w", str(WORKERS)],
        cwd=SCRATCH,
        stdout=subprocess.DEVNULL,
    )
    jobnb.configure("rq", redis_url=url)
    _wait_for_rq_workers(url, WORKERS)

    def close() -> None:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)

    return System(
        "jobnb rq",
        submit=jobnb.submit,
        result=lambda job: job.result(),
        map=lambda fn, items: [job.result() for job in jobnb.map(fn, items)],
        close=close,
    )


def raw_rq_system(url: str) -> System:
    """RQ with 2 SimpleWorkers (`rq worker -w rq.worker.SimpleWorker`), results read with
    ``job.latest_result(timeout=...)`` (which blocks on Redis, no polling)."""
    import redis
    from rq import Queue

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    import raw_rq_tasks as tasks

    workers = [
        subprocess.Popen(
            ["rq", "worker", "-w", "rq.worker.SimpleWorker", "-u", url, "-q", "raw"],
            cwd=here,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(WORKERS)
    ]
    queue = Queue("raw", connection=redis.Redis.from_url(url))
    _wait_for_rq_workers(url, 2 * WORKERS)  # jobnb's two and these two
    by_name = {"noop": tasks.noop, "nbytes": tasks.nbytes}

    def submit(fn, *args):
        return queue.enqueue(by_name[fn.__name__], *args)

    def result(job):
        return job.latest_result(timeout=600).return_value

    def close() -> None:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(30)

    return System(
        "raw RQ, 2 SimpleWorkers",
        submit=submit,
        result=result,
        map=lambda fn, items: [result(j) for j in [submit(fn, i) for i in items]],
        close=close,
    )


def _wait_for_rq_workers(url: str, count: int) -> None:
    import redis
    from rq import Worker

    client = redis.Redis.from_url(url)
    for _ in range(200):
        if len(Worker.all(connection=client)) >= count:
            return
        time.sleep(0.05)
    raise RuntimeError(f"fewer than {count} RQ workers came up at {url}")


def jobnb_huey_redis_system(url: str) -> System:
    """jobnb huey on Redis with `jobnb worker --backend huey -w 2`, the URL in a file."""
    url_file = os.path.join(SCRATCH, "huey-redis.url")
    with open(os.open(url_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        file.write(url)  # owner-only, as jobnb worker asks of a file that may hold a password
    worker = subprocess.Popen(
        [*JOBNB, "worker", "--backend", "huey", "--url-file", url_file, "-w", str(WORKERS)],
        cwd=SCRATCH,
        stdout=subprocess.DEVNULL,
    )
    jobnb.configure("huey", home=url)
    jobnb.submit(noop).result()  # the worker is up

    def close() -> None:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)

    return System(
        "jobnb huey on Redis",
        submit=jobnb.submit,
        result=lambda job: job.result(),
        map=lambda fn, items: [job.result() for job in jobnb.map(fn, items)],
        close=close,
    )


def redis_pair(
    ours_on: Callable[[str], System], raw_on: Callable[[str], System]
) -> tuple[System, System]:
    """jobnb and the raw system, both on one redis-server of the benchmark's own, which
    stops when the raw side closes (ours closes first)."""
    server, url = start_redis()
    ours = ours_on(url)
    raw = raw_on(url)
    ours.redis_url = raw.redis_url = url
    raw_close = raw.close

    def close_both() -> None:
        raw_close()
        server.terminate()
        server.wait(10)

    raw.close = close_both
    return ours, raw


def huey_redis_pair(notify: bool) -> tuple[System, System]:
    return redis_pair(jobnb_huey_redis_system, lambda url: raw_huey_system(url, notify=notify))


def rq_pair() -> tuple[System, System]:
    return redis_pair(jobnb_rq_system, raw_rq_system)


def redis_commands(system: System, url: str) -> tuple[float, float]:
    """Redis commands per no-op job, each submitted and waited for in turn (COUNTED_JOBS
    of them): (those the clients send, all with those of Lua scripts), read from the
    server's MONITOR. Commands the idle side sends meanwhile (its workers' BRPOP
    timeouts, "still here" beats) are counted too: a few in all."""
    import threading

    import redis

    for _ in range(WARMUP):
        system.result(system.submit(noop))
    client = redis.Redis.from_url(url)
    seen: list[str] = []
    started = threading.Event()

    def watch() -> None:
        with client.monitor() as monitor:
            started.set()
            for command in monitor.listen():
                if "STOP-COUNTING" in command["command"]:
                    return
                seen.append(command.get("client_type", ""))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started.wait(5)
    time.sleep(0.1)  # (MONITOR answered: the count starts)
    for _ in range(COUNTED_JOBS):
        system.result(system.submit(noop))
    redis.Redis.from_url(url).echo("STOP-COUNTING")
    watcher.join(30)
    ours = sum(1 for kind in seen if kind != "lua") - 1  # (the ECHO)
    return ours / COUNTED_JOBS, (len(seen) - 1) / COUNTED_JOBS


def pickle_round_trip() -> float:
    """Seconds to pickle.dumps + loads the BIG_MB array in-process (median of 3): what
    the rq issue measures a 50 MB argument against."""
    import pickle

    array = np.random.default_rng(0).random(BIG_MB * 2**20 // 8)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        pickle.loads(pickle.dumps(array, protocol=5))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def signing_cost() -> float:
    """Seconds to sign and verify (HMAC-SHA256, payload/signing.py) the payload of a job
    taking the BIG_MB array (median of 3), as the Redis store does (the signature kept
    beside the payload): what signing adds to the 50 MB argument."""
    from jobnb.payload import CallPayload, dumps_payload
    from jobnb.payload.signing import Signer

    blob = dumps_payload(CallPayload(nbytes, (np.random.default_rng(0).random(BIG_MB * 2**17),)))
    signer = Signer(secrets.token_hex(32).encode())
    read_back = blob.joined()  # (what a worker verifies: the one buffer it read)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        signature = signer.signature(blob, "payload:bench")
        signer.verify_apart(signature, read_back, "payload:bench")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def start_after_idle(idle: float) -> tuple[float, float]:
    """Seconds from submit to start for a job submitted after ``idle`` s of nothing, on
    jobnb huey and on raw Huey, idling side by side."""
    ours, raw = jobnb_system("huey"), raw_huey_system()
    try:
        jobnb.submit(noop).result()  # both workers up and warm
        raw.result(raw.submit(noop))
        time.sleep(idle)
        submitted = time.time()
        job = jobnb.submit(noop)
        job.wait()
        our_delay = job.record().started - submitted
        submitted = time.time()
        raw_delay = raw.started_at().get(blocking=True) - submitted
        return our_delay, raw_delay
    finally:
        ours.close()
        raw.close()


def submit_call(system: System) -> float:
    """Median seconds of the submit call alone for a no-op (results collected after)."""
    times, handles = [], []
    for _ in range(ROUND_TRIPS + WARMUP):
        start = time.perf_counter()
        handles.append(system.submit(noop))
        times.append(time.perf_counter() - start)
        if len(handles) >= WORKERS * 4:  # keep the queue short, like a person would
            for h in handles:
                system.result(h)
            handles.clear()
    for h in handles:
        system.result(h)
    return statistics.median(times[WARMUP:])


def round_trip(system: System) -> float:
    """Median seconds of submit -> result for a no-op, after warm-up."""
    times = []
    for _ in range(ROUND_TRIPS + WARMUP):
        start = time.perf_counter()
        system.result(system.submit(noop))
        times.append(time.perf_counter() - start)
    return statistics.median(times[WARMUP:])


def throughput(system: System) -> float:
    """No-op jobs per second, for THROUGHPUT_JOBS through map (each submitted, then each
    waited for, one by one)."""
    start = time.perf_counter()
    system.map(noop, range(THROUGHPUT_JOBS))
    return THROUGHPUT_JOBS / (time.perf_counter() - start)


def big_argument(system: System) -> float:
    """Seconds for one job taking a BIG_MB numpy array, end to end (median of 3)."""
    array = np.random.default_rng(0).random(BIG_MB * 2**20 // 8)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        assert system.result(system.submit(nbytes, array)) == array.nbytes
        times.append(time.perf_counter() - start)
    return statistics.median(times)


MEASURES: list[tuple[str, Callable[[System], float], str]] = [
    ("submit call, no-op", submit_call, "time"),
    (f"round trip, no-op (median of {ROUND_TRIPS})", round_trip, "time"),
    (f"throughput, {THROUGHPUT_JOBS} no-ops via map", throughput, "rate"),
    (f"{BIG_MB} MB numpy argument, end to end", big_argument, "time"),
]


def pairs() -> dict[str, Callable[[], tuple[System, System]]]:
    return {
        "thread": lambda: (
            jobnb_system("thread"),
            executor_system("ThreadPoolExecutor(2)", ThreadPoolExecutor(WORKERS)),
        ),
        "subprocess": lambda: (
            jobnb_system("subprocess"),
            executor_system("ProcessPoolExecutor(2)", ProcessPoolExecutor(WORKERS)),
        ),
        "huey": lambda: (jobnb_system("huey"), raw_huey_system()),
        "huey-redis": lambda: huey_redis_pair(notify=False),
        "huey-redis-notify": lambda: huey_redis_pair(notify=True),
        "rq": rq_pair,
    }


def fmt(value: float, kind: str) -> str:
    if kind == "rate":
        return f"{value:,.0f} jobs/s"
    return f"{value * 1e3:.3f} ms" if value < 1 else f"{value:.2f} s"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", action="append", choices=sorted(pairs()), help="run only this pair (repeatable)"
    )
    args = parser.parse_args(argv)
    # the Redis backends' shared key, inherited by the workers started here (a fresh one
    # each run, unless given)
    os.environ.setdefault("JOBNB_SECRET_KEY", secrets.token_hex(32))
    chosen = args.only or list(pairs())
    print(f"python {sys.version.split()[0]}, {WORKERS} workers\n")
    print("| pair | measure | jobnb | raw | ratio jobnb/raw |")
    print("|---|---|---|---|---|")
    for key in chosen:
        ours, raw = pairs()[key]()
        try:
            for label, measure, kind in MEASURES:
                # alternate raw and jobnb, REPEATS times each, and keep each side's
                # median, so that drift and noise on a shared machine hit both alike
                raw_values, our_values = [], []
                for _ in range(REPEATS):
                    raw_values.append(measure(raw))
                    our_values.append(measure(ours))
                raw_value = statistics.median(raw_values)
                our_value = statistics.median(our_values)
                print(
                    f"| {ours.label} vs {raw.label} | {label} | {fmt(our_value, kind)} | "
                    f"{fmt(raw_value, kind)} | {our_value / raw_value:.2f}x |",
                    flush=True,
                )
            if key.startswith("huey-redis"):
                raw_sent, raw_all = redis_commands(raw, raw.redis_url)
                our_sent, our_all = redis_commands(ours, ours.redis_url)
                print(
                    f"| {ours.label} vs {raw.label} | Redis commands per no-op job, submitted "
                    f"and waited for in turn (sent by clients; with Lua's) | {our_sent:.1f}; "
                    f"{our_all:.1f} | {raw_sent:.1f}; {raw_all:.1f} | {our_sent / raw_sent:.2f}x; "
                    f"{our_all / raw_all:.2f}x |",
                    flush=True,
                )
            if key == "rq":
                ours_big = statistics.median(big_argument(ours) for _ in range(REPEATS))
                reference = pickle_round_trip()
                print(
                    f"| jobnb rq vs in-process pickle.dumps+loads | {BIG_MB} MB numpy "
                    f"argument | {fmt(ours_big, 'time')} | {fmt(reference, 'time')} | "
                    f"{ours_big / reference:.2f}x |",
                    flush=True,
                )
                signing = signing_cost()
                print(
                    f"| HMAC sign+verify of the payload vs jobnb rq end to end | {BIG_MB} MB "
                    f"numpy argument | {fmt(signing, 'time')} | {fmt(ours_big, 'time')} | "
                    f"{signing / ours_big:.2f}x |",
                    flush=True,
                )
        finally:
            ours.close()
            raw.close()
    if "huey" in chosen:
        our_delay, raw_delay = start_after_idle(IDLE_SECONDS)
        print(
            f"| jobnb huey vs raw SqliteHuey (defaults) | start of a job submitted after "
            f"{IDLE_SECONDS} s idle | {fmt(our_delay, 'time')} | {fmt(raw_delay, 'time')} | "
            f"{our_delay / raw_delay:.2f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
