"""A job's traceback shows the source lines of the code the notebook defined, as IPython
shows them when the same error happens in the kernel: the worker has no file for a
kernel's cells, so the lines travel with the job (payload/serialization.py). On a real
kernel (jupyter_client) and real worker processes."""

from __future__ import annotations

import pytest
from kernel_client import run

#: the lines the tracebacks must show, each written in a cell of its own
DEFINITIONS = [
    "def inner(v):\n    ratio = v / 0  # the failing line\n    return ratio",
    "def outer(v):\n    return inner(v + 1)  # a call into another cell",
    "class Model:\n    def fit(self):\n        raise ValueError('no fit')  # in a method",
]


def printed(client, code: str) -> str:
    return "".join(
        m["content"]["text"] for m in run(client, code, timeout=90) if m["msg_type"] == "stream"
    )


@pytest.mark.parametrize("backend", ["subprocess", "huey"])
def test_a_notebook_function_fails_with_its_source_lines(kernel, backend):
    printed(kernel, f"import jobnb\n%load_ext jobnb\n_ = jobnb.configure({backend!r})")
    for cell in DEFINITIONS:
        printed(kernel, cell)
    shown = printed(
        kernel,
        "job = jobnb.submit(outer, 1)\n"
        "try:\n"
        "    job.result(timeout=60)\n"
        "except ZeroDivisionError as exc:\n"
        "    print('the cause:', exc.__cause__)\n"
        "print('the record:', jobnb.get(job.id).record().error)\n"
        "fit = jobnb.submit(Model().fit)\n"
        "fit.wait(60)\n"
        "print('the method:', fit.error)",
    )
    cause, record = shown.split("the cause:")[1].split("the record:")
    for text in (cause, record):
        assert "ratio = v / 0  # the failing line" in text, shown
        assert "return inner(v + 1)  # a call into another cell" in text, shown
        assert "ZeroDivisionError: division by zero" in text
    method = shown.split("the method:")[1]
    assert "raise ValueError('no fit')  # in a method" in method, shown


@pytest.mark.parametrize("backend", ["subprocess", "huey"])
def test_a_submit_cell_fails_with_its_lines_and_those_of_the_functions_it_calls(kernel, backend):
    printed(kernel, f"import jobnb\n%load_ext jobnb\n_ = jobnb.configure({backend!r})")
    for cell in DEFINITIONS:
        printed(kernel, cell)
    printed(kernel, "%%submit -n broken\nstart = 1\nvalue = outer(start)  # in the cell\n")
    shown = printed(kernel, "job = jobnb.get('broken')\njob.wait(60)\nprint(job.error)")
    assert "value = outer(start)  # in the cell" in shown
    assert "return inner(v + 1)  # a call into another cell" in shown
    assert "ratio = v / 0  # the failing line" in shown
    assert "ZeroDivisionError: division by zero" in shown
