"""Reloading the page while a job runs: the job widget and the dashboard come back
(no "Loading widget...", no "model not found") and keep updating, every time."""

from __future__ import annotations

import time

import pytest
from dashboard_view import DashboardView, JobView
from notebook_code import DASHBOARD, THREAD_SETUP
from notebook_page import NotebookPage
from playwright.sync_api import Error, expect

RELOADS = 10
SURVIVOR = (
    "%%submit -n survivor\nfor i in range(100000):\n    print(f'beat {i}')\n"
    "    jobnb.progress(i % 100, 100, f'beat {i}')\n    time.sleep(0.2)"
)
BROKEN_WIDGET = ("Loading widget", "model not found", "Error displaying widget")


def _changes(locator, within: float = 15.0) -> bool:
    """The text of ``locator`` changes within ``within`` seconds (it is live)."""
    first = locator.inner_text(timeout=15_000)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if locator.inner_text(timeout=15_000) != first:
            return True
    return False


def _comes_back(notebook: NotebookPage, console) -> str | None:
    """Why the widgets did not come back live after one reload (None: they did)."""
    console.messages.clear()
    notebook.reload()
    job = JobView(notebook.output(1), "survivor")
    board = DashboardView(notebook.output(2))
    try:
        expect(job.root).to_be_visible(timeout=30_000)
        expect(board.root).to_be_visible(timeout=30_000)
        expect(board.row("survivor")).to_contain_text("running", timeout=30_000)
    except (AssertionError, Error) as exc:
        return f"not shown: {str(exc).splitlines()[0]}"
    if not _changes(job.log):
        return "the job widget's log stopped changing"
    if not _changes(board.row("survivor").locator(".jobnb-c-duration")):
        return "the dashboard's running duration stopped changing"
    shown = notebook.cell(1).inner_text() + notebook.cell(2).inner_text()
    left = [text for text in BROKEN_WIDGET if text.lower() in shown.lower()]
    logged = [m for text in BROKEN_WIDGET for m in console.errors_with(text)]
    if left or logged:
        return f"broken widgets: shown {left}, console {logged[:3]}"
    return None


@pytest.mark.timeout(600)
def test_ten_reloads_with_a_running_job_bring_the_widgets_back_live(page, lab, console):
    notebook = NotebookPage(page, lab, "reload.ipynb", [THREAD_SETUP, SURVIVOR, DASHBOARD])
    notebook.run_all(range(3))
    expect(JobView(notebook.output(1), "survivor").header).to_contain_text(
        "running", timeout=30_000
    )
    expect(DashboardView(notebook.output(2)).root).to_be_visible(timeout=30_000)
    notebook.save()
    failures = {}
    for attempt in range(1, RELOADS + 1):
        reason = _comes_back(notebook, console)
        if reason:
            failures[attempt] = reason
    came_back = RELOADS - len(failures)
    print(f"reloads: the widgets came back live {came_back} of {RELOADS} times")
    assert not failures, f"came back {came_back} of {RELOADS} times; failed: {failures}"
