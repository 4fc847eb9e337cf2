"""Notebooks executed by nbclient on a real Jupyter kernel: what a user sees."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parent / "notebooks"


def execute(name: str, cwd: Path) -> list:
    """Run a notebook of tests/notebooks in ``cwd``; return its code cells."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def text(cell) -> str:
    """Everything a cell shows as text: streams and plain-text results."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output:
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


def test_submit_cells_in_a_real_kernel(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("JOBNB_BACKEND", backend)  # the kernel inherits the environment
    cells = execute("submit_cells.ipynb", tmp_path)
    setup, _, submit, wait, sees, logs, submit_broken, _, broken, listing = cells
    assert text(setup).strip() == backend
    shown = text(submit)
    assert shown.startswith("<Job ") and "'square'" in shown and f"on {backend}>" in shown
    assert text(wait).strip().endswith("finished")
    # pulled before the first cell that runs after the job ended (the job may be quick)
    assert "(square) finished; pulled math, y, root" in text(wait) + text(sees)
    assert text(sees).strip().endswith("sees 144 12.0")
    assert text(logs) == "computing 144\n"
    assert "'broken'" in text(submit_broken)
    shown = text(broken)
    failed_line = "(broken) failed: ZeroDivisionError: division by zero"
    assert failed_line in text(cells[7]) + shown
    assert shown.strip().endswith("False\nZeroDivisionError: division by zero")
    assert "square" in text(listing) and "broken" in text(listing)
