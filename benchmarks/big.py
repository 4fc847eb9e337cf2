"""Large values (issue 16): time and peak memory of big arguments and results, jobnb next
to the pickle floor, for one or more source trees side by side in one run.

    python benchmarks/big.py                           # this tree
    python benchmarks/big.py --tree /work/main --tree .  # before and after, alternating
    python benchmarks/big.py --only arg --repeats 5

Measures (each in a fresh Python process, so each starts from its own baseline):

- ``arg``: a 50 MB numpy argument, end to end (``submit(nbytes, a).result()``), on
  subprocess, huey (SQLite), huey on Redis and rq; beside it, in the same process, the
  floor: ``pickle.dumps`` + ``loads`` of the array (and ProcessPoolExecutor(1) for
  subprocess). Median of 3 per process.
- ``result``: a job returning a 500 MB numpy array on huey, huey on Redis and rq: wall
  time, and the peak RSS above its baseline of the kernel, of the queue worker and of
  the job's child process, as multiples of 500 MB.
- ``cell``: a ``%%submit`` cell reading a 1 GB pandas DataFrame defined in the notebook,
  run through jobnb's magics in an IPython InteractiveShell (huey on Redis, and huey on
  SQLite, which keeps it in parts: one SQLite value holds less than 1e9 bytes): the
  kernel's peak RSS above its baseline, as a multiple of 1 GB.

Peak RSS is the kernel's high-water mark (``VmHWM``), reset to the current RSS just
before the measure (``/proc/PID/clear_refs``, 5): exact, no sampling. Workers are
started as ``python -m jobnb`` with the tree's PYTHONPATH, so they run the tree's code.
Not a timed test: the machine is shared (2 cores); read medians and ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
MB = 2**20
ARG_MB, RESULT_MB, FRAME_MB = 50, 500, 1024
BACKENDS = {
    "arg": ["subprocess", "huey", "huey-redis", "rq"],
    "result": ["huey", "huey-redis", "rq"],
    # (huey on SQLite keeps a blob past 256 MiB in parts: a jobnb before that could not)
    "cell": ["huey-redis", "huey"],
}


# --- what runs in the jobs (importable by the workers: this folder is on their path) ------
def nbytes(array):
    return array.nbytes


def noop():
    return None


def big_result(megabytes: int):
    import numpy as np

    return np.ones(megabytes * MB // 8)


# --- memory, from /proc ---------------------------------------------------------------------
def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def reset_peak(pid: int) -> int:
    """Reset the process's peak RSS to its RSS now; return that RSS (its baseline)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _status(pid, "VmRSS")


def peak(pid: int) -> int:
    return _status(pid, "VmHWM")


def descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *descendants(int(child))]
    return found


def is_job_child(pid: int) -> bool:
    return b"subprocess_worker" in Path(f"/proc/{pid}/cmdline").read_bytes()


# --- setting a backend up in a measuring process ---------------------------------------------
class Setup:
    """jobnb configured for ``backend`` in this process, its worker started from this tree
    (a huey home's worker is started by jobnb itself, as in a notebook)."""

    def __init__(self, backend: str, scratch: str) -> None:
        import jobnb

        self.backend, self.worker = backend, None
        url = os.environ.get("BIG_REDIS_URL")
        if backend == "subprocess":
            jobnb.configure("subprocess", workers=1)
        elif backend == "huey":
            self.home = os.path.join(scratch, "home")
            jobnb.configure("huey", home=self.home, workers=1)
        else:
            kind = backend.removesuffix("-redis")
            setting = {"home": url} if kind == "huey" else {"redis_url": url}
            jobnb.configure(kind, **setting)
            command = [sys.executable, "-m", "jobnb", "worker", "--backend", kind, "-w", "1"]
            command += ["--home" if kind == "huey" else "--url", url]
            self.worker = subprocess.Popen(command, cwd=scratch, stdout=subprocess.DEVNULL)
        jobnb.submit(noop).result(timeout=120)  # the worker is up, the child warm

    def worker_pids(self) -> list[int]:
        """The queue worker and every process under it (its job children)."""
        if self.worker is not None:
            root = self.worker.pid
        elif self.backend == "huey":
            from jobnb.backends.huey_worker import worker_pid

            root = worker_pid(self.home)
        else:
            return []
        return [root, *descendants(root)]

    def close(self) -> None:
        import jobnb

        jobnb.api.shutdown()
        if self.worker is not None:
            self.worker.send_signal(signal.SIGTERM)
            self.worker.wait(60)
        elif self.backend == "huey":
            from jobnb.backends.huey_worker import stop_worker

            stop_worker(self.home, grace=0)


def measure_arg(backend: str, scratch: str) -> dict:
    import numpy as np

    import jobnb

    array = np.random.default_rng(0).random(ARG_MB * MB // 8)
    setup = Setup(backend, scratch)
    try:
        times, floors, pools = [], [], []
        for _ in range(3):
            start = time.perf_counter()
            assert jobnb.submit(nbytes, array).result(timeout=300) == array.nbytes
            times.append(time.perf_counter() - start)
            start = time.perf_counter()
            pickle.loads(pickle.dumps(array, protocol=pickle.HIGHEST_PROTOCOL))
            floors.append(time.perf_counter() - start)
        if backend == "subprocess":
            with ProcessPoolExecutor(1) as pool:
                pool.submit(noop).result()
                for _ in range(3):
                    start = time.perf_counter()
                    assert pool.submit(nbytes, array).result() == array.nbytes
                    pools.append(time.perf_counter() - start)
    finally:
        setup.close()
    found = {"time": statistics.median(times), "floor": statistics.median(floors)}
    if pools:
        found["pool"] = statistics.median(pools)
    return found


def measure_result(backend: str, scratch: str) -> dict:
    import jobnb

    setup = Setup(backend, scratch)
    try:
        pids = setup.worker_pids()
        children = {pid for pid in pids if is_job_child(pid)}  # (while they run)
        baselines = {pid: reset_peak(pid) for pid in [os.getpid(), *pids]}
        start = time.perf_counter()
        value = jobnb.submit(big_result, RESULT_MB).result(timeout=600)
        took = time.perf_counter() - start
        assert value.nbytes == RESULT_MB * MB
        above = {pid: peak(pid) - base for pid, base in baselines.items()}  # (before close)
    finally:
        setup.close()
    size = RESULT_MB * MB
    return {
        "time": took,
        "kernel": above[os.getpid()] / size,
        "worker": max((above[pid] for pid in pids if pid not in children), default=0) / size,
        "child": max((above[pid] for pid in children), default=0) / size,
    }


def measure_cell(backend: str, scratch: str) -> dict:
    import numpy as np
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell

    setup = Setup(backend, scratch)
    try:
        shell = InteractiveShell.instance()
        shell.run_cell("%load_ext jobnb", store_history=True)
        rng = np.random.default_rng(0)
        columns = FRAME_MB * MB // 8 // 8
        shell.user_ns["df"] = pd.DataFrame({f"c{i}": rng.random(columns) for i in range(8)})
        assert shell.user_ns["df"].memory_usage(index=False).sum() == FRAME_MB * MB
        baseline = reset_peak(os.getpid())
        start = time.perf_counter()
        done = shell.run_cell("%%submit\ntotal = float(df['c0'].sum())", store_history=True)
        returned = time.perf_counter() - start
        done.raise_error()
        done.result.result(timeout=600)  # (the cell's value: its Job)
        took = time.perf_counter() - start
        above = peak(os.getpid()) - baseline
    finally:
        setup.close()
    return {"time": took, "prompt": returned, "kernel": above / (FRAME_MB * MB)}


MEASURES = {"arg": measure_arg, "result": measure_result, "cell": measure_cell}


# --- the driver --------------------------------------------------------------------------------
def run_measure(tree: str, name: str, backend: str, redis_url: str) -> dict:
    scratch = tempfile.mkdtemp(prefix="jobnb-big-")
    env = dict(os.environ, PYTHONPATH=f"{tree}{os.pathsep}{HERE}", BIG_REDIS_URL=redis_url)
    env.setdefault("JOBNB_SECRET_KEY", "jobnb-benchmark-key-0123456789abcdef")
    done = subprocess.run(
        [sys.executable, __file__, "--measure", name, "--backend", backend],
        env=env,
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode:  # (said in the table: main cannot store a 1 GB payload in Redis)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        return {"error": lines[-1][:200] if lines else f"exit code {done.returncode}"}
    return json.loads(done.stdout.splitlines()[-1])


def table(tree: str, found: dict) -> str:
    def med(rows, key):
        return statistics.median(row[key] for row in rows)

    failed = {step: rows for step, rows in found.items() if any("error" in r for r in rows)}
    found = {step: rows for step, rows in found.items() if step not in failed}
    lines = [f"\n### {tree}\n"]
    for (name, backend), rows in failed.items():
        error = next(r["error"] for r in rows if "error" in r)
        lines.append(f"- {name} on {backend}: failed ({error})")
    if any(k[0] == "arg" for k in found):
        lines += [
            f"| {ARG_MB} MB argument, end to end | jobnb | pickle floor | ratio | target |",
            "|---|---|---|---|---|",
        ]
        for (name, backend), rows in found.items():
            if name != "arg":
                continue
            time_, floor = med(rows, "time"), med(rows, "floor")
            target = 2 if backend == "subprocess" else 3
            lines.append(
                f"| {backend} | {time_ * 1e3:.0f} ms | {floor * 1e3:.0f} ms | "
                f"{time_ / floor:.1f}x | <= {target}x |"
            )
            if "pool" in rows[0]:
                pool = med(rows, "pool")
                lines.append(
                    f"| ProcessPoolExecutor(1) | {pool * 1e3:.0f} ms | {floor * 1e3:.0f} ms | "
                    f"{pool / floor:.1f}x | |"
                )
    if any(k[0] == "result" for k in found):
        lines += [
            "",
            f"| {RESULT_MB} MB result | time | kernel peak (target <= 1.3x) | queue worker "
            "peak (<= 2x) | job's child peak (<= 2x) |",
            "|---|---|---|---|---|",
        ]
        for (name, backend), rows in found.items():
            if name == "result":
                lines.append(
                    f"| {backend} | {med(rows, 'time'):.2f} s | {med(rows, 'kernel'):.2f}x | "
                    f"{med(rows, 'worker'):.2f}x | {med(rows, 'child'):.2f}x |"
                )
    for (name, backend), rows in found.items():
        if name == "cell":
            lines += [
                "",
                "| %%submit cell reading a 1 GB DataFrame | prompt back | result | "
                "kernel peak (target <= 1.3x) |",
                "|---|---|---|---|",
                f"| {backend} | {med(rows, 'prompt'):.2f} s | {med(rows, 'time'):.2f} s | "
                f"{med(rows, 'kernel'):.2f}x |",
            ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", action="append", help="a source tree (default: this one)")
    parser.add_argument("--only", choices=list(MEASURES), action="append")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        with tempfile.TemporaryDirectory() as scratch:
            print(json.dumps(MEASURES[args.measure](args.backend, scratch)))
        return
    sys.path.insert(0, str(HERE))
    import redis_server

    trees = [str(Path(tree).resolve()) for tree in (args.tree or [HERE.parent])]
    plan = [(name, backend) for name in args.only or list(MEASURES) for backend in BACKENDS[name]]
    server, url = redis_server.start_redis(tempfile.mkdtemp(prefix="jobnb-big-redis-"))
    found = {tree: {step: [] for step in plan} for tree in trees}
    try:
        for repeat in range(args.repeats):  # alternating trees, step by step
            for step in plan:
                for tree in trees:
                    result = run_measure(tree, *step, url)
                    found[tree][step].append(result)
                    print(
                        f"[{repeat + 1}/{args.repeats}] {Path(tree).name} {step}: {result}",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        server.terminate()
        server.wait(10)
    print(f"machine: {os.cpu_count()} cores, shared with other work (read ratios)")
    for tree in trees:
        print(table(tree, found[tree]))


if __name__ == "__main__":
    main()
