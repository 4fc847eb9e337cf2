"""The dashboard's schedules view in a real JupyterLab: a schedule fired by the worker
shows its last run, pause and resume act on the stored schedule, and what the store
holds is shown as text, never as markup."""

from __future__ import annotations

import re

from dashboard_view import DashboardView
from notebook_page import NotebookPage
from playwright.sync_api import expect

#: the embedded default (huey on the lab's SQLite home: its worker fires the schedule),
#: a schedule whose call holds markup, and a dashboard that refreshes every 0.5 s
SETUP = """\
import jobnb


def echo(text):
    return text


tick = jobnb.schedule(echo, "<img src=x onerror=alert(1)>", every="1s", name="tick")
board = jobnb.dashboard(page_size=10, interval=0.5)
board"""
REMOVE = "tick.remove()\njobnb.schedules()"


def test_the_schedules_view_shows_runs_and_pauses_and_resumes(page, lab):
    notebook = NotebookPage(page, lab, "schedules.ipynb", [SETUP, REMOVE])
    notebook.run(0)
    board = DashboardView(notebook.output(0))
    expect(board.root, "no dashboard under its cell").to_be_visible(timeout=30_000)
    view = board.root.locator(".jobnb-schedules")
    table = view.locator("table")
    row = table.locator("tr", has_text="tick")
    expect(row, "the schedule is not listed").to_be_visible(timeout=30_000)
    expect(row).to_contain_text("every 1 s")
    # the worker fired it: its last run is there, finished
    expect(row).to_contain_text("finished", timeout=30_000)
    # the call's text is shown as text: no element was made of it
    expect(row).to_contain_text("<img src=x onerror=alert(1)>")
    assert table.locator("img").count() == 0

    view.get_by_role("button", name="pause").click()
    expect(row).to_contain_text("paused", timeout=15_000)
    view.get_by_role("button", name="resume").click()
    expect(row).not_to_contain_text("paused", timeout=15_000)
    expect(row).to_contain_text(re.compile(r"\d\d:\d\d:\d\d"))

    notebook.run(1)  # removed: the view goes, the worker may stop
    expect(notebook.output(1)).to_contain_text("[]", timeout=30_000)
    expect(view).to_be_hidden(timeout=15_000)
