"""%%submit against what it cannot avoid, side by side in one run.

    python benchmarks/magics.py

1. The prompt: the execute round trip of a trivial ``%%submit`` cell on a real kernel
   (jupyter_client), next to the same cell run plainly; median of 30 after warm-up.
2. A cell reading a 100 MB pandas DataFrame: the time ``%%submit`` takes to return,
   next to ``cloudpickle.dumps`` of that DataFrame alone (the floor for a worker
   process); median of 5, alternating.

Not a timed test: read the ratios of one run.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import sys
import time

import cloudpickle
import numpy as np
import pandas as pd
from IPython.core.interactiveshell import InteractiveShell
from jupyter_client.manager import start_new_kernel

BACKEND = "subprocess"
ROUND_TRIPS = 30
WARMUP = 5


def kernel_round_trips(client, code: str) -> float:
    times = []
    for _ in range(ROUND_TRIPS + WARMUP):
        start = time.perf_counter()
        reply = client.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
        times.append(time.perf_counter() - start)
        assert reply["content"]["status"] == "ok", reply["content"]
    return statistics.median(times[WARMUP:])


def prompt_latency() -> tuple[float, float]:
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        client.execute_interactive(
            f"import jobnb\n%load_ext jobnb\n_ = jobnb.configure({BACKEND!r})",
            timeout=60,
            output_hook=lambda msg: None,
        )
        plain = kernel_round_trips(client, "x = 1")
        submit = kernel_round_trips(client, "%%submit --no-pull\nx = 1")
        return submit, plain
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def dataframe_submit() -> tuple[float, float]:
    import jobnb

    jobnb.configure(BACKEND)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jobnb")
    rows = 100 * 2**20 // (8 * 4)
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.random((rows, 4)), columns=list("abcd"))
    shell.user_ns["df"] = df
    ours, floor = [], []
    for _ in range(5):
        start = time.perf_counter()
        cloudpickle.dumps(df, protocol=5)
        floor.append(time.perf_counter() - start)
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the cell shows its Job
            job = shell.run_cell("%%submit --no-pull\nn = len(df)").result
        ours.append(time.perf_counter() - start)
        assert job.result(timeout=120) == {"n": rows}
    jobnb.api.shutdown()
    return statistics.median(ours), statistics.median(floor)


def main() -> None:
    print(f"python {sys.version.split()[0]}, backend {BACKEND}\n")
    print("| measure | %%submit | reference | ratio |")
    print("|---|---|---|---|")
    submit, plain = prompt_latency()
    print(
        f"| trivial cell, execute round trip on a real kernel (median of {ROUND_TRIPS}) | "
        f"{submit * 1e3:.1f} ms | {plain * 1e3:.1f} ms (same cell, no %%submit) | "
        f"{submit / plain:.2f}x |",
        flush=True,
    )
    ours, floor = dataframe_submit()
    print(
        f"| cell reading a 100 MB DataFrame, until %%submit returns (median of 5) | "
        f"{ours * 1e3:.0f} ms | {floor * 1e3:.0f} ms (cloudpickle.dumps of it) | "
        f"{ours / floor:.2f}x |"
    )


if __name__ == "__main__":
    main()
