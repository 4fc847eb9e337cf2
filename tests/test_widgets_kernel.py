"""Job widgets on a real kernel (jupyter_client): updates reach the frontend by
themselves, from the monitor thread, while the main thread runs another cell."""

from __future__ import annotations

import pytest
from kernel_client import WIDGET_VIEW, run


@pytest.mark.parametrize("backend", ["thread", "subprocess"])
def test_the_widget_reaches_finished_while_another_cell_runs(kernel, backend):
    run(kernel, f"import jobnb\n%load_ext jobnb\n_ = jobnb.configure({backend!r})")
    shown = run(kernel, "%%submit -n sleeper\nimport time\ntime.sleep(1.0)\nv = 1")
    # shown under a display id (a cell's execute_result cannot be updated when it ends)
    results = [m for m in shown if m["msg_type"] == "display_data"]
    assert results and WIDGET_VIEW in results[0]["content"]["data"]
    assert "<Job " in results[0]["content"]["data"]["text/plain"]
    values = _state_values(shown)
    assert any("sleeper" in v and (">queued<" in v or ">running<" in v) for v in values), values

    # the main thread is busy for 4 s: the widget must finish by updates alone
    busy = run(kernel, "import time\ntime.sleep(4)")
    updates = _state_values(busy, updates_only=True)
    finished = [value for value in updates if ">finished<" in value]
    assert finished, f"no 'finished' update while the cell ran; updates: {updates}"
    assert "sleeper" in finished[-1]


def test_a_job_shows_as_its_widget_without_load_ext_and_the_magics_stay_unloaded(kernel):
    run(kernel, "import jobnb, time\n_ = jobnb.configure('thread')")
    shown = run(kernel, "job = jobnb.options(name='plain').submit(time.sleep, 1.5)\njob")
    results = [m for m in shown if m["msg_type"] == "display_data"]
    assert results and WIDGET_VIEW in results[0]["content"]["data"]
    assert "<Job " in results[0]["content"]["data"]["text/plain"]
    assert any("<b>plain</b>" in value for value in _state_values(shown))
    assert not [m for m in shown if m["msg_type"] == "execute_result"]  # shown once
    held = run(kernel, "Out[max(Out)] is job")  # still the cell's value, as a result was
    answers = [m for m in held if m["msg_type"] == "execute_result"]
    assert answers[0]["content"]["data"]["text/plain"] == "True"
    # an ended job is shown as plain HTML, and no widget is made for it
    ended = run(kernel, "job.wait(10)\njob")
    results = [m for m in ended if m["msg_type"] == "display_data"]
    assert results and WIDGET_VIEW not in results[0]["content"]["data"]
    assert ">finished<" in results[0]["content"]["data"]["text/html"]
    assert not [m for m in ended if m["msg_type"] == "comm_open"]
    loaded = run(kernel, "import sys\n'jobnb.magics' in sys.modules")
    answers = [m for m in loaded if m["msg_type"] == "execute_result"]
    assert answers[0]["content"]["data"]["text/plain"] == "False"


def _state_values(messages: list[dict], updates_only: bool = False) -> list[str]:
    """The ``value`` strings that widget models were opened with or updated to."""
    kinds = ("comm_msg",) if updates_only else ("comm_open", "comm_msg")
    values = []
    for msg in messages:
        if msg["msg_type"] in kinds:
            value = msg["content"]["data"].get("state", {}).get("value")
            if isinstance(value, str):
                values.append(value)
    return values


def test_the_dashboard_shows_a_new_job_while_another_cell_runs(kernel):
    run(kernel, "import jobnb\n%load_ext jobnb\n_ = jobnb.configure('thread')")
    shown = run(kernel, "%jobs")
    results = [m for m in shown if m["msg_type"] == "execute_result"]
    assert results and WIDGET_VIEW in results[0]["content"]["data"]
    busy = run(
        kernel, "import time\njobnb.options(name='arrives-late').submit(sum, [1, 2])\ntime.sleep(3)"
    )
    updates = _state_values(busy, updates_only=True)
    assert any("<b>arrives-late</b>" in value for value in updates), updates


def test_an_ended_jobs_widget_is_closed_once_its_display_shows_the_end(kernel):
    """Nothing of a job's widget is left in the kernel (or the page) once the job ended:
    its display shows plain HTML, and a restart cannot leave a widget without a model."""
    run(kernel, "import jobnb, time, ipywidgets\n_ = jobnb.configure('thread')")
    run(kernel, "before = len(ipywidgets.Widget.widgets)")
    shown = run(kernel, "job = jobnb.options(name='short').submit(time.sleep, 1.0)\njob")
    assert [m for m in shown if m["msg_type"] == "comm_open"]  # a live widget while it runs
    busy = run(kernel, "time.sleep(3)")
    closed = [m for m in busy if m["msg_type"] == "comm_close"]
    assert closed, [m["msg_type"] for m in busy]
    left = run(kernel, "len(ipywidgets.Widget.widgets) - before")
    answers = [m for m in left if m["msg_type"] == "execute_result"]
    assert answers[0]["content"]["data"]["text/plain"] == "0"
