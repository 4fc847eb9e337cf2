"""Execute the tutorial notebooks headless, with nbclient on a real kernel, each in a
scratch folder of its own (so their jobs' ``.jobnb`` homes go there, not into the
repository), and stop whatever huey worker a notebook started.

    python tests/execute_notebooks.py             # all of notebooks/, fail on an error
    python tests/execute_notebooks.py --write     # ... and store their outputs in place

The executed notebook shows what a user sees after running it on a fresh machine, not
the run that made it: paths in the scratch folder are made relative to the notebook,
the Redis URL of the run's server is the default one, and a job displayed while it
was queued or running shows how it ended (:func:`as_a_user_sees_it`;
:func:`harness_traces` finds what is left of a run).

tests/test_tutorials.py runs each notebook through :func:`execute`; the Binder
rehearsal runs this file under ``binder/start``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from redis_server import start_redis_server

from jobnb.defaults import REDIS_URL as DEFAULT_REDIS_URL

REPOSITORY = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPOSITORY / "notebooks"

#: a job's text (its repr): ``<Job 9d37f23c8856 'squares' finished on huey>``
JOB_REPR = re.compile(r"<Job (?P<id>[0-9a-f]+) .*? (?P<status>\w+) on [\w-]+>")
#: a Redis URL, host and port
REDIS = re.compile(r"redis://[^\s'\"/]*?(?P<host>[\w.-]+):(?P<port>\d+)")
#: where a test run's files are, never a user's
SCRATCH = re.compile(r"/tmp/|jobnb-notebooks-|pytest-of-|" + re.escape(str(REPOSITORY)))

#: run in the kernel after the last cell (then removed): how each job displayed ended,
#: as it displays now (``__IDS__``: the ids of the jobs displayed)
_HOW_THEY_ENDED = """
import json as _json
import jobnb as _jobnb
_ended = {}
for _id in __IDS__:
    try:
        _job = _jobnb.get(_id)
        _job.wait(60)
    except Exception:  # forgotten, or not one of this kernel's backends: left as shown
        continue
    _data, _ = get_ipython().display_formatter.format(_job)
    _ended[_id] = {k: v for k, v in _data.items() if k.startswith("text/")}
print(_json.dumps(_ended))
"""


def execute(
    path: Path, folder: Path, timeout: int = 120, redis_url: str | None = None
) -> nbformat.NotebookNode:
    """Run ``path`` in ``folder`` (a copy of the notebook goes there); the executed
    notebook, as a user sees it (``redis_url``: the server of this run, shown as the
    default one). Raises nbclient's CellExecutionError, with the cell and traceback."""
    from jobnb.backends.huey_worker import stop_worker

    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / path.name
    shutil.copy(path, copy)
    for sub in ("examples",):  # what the tutorials open (notebooks/06 runs one)
        if (path.parent / sub).is_dir():
            shutil.copytree(path.parent / sub, folder / sub, dirs_exist_ok=True)
    notebook = nbformat.read(copy, as_version=4)
    cells = len(notebook.cells)
    notebook.cells.append(nbformat.v4.new_code_cell(_HOW_THEY_ENDED))  # run, then removed
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": folder}}
    )
    client.on_cell_start = lambda cell, cell_index: _ask_for_jobs(notebook, cell, cell_index)
    try:
        client.execute()
    finally:
        stop_worker(folder / ".jobnb")  # the embedded default's worker, if it started one
    ended = json.loads(_text(notebook.cells.pop()).strip() or "{}")
    assert len(notebook.cells) == cells
    return as_a_user_sees_it(notebook, folder, ended, redis_url)


def _ask_for_jobs(notebook: nbformat.NotebookNode, cell, cell_index: int) -> None:
    """Before the last cell (ours) runs: tell it the ids of the jobs displayed."""
    if cell_index == len(notebook.cells) - 1:
        ids = sorted({m["id"] for m, _ in _job_displays(notebook)})
        cell.source = cell.source.replace("__IDS__", repr(ids))


def _job_displays(notebook: nbformat.NotebookNode) -> Iterator[tuple[re.Match, dict]]:
    """Each job display in the outputs: its repr's match and its data."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            match = JOB_REPR.fullmatch(output.get("data", {}).get("text/plain", ""))
            if match:
                yield match, output["data"]


def as_a_user_sees_it(
    notebook: nbformat.NotebookNode, folder: Path, ended: dict, redis_url: str | None
) -> nbformat.NotebookNode:
    """``notebook`` as a user sees it after running it: each job display shows how the
    job ended (``ended``: its text displays by id), the scratch ``folder`` is the
    notebook's own (paths relative to it) and ``redis_url`` the default URL."""
    for match, data in list(_job_displays(notebook)):
        if match["id"] in ended:  # an ended job shows as plain HTML, with no widget
            data.clear()
            data.update(ended[match["id"]])
    replacements = {}
    for scratch in {str(folder), str(folder.resolve())}:
        replacements[scratch + os.sep] = ""
        replacements[scratch] = "."
    if redis_url:
        replacements[redis_url] = DEFAULT_REDIS_URL
        replacements[redis_url.removesuffix("/0")] = DEFAULT_REDIS_URL.removesuffix("/0")
    for cell in notebook.cells:
        if "outputs" in cell:  # a code cell
            cell["outputs"] = _replaced(cell["outputs"], replacements)
    notebook.metadata = _replaced(notebook.metadata, replacements)
    return notebook


def _replaced(value, replacements: dict[str, str]):
    """``value`` (JSON-like) with each key of ``replacements`` replaced in every text,
    the longest first (a path before the folder it is in)."""
    if isinstance(value, str):
        for old in sorted(replacements, key=len, reverse=True):
            value = value.replace(old, replacements[old])
        return value
    if isinstance(value, list):
        return [_replaced(item, replacements) for item in value]
    if isinstance(value, dict):
        return type(value)({k: _replaced(v, replacements) for k, v in value.items()})
    return value


def harness_traces(notebook: nbformat.NotebookNode) -> list[str]:
    """What in ``notebook``'s outputs comes from a test run rather than a user's: a path
    in a scratch folder or the repository, a Redis server on another port than the
    default's, a job shown queued or running (every tutorial's jobs end)."""
    found = []
    texts = [json.dumps(cell.get("outputs", [])) for cell in notebook.cells]
    texts.append(json.dumps(notebook.metadata))
    default = REDIS.search(DEFAULT_REDIS_URL)
    for text in texts:
        found += [
            f"a scratch path: ...{text[max(0, m.start() - 40) : m.end() + 40]}..."
            for m in SCRATCH.finditer(text)
        ]
        found += [
            f"a test run's Redis server: {m[0]}"
            for m in REDIS.finditer(text)
            if (m["host"], m["port"]) != (default["host"], default["port"])
        ]
    for match, _ in _job_displays(notebook):
        if match["status"] in ("queued", "running"):
            found.append(f"a job shown {match['status']}: {match[0]}")
    return found


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="store the outputs in place")
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all)")
    args = parser.parse_args(argv)
    paths = [NOTEBOOKS / n for n in args.names] or sorted(NOTEBOOKS.glob("*.ipynb"))
    failed = 0
    with tempfile.TemporaryDirectory(prefix="jobnb-notebooks-") as scratch:
        redis_url, server = os.environ.get("JOBNB_REDIS_URL"), None
        if redis_url is None:  # a server of our own on a free port (never the machine's)
            server, redis_url = start_redis_server(Path(scratch))
            os.environ["JOBNB_REDIS_URL"] = redis_url
        try:
            for path in paths:
                start = time.monotonic()
                try:
                    executed = execute(path, Path(scratch) / path.stem, redis_url=redis_url)
                except Exception as exc:  # noqa: BLE001 - reported, then the next one runs
                    failed += 1
                    print(f"FAILED {path.name}: {exc}", file=sys.stderr, flush=True)
                    continue
                # only a notebook to be stored must be free of the run's traces (a plain
                # run, as the Binder rehearsal's, has its own scratch paths and key file)
                traces = harness_traces(executed) if args.write else []
                if args.write and not traces:
                    nbformat.write(executed, path)
                for trace in traces:
                    print(f"{path.name} shows {trace}", file=sys.stderr, flush=True)
                failed += bool(traces)
                print(f"ok {path.name} ({time.monotonic() - start:.1f} s)", flush=True)
        finally:
            if server is not None:
                server.terminate()
                server.wait(15)
    print(f"{len(paths) - failed} of {len(paths)} notebooks ran top to bottom")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
