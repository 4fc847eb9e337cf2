"""Execute the tutorial notebooks headless, with nbclient on a real kernel, each in a
scratch folder of its own (so their jobs' ``.jobnb`` homes go there, not into the
repository), and stop whatever huey worker a notebook started.

    python tests/execute_notebooks.py             # all of notebooks/, fail on an error
    python tests/execute_notebooks.py --write     # ... and store their outputs in place

tests/test_tutorials.py runs each notebook through :func:`execute`; the Binder
rehearsal runs this file under ``binder/start``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(path: Path, folder: Path, timeout: int = 120) -> nbformat.NotebookNode:
    """Run ``path`` in ``folder`` (a copy of the notebook goes there); the executed
    notebook. Raises nbclient's CellExecutionError, with the cell and traceback."""
    from jobnb.backends.huey_worker import stop_worker

    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / path.name
    shutil.copy(path, copy)
    for sub in ("examples",):  # what the tutorials open (notebooks/06 runs one)
        if (path.parent / sub).is_dir():
            shutil.copytree(path.parent / sub, folder / sub, dirs_exist_ok=True)
    notebook = nbformat.read(copy, as_version=4)
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": folder}}
    )
    try:
        client.execute()
    finally:
        stop_worker(folder / ".jobnb")  # the embedded default's worker, if it started one
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="store the outputs in place")
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all)")
    args = parser.parse_args(argv)
    paths = [NOTEBOOKS / n for n in args.names] or sorted(NOTEBOOKS.glob("*.ipynb"))
    failed = 0
    with tempfile.TemporaryDirectory(prefix="jobnb-notebooks-") as scratch:
        for path in paths:
            start = time.monotonic()
            try:
                executed = execute(path, Path(scratch) / path.stem)
            except Exception as exc:  # noqa: BLE001 - reported, then the next one runs
                failed += 1
                print(f"FAILED {path.name}: {exc}", file=sys.stderr, flush=True)
                continue
            if args.write:
                nbformat.write(executed, path)
            print(f"ok {path.name} ({time.monotonic() - start:.1f} s)", flush=True)
    print(f"{len(paths) - failed} of {len(paths)} notebooks ran top to bottom")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
