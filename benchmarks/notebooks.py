"""A notebook job against the same notebook run by plain nbclient in this process.

    python benchmarks/notebooks.py            # 9 rounds
    python benchmarks/notebooks.py --rounds 15

Each round runs the same small notebook (parameters, a few cells, prints, two
``jobnb.record`` calls) once per side, in a rotating order: plain
``nbclient.NotebookClient(nb).execute()`` in this process, with its default graceful
kernel shutdown (as jobnb does) and, to show what that costs, with
``shutdown_kernel="immediate"``; then ``jobnb.submit_notebook(...).result()`` on the
thread, subprocess and huey backends.
One warm-up job per backend comes first (it starts the workers and imports nbclient
there). Prints a markdown table of medians, with ratios to plain nbclient. Most of a
run is the kernel's start-up (about a second). Machines are shared and noisy: read the
ratios of one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

import jobnb
from jobnb.backends.huey_worker import stop_worker

SCRATCH = Path(tempfile.mkdtemp(prefix="jobnb-bench-notebooks-"))
HOME = SCRATCH / "jobnb-home"


def make_notebook() -> Path:
    parameters = new_code_cell("n = 1000\nlabel = 'plain'")
    parameters.metadata["tags"] = ["parameters"]
    cells = [
        parameters,
        new_code_cell("import math\nimport jobnb"),
        new_code_cell("squares = [i * i for i in range(n)]\nprint(label, len(squares))"),
        new_code_cell("total = sum(squares)\nroot = math.sqrt(total)\nprint(f'total {total}')"),
        new_code_cell("jobnb.record('total', total)\njobnb.record('root', root)"),
    ]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path = SCRATCH / "small.ipynb"
    nbformat.write(notebook, path)
    return path


def plain(path: Path, shutdown: str) -> float:
    start = time.perf_counter()
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        shutdown_kernel=shutdown,
    )
    client.execute()
    nbformat.write(notebook, SCRATCH / "plain-out.ipynb")
    return time.perf_counter() - start


def with_jobnb(path: Path, backend: str) -> float:
    start = time.perf_counter()
    job = jobnb.options(backend=backend).submit_notebook(
        path, {"label": backend}, SCRATCH / f"{backend}-out.ipynb"
    )
    values = job.result(timeout=120)
    elapsed = time.perf_counter() - start
    assert values["total"] == sum(i * i for i in range(1000)), values
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    os.chdir(SCRATCH)
    jobnb.configure("huey", home=str(HOME), workers=2)
    path = make_notebook()
    sides = {
        "plain nbclient (graceful shutdown, its default)": lambda: plain(path, "graceful"),
        "plain nbclient (shutdown_kernel='immediate')": lambda: plain(path, "immediate"),
        "jobnb thread": lambda: with_jobnb(path, "thread"),
        "jobnb subprocess": lambda: with_jobnb(path, "subprocess"),
        "jobnb huey (SQLite)": lambda: with_jobnb(path, "huey"),
    }
    first = {}
    for name, run in sides.items():  # warm-up: workers started, nbclient imported there
        first[name] = run()
    times: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    try:
        for round_ in range(args.rounds):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                times[name].append(sides[name]())
            print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        jobnb.api.shutdown()
        stop_worker(HOME)
    base = statistics.median(times[names[0]])
    print(f"\nA 5-cell notebook, {args.rounds} rounds, medians (python {sys.version.split()[0]})\n")
    print("| how it runs | median wall time | ratio to plain nbclient | first run |")
    print("|---|---|---|---|")
    for name in names:
        median = statistics.median(times[name])
        print(f"| {name} | {median:.3f} s | {median / base:.2f}x | {first[name]:.3f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
