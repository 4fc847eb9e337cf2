"""The job widget in a real JupyterLab: the quick start, live updates while another
cell is busy, Cancel."""

from __future__ import annotations

import time

from dashboard_view import DashboardView, JobView
from notebook_code import DASHBOARD, THREAD_SETUP
from notebook_page import NotebookPage
from playwright.sync_api import expect

QUICK_START = [
    "%load_ext jobnb\nimport jobnb\ndata = list(range(10))",
    "%%submit -n quickstart\nimport time\ntotal = 0\nfor i, x in enumerate(data):\n"
    "    total += x\n    jobnb.progress(i + 1, len(data), f'item {i + 1} of {len(data)}')\n"
    "    print(f'item {i + 1} done')\n    time.sleep(0.4)",
    "print('total is', total)",
]


def test_the_quick_start_shows_the_job_widget_and_its_variables_come_back(page, lab, screenshots):
    """On the default backend (huey, whose worker the kernel starts)."""
    notebook = NotebookPage(page, lab, "quickstart.ipynb", QUICK_START)
    notebook.run(0)
    notebook.run(1)
    job = JobView(notebook.output(1), "quickstart")
    expect(job.root, "no job widget under the %%submit cell").to_be_visible(timeout=30_000)
    expect(job.header).to_contain_text("on huey")
    expect(job.header, "the job never showed running").to_contain_text("running", timeout=60_000)
    expect(job.root).to_contain_text("item ", timeout=30_000)  # progress message and log
    job.root.screenshot(path=screenshots / "job-widget-running.png")
    expect(job.header, "the job never showed finished").to_contain_text("finished", timeout=60_000)
    expect(job.root).to_contain_text("item 10 done")
    expect(job.root).to_contain_text("outputs: ")
    expect(job.cancel, "Cancel stays after the job ended").to_have_count(0)
    # ended, the job is plain HTML (no widget a restarted kernel could lose)
    expect(notebook.output(1).locator(".jobnb-job-saved")).to_be_visible()
    expect(notebook.output(1).locator(".jobnb-job")).to_have_count(0)
    job.root.screenshot(path=screenshots / "job-widget-finished.png")
    notebook.run(2)
    expect(notebook.output(2)).to_contain_text("total is 45")


BUSY = [
    THREAD_SETUP,
    "%%submit -n ticker\nfor i in range(80):\n    print(f'tick {i}')\n"
    "    jobnb.progress(i + 1, 80, f'tick {i}')\n    time.sleep(0.25)",
    "time.sleep(8)\nprint('slept')",
]


def test_the_widget_keeps_updating_while_another_cell_is_busy(page, lab):
    notebook = NotebookPage(page, lab, "busy.ipynb", BUSY)
    notebook.run(0)
    notebook.run(1)
    job = JobView(notebook.output(1), "ticker")
    expect(job.log, "the job's log never showed").to_contain_text("tick ", timeout=30_000)
    notebook.run(2, wait=False)
    expect(notebook.prompt(2)).to_have_text("[*]:", timeout=10_000)
    seen = set()
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        text = job.log.inner_text()
        if not notebook.is_busy(2):
            break
        seen.add(text)
        time.sleep(0.5)
    assert notebook.is_busy(2), "the busy cell ended too early to tell"
    assert len(seen) >= 5, f"the log changed only {len(seen)} times in 6 s of a busy cell"
    notebook.wait_until_run(2, "[*]:", timeout=30_000)
    expect(notebook.output(2)).to_have_text("slept")


CANCEL = [
    THREAD_SETUP,
    "jobnb.options(name='from-widget').submit(spin, 300)",
    "other = jobnb.options(name='from-row').submit(spin, 300)\nother",
    DASHBOARD,
]


def test_cancel_from_the_widget_and_from_a_dashboard_row(page, lab):
    notebook = NotebookPage(page, lab, "cancel.ipynb", CANCEL)
    notebook.run_all(range(4))
    widget = JobView(notebook.output(1), "from-widget")
    expect(widget.header).to_contain_text("running", timeout=30_000)
    widget.cancel.click()
    expect(widget.header, "Cancel in the widget did not cancel").to_contain_text(
        "cancelled", timeout=30_000
    )
    expect(widget.cancel).to_have_count(0)

    board = DashboardView(notebook.output(3))
    row = board.row("from-row")
    expect(row).to_contain_text("running", timeout=30_000)
    board.row_button(row, "cancel").click()
    expect(row, "cancel in the dashboard row did not cancel").to_contain_text(
        "cancelled", timeout=30_000
    )
    expect(board.row_button(row, "cancel")).to_be_disabled()
    # the job's own widget sees it too, and the first job's row
    expect(JobView(notebook.output(2), "from-row").header).to_contain_text(
        "cancelled", timeout=30_000
    )
    expect(board.row("from-widget")).to_contain_text("cancelled")
