"""The dashboard and the job widgets: what they cost, side by side in one run.

    python benchmarks/widgets.py

1. Dashboard refresh of a 50-row page with 100 and with 10,000 jobs in the history,
   on each backend (median of 200 refreshes): the refresh must read a page, not the
   history.
2. Kernel responsiveness (jupyter_client, real kernel): the round trip of a trivial
   execute_request (``1+1``, median of 40) with 100 jobs running, first with no
   widgets, then with a dashboard and 20 live job widgets displayed.

Not a timed test: read the ratios of one run.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time

from jupyter_client.manager import start_new_kernel

import jobnb
from jobnb.backends.huey_worker import stop_worker
from jobnb.widgets.dashboard import Dashboard

BACKENDS = ["thread", "subprocess", "huey"]
PAGE = 50
REFRESHES = 200  # sub-millisecond times: a long median irons out GC and scheduling


def noop():
    return None


def refresh_time(backend: str, history: int) -> float:
    jobnb.api.shutdown()
    home = tempfile.mkdtemp(prefix="jobnb-bench-")  # a fresh history for huey
    jobnb.configure(backend, home=home)
    for job in jobnb.map(noop, range(history)):
        job.wait(120)
    board = Dashboard(page_size=PAGE)
    times = []
    for _ in range(REFRESHES):
        start = time.perf_counter()
        board.refresh()
        times.append(time.perf_counter() - start)
    assert len(board.rows_box.children) == PAGE
    jobnb.api.shutdown()
    stop_worker(home)
    return statistics.median(times)


def round_trip(client, n: int = 40) -> float:
    times = []
    for _ in range(n + 5):
        start = time.perf_counter()
        reply = client.execute_interactive("1+1", timeout=60, output_hook=lambda msg: None)
        times.append(time.perf_counter() - start)
        assert reply["content"]["status"] == "ok"
    return statistics.median(times[5:])


def responsiveness() -> tuple[float, float]:
    manager, client = start_new_kernel(kernel_name="python3")
    quiet = {"timeout": 60, "output_hook": lambda msg: None}
    try:
        client.execute_interactive(
            "import jobnb, time\n%load_ext jobnb\n_ = jobnb.configure('thread', workers=100)\n"
            "def busy():\n    while True:\n        time.sleep(0.01)\n"
            "jobs = [jobnb.submit(busy) for _ in range(100)]\n"
            "while jobnb.api.counts()[jobnb.JobStatus.RUNNING] < 100:\n    time.sleep(0.01)",
            **quiet,
        )
        plain = round_trip(client)
        client.execute_interactive("%jobs", **quiet)
        client.execute_interactive("display(*jobs[:20])", **quiet)
        time.sleep(1.0)  # the monitor is ticking
        with_widgets = round_trip(client)
        client.execute_interactive("for j in jobs: j.cancel()", **quiet)
        return with_widgets, plain
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def main() -> None:
    print(f"python {sys.version.split()[0]}\n")
    print("| measure | value | reference | ratio |")
    print("|---|---|---|---|")
    for backend in BACKENDS:
        small = refresh_time(backend, 100)
        large = refresh_time(backend, 10_000)
        print(
            f"| {backend}: dashboard refresh, {PAGE}-row page, 10,000 jobs vs 100 | "
            f"{large * 1e3:.2f} ms | {small * 1e3:.2f} ms | {large / small:.2f}x |",
            flush=True,
        )
    with_widgets, plain = responsiveness()
    print(
        f"| `1+1` round trip, 100 jobs running: dashboard + 20 job widgets vs none | "
        f"{with_widgets * 1e3:.2f} ms | {plain * 1e3:.2f} ms | {with_widgets / plain:.2f}x |"
    )


if __name__ == "__main__":
    main()
