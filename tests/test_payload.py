"""Payloads and outcomes as they are stored: what an earlier jobnb wrote (a huey home
keeps its jobs across an upgrade) still runs, resubmits and reads back."""

from __future__ import annotations

import base64
from pathlib import Path

from jobs_for_tests import KeptReport

from jobnb import JobStatus
from jobnb.payload import loads_outcome
from jobnb.worker import runner

TESTS = Path(__file__).parent

# Written by jobnb before payloads had a class per kind (dumps_payload of
# Payload.call(operator.add, (2, 3)) and Payload.cell("c = a * 2", {"a": 21}, ("c",))),
# and before outcomes had a header (dumps_outcome of a cell's finished outcome, c=42).
STORED_CALL = (
    "gAWV4AAAAAAAAACMDWpvYm5iLnBheWxvYWSUjAdQYXlsb2FklJOUKYGUfZQojARraW5klIwEY2FsbJSMAmZu"
    "lIwJX29wZXJhdG9ylIwDYWRklJOUjARhcmdzlEsCSwOGlIwGa3dhcmdzlH2UjAZzb3VyY2WUTowGaW5wdXRz"
    "lH2UjAdvdXRwdXRzlCmMBmpvYl9pZJROjAhub3RlYm9va5ROjARwYXRolE6MBm91dHB1dJROjAtrZXJuZWxf"
    "bmFtZZROjANjd2SUTowKcGFyYW1ldGVyc5R9lIwLaW5qZWN0ZWRfYXSUTnViLg=="
)
STORED_CELL = (
    "gAWV3wAAAAAAAACMDWpvYm5iLnBheWxvYWSUjAdQYXlsb2FklJOUKYGUfZQojARraW5klIwEY2VsbJSMAmZu"
    "lE6MBGFyZ3OUKYwGa3dhcmdzlH2UjAZzb3VyY2WUjAljID0gYSAqIDKUjAZpbnB1dHOUfZSMAWGUSxVzjAdv"
    "dXRwdXRzlIwBY5SFlIwGam9iX2lklE6MCG5vdGVib29rlE6MBHBhdGiUTowGb3V0cHV0lE6MC2tlcm5lbF9u"
    "YW1llE6MA2N3ZJROjApwYXJhbWV0ZXJzlH2UjAtpbmplY3RlZF9hdJROdWIu"
)
STORED_OUTCOME = "gAWVGwAAAAAAAAAojAhmaW5pc2hlZJR9lIwBY5RLKnNOTil0lC4="


def test_payloads_stored_by_an_earlier_jobnb_still_run():
    call = runner.run(base64.b64decode(STORED_CALL), KeptReport())
    assert (call.status, call.value) == (JobStatus.FINISHED, 5)
    cell = runner.run(base64.b64decode(STORED_CELL), KeptReport())
    assert (cell.status, cell.value) == (JobStatus.FINISHED, {"c": 42})


def test_an_outcome_stored_by_an_earlier_jobnb_still_reads():
    outcome = loads_outcome(base64.b64decode(STORED_OUTCOME))
    assert (outcome.status, outcome.value, outcome.error) == (JobStatus.FINISHED, {"c": 42}, None)


def _cell(filename: str, source: str) -> dict:
    """Run ``source`` as IPython runs a cell: its text in linecache under a file name
    with no file behind it, its functions in ``__main__`` (so they travel by value)."""
    import linecache

    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": "__main__"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def test_a_notebook_function_travels_with_the_lines_of_its_cell_only(tmp_path):
    import subprocess
    import sys

    from jobnb.payload import CallPayload, dumps_payload

    used = _cell(
        "/tmp/ipykernel_0/111.py",
        "def half(v):\n    return twice(v) / 0  # marker-of-the-used-cell\n"
        "def twice(v):\n    return 2 * v\n",
    )
    _cell("/tmp/ipykernel_0/222.py", "def other():\n    pass  # marker-of-another-cell\n")
    from jobnb.payload.framing import unframe

    blob = dumps_payload(CallPayload(used["half"], (1,))).joined()
    pickled = b"".join(unframe(blob))  # (a small payload is stored squeezed)
    assert pickled.count(b"marker-of-the-used-cell") == 1  # two functions, one cell: once
    assert b"marker-of-another-cell" not in pickled

    # a fresh process (no linecache of ours) runs it: its traceback shows the cell's line
    (tmp_path / "payload").write_bytes(blob)
    shown = subprocess.run(
        [sys.executable, "-c", _RUN_IN_A_FRESH_PROCESS, str(tmp_path / "payload"), str(TESTS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert 'File "/tmp/ipykernel_0/111.py", line 2, in half' in shown.stdout
    assert "return twice(v) / 0  # marker-of-the-used-cell" in shown.stdout


_RUN_IN_A_FRESH_PROCESS = """
import sys
sys.path.insert(0, sys.argv[2])
from jobs_for_tests import KeptReport
from jobnb.worker import runner
with open(sys.argv[1], "rb") as f:
    print(runner.run(f.read(), KeptReport()).error)
"""
