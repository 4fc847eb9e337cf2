"""What signing costs: the same jobnb, signed and unsigned, side by side in one run.

    python benchmarks/signing.py                 # huey (SQLite), huey on Redis, rq
    python benchmarks/signing.py --only rq

The benchmark and the workers it starts run with benchmarks/unsigned/ on PYTHONPATH,
whose sitecustomize switches every Signer's HMAC work off while a flag file exists. The
measures then alternate signed and unsigned (each side first as often) in the same
processes, so that drift and noise on a shared machine hit both sides alike, and each
side keeps its median; a job asks its worker which side it is on, so the switch is
checked to reach the workers.
The table shows the ratio signed / unsigned (issue 14's target: <= 1.05x). Not a timed
test: read the ratios of one run, not absolute numbers across runs.
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

from redis_server import start_redis

HERE = os.path.dirname(os.path.abspath(__file__))
UNSIGNED_PATH = os.path.join(HERE, "unsigned")
BACKENDS = ("huey", "huey-redis", "rq")
ROUND_TRIPS = 200  # per side
BIG_REPEATS = 30  # per side
BIG_MB = 50


def noop():
    return None


def nbytes(array):
    return array.nbytes


def worker_side():
    """The side the worker running this job is on."""
    from jobnb.payload import signing

    flag = getattr(signing, "UNSIGNED_FLAG", None)
    if flag is None:
        return "not switchable"
    return "unsigned" if os.path.exists(flag) else "signed"


class Switch:
    """The flag file: present, the processes started with it sign nothing."""

    def __init__(self, path: str) -> None:
        self.path = path

    def set(self, side: str) -> None:
        if side == "unsigned":
            open(self.path, "w").close()
        elif os.path.exists(self.path):
            os.unlink(self.path)


def measure(
    backend: str, url: str, scratch: str, switch: Switch, big_repeats: int
) -> dict[str, dict[str, list]]:
    """Each side's round trips and 50 MB ends to end, measured alternately (the i-th of
    one side next to the i-th of the other)."""
    import numpy as np

    import jobnb

    home = os.path.join(scratch, f"home-{backend}")
    worker = None
    if backend == "huey":
        jobnb.configure("huey", home=home, workers=2)
    else:  # a Redis server's workers are started apart, as on a real machine
        kind = "huey" if backend == "huey-redis" else "rq"
        worker = subprocess.Popen(
            [sys.executable, "-m", "jobnb", "worker", "--backend", kind, "-w", "2", "--url", url],
            cwd=scratch,
            stdout=subprocess.DEVNULL,
        )
        if kind == "huey":
            jobnb.configure("huey", home=url, workers=2)
        else:
            jobnb.configure("rq", redis_url=url)
    sides = ("signed", "unsigned")
    found: dict[str, dict[str, list[float]]] = {s: {"round_trip": [], "big": []} for s in sides}
    try:
        for side in sides:  # both workers up and warm, on each side
            switch.set(side)
            for _ in range(10):
                answer = jobnb.submit(worker_side).result(timeout=120)
                if answer != side:
                    raise SystemExit(f"a {backend} worker is on the {answer} side, not {side}")
        for turn in range(ROUND_TRIPS):
            for side in sides[:: 1 if turn % 2 else -1]:  # each side first as often
                switch.set(side)
                start = time.perf_counter()
                jobnb.submit(noop).result(timeout=60)
                found[side]["round_trip"].append(time.perf_counter() - start)
        array = np.random.default_rng(0).random(BIG_MB * 2**20 // 8)
        for turn in range(big_repeats):
            for side in sides[:: 1 if turn % 2 else -1]:
                switch.set(side)
                start = time.perf_counter()
                assert jobnb.submit(nbytes, array).result(timeout=120) == array.nbytes
                found[side]["big"].append(time.perf_counter() - start)
    finally:
        switch.set("signed")
        jobnb.api.get_backend().shutdown()
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        if backend == "huey":
            from jobnb.backends.huey_worker import stop_worker

            stop_worker(home)
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=BACKENDS)
    parser.add_argument(
        "--big-repeats",
        type=int,
        default=BIG_REPEATS,
        help=f"{BIG_MB} MB jobs per side (default {BIG_REPEATS}; more narrow a noisy spread)",
    )
    args = parser.parse_args(argv)
    scratch = tempfile.mkdtemp(prefix="jobnb-sign-bench-")
    if os.environ.get("JOBNB_BENCH_UNSIGNED") is None:
        # start again with the switch on PYTHONPATH, for this process and every worker
        flag = os.path.join(scratch, "unsigned")
        path = os.pathsep.join(filter(None, [UNSIGNED_PATH, os.environ.get("PYTHONPATH")]))
        env = dict(
            os.environ,
            PYTHONPATH=path,
            JOBNB_BENCH_UNSIGNED=flag,
            # the Redis backends' shared key, inherited by the workers
            JOBNB_SECRET_KEY=os.environ.get("JOBNB_SECRET_KEY") or secrets.token_hex(32),
        )
        os.execve(sys.executable, [sys.executable, __file__, *sys.argv[1:]], env)
    switch = Switch(os.environ["JOBNB_BENCH_UNSIGNED"])
    server, url = start_redis(scratch)
    try:
        print(f"python {sys.version.split()[0]}, 2 workers, the sides alternating\n")
        print(
            "| backend | measure | signed | unsigned | ratio of medians | "
            "median ratio of neighbours (middle half) |"
        )
        print("|---|---|---|---|---|---|")
        for backend in args.only or BACKENDS:
            found = measure(backend, url, scratch, switch, args.big_repeats)
            for key, label in (
                ("round_trip", f"round trip, no-op (median of {ROUND_TRIPS})"),
                ("big", f"{BIG_MB} MB numpy argument, end to end (median of {args.big_repeats})"),
            ):
                signed, unsigned = found["signed"][key], found["unsigned"][key]
                # each signed measure over the unsigned one taken next to it: the
                # middle half of these says how far the median ratio can be trusted
                pairs = sorted(a / b for a, b in zip(signed, unsigned, strict=True))
                low, high = pairs[len(pairs) // 4], pairs[3 * len(pairs) // 4]
                print(
                    f"| {backend} | {label} | {statistics.median(signed) * 1e3:.2f} ms | "
                    f"{statistics.median(unsigned) * 1e3:.2f} ms | "
                    f"{statistics.median(signed) / statistics.median(unsigned):.3f}x | "
                    f"{statistics.median(pairs):.3f}x ({low:.2f}-{high:.2f}) |",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
