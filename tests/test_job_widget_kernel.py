"""The job widget in a real kernel, as a browser and a saved notebook meet it: a page
that reloads asks the kernel for every widget's state and must get it, however busy
the widgets are; a saved notebook keeps each job's last state as plain HTML."""

from __future__ import annotations

import json
import time
import uuid
from queue import Empty

import nbformat
from kernel_client import WIDGET_VIEW, run, until_idle
from nbclient import NotebookClient

CONTROL = "jupyter.widget.control"


def ask_every_state(client, comm_id: str, timeout: float = 5.0) -> dict | None:
    """What a reloaded page asks first (ipywidgets' control comm): every model's state.
    None when no answer comes within ``timeout`` (the page then stays on 'Loading
    widget...' and asks model by model)."""
    client.shell_channel.send(
        client.session.msg("comm_msg", {"comm_id": comm_id, "data": {"method": "request_states"}})
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = client.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        except Empty:
            break
        data = msg["content"].get("data", {})
        if msg["msg_type"] == "comm_msg" and data.get("method") == "update_states":
            return data["states"]
    return None


def test_a_reloading_page_gets_every_widget_state_while_twenty_jobs_refresh(kernel, tmp_path):
    release = tmp_path / "release"
    run(
        kernel,
        "import jobnb, time\n"
        "from jobnb.widgets.monitor import monitor\n"
        "_ = jobnb.configure('thread', workers=20)\n"
        "monitor().interval = 0.01  # many refreshes a second: what a reload may meet\n"
        "def busy(i, release):\n"
        "    import os\n"
        "    n = 0\n"
        "    while not os.path.exists(release):\n"
        "        n += 1\n"
        "        jobnb.progress(n % 100, 100, f'step {n}')\n"
        "        time.sleep(0.005)\n",
    )
    shown = run(
        kernel,
        f"jobs = [jobnb.options(name=f'busy-{{i}}').submit(busy, i, {str(release)!r}) "
        "for i in range(20)]\n"
        "for job in jobs:\n"
        "    display(job)\n",
    )
    views = [
        m["content"]["data"][WIDGET_VIEW]["model_id"]
        for m in shown
        if m["msg_type"] in ("display_data", "execute_result")
        and WIDGET_VIEW in m["content"]["data"]
    ]
    assert len(views) == 20
    run(kernel, "time.sleep(1)")  # let the refreshes run a while
    comm_id = uuid.uuid4().hex
    kernel.shell_channel.send(
        kernel.session.msg(
            "comm_open",
            {"comm_id": comm_id, "target_name": CONTROL, "data": {}},
            metadata={"version": "1.0.0"},
        )
    )
    answered = 0
    try:
        for _ in range(15):  # fifteen reloads
            states = ask_every_state(kernel, comm_id)
            assert states is not None, f"reload {answered + 1}: the kernel never answered"
            answered += 1
            for model_id in views:  # each view and every model it refers to is there
                missing = _unresolved(model_id, states)
                assert not missing, f"reload {answered}: models not sent: {missing}"
    finally:
        release.touch()
    assert answered == 15


def _unresolved(model_id: str, states: dict) -> list[str]:
    """The model ids reachable from ``model_id`` (children, layout, style...) that are
    not in ``states``."""
    missing, seen, todo = [], set(), [model_id]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if current not in states:
            missing.append(current)
            continue
        text = json.dumps(states[current]["state"])
        todo.extend(part.split('"')[0] for part in text.split("IPY_MODEL_")[1:])
    return missing


def test_a_saved_notebook_holds_each_job_as_it_ended(tmp_path):
    """nbclient runs the notebook as Jupyter would and writes what it received: the
    job's output was shown while it ran, and updated in place when it ended."""
    cells = [
        "import jobnb, time\n_ = jobnb.configure('thread')",
        "def slow():\n    print('<b>working</b>')\n    time.sleep(1.5)\n    return 42\n"
        "job = jobnb.options(name='saved <i>job</i>').submit(slow)\njob",
        "time.sleep(4)  # the job ends while another cell runs",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(notebook, path)
    outputs = nbformat.read(path, as_version=4).cells[1].outputs
    assert len(outputs) == 1, outputs
    saved = outputs[0]["data"]
    # the ended job is plain HTML: no widget whose model a reopened notebook cannot find
    assert WIDGET_VIEW not in saved
    html_view = saved["text/html"]
    assert ">finished<" in html_view, html_view
    assert "result: 42" in html_view and "its final state" in html_view
    assert "saved &lt;i&gt;job&lt;/i&gt;" in html_view
    assert "&lt;b&gt;working&lt;/b&gt;" in html_view
    assert "finished" in saved["text/plain"]


def test_the_end_reaches_the_cell_that_showed_the_job(kernel):
    """JupyterLab gives an output message to the cell whose request it answers: the
    final update answers the cell that displayed the job, whatever cell runs then."""
    run(kernel, "import jobnb, time\n_ = jobnb.configure('thread')")
    shown_msg = kernel.execute("job = jobnb.options(name='late').submit(time.sleep, 1.0)\njob")
    shown, _ = until_idle(kernel, shown_msg)
    displays = [m for m in shown if m["msg_type"] == "display_data"]
    assert displays, [m["msg_type"] for m in shown]
    display_id = displays[0]["content"]["transient"]["display_id"]
    assert ">running<" in displays[0]["content"]["data"]["text/html"] or (
        ">queued<" in displays[0]["content"]["data"]["text/html"]
    )
    busy = run(kernel, "time.sleep(3)")
    updates = [
        m
        for m in busy
        if m["msg_type"] == "update_display_data"
        and m["content"]["transient"]["display_id"] == display_id
    ]
    assert any(m["parent_header"].get("msg_id") == shown_msg for m in updates), updates
    assert all(">finished<" in m["content"]["data"]["text/html"] for m in updates)
